package registrations

import (
	"context"
	"slices"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
	T "github.com/tidings/tidings/internal/model/smsvoice"
)

// Registration statuses and version statuses, as the API spells them.
const (
	StatusCreated         = string(T.RegistrationStatusCreated)
	StatusSubmitted       = string(T.RegistrationStatusSubmitted)
	StatusReviewing       = string(T.RegistrationStatusReviewing)
	StatusComplete        = string(T.RegistrationStatusComplete)
	StatusRequiresUpdates = string(T.RegistrationStatusRequiresUpdates)
	StatusDeleted         = string(T.RegistrationStatusDeleted)

	VersionDraft     = string(T.RegistrationVersionStatusDraft)
	VersionSubmitted = string(T.RegistrationVersionStatusSubmitted)
	VersionReviewing = string(T.RegistrationVersionStatusReviewing)
	VersionApproved  = string(T.RegistrationVersionStatusApproved)
	VersionDiscarded = string(T.RegistrationVersionStatusDiscarded)
	VersionDenied    = string(T.RegistrationVersionStatusDenied)
	VersionArchived  = string(T.RegistrationVersionStatusArchived)
)

const resRegistration = "registration"

// latest is the newest version (discarded or not).
func latest(r *Registration) *Version { return &r.Versions[len(r.Versions)-1] }

// currentNumber is the newest version that was not discarded.
func currentNumber(r *Registration) int64 {
	for i := len(r.Versions) - 1; i >= 0; i-- {
		if r.Versions[i].Status != VersionDiscarded {
			return r.Versions[i].Number
		}
	}
	return r.Versions[0].Number
}

func (r *Registration) version(n int64) *Version {
	for i := range r.Versions {
		if r.Versions[i].Number == n {
			return &r.Versions[i]
		}
	}
	return nil
}

func setStatus(v *Version, status string, at time.Time) {
	v.Status = status
	if v.History == nil {
		v.History = map[string]time.Time{}
	}
	v.History[status] = at
}

func tagsIn(in []T.Tag) []Tag {
	var out []Tag
	for _, t := range in {
		out = append(out, Tag{Key: *t.Key, Value: *t.Value})
	}
	return out
}

func tagsOut(in []Tag) []T.Tag {
	var out []T.Tag
	for _, t := range in {
		out = append(out, T.Tag{Key: ptr(t.Key), Value: ptr(t.Value)})
	}
	return out
}

func optNumber(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return ptr(n)
}

func (s *Service) info(r *Registration) T.RegistrationInformation {
	return T.RegistrationInformation{
		RegistrationArn:           ptr(s.arn(r.AccountID, resRegistration, r.ID)),
		RegistrationId:            ptr(r.ID),
		RegistrationType:          ptr(r.Type),
		RegistrationStatus:        ptr(T.RegistrationStatus(r.Status)),
		CurrentVersionNumber:      ptr(currentNumber(r)),
		ApprovedVersionNumber:     optNumber(r.ApprovedVersion),
		LatestDeniedVersionNumber: optNumber(r.LatestDeniedVersion),
		CreatedTimestamp:          smithy.NewTime(r.CreatedAt),
	}
}

func history(v *Version) *T.RegistrationVersionStatusHistory {
	at := func(status string) *smithy.Time {
		if t, ok := v.History[status]; ok {
			return smithy.NewTime(t)
		}
		return nil
	}
	h := &T.RegistrationVersionStatusHistory{
		DraftTimestamp:     at(VersionDraft),
		SubmittedTimestamp: at(VersionSubmitted),
		ReviewingTimestamp: at(VersionReviewing),
		ApprovedTimestamp:  at(VersionApproved),
		DiscardedTimestamp: at(VersionDiscarded),
		DeniedTimestamp:    at(VersionDenied),
		ArchivedTimestamp:  at(VersionArchived),
	}
	if h.DraftTimestamp == nil {
		h.DraftTimestamp = smithy.NewTime(time.Time{})
	}
	return h
}

func versionInfo(v *Version) T.RegistrationVersionInformation {
	out := T.RegistrationVersionInformation{
		VersionNumber:                    ptr(v.Number),
		RegistrationVersionStatus:        ptr(T.RegistrationVersionStatus(v.Status)),
		RegistrationVersionStatusHistory: history(v),
	}
	if v.Feedback != "" {
		out.Feedback = ptr(v.Feedback)
	}
	for _, d := range v.DeniedReasons {
		ri := T.RegistrationDeniedReasonInformation{Reason: ptr(d.Reason), ShortDescription: ptr(d.ShortDescription)}
		if d.LongDescription != "" {
			ri.LongDescription = ptr(d.LongDescription)
		}
		out.DeniedReasons = append(out.DeniedReasons, ri)
	}
	return out
}

