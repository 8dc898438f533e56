package sending

import (
	"context"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
)

func normalizeAddress(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

// PutSuppressedDestination adds an address to the account's suppression
// list (or changes its reason).
func (s *Service) PutSuppressedDestination(ctx context.Context, in *sesv2.PutSuppressedDestinationRequest) (*sesv2.PutSuppressedDestinationResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	addr := normalizeAddress(str(in.EmailAddress))
	if _, typ, err := normalizeIdentity(addr); err != nil || typ != TypeEmail {
		return nil, fault.Invalidf("Invalid email address %q", str(in.EmailAddress))
	}
	err = s.st.InTx(ctx, func(tx Tx) error {
		return tx.PutSuppressed(ctx, &Suppressed{AccountID: acct, Email: addr, Reason: string(deref(in.Reason)), UpdatedAt: s.now()})
	})
	if err != nil {
		return nil, err
	}
	return &sesv2.PutSuppressedDestinationResponse{}, nil
}

// GetSuppressedDestination describes an address of the suppression list.
func (s *Service) GetSuppressedDestination(ctx context.Context, in *sesv2.GetSuppressedDestinationRequest) (*sesv2.GetSuppressedDestinationResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	sp, err := s.st.GetSuppressed(ctx, acct, normalizeAddress(str(in.EmailAddress)))
	if err != nil {
		return nil, err
	}
	d := &sesv2.SuppressedDestination{
		EmailAddress:   ptr(sp.Email),
		Reason:         ptr(sesv2.SuppressionListReason(sp.Reason)),
		LastUpdateTime: smithy.NewTime(sp.UpdatedAt),
		Attributes:     &sesv2.SuppressedDestinationAttributes{},
	}
	if sp.MessageID != "" {
		d.Attributes.MessageId = ptr(sp.MessageID)
	}
	if sp.FeedbackID != "" {
		d.Attributes.FeedbackId = ptr(sp.FeedbackID)
	}
	return &sesv2.GetSuppressedDestinationResponse{SuppressedDestination: d}, nil
}

// ListSuppressedDestinations pages through the suppression list, filtered
// by reasons and by the time of the last update.
func (s *Service) ListSuppressedDestinations(ctx context.Context, in *sesv2.ListSuppressedDestinationsRequest) (*sesv2.ListSuppressedDestinationsResponse, error) {
	acct, size, after, err := listArgs(ctx, in.PageSize, in.NextToken, 1000)
	if err != nil {
		return nil, err
	}
	f := SuppressedFilter{After: after, Limit: size + 1}
	for _, r := range in.Reasons {
		f.Reasons = append(f.Reasons, string(r))
	}
	if in.StartDate != nil {
		f.Since = in.StartDate.Time
	}
	if in.EndDate != nil {
		f.Until = in.EndDate.Time
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, fault.Invalidf("StartDate must be before EndDate")
	}
	rows, err := s.st.ListSuppressed(ctx, acct, f)
	if err != nil {
		return nil, err
	}
	out := &sesv2.ListSuppressedDestinationsResponse{SuppressedDestinationSummaries: []sesv2.SuppressedDestinationSummary{}}
	for i, r := range rows {
		if i == size {
			out.NextToken = ptr(encodeToken(rows[i-1].Email))
			break
		}
		out.SuppressedDestinationSummaries = append(out.SuppressedDestinationSummaries, sesv2.SuppressedDestinationSummary{
			EmailAddress: ptr(r.Email), Reason: ptr(sesv2.SuppressionListReason(r.Reason)), LastUpdateTime: smithy.NewTime(r.UpdatedAt),
		})
	}
	return out, nil
}

// DeleteSuppressedDestination removes an address from the list.
func (s *Service) DeleteSuppressedDestination(ctx context.Context, in *sesv2.DeleteSuppressedDestinationRequest) (*sesv2.DeleteSuppressedDestinationResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	addr := normalizeAddress(str(in.EmailAddress))
	if err := s.st.InTx(ctx, func(tx Tx) error { return tx.DeleteSuppressed(ctx, acct, addr) }); err != nil {
		return nil, err
	}
	return &sesv2.DeleteSuppressedDestinationResponse{}, nil
}
