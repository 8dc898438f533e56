package templates

import (
	"context"
	"time"
)

// Template is an email template of an account: the parts SendEmail
// renders with a recipient's data.
type Template struct {
	AccountID string
	Name      string
	Subject   string
	HTML      string
	Text      string
	Tags      []Tag
	CreatedAt time.Time // set by the store, ms precision
	UpdatedAt time.Time
}

// Tag is a key-value pair of a template (SES v2 CreateEmailTemplate Tags).
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// Store keeps templates. Names are unique within an account and compared
// byte for byte. Errors carry fault kinds: Conflict, NotFound,
// QuotaExceeded.
type Store interface {
	// CreateTemplate stores t unless the account has a template of that
	// name (fault.Conflict) or already maxCount templates
	// (fault.QuotaExceeded). It sets CreatedAt and UpdatedAt.
	CreateTemplate(ctx context.Context, t *Template, maxCount int) error
	// GetTemplate returns a template or fault.NotFound.
	GetTemplate(ctx context.Context, accountID, name string) (*Template, error)
	// UpdateTemplate replaces the subject, HTML and text of an existing
	// template (fault.NotFound if none); tags and CreatedAt are kept. It
	// sets UpdatedAt.
	UpdateTemplate(ctx context.Context, t *Template) error
	// UpdateTemplateTags replaces the tags of an existing template
	// (fault.NotFound if none) with what fn returns given the current
	// ones, in one transaction; an error of fn is returned as it is.
	UpdateTemplateTags(ctx context.Context, accountID, name string, fn func([]Tag) ([]Tag, error)) error
	// DeleteTemplate deletes a template, or returns fault.NotFound.
	DeleteTemplate(ctx context.Context, accountID, name string) error
	// ListTemplates returns up to limit templates of the account whose
	// names sort after after ("" for the first page), in name order,
	// without their parts (names, tags and times only).
	ListTemplates(ctx context.Context, accountID, after string, limit int) ([]*Template, error)
}