// get returns the caller's registration named by an id or ARN.
func (s *Service) get(ctx context.Context, idOrARN string) (string, *Registration, error) {
	acct, err := account(ctx)
	if err != nil {
		return "", nil, err
	}
	r, err := s.store.GetRegistration(ctx, acct, idOf(idOrARN))
	return acct, r, err
}

// update changes the caller's registration with fn (in the store's
// read-modify-write loop) and stamps UpdatedAt.
func (s *Service) update(ctx context.Context, idOrARN string, fn func(r *Registration, now time.Time) error) (*Registration, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.UpdateRegistration(ctx, acct, idOf(idOrARN), func(r *Registration) error {
		now := s.now()
		if err := fn(r, now); err != nil {
			return err
		}
		r.UpdatedAt = now
		return nil
	})
}

func (s *Service) CreateRegistration(ctx context.Context, in *T.CreateRegistrationRequest) (*T.CreateRegistrationResult, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if s.defs.Type(*in.RegistrationType) == nil {
		return nil, invalid("UNKNOWN_REGISTRATION_TYPE", "unknown registration type %s; DescribeRegistrationTypeDefinitions lists the known ones", *in.RegistrationType)
	}
	now := s.now()
	r := &Registration{
		AccountID: acct, ID: newID("registration-"), Type: *in.RegistrationType, Status: StatusCreated,
		CreatedAt: now, UpdatedAt: now, Tags: tagsIn(in.Tags),
		Versions: []Version{{Number: 1, Status: VersionDraft, History: map[string]time.Time{VersionDraft: now}}},
	}
	if err := s.store.InsertRegistration(ctx, r); err != nil {
		return nil, err
	}
	s.log.Info("registration created", "account", acct, "registration", r.ID, "type", r.Type)
	return &T.CreateRegistrationResult{
		RegistrationArn:      ptr(s.arn(acct, resRegistration, r.ID)),
		RegistrationId:       ptr(r.ID),
		RegistrationType:     ptr(r.Type),
		RegistrationStatus:   ptr(T.RegistrationStatus(r.Status)),
		CurrentVersionNumber: ptr(int64(1)),
		CreatedTimestamp:     smithy.NewTime(now),
		Tags:                 tagsOut(r.Tags),
	}, nil
}

func (s *Service) DescribeRegistrations(ctx context.Context, in *T.DescribeRegistrationsRequest) (*T.DescribeRegistrationsResult, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := decodeToken(in.NextToken, "registrations")
	if err != nil {
		return nil, err
	}
	f := ListFilter{AccountID: acct, After: tok.cursor(), Limit: pageSize(in.MaxResults) + 1}
	for _, id := range in.RegistrationIds {
		f.IDs = append(f.IDs, idOf(id))
	}
	for _, flt := range in.Filters {
		switch *flt.Name {
		case T.RegistrationFilterNameRegistrationType:
			f.Types = append(f.Types, flt.Values...)
		case T.RegistrationFilterNameRegistrationStatus:
			for _, v := range flt.Values {
				if !slices.Contains(T.RegistrationStatus(v).Values(), T.RegistrationStatus(v)) {
					return nil, invalid("INVALID_FILTER_VALUES", "registration-status %q is not a registration status", v)
				}
			}
			f.Statuses = append(f.Statuses, flt.Values...)
		}
	}
	list, err := s.store.ListRegistrations(ctx, f)
	if err != nil {
		return nil, err
	}
	// Naming a registration that does not exist is an error, as in AWS.
	if len(f.IDs) > 0 && tok.ID == "" && len(in.Filters) == 0 {
		for _, id := range f.IDs {
			if !slices.ContainsFunc(list, func(r *Registration) bool { return r.ID == id }) {
				return nil, notFoundRegistration(id)
			}
		}
	}
	out := &T.DescribeRegistrationsResult{Registrations: []T.RegistrationInformation{}}
	n := pageSize(in.MaxResults)
	if len(list) > n {
		list = list[:n]
		last := list[n-1]
		out.NextToken = encodeToken(pageToken{List: "registrations", At: last.CreatedAt.UnixMilli(), ID: last.ID})
	}
	for _, r := range list {
		out.Registrations = append(out.Registrations, s.info(r))
	}
	return out, nil
}

func notFoundRegistration(id string) error {
	return &fault.Error{Kind: fault.NotFound, ResourceType: resRegistration, ResourceID: id,
		Message: "registration " + id + " does not exist"}
}

