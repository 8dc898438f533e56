// Package registrations keeps the number registrations of End User
// Messaging (PinpointSMSVoiceV2 *Registration* operations): a registration
// of a type (US_TOLL_FREE_REGISTRATION, …) whose fields, sections and
// validations are data (definitions.json); its versions, each a set of
// field values that is drafted, submitted and reviewed; the attachments its
// fields point to (the opt-in screenshot); and the phone numbers or sender
// ids associated with it.
//
// A registration moves as AWS documents:
//
//	registration  CREATED ─submit─► SUBMITTED ─review start─► REVIEWING
//	              ─approve─► COMPLETE   or  ─request updates─► REQUIRES_UPDATES
//	              (then CreateRegistrationVersion, fix, submit again)
//	version       DRAFT ─submit─► SUBMITTED ─► REVIEWING ─► APPROVED | DENIED
//	              DRAFT ─discard─► DISCARDED; an APPROVED version becomes
//	              ARCHIVED when a later one is approved
//
// The reviewer is the operator (Review, reached through `tidings
// registrations review`): Tidings has no carrier registrar behind it.
package registrations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// Origination is what an association records of a phone number or sender id.
type Origination struct {
	ID             string
	ARN            string
	ResourceType   string // PHONE_NUMBER, SENDER_ID
	PhoneNumber    string // E.164, for phone numbers
	IsoCountryCode string
}

// Originations finds the phone numbers and sender ids of an account (the
// SMS service). It returns fault.NotFound (with ResourceType and
// ResourceID) for an unknown one.
type Originations interface {
	Origination(ctx context.Context, accountID, idOrARN string) (*Origination, error)
}

// Config configures the service.
type Config struct {
	Region string
	// Originations checks the resources of CreateRegistrationAssociation;
	// nil accepts any id and records it as a phone number.
	Originations Originations
	// Definitions are the registration types (nil: the embedded ones).
	Definitions *Definitions
	Now         func() time.Time
}

// Service serves the registration operations.
type Service struct {
	store Store
	blobs blob.Store
	defs  *Definitions
	cfg   Config
	log   *slog.Logger
}

// New returns the service over st, keeping attachment bytes in blobs.
func New(st Store, blobs blob.Store, cfg Config, log *slog.Logger) (*Service, error) {
	if st == nil || blobs == nil {
		return nil, errors.New("registrations: nil store or blob store")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Definitions == nil {
		d, err := LoadDefinitions(nil)
		if err != nil {
			return nil, err
		}
		cfg.Definitions = d
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, blobs: blobs, defs: cfg.Definitions, cfg: cfg, log: log}, nil
}

// now is the clock to the millisecond, in UTC: what is stored is what is shown.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func account(ctx context.Context) (string, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok || p.AccountID == "" {
		return "", fault.AccessDeniedf("no caller identity in the request")
	}
	return p.AccountID, nil
}

func ptr[T any](v T) *T { return &v }

func newID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (s *Service) arn(accountID, kind, id string) string {
	return fmt.Sprintf("arn:aws:sms-voice:%s:%s:%s/%s", s.cfg.Region, accountID, kind, id)
}

// idOf returns the id of an id-or-ARN input ("arn:…:registration/ID" → ID).
func idOf(v string) string {
	if strings.HasPrefix(v, "arn:") {
		if i := strings.LastIndexByte(v, '/'); i >= 0 {
			return v[i+1:]
		}
	}
	return v
}

// ValidationError is a ValidationException with a Reason and the fields at
// fault (Fields: name and message of each).
type ValidationError struct {
	Reason  string
	Message string
	Fields  []FieldError
}

// FieldError names one field of a ValidationError.
type FieldError struct {
	Name    string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

// Unwrap gives the error its kind, fault.Invalid.
func (e *ValidationError) Unwrap() error {
	return &fault.Error{Kind: fault.Invalid, Message: e.Message, Reason: e.Reason}
}

func invalid(reason, format string, args ...any) error {
	return &fault.Error{Kind: fault.Invalid, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func fieldInvalid(reason, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &ValidationError{Reason: reason, Message: field + ": " + msg, Fields: []FieldError{{Name: field, Message: msg}}}
}

func conflictErr(reason, resourceType, id, format string, args ...any) error {
	return &fault.Error{Kind: fault.Conflict, Reason: reason, ResourceType: resourceType, ResourceID: id,
		Message: fmt.Sprintf(format, args...)}
}
