package registrations

import (
	"context"
	"slices"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	T "github.com/tidings/tidings/internal/model/smsvoice"
)

// origination resolves the resource of an association: through the SMS
// service when there is one, else from the id's shape alone.
func (s *Service) origination(ctx context.Context, acct, idOrARN string) (*Origination, error) {
	if s.cfg.Originations != nil {
		return s.cfg.Originations.Origination(ctx, acct, idOrARN)
	}
	id := idOf(idOrARN)
	o := &Origination{ID: id, ResourceType: "PHONE_NUMBER"}
	kind := "phone-number"
	if strings.HasPrefix(id, "senderid-") || strings.Contains(idOrARN, ":sender-id/") {
		o.ResourceType, kind = "SENDER_ID", "sender-id"
	}
	o.ARN = s.arn(acct, kind, id)
	return o, nil
}

func (s *Service) CreateRegistrationAssociation(ctx context.Context, in *T.CreateRegistrationAssociationRequest) (*T.CreateRegistrationAssociationResult, error) {
	acct, r, td, err := s.getTyped(ctx, *in.RegistrationId)
	if err != nil {
		return nil, err
	}
	o, err := s.origination(ctx, acct, *in.ResourceId)
	if err != nil {
		return nil, err
	}
	idx := slices.IndexFunc(td.SupportedAssociations, func(sa T.SupportedAssociation) bool { return *sa.ResourceType == o.ResourceType })
	if idx < 0 {
		return nil, invalid("INVALID_REGISTRATION_ASSOCIATION", "a %s registration cannot be associated with a %s", r.Type, o.ResourceType)
	}
	sa := td.SupportedAssociations[idx]
	if sa.IsoCountryCode != nil && o.IsoCountryCode != "" && o.IsoCountryCode != *sa.IsoCountryCode {
		return nil, invalid("COUNTRY_CODE_MISMATCH", "a %s registration takes %s resources, not %s", r.Type, *sa.IsoCountryCode, o.IsoCountryCode)
	}
	if sa.AssociationBehavior != nil && *sa.AssociationBehavior == T.RegistrationAssociationBehaviorAssociateBeforeSubmit {
		if st := latest(r).Status; st == VersionSubmitted || st == VersionReviewing {
			return nil, conflictErr("REGISTRATION_ALREADY_SUBMITTED", resRegistration, r.ID,
				"registration %s is under review: resources are associated before it is submitted", r.ID)
		}
	}
	a := &Association{AccountID: acct, RegistrationID: r.ID, ResourceID: o.ID, CreatedAt: s.now(),
		ResourceType: o.ResourceType, ResourceARN: o.ARN, PhoneNumber: o.PhoneNumber, IsoCountryCode: o.IsoCountryCode}
	if a.IsoCountryCode == "" && sa.IsoCountryCode != nil {
		a.IsoCountryCode = *sa.IsoCountryCode
	}
	if err := s.store.InsertAssociation(ctx, a); err != nil {
		return nil, err
	}
	s.log.Info("registration association created", "account", acct, "registration", r.ID, "resource", a.ResourceID)
	out := &T.CreateRegistrationAssociationResult{
		RegistrationArn: ptr(s.arn(acct, resRegistration, r.ID)), RegistrationId: ptr(r.ID), RegistrationType: ptr(r.Type),
		ResourceArn: ptr(a.ResourceARN), ResourceId: ptr(a.ResourceID), ResourceType: ptr(a.ResourceType),
	}
	if a.PhoneNumber != "" {
		out.PhoneNumber = ptr(a.PhoneNumber)
	}
	if a.IsoCountryCode != "" {
		out.IsoCountryCode = ptr(a.IsoCountryCode)
	}
	return out, nil
}

func (s *Service) ListRegistrationAssociations(ctx context.Context, in *T.ListRegistrationAssociationsRequest) (*T.ListRegistrationAssociationsResult, error) {
	acct, r, err := s.get(ctx, *in.RegistrationId)
	if err != nil {
		return nil, err
	}
	as, err := s.store.ListAssociations(ctx, acct, r.ID)
	if err != nil {
		return nil, err
	}
	var out []T.RegistrationAssociationMetadata
	for _, a := range as {
		keep := true
		for _, f := range in.Filters {
			switch *f.Name {
			case T.RegistrationAssociationFilterNameResourceType:
				keep = keep && slices.Contains(f.Values, a.ResourceType)
			case T.RegistrationAssociationFilterNameIsoCountryCode:
				keep = keep && slices.Contains(f.Values, a.IsoCountryCode)
			}
		}
		if !keep {
			continue
		}
		m := T.RegistrationAssociationMetadata{ResourceArn: ptr(a.ResourceARN), ResourceId: ptr(a.ResourceID), ResourceType: ptr(a.ResourceType)}
		if a.PhoneNumber != "" {
			m.PhoneNumber = ptr(a.PhoneNumber)
		}
		if a.IsoCountryCode != "" {
			m.IsoCountryCode = ptr(a.IsoCountryCode)
		}
		out = append(out, m)
	}
	pg, next, err := page(out, in.NextToken, "associations", in.MaxResults)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []T.RegistrationAssociationMetadata{}
	}
	return &T.ListRegistrationAssociationsResult{
		RegistrationArn: ptr(s.arn(acct, resRegistration, r.ID)), RegistrationId: ptr(r.ID), RegistrationType: ptr(r.Type),
		RegistrationAssociations: pg, NextToken: next,
	}, nil
}

// RegistrationStatus returns the status of a registration of an account
// (COMPLETE, REVIEWING, …); fault.NotFound when there is none.
func (s *Service) RegistrationStatus(ctx context.Context, accountID, registrationID string) (string, error) {
	r, err := s.store.GetRegistration(ctx, accountID, idOf(registrationID))
	if err != nil {
		return "", err
	}
	return r.Status, nil
}

// ResourceRegistration returns the registration a phone number or sender
// id (its id) is associated with and that registration's status; found is
// false when it has none. The SMS service asks it before sending from a
// number: a number tied to a registration sends only once the registration
// is COMPLETE (StatusComplete).
func (s *Service) ResourceRegistration(ctx context.Context, accountID, resourceID string) (registrationID, status string, found bool, err error) {
	a, err := s.store.AssociationOf(ctx, accountID, idOf(resourceID))
	if fault.Is(err, fault.NotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	st, err := s.RegistrationStatus(ctx, accountID, a.RegistrationID)
	if fault.Is(err, fault.NotFound) {
		return "", "", false, nil
	}
	return a.RegistrationID, st, err == nil, err
}
