package registrations

import (
	"context"
	"io"
	"sort"
	"time"

	"github.com/tidings/tidings/internal/fault"
)

// Decision is what a reviewer does with a submitted version.
type Decision string

const (
	// StartReview moves a submitted version to REVIEWING.
	StartReview Decision = "start-review"
	// Approve approves it: the registration is COMPLETE.
	Approve Decision = "approve"
	// RequestUpdates denies it with a reason: the registration
	// REQUIRES_UPDATES (or stays COMPLETE on its approved version).
	RequestUpdates Decision = "request-updates"
)

// ReviewInput is a reviewer's decision on the submitted version of a
// registration.
type ReviewInput struct {
	Decision Decision `json:"decision"`
	// Reason (short) and Description (long) say why updates are needed;
	// Reason is required for RequestUpdates.
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	// Fields gives feedback on field values, by field path.
	Fields map[string]string `json:"fields,omitempty"`
}

// Summary is a registration as the operator's list and review show it.
type Summary struct {
	AccountID       string    `json:"account_id"`
	ID              string    `json:"id"`
	Type            string    `json:"type"`
	Status          string    `json:"status"`
	Version         int64     `json:"version"`
	VersionStatus   string    `json:"version_status"`
	ApprovedVersion int64     `json:"approved_version,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	Associations    []string  `json:"associations,omitempty"`
	Feedback        string    `json:"feedback,omitempty"`
}

func summary(r *Registration) Summary {
	v := r.version(currentNumber(r))
	return Summary{AccountID: r.AccountID, ID: r.ID, Type: r.Type, Status: r.Status, Version: v.Number,
		VersionStatus: v.Status, ApprovedVersion: r.ApprovedVersion, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Feedback: v.Feedback}
}

// List returns registrations for the operator: of one account, or of all
// when f.AccountID is empty; with their associated resources.
func (s *Service) List(ctx context.Context, f ListFilter) ([]Summary, error) {
	list, err := s.store.ListRegistrations(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(list))
	for _, r := range list {
		sm := summary(r)
		as, err := s.store.ListAssociations(ctx, r.AccountID, r.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			sm.Associations = append(sm.Associations, a.ResourceID)
		}
		out = append(out, sm)
	}
	return out, nil
}

// find returns the account of registration id: accountID when given, else
// the one account that has it.
func (s *Service) find(ctx context.Context, accountID, id string) (string, error) {
	if accountID != "" {
		return accountID, nil
	}
	list, err := s.store.ListRegistrations(ctx, ListFilter{IDs: []string{id}, Limit: 2})
	if err != nil {
		return "", err
	}
	switch len(list) {
	case 0:
		return "", notFoundRegistration(id)
	case 1:
		return list[0].AccountID, nil
	}
	return "", fault.Conflictf("registration %s exists in several accounts: name the account", id)
}

// Review applies a reviewer's decision to the submitted version of
// registration id (of accountID, or of whichever account has it when
// accountID is empty).
func (s *Service) Review(ctx context.Context, accountID, id string, in ReviewInput) (Summary, error) {
	id = idOf(id)
	switch in.Decision {
	case StartReview, Approve:
	case RequestUpdates:
		if in.Reason == "" {
			return Summary{}, fault.Invalidf("a request for updates needs a reason")
		}
	default:
		return Summary{}, fault.Invalidf("unknown decision %q: want %s, %s or %s", in.Decision, StartReview, Approve, RequestUpdates)
	}
	acct, err := s.find(ctx, accountID, id)
	if err != nil {
		return Summary{}, err
	}
	r, err := s.store.UpdateRegistration(ctx, acct, id, func(r *Registration) error {
		now := s.now()
		v := latest(r)
		if v.Status != VersionSubmitted && v.Status != VersionReviewing {
			return conflictErr("", resRegistration, r.ID, "registration %s has no version under review (version %d is %s)", r.ID, v.Number, v.Status)
		}
		for p := range in.Fields {
			if td := s.defs.Type(r.Type); td == nil || td.Field(p) == nil {
				return fault.Invalidf("registration type %s has no field %s", r.Type, p)
			}
		}
		switch in.Decision {
		case StartReview:
			if v.Status == VersionReviewing {
				return conflictErr("", resRegistration, r.ID, "version %d of registration %s is already being reviewed", v.Number, r.ID)
			}
			setStatus(v, VersionReviewing, now)
			if r.ApprovedVersion == 0 {
				r.Status = StatusReviewing
			}
		case Approve:
			if prev := r.version(r.ApprovedVersion); prev != nil {
				setStatus(prev, VersionArchived, now)
			}
			setStatus(v, VersionApproved, now)
			v.Feedback = in.Description
			r.ApprovedVersion = v.Number
			r.Status = StatusComplete
		case RequestUpdates:
			setStatus(v, VersionDenied, now)
			v.Feedback = in.Description
			v.DeniedReasons = []DeniedReason{{Reason: in.Reason, ShortDescription: in.Reason, LongDescription: in.Description}}
			r.LatestDeniedVersion = v.Number
			if r.ApprovedVersion == 0 {
				r.Status = StatusRequiresUpdates
			}
		}
		paths := make([]string, 0, len(in.Fields))
		for p := range in.Fields {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fv := v.Fields[p]
			fv.Feedback = in.Fields[p]
			if in.Decision == RequestUpdates {
				fv.DeniedReason = in.Fields[p]
			}
			if v.Fields == nil {
				v.Fields = map[string]FieldValue{}
			}
			v.Fields[p] = fv
		}
		r.UpdatedAt = now
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	s.log.Info("registration reviewed", "account", acct, "registration", r.ID, "decision", in.Decision, "status", r.Status)
	return summary(r), nil
}

// Detail is a registration as the reviewer reads it: its summary and the
// field values of its current version, in the order of the definitions.
type Detail struct {
	Summary
	Fields []FieldDetail `json:"fields"`
}

// FieldDetail is one field value with its title.
type FieldDetail struct {
	Path         string   `json:"path"`
	Title        string   `json:"title"`
	Text         *string  `json:"text,omitempty"`
	Choices      []string `json:"choices,omitempty"`
	AttachmentID string   `json:"attachment_id,omitempty"`
	Feedback     string   `json:"feedback,omitempty"`
}

// Show returns registration id (of accountID, or of whichever account has
// it) with the field values of its current version.
func (s *Service) Show(ctx context.Context, accountID, id string) (Detail, error) {
	id = idOf(id)
	acct, err := s.find(ctx, accountID, id)
	if err != nil {
		return Detail{}, err
	}
	r, err := s.store.GetRegistration(ctx, acct, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Summary: summary(r), Fields: []FieldDetail{}}
	as, err := s.store.ListAssociations(ctx, acct, id)
	if err != nil {
		return Detail{}, err
	}
	for _, a := range as {
		d.Associations = append(d.Associations, a.ResourceID)
	}
	v := r.version(currentNumber(r))
	if td := s.defs.Type(r.Type); td != nil {
		for _, f := range td.Fields {
			fv, ok := v.Fields[*f.FieldPath]
			if !ok {
				continue
			}
			d.Fields = append(d.Fields, FieldDetail{Path: *f.FieldPath, Title: *f.DisplayHints.Title, Text: fv.Text,
				Choices: fv.Choices, AttachmentID: fv.AttachmentID, Feedback: fv.Feedback})
		}
	}
	return d, nil
}

// AttachmentContent opens the bytes of an attachment of an account; the
// caller closes them.
func (s *Service) AttachmentContent(ctx context.Context, accountID, id string) (io.ReadCloser, *Attachment, error) {
	a, err := s.store.GetAttachment(ctx, accountID, idOf(id))
	if err != nil {
		return nil, nil, err
	}
	rc, _, err := s.blobs.Get(ctx, a.BlobKey)
	if err != nil {
		return nil, nil, err
	}
	return rc, a, nil
}
