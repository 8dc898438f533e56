package registrations

import (
	"context"
	"time"
)

// Registration is one registration with all its versions. The store keeps
// it as one document: it is small (a few dozen field values per version)
// and always read and changed whole.
type Registration struct {
	AccountID string `json:"-"`
	ID        string `json:"-"`
	Type      string `json:"-"`
	// Status is the registration's (CREATED, SUBMITTED, REVIEWING,
	// COMPLETE, REQUIRES_UPDATES, …), derived from its versions by the
	// service and kept in a column for filters.
	Status    string    `json:"-"`
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time `json:"-"`
	// Rev is the store's revision of the document (optimistic locking).
	Rev int64 `json:"-"`

	Tags []Tag `json:"tags,omitempty"`
	// Versions in ascending Number, from 1.
	Versions []Version `json:"versions"`
	// ApprovedVersion and LatestDeniedVersion are 0 when there is none.
	ApprovedVersion     int64 `json:"approved_version,omitempty"`
	LatestDeniedVersion int64 `json:"latest_denied_version,omitempty"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Version is one version of a registration: its field values and where it
// is in review.
type Version struct {
	Number int64  `json:"number"`
	Status string `json:"status"`
	// History maps a version status to when the version reached it.
	History map[string]time.Time `json:"history"`
	// Fields by field path.
	Fields        map[string]FieldValue `json:"fields,omitempty"`
	Feedback      string                `json:"feedback,omitempty"`
	DeniedReasons []DeniedReason        `json:"denied_reasons,omitempty"`
	AwsReview     bool                  `json:"aws_review,omitempty"`
}

// FieldValue is the value of one field: text, choices or an attachment,
// as the field's type says. Feedback and DeniedReason come from a reviewer.
type FieldValue struct {
	Text         *string  `json:"text,omitempty"`
	Choices      []string `json:"choices,omitempty"`
	AttachmentID string   `json:"attachment_id,omitempty"`
	Feedback     string   `json:"feedback,omitempty"`
	DeniedReason string   `json:"denied_reason,omitempty"`
}

// empty reports whether fv holds no value (only a reviewer's notes).
func (fv FieldValue) empty() bool {
	return fv.Text == nil && fv.Choices == nil && fv.AttachmentID == ""
}

// DeniedReason says why a reviewer sent a version back.
type DeniedReason struct {
	Reason           string `json:"reason"`
	ShortDescription string `json:"short_description"`
	LongDescription  string `json:"long_description,omitempty"`
}

// Attachment is an uploaded document (the opt-in screenshot); its bytes are
// in the blob store under BlobKey.
type Attachment struct {
	AccountID   string    `json:"-"`
	ID          string    `json:"-"`
	Status      string    `json:"-"` // UPLOAD_COMPLETE, …
	CreatedAt   time.Time `json:"-"`
	BlobKey     string    `json:"blob_key"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	Tags        []Tag     `json:"tags,omitempty"`
}

// Association ties a resource (a phone number, a sender id) to a
// registration. A resource belongs to at most one registration.
type Association struct {
	AccountID      string    `json:"-"`
	RegistrationID string    `json:"-"`
	ResourceID     string    `json:"-"`
	CreatedAt      time.Time `json:"-"`
	ResourceType   string    `json:"resource_type"` // PHONE_NUMBER, SENDER_ID
	ResourceARN    string    `json:"resource_arn"`
	PhoneNumber    string    `json:"phone_number,omitempty"`
	IsoCountryCode string    `json:"iso_country_code,omitempty"`
}

// Cursor is where a page of a list starts: after the row created at
// CreatedAt with ID (zero: the first page).
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// ListFilter selects registrations. Empty slices select all; an empty
// AccountID (the operator's view) lists every account's.
type ListFilter struct {
	AccountID string
	IDs       []string
	Types     []string
	Statuses  []string
	After     Cursor
	Limit     int // at most this many (<= 0: all)
}

// AttachmentFilter selects attachments of one account.
type AttachmentFilter struct {
	AccountID string
	IDs       []string
	Statuses  []string
	After     Cursor
	Limit     int
}

// Store keeps registrations, attachments and associations. Errors:
// fault.NotFound (with ResourceType and ResourceID) for a missing row,
// fault.Conflict for an ID or resource already used.
type Store interface {
	InsertRegistration(ctx context.Context, r *Registration) error
	GetRegistration(ctx context.Context, accountID, id string) (*Registration, error)
	// UpdateRegistration reads the registration, calls fn on it and writes
	// back what fn made of it, unless fn fails. A concurrent update makes
	// it read again and call fn again.
	UpdateRegistration(ctx context.Context, accountID, id string, fn func(*Registration) error) (*Registration, error)
	// DeleteRegistration deletes the registration and its associations if
	// check, called on it in the same transaction, allows.
	DeleteRegistration(ctx context.Context, accountID, id string, check func(*Registration) error) (*Registration, error)
	ListRegistrations(ctx context.Context, f ListFilter) ([]*Registration, error)

	InsertAttachment(ctx context.Context, a *Attachment) error
	GetAttachment(ctx context.Context, accountID, id string) (*Attachment, error)
	ListAttachments(ctx context.Context, f AttachmentFilter) ([]*Attachment, error)
	DeleteAttachment(ctx context.Context, accountID, id string) error

	// InsertAssociation fails with fault.Conflict when the resource is tied
	// to a registration already, fault.NotFound when the registration is gone.
	InsertAssociation(ctx context.Context, a *Association) error
	ListAssociations(ctx context.Context, accountID, registrationID string) ([]*Association, error)
	// AssociationOf returns the association of a resource, fault.NotFound
	// when it has none.
	AssociationOf(ctx context.Context, accountID, resourceID string) (*Association, error)
}
