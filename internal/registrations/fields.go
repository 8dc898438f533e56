package registrations

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidings/tidings/internal/fault"
	T "github.com/tidings/tidings/internal/model/smsvoice"
)

func (s *Service) typeDef(name string) (*TypeDef, error) {
	td := s.defs.Type(name)
	if td == nil {
		return nil, invalid("UNKNOWN_REGISTRATION_TYPE", "unknown registration type %s; DescribeRegistrationTypeDefinitions lists the known ones", name)
	}
	return td, nil
}

func (s *Service) DescribeRegistrationTypeDefinitions(ctx context.Context, in *T.DescribeRegistrationTypeDefinitionsRequest) (*T.DescribeRegistrationTypeDefinitionsResult, error) {
	if _, err := account(ctx); err != nil {
		return nil, err
	}
	for _, n := range in.RegistrationTypes {
		if _, err := s.typeDef(n); err != nil {
			return nil, err
		}
	}
	var defs []T.RegistrationTypeDefinition
	for _, td := range s.defs.Types() {
		if len(in.RegistrationTypes) > 0 && !slices.Contains(in.RegistrationTypes, *td.RegistrationType) {
			continue
		}
		if !typeMatches(td, in.Filters) {
			continue
		}
		defs = append(defs, td.RegistrationTypeDefinition)
	}
	pg, next, err := page(defs, in.NextToken, "types", in.MaxResults)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []T.RegistrationTypeDefinition{}
	}
	return &T.DescribeRegistrationTypeDefinitionsResult{RegistrationTypeDefinitions: pg, NextToken: next}, nil
}

// typeMatches applies the supported-association-* filters: the type must
// support an association with one of the values.
func typeMatches(td *TypeDef, filters []T.RegistrationTypeFilter) bool {
	for _, f := range filters {
		ok := slices.ContainsFunc(td.SupportedAssociations, func(sa T.SupportedAssociation) bool {
			switch *f.Name {
			case T.RegistrationTypeFilterNameSupportedAssociationResourceType:
				return slices.Contains(f.Values, *sa.ResourceType)
			case T.RegistrationTypeFilterNameSupportedAssociationIsoCountryCode:
				return sa.IsoCountryCode != nil && slices.Contains(f.Values, *sa.IsoCountryCode)
			}
			return false
		})
		if !ok {
			return false
		}
	}
	return true
}

func (s *Service) DescribeRegistrationSectionDefinitions(ctx context.Context, in *T.DescribeRegistrationSectionDefinitionsRequest) (*T.DescribeRegistrationSectionDefinitionsResult, error) {
	if _, err := account(ctx); err != nil {
		return nil, err
	}
	td, err := s.typeDef(*in.RegistrationType)
	if err != nil {
		return nil, err
	}
	for _, p := range in.SectionPaths {
		if !td.HasSection(p) {
			return nil, invalid("UNKNOWN_REGISTRATION_SECTION", "registration type %s has no section %s", *in.RegistrationType, p)
		}
	}
	var secs []T.RegistrationSectionDefinition
	for _, sec := range td.Sections {
		if len(in.SectionPaths) == 0 || slices.Contains(in.SectionPaths, *sec.SectionPath) {
			secs = append(secs, sec)
		}
	}
	pg, next, err := page(secs, in.NextToken, "sections", in.MaxResults)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []T.RegistrationSectionDefinition{}
	}
	return &T.DescribeRegistrationSectionDefinitionsResult{RegistrationType: in.RegistrationType, RegistrationSectionDefinitions: pg, NextToken: next}, nil
}

// getTyped returns the caller's registration and the definition of its type.
func (s *Service) getTyped(ctx context.Context, idOrARN string) (string, *Registration, *TypeDef, error) {
	acct, r, err := s.get(ctx, idOrARN)
	if err != nil {
		return "", nil, nil, err
	}
	td, err := s.typeDef(r.Type)
	return acct, r, td, err
}

// fieldOf returns the definition of field path of td, or the
// ValidationException of an unknown field.
func fieldOf(td *TypeDef, path string) (*T.RegistrationFieldDefinition, error) {
	f := td.Field(path)
	if f == nil {
		return nil, fieldInvalid("UNKNOWN_REGISTRATION_FIELD", path, "registration type %s has no such field", *td.RegistrationType)
	}
	return f, nil
}

// fieldSelection checks SectionPath and FieldPaths against td and returns
// whether a field path is selected.
func fieldSelection(td *TypeDef, section *string, paths []string) (func(p string) bool, error) {
	if section != nil && !td.HasSection(*section) {
		return nil, invalid("UNKNOWN_REGISTRATION_SECTION", "registration type %s has no section %s", *td.RegistrationType, *section)
	}
	for _, p := range paths {
		if _, err := fieldOf(td, p); err != nil {
			return nil, err
		}
	}
	return func(p string) bool {
		if len(paths) > 0 && !slices.Contains(paths, p) {
			return false
		}
		return section == nil || *td.Field(p).SectionPath == *section
	}, nil
}

