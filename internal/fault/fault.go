// Package fault gives domain errors a kind that the edges (the AWS wire
// layer, the SMTP server, the console) translate into their own forms in one
// place: a domain "not found" becomes ResourceNotFoundException in Mail
// Manager, NotFoundException in SES v2, and so on.
package fault

import (
	"errors"
	"fmt"
)

// Kind is what went wrong, independent of any protocol.
type Kind int

const (
	Internal      Kind = iota // a bug or an unavailable dependency
	NotFound                  // the named resource does not exist
	Conflict                  // the request conflicts with the state (in use, exists, wrong state)
	Invalid                   // the input breaks a business rule the model cannot express
	QuotaExceeded             // a limit on count or size was reached
	AccessDenied              // the caller may not do this
	Throttled                 // too many requests
	Unavailable               // temporarily unable (storage down): retry later
)

// Error is a domain error with a kind and a message fit for the caller.
type Error struct {
	Kind    Kind
	Message string
	// Reason refines the kind for APIs that report one (End User Messaging's
	// ConflictException Reason, e.g. "DESTINATION_PHONE_NUMBER_OPTED_OUT").
	Reason string
	// ResourceType and ResourceID name the resource involved, when there is one.
	ResourceType, ResourceID string
	Err                      error // the cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

func NotFoundf(format string, args ...any) *Error      { return newf(NotFound, format, args...) }
func Conflictf(format string, args ...any) *Error      { return newf(Conflict, format, args...) }
func Invalidf(format string, args ...any) *Error       { return newf(Invalid, format, args...) }
func QuotaExceededf(format string, args ...any) *Error { return newf(QuotaExceeded, format, args...) }
func AccessDeniedf(format string, args ...any) *Error  { return newf(AccessDenied, format, args...) }
func Unavailablef(format string, args ...any) *Error   { return newf(Unavailable, format, args...) }

// KindOf returns the kind of err: the kind of the first *Error in its chain,
// else Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is a fault of kind k.
func Is(err error, k Kind) bool { return err != nil && KindOf(err) == k }