func (s *Service) DeleteRegistration(ctx context.Context, in *T.DeleteRegistrationRequest) (*T.DeleteRegistrationResult, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	id := idOf(*in.RegistrationId)
	r, err := s.store.DeleteRegistration(ctx, acct, id, func(r *Registration) error {
		switch latest(r).Status {
		case VersionSubmitted, VersionReviewing:
			return conflictErr("RESOURCE_DELETION_NOT_ALLOWED", resRegistration, r.ID,
				"registration %s is under review: it can be deleted once the review ends", r.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("registration deleted", "account", acct, "registration", r.ID)
	info := s.info(r)
	return &T.DeleteRegistrationResult{
		RegistrationArn: info.RegistrationArn, RegistrationId: info.RegistrationId, RegistrationType: info.RegistrationType,
		RegistrationStatus:   ptr(T.RegistrationStatusDeleted),
		CurrentVersionNumber: info.CurrentVersionNumber, ApprovedVersionNumber: info.ApprovedVersionNumber,
		LatestDeniedVersionNumber: info.LatestDeniedVersionNumber, CreatedTimestamp: info.CreatedTimestamp,
	}, nil
}

func (s *Service) DescribeRegistrationVersions(ctx context.Context, in *T.DescribeRegistrationVersionsRequest) (*T.DescribeRegistrationVersionsResult, error) {
	acct, r, err := s.get(ctx, *in.RegistrationId)
	if err != nil {
		return nil, err
	}
	var statuses []string
	for _, f := range in.Filters {
		statuses = append(statuses, f.Values...)
	}
	var versions []T.RegistrationVersionInformation
	// Newest first, as AWS lists them.
	for i := len(r.Versions) - 1; i >= 0; i-- {
		v := &r.Versions[i]
		if len(in.VersionNumbers) > 0 && !slices.Contains(in.VersionNumbers, v.Number) {
			continue
		}
		if len(statuses) > 0 && !slices.Contains(statuses, v.Status) {
			continue
		}
		versions = append(versions, versionInfo(v))
	}
	for _, n := range in.VersionNumbers {
		if r.version(n) == nil {
			return nil, invalid("UNKNOWN_REGISTRATION_VERSION", "registration %s has no version %d", r.ID, n)
		}
	}
	pg, next, err := page(versions, in.NextToken, "versions", in.MaxResults)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []T.RegistrationVersionInformation{}
	}
	return &T.DescribeRegistrationVersionsResult{
		RegistrationArn: ptr(s.arn(acct, resRegistration, r.ID)), RegistrationId: ptr(r.ID),
		RegistrationVersions: pg, NextToken: next,
	}, nil
}

func (s *Service) CreateRegistrationVersion(ctx context.Context, in *T.CreateRegistrationVersionRequest) (*T.CreateRegistrationVersionResult, error) {
	var nv *Version
	r, err := s.update(ctx, *in.RegistrationId, func(r *Registration, now time.Time) error {
		last := latest(r)
		switch last.Status {
		case VersionDraft, VersionSubmitted, VersionReviewing:
			return conflictErr("CREATE_REGISTRATION_VERSION_NOT_ALLOWED", resRegistration, r.ID,
				"version %d of registration %s is %s: a new version can be made once it is approved, denied or discarded",
				last.Number, r.ID, last.Status)
		}
		// The new draft starts from the newest version that was not discarded.
		base := r.version(currentNumber(r))
		fields := map[string]FieldValue{}
		for p, v := range base.Fields {
			if !v.empty() {
				fields[p] = FieldValue{Text: v.Text, Choices: v.Choices, AttachmentID: v.AttachmentID}
			}
		}
		r.Versions = append(r.Versions, Version{Number: last.Number + 1, Fields: fields})
		nv = latest(r)
		setStatus(nv, VersionDraft, now)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &T.CreateRegistrationVersionResult{
		RegistrationArn: ptr(s.arn(r.AccountID, resRegistration, r.ID)), RegistrationId: ptr(r.ID),
		VersionNumber: ptr(nv.Number), RegistrationVersionStatus: ptr(T.RegistrationVersionStatus(nv.Status)),
		RegistrationVersionStatusHistory: history(nv),
	}, nil
}

func (s *Service) DiscardRegistrationVersion(ctx context.Context, in *T.DiscardRegistrationVersionRequest) (*T.DiscardRegistrationVersionResult, error) {
	var dv Version
	r, err := s.update(ctx, *in.RegistrationId, func(r *Registration, now time.Time) error {
		last := latest(r)
		if last.Status != VersionDraft || last.Number == 1 {
			return conflictErr("DISCARD_REGISTRATION_VERSION_NOT_ALLOWED", resRegistration, r.ID,
				"only a draft version after the first can be discarded (version %d is %s); delete the registration instead", last.Number, last.Status)
		}
		setStatus(last, VersionDiscarded, now)
		dv = *last
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &T.DiscardRegistrationVersionResult{
		RegistrationArn: ptr(s.arn(r.AccountID, resRegistration, r.ID)), RegistrationId: ptr(r.ID),
		VersionNumber: ptr(dv.Number), RegistrationVersionStatus: ptr(T.RegistrationVersionStatus(dv.Status)),
		RegistrationVersionStatusHistory: history(&dv),
	}, nil
}

func (s *Service) SubmitRegistrationVersion(ctx context.Context, in *T.SubmitRegistrationVersionRequest) (*T.SubmitRegistrationVersionResult, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	id := idOf(*in.RegistrationId)
	// Checks that read other rows (attachments, associations) come first;
	// the state change itself is checked again in the update.
	r, err := s.store.GetRegistration(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	if err := submittable(r); err != nil {
		return nil, err
	}
	if err := s.checkComplete(ctx, r); err != nil {
		return nil, err
	}
	var sv Version
	r, err = s.update(ctx, id, func(r *Registration, now time.Time) error {
		if err := submittable(r); err != nil {
			return err
		}
		v := latest(r)
		v.AwsReview = in.AwsReview != nil && *in.AwsReview
		setStatus(v, VersionSubmitted, now)
		if r.ApprovedVersion == 0 {
			r.Status = StatusSubmitted
		}
		sv = *v
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("registration submitted", "account", acct, "registration", r.ID, "version", sv.Number)
	return &T.SubmitRegistrationVersionResult{
		RegistrationArn: ptr(s.arn(acct, resRegistration, r.ID)), RegistrationId: ptr(r.ID),
		VersionNumber: ptr(sv.Number), RegistrationVersionStatus: ptr(T.RegistrationVersionStatus(sv.Status)),
		RegistrationVersionStatusHistory: history(&sv), AwsReview: ptr(sv.AwsReview),
	}, nil
}

func submittable(r *Registration) error {
	v := latest(r)
	switch v.Status {
	case VersionDraft:
		return nil
	case VersionSubmitted, VersionReviewing:
		return conflictErr("REGISTRATION_ALREADY_SUBMITTED", resRegistration, r.ID,
			"version %d of registration %s is already submitted", v.Number, r.ID)
	}
	return conflictErr("SUBMIT_REGISTRATION_VERSION_NOT_ALLOWED", resRegistration, r.ID,
		"version %d of registration %s is %s: create a new version to submit changes", v.Number, r.ID, v.Status)
}

// checkComplete checks that the draft can go to review: every required
// field has a value, attachments still exist, and the resources the type
// wants associated before submission are.
func (s *Service) checkComplete(ctx context.Context, r *Registration) error {
	td := s.defs.Type(r.Type)
	if td == nil {
		return invalid("UNKNOWN_REGISTRATION_TYPE", "registration type %s is no longer known", r.Type)
	}
	v := latest(r)
	var missing []FieldError
	for _, f := range td.Fields {
		p := *f.FieldPath
		val, ok := v.Fields[p]
		if !ok || val.empty() {
			if *f.FieldRequirement == T.FieldRequirementRequired {
				missing = append(missing, FieldError{Name: p, Message: "a value is required"})
			}
			continue
		}
		if val.AttachmentID != "" {
			if _, err := s.store.GetAttachment(ctx, r.AccountID, val.AttachmentID); fault.Is(err, fault.NotFound) {
				missing = append(missing, FieldError{Name: p, Message: "registration attachment " + val.AttachmentID + " no longer exists"})
			} else if err != nil {
				return err
			}
		}
	}
	if len(missing) > 0 {
		names := make([]string, len(missing))
		for i, m := range missing {
			names[i] = m.Name
		}
		return &ValidationError{Reason: string(T.ValidationExceptionReasonMissingParameter),
			Message: "registration " + r.ID + " cannot be submitted: fields need a value: " + joinShort(names), Fields: missing}
	}
	for _, sa := range td.SupportedAssociations {
		if *sa.AssociationBehavior != T.RegistrationAssociationBehaviorAssociateBeforeSubmit {
			continue
		}
		as, err := s.store.ListAssociations(ctx, r.AccountID, r.ID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(as, func(a *Association) bool { return a.ResourceType == *sa.ResourceType }) {
			return invalid("INVALID_REGISTRATION_ASSOCIATION",
				"a %s registration needs a %s associated before it is submitted (CreateRegistrationAssociation)", r.Type, *sa.ResourceType)
		}
	}
	return nil
}

func joinShort(names []string) string {
	const max = 10
	out := ""
	for i, n := range names {
		if i == max {
			return out + ", …"
		}
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