func (s *Service) DescribeRegistrationFieldDefinitions(ctx context.Context, in *T.DescribeRegistrationFieldDefinitionsRequest) (*T.DescribeRegistrationFieldDefinitionsResult, error) {
	if _, err := account(ctx); err != nil {
		return nil, err
	}
	td, err := s.typeDef(*in.RegistrationType)
	if err != nil {
		return nil, err
	}
	sel, err := fieldSelection(td, in.SectionPath, in.FieldPaths)
	if err != nil {
		return nil, err
	}
	var fields []T.RegistrationFieldDefinition
	for _, f := range td.Fields {
		if sel(*f.FieldPath) {
			fields = append(fields, f)
		}
	}
	pg, next, err := page(fields, in.NextToken, "fields", in.MaxResults)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []T.RegistrationFieldDefinition{}
	}
	return &T.DescribeRegistrationFieldDefinitionsResult{RegistrationType: in.RegistrationType, RegistrationFieldDefinitions: pg, NextToken: next}, nil
}

func (s *Service) DescribeRegistrationFieldValues(ctx context.Context, in *T.DescribeRegistrationFieldValuesRequest) (*T.DescribeRegistrationFieldValuesResult, error) {
	acct, r, td, err := s.getTyped(ctx, *in.RegistrationId)
	if err != nil {
		return nil, err
	}
	v := r.version(currentNumber(r))
	if in.VersionNumber != nil {
		if v = r.version(*in.VersionNumber); v == nil {
			return nil, invalid("UNKNOWN_REGISTRATION_VERSION", "registration %s has no version %d", r.ID, *in.VersionNumber)
		}
	}
	sel, err := fieldSelection(td, in.SectionPath, in.FieldPaths)
	if err != nil {
		return nil, err
	}
	var vals []T.RegistrationFieldValueInformation
	// In the order of the definitions: sections, then fields.
	for _, f := range td.Fields {
		p := *f.FieldPath
		fv, ok := v.Fields[p]
		if !ok || !sel(p) || (fv.empty() && fv.Feedback == "") {
			continue
		}
		vals = append(vals, valueInfo(p, fv))
	}
	pg, next, err := page(vals, in.NextToken, "values", in.MaxResults)
	if err != nil {
		return nil, err
	}
	if pg == nil {
		pg = []T.RegistrationFieldValueInformation{}
	}
	return &T.DescribeRegistrationFieldValuesResult{
		RegistrationArn: ptr(s.arn(acct, resRegistration, r.ID)), RegistrationId: ptr(r.ID),
		VersionNumber: ptr(v.Number), RegistrationFieldValues: pg, NextToken: next,
	}, nil
}

func valueInfo(path string, fv FieldValue) T.RegistrationFieldValueInformation {
	out := T.RegistrationFieldValueInformation{FieldPath: ptr(path), TextValue: fv.Text, SelectChoices: fv.Choices}
	if fv.AttachmentID != "" {
		out.RegistrationAttachmentId = ptr(fv.AttachmentID)
	}
	if fv.Feedback != "" {
		out.Feedback = ptr(fv.Feedback)
	}
	if fv.DeniedReason != "" {
		out.DeniedReason = ptr(fv.DeniedReason)
	}
	return out
}

// editable returns the draft version of r, or the ConflictException AWS
// answers when there is none.
func editable(r *Registration) (*Version, error) {
	v := latest(r)
	if v.Status != VersionDraft {
		return nil, conflictErr("EDIT_REGISTRATION_FIELD_VALUES_NOT_ALLOWED", resRegistration, r.ID,
			"version %d of registration %s is %s: field values can only change in a draft (CreateRegistrationVersion makes one)",
			v.Number, r.ID, v.Status)
	}
	return v, nil
}

// checkValue validates a value for field f of td: the kind of value the
// field's type takes, text length and pattern, choices among the options
// and within the counts.
func checkValue(td *TypeDef, f *T.RegistrationFieldDefinition, fv FieldValue) error {
	p := *f.FieldPath
	given := 0
	if fv.Text != nil {
		given++
	}
	if fv.Choices != nil {
		given++
	}
	if fv.AttachmentID != "" {
		given++
	}
	want := map[T.FieldType]string{
		T.FieldTypeText: "TextValue", T.FieldTypeSelect: "SelectChoices", T.FieldTypeAttachment: "RegistrationAttachmentId",
	}[*f.FieldType]
	if given != 1 {
		return fieldInvalid("INVALID_PARAMETER", p, "give exactly one value: this %s field takes %s", *f.FieldType, want)
	}
	switch *f.FieldType {
	case T.FieldTypeText:
		if fv.Text == nil {
			return fieldInvalid("INVALID_PARAMETER", p, "this TEXT field takes TextValue")
		}
		tv, n := *f.TextValidation, int64(utf8.RuneCountInString(*fv.Text))
		if n < *tv.MinLength || n > *tv.MaxLength {
			return fieldInvalid("FIELD_VALIDATION_FAILED", p, "the value is %d characters long; it must be %d to %d", n, *tv.MinLength, *tv.MaxLength)
		}
		if !td.patterns[p].MatchString(*fv.Text) {
			msg := "the value does not match the pattern " + *tv.Pattern
			if f.DisplayHints.TextValidationDescription != nil {
				msg += " (" + *f.DisplayHints.TextValidationDescription + ")"
			}
			return fieldInvalid("FIELD_VALIDATION_FAILED", p, "%s", msg)
		}
	case T.FieldTypeSelect:
		if fv.Choices == nil {
			return fieldInvalid("INVALID_PARAMETER", p, "this SELECT field takes SelectChoices")
		}
		sv := *f.SelectValidation
		n := int64(len(fv.Choices))
		if n < *sv.MinChoices || n > *sv.MaxChoices {
			return fieldInvalid("FIELD_VALIDATION_FAILED", p, "%d choices given; choose %d to %d", n, *sv.MinChoices, *sv.MaxChoices)
		}
		for i, c := range fv.Choices {
			if !slices.Contains(sv.Options, c) {
				return fieldInvalid("FIELD_VALIDATION_FAILED", p, "%q is not one of the options: %s", c, quoteList(sv.Options))
			}
			if slices.Contains(fv.Choices[:i], c) {
				return fieldInvalid("FIELD_VALIDATION_FAILED", p, "%q is chosen twice", c)
			}
		}
	case T.FieldTypeAttachment:
		if fv.AttachmentID == "" {
			return fieldInvalid("INVALID_PARAMETER", p, "this ATTACHMENT field takes RegistrationAttachmentId")
		}
	}
	return nil
}

func quoteList(opts []string) string {
	q := make([]string, len(opts))
	for i, o := range opts {
		q[i] = fmt.Sprintf("%q", o)
	}
	return strings.Join(q, ", ")
}

func (s *Service) PutRegistrationFieldValue(ctx context.Context, in *T.PutRegistrationFieldValueRequest) (*T.PutRegistrationFieldValueResult, error) {
	acct, r, td, err := s.getTyped(ctx, *in.RegistrationId)
	if err != nil {
		return nil, err
	}
	p := *in.FieldPath
	f, err := fieldOf(td, p)
	if err != nil {
		return nil, err
	}
	fv := FieldValue{Text: in.TextValue, Choices: in.SelectChoices}
	if in.RegistrationAttachmentId != nil {
		fv.AttachmentID = idOf(*in.RegistrationAttachmentId)
	}
	if err := checkValue(td, f, fv); err != nil {
		return nil, err
	}
	if fv.AttachmentID != "" {
		a, err := s.store.GetAttachment(ctx, acct, fv.AttachmentID)
		if err != nil {
			return nil, err
		}
		if a.Status != string(T.AttachmentStatusUploadComplete) {
			return nil, fieldInvalid("INVALID_PARAMETER", p, "registration attachment %s is %s, not UPLOAD_COMPLETE", a.ID, a.Status)
		}
	}
	var num int64
	if _, err := editable(r); err != nil {
		return nil, err
	}
	r, err = s.update(ctx, r.ID, func(r *Registration, _ time.Time) error {
		v, err := editable(r)
		if err != nil {
			return err
		}
		if v.Fields == nil {
			v.Fields = map[string]FieldValue{}
		}
		v.Fields[p] = fv
		num = v.Number
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &T.PutRegistrationFieldValueResult{
		RegistrationArn: ptr(s.arn(acct, resRegistration, r.ID)), RegistrationId: ptr(r.ID), VersionNumber: ptr(num),
		FieldPath: ptr(p), TextValue: fv.Text, SelectChoices: fv.Choices,
	}
	if fv.AttachmentID != "" {
		out.RegistrationAttachmentId = ptr(fv.AttachmentID)
	}
	return out, nil
}

func (s *Service) DeleteRegistrationFieldValue(ctx context.Context, in *T.DeleteRegistrationFieldValueRequest) (*T.DeleteRegistrationFieldValueResult, error) {
	acct, r, td, err := s.getTyped(ctx, *in.RegistrationId)
	if err != nil {
		return nil, err
	}
	p := *in.FieldPath
	if _, err := fieldOf(td, p); err != nil {
		return nil, err
	}
	var (
		old FieldValue
		num int64
	)
	r, err = s.update(ctx, r.ID, func(r *Registration, _ time.Time) error {
		v, err := editable(r)
		if err != nil {
			return err
		}
		var ok bool
		if old, ok = v.Fields[p]; !ok {
			return &fault.Error{Kind: fault.NotFound, ResourceType: resRegistration, ResourceID: r.ID,
				Message: fmt.Sprintf("field %s of registration %s has no value", p, r.ID)}
		}
		delete(v.Fields, p)
		num = v.Number
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &T.DeleteRegistrationFieldValueResult{
		RegistrationArn: ptr(s.arn(acct, resRegistration, r.ID)), RegistrationId: ptr(r.ID), VersionNumber: ptr(num),
		FieldPath: ptr(p), TextValue: old.Text, SelectChoices: old.Choices,
	}
	if old.AttachmentID != "" {
		out.RegistrationAttachmentId = ptr(old.AttachmentID)
	}
	return out, nil
}
