package registrations_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	T "github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/registrations"
	"github.com/tidings/tidings/internal/store/storetest"
)

const (
	acct = "111122223333"
	tfn  = "US_TOLL_FREE_REGISTRATION"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type bundle struct {
	ctx   context.Context
	svc   *registrations.Service
	clock *clock
}

func setup(t *testing.T) *bundle {
	t.Helper()
	db := storetest.OpenSQLite(t)
	blobs, err := blobfs.New(t.TempDir())
	require.NoError(t, err)
	c := &clock{t: time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)}
	svc, err := registrations.New(db.Registrations(), blobs, registrations.Config{Region: "us-west-2", Now: c.Now}, nil)
	require.NoError(t, err)
	ctx := iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct})
	return &bundle{ctx: ctx, svc: svc, clock: c}
}

func ptr[V any](v V) *V { return &v }

var textValues = map[string]string{
	"companyInfo.companyName": "AnyCompany", "companyInfo.website": "https://example.com",
	"companyInfo.address1": "123 Any Street", "companyInfo.city": "Anytown", "companyInfo.state": "WA",
	"companyInfo.zipCode": "98109", "companyInfo.isoCountryCode": "US",
	"contactInfo.firstName": "Jane", "contactInfo.lastName": "Doe",
	"contactInfo.supportEmail": "support@example.com",
	// The seed's CSV gives numbers without the +.
	"contactInfo.supportPhoneNumber":  "15553331234",
	"messagingUseCase.useCaseDetails": "Codes", "messagingUseCase.optInDescription": "A form",
	"messageSamples.messageSample1": "Your code is 123456",
}

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

// submitted makes a complete registration with a number and submits it.
func (b *bundle) submitted(t *testing.T, phone string) string {
	t.Helper()
	reg, err := b.svc.CreateRegistration(b.ctx, &T.CreateRegistrationRequest{RegistrationType: ptr(tfn)})
	require.NoError(t, err)
	id := *reg.RegistrationId
	for p, v := range textValues {
		_, err := b.svc.PutRegistrationFieldValue(b.ctx, &T.PutRegistrationFieldValueRequest{RegistrationId: &id, FieldPath: ptr(p), TextValue: ptr(v)})
		require.NoError(t, err, p)
	}
	for p, v := range map[string]string{"messagingUseCase.monthlyMessageVolume": "10,000,000+", "messagingUseCase.useCaseCategory": "Other"} {
		_, err := b.svc.PutRegistrationFieldValue(b.ctx, &T.PutRegistrationFieldValueRequest{RegistrationId: &id, FieldPath: ptr(p), SelectChoices: []string{v}})
		require.NoError(t, err, p)
	}
	_, err = b.svc.CreateRegistrationAssociation(b.ctx, &T.CreateRegistrationAssociationRequest{RegistrationId: &id, ResourceId: ptr(phone)})
	require.NoError(t, err)
	b.clock.Add(time.Minute)
	out, err := b.svc.SubmitRegistrationVersion(b.ctx, &T.SubmitRegistrationVersionRequest{RegistrationId: &id})
	require.NoError(t, err)
	require.Equal(t, T.RegistrationVersionStatusSubmitted, *out.RegistrationVersionStatus)
	return id
}

func (b *bundle) describe(t *testing.T, id string) T.RegistrationInformation {
	t.Helper()
	out, err := b.svc.DescribeRegistrations(b.ctx, &T.DescribeRegistrationsRequest{RegistrationIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.Registrations, 1)
	return out.Registrations[0]
}

func requireReason(t *testing.T, err error, k fault.Kind, reason string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, k, fault.KindOf(err), "%v", err)
	var fe *fault.Error
	require.True(t, errors.As(err, &fe), "%T %v", err, err)
	require.Equal(t, reason, fe.Reason, "%v", err)
}

func TestDefinitions(t *testing.T) {
	t.Parallel()
	d, err := registrations.LoadDefinitions(nil)
	require.NoError(t, err)
	td := d.Type(tfn)
	require.NotNil(t, td)
	require.Len(t, td.Fields, 20)
	for _, s := range []string{"companyInfo", "contactInfo", "messagingUseCase", "messageSamples"} {
		require.True(t, td.HasSection(s), s)
	}
	require.Equal(t, T.FieldTypeAttachment, *td.Field("messagingUseCase.optInImage").FieldType)
	require.Nil(t, d.Type("US_NOPE"))

	for _, bad := range []string{
		`[{"RegistrationType":"X","DisplayHints":{"Title":"x"},"Sections":[],"Fields":[{"FieldPath":"a.b","SectionPath":"a","FieldType":"TEXT","FieldRequirement":"REQUIRED","DisplayHints":{"Title":"t","ShortDescription":"s"},"TextValidation":{"MinLength":1,"MaxLength":2,"Pattern":"x"}}]}]`,
		`[{"RegistrationType":"X","DisplayHints":{"Title":"x"},"Sections":[{"SectionPath":"a","DisplayHints":{"Title":"a","ShortDescription":"a"}}],"Fields":[{"FieldPath":"a.b","SectionPath":"a","FieldType":"TEXT","FieldRequirement":"REQUIRED","DisplayHints":{"Title":"t","ShortDescription":"s"},"TextValidation":{"MinLength":1,"MaxLength":2,"Pattern":"("}}]}]`,
		`[{"RegistrationType":"X","DisplayHints":{"Title":"x"},"Sections":[{"SectionPath":"a","DisplayHints":{"Title":"a","ShortDescription":"a"}}],"Fields":[{"FieldPath":"a.b","SectionPath":"a","FieldType":"SELECT","FieldRequirement":"REQUIRED","DisplayHints":{"Title":"t","ShortDescription":"s"}}]}]`,
		`not json`,
	} {
		_, err := registrations.LoadDefinitions([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestSniffAttachment(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"\x89PNG\r\n\x1a\nrest":     "image/png",
		"\xff\xd8\xff\xe0\x00\x10J": "image/jpeg",
		"%PDF-1.7\n":                "application/pdf",
		"GIF89a":                    "",
		"\x89PNG":                   "",
		"<svg/>":                    "",
		"":                          "",
		"PK\x03\x04 optin.png.zip":  "",
	} {
		require.Equal(t, want, registrations.SniffAttachment([]byte(in)), "%q", in)
	}
}

// TestLifecycle follows a registration from draft to COMPLETE through a
// request for updates, with the states and timestamps AWS shows.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	t0 := b.clock.Now()
	id := b.submitted(t, "phone-1")
	info := b.describe(t, id)
	require.Equal(t, T.RegistrationStatusSubmitted, *info.RegistrationStatus)
	require.Equal(t, "arn:aws:sms-voice:us-west-2:"+acct+":registration/"+id, *info.RegistrationArn)
	require.True(t, info.CreatedTimestamp.Equal(t0))

	reg, status, found, err := b.svc.ResourceRegistration(b.ctx, acct, "phone-1")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, id, reg)
	require.Equal(t, registrations.StatusSubmitted, status)
	_, _, found, err = b.svc.ResourceRegistration(b.ctx, acct, "phone-2")
	require.NoError(t, err)
	require.False(t, found)

	// The reviewer (operator's view: no account named).
	_, err = b.svc.Review(context.Background(), "", id, registrations.ReviewInput{Decision: registrations.RequestUpdates})
	require.Equal(t, fault.Invalid, fault.KindOf(err), "a request for updates needs a reason")
	_, err = b.svc.Review(context.Background(), "", id, registrations.ReviewInput{Decision: "maybe"})
	require.Equal(t, fault.Invalid, fault.KindOf(err))
	_, err = b.svc.Review(context.Background(), "", "registration-none", registrations.ReviewInput{Decision: registrations.Approve})
	require.Equal(t, fault.NotFound, fault.KindOf(err))

	b.clock.Add(time.Minute)
	sm, err := b.svc.Review(context.Background(), "", id, registrations.ReviewInput{Decision: registrations.StartReview})
	require.NoError(t, err)
	require.Equal(t, registrations.StatusReviewing, sm.Status)
	b.clock.Add(time.Minute)
	sm, err = b.svc.Review(context.Background(), "", id, registrations.ReviewInput{Decision: registrations.RequestUpdates,
		Reason: "Website unreachable", Fields: map[string]string{"companyInfo.website": "does not load",
			"messageSamples.messageSample2": "add a sample with opt-out wording"}})
	require.NoError(t, err)
	require.Equal(t, registrations.StatusRequiresUpdates, sm.Status)
	_, err = b.svc.Review(b.ctx, acct, id, registrations.ReviewInput{Decision: registrations.Approve})
	require.Equal(t, fault.Conflict, fault.KindOf(err), "nothing under review")

	vs, err := b.svc.DescribeRegistrationVersions(b.ctx, &T.DescribeRegistrationVersionsRequest{RegistrationId: &id})
	require.NoError(t, err)
	require.Len(t, vs.RegistrationVersions, 1)
	v1 := vs.RegistrationVersions[0]
	require.Equal(t, T.RegistrationVersionStatusDenied, *v1.RegistrationVersionStatus)
	require.Equal(t, "Website unreachable", *v1.DeniedReasons[0].Reason)
	h := v1.RegistrationVersionStatusHistory
	require.True(t, h.DraftTimestamp.Equal(t0))
	require.True(t, h.SubmittedTimestamp.Equal(t0.Add(time.Minute)))
	require.True(t, h.ReviewingTimestamp.Equal(t0.Add(2*time.Minute)))
	require.True(t, h.DeniedTimestamp.Equal(t0.Add(3*time.Minute)))
	require.Nil(t, h.ApprovedTimestamp)

	fv, err := b.svc.DescribeRegistrationFieldValues(b.ctx, &T.DescribeRegistrationFieldValuesRequest{RegistrationId: &id,
		FieldPaths: []string{"companyInfo.website"}})
	require.NoError(t, err)
	require.Equal(t, "does not load", *fv.RegistrationFieldValues[0].DeniedReason)
	fv, err = b.svc.DescribeRegistrationFieldValues(b.ctx, &T.DescribeRegistrationFieldValuesRequest{RegistrationId: &id,
		FieldPaths: []string{"messageSamples.messageSample2"}})
	require.NoError(t, err)
	require.Len(t, fv.RegistrationFieldValues, 1, "a note on a field without a value is shown")
	require.Nil(t, fv.RegistrationFieldValues[0].TextValue)

	// Fix it in version 2, which starts from version 1's values.
	_, err = b.svc.PutRegistrationFieldValue(b.ctx, &T.PutRegistrationFieldValueRequest{RegistrationId: &id,
		FieldPath: ptr("companyInfo.website"), TextValue: ptr("https://example.org")})
	requireReason(t, err, fault.Conflict, "EDIT_REGISTRATION_FIELD_VALUES_NOT_ALLOWED")
	nv, err := b.svc.CreateRegistrationVersion(b.ctx, &T.CreateRegistrationVersionRequest{RegistrationId: &id})
	require.NoError(t, err)
	require.Equal(t, int64(2), *nv.VersionNumber)
	_, err = b.svc.CreateRegistrationVersion(b.ctx, &T.CreateRegistrationVersionRequest{RegistrationId: &id})
	requireReason(t, err, fault.Conflict, "CREATE_REGISTRATION_VERSION_NOT_ALLOWED")
	fv, err = b.svc.DescribeRegistrationFieldValues(b.ctx, &T.DescribeRegistrationFieldValuesRequest{RegistrationId: &id, MaxResults: ptr(int64(20))})
	require.NoError(t, err)
	require.Equal(t, int64(2), *fv.VersionNumber)
	require.Len(t, fv.RegistrationFieldValues, 16, "the values of version 1, not the notes on fields without one")
	for _, v := range fv.RegistrationFieldValues {
		require.Nil(t, v.DeniedReason, "a new version starts without the reviewer's notes")
	}
	_, err = b.svc.PutRegistrationFieldValue(b.ctx, &T.PutRegistrationFieldValueRequest{RegistrationId: &id,
		FieldPath: ptr("companyInfo.website"), TextValue: ptr("https://example.org")})
	require.NoError(t, err)
	require.Equal(t, registrations.StatusRequiresUpdates, string(*b.describe(t, id).RegistrationStatus))

	_, err = b.svc.SubmitRegistrationVersion(b.ctx, &T.SubmitRegistrationVersionRequest{RegistrationId: &id})
	require.NoError(t, err)
	sm, err = b.svc.Review(b.ctx, acct, id, registrations.ReviewInput{Decision: registrations.Approve})
	require.NoError(t, err)
	require.Equal(t, registrations.StatusComplete, sm.Status)
	info = b.describe(t, id)
	require.Equal(t, int64(2), *info.ApprovedVersionNumber)
	require.Equal(t, int64(1), *info.LatestDeniedVersionNumber)
	st, err := b.svc.RegistrationStatus(b.ctx, acct, id)
	require.NoError(t, err)
	require.Equal(t, registrations.StatusComplete, st)

	// An update of a COMPLETE registration keeps it COMPLETE (its numbers
	// go on sending) while version 3 is reviewed; approval archives 2.
	_, err = b.svc.CreateRegistrationVersion(b.ctx, &T.CreateRegistrationVersionRequest{RegistrationId: &id})
	require.NoError(t, err)
	_, err = b.svc.SubmitRegistrationVersion(b.ctx, &T.SubmitRegistrationVersionRequest{RegistrationId: &id})
	require.NoError(t, err)
	require.Equal(t, registrations.StatusComplete, string(*b.describe(t, id).RegistrationStatus))
	_, err = b.svc.Review(b.ctx, acct, id, registrations.ReviewInput{Decision: registrations.Approve})
	require.NoError(t, err)
	vs, err = b.svc.DescribeRegistrationVersions(b.ctx, &T.DescribeRegistrationVersionsRequest{RegistrationId: &id})
	require.NoError(t, err)
	var got []string
	for _, v := range vs.RegistrationVersions {
		got = append(got, string(*v.RegistrationVersionStatus))
	}
	require.Equal(t, []string{"APPROVED", "ARCHIVED", "DENIED"}, got)

	// Discarding: only a later draft.
	_, err = b.svc.CreateRegistrationVersion(b.ctx, &T.CreateRegistrationVersionRequest{RegistrationId: &id})
	require.NoError(t, err)
	d, err := b.svc.DiscardRegistrationVersion(b.ctx, &T.DiscardRegistrationVersionRequest{RegistrationId: &id})
	require.NoError(t, err)
	require.Equal(t, int64(4), *d.VersionNumber)
	require.Equal(t, int64(3), *b.describe(t, id).CurrentVersionNumber)
}

func TestFieldValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	reg, err := b.svc.CreateRegistration(b.ctx, &T.CreateRegistrationRequest{RegistrationType: ptr(tfn)})
	require.NoError(t, err)
	id := reg.RegistrationId
	put := func(path string, text *string, choices []string, att *string) error {
		_, err := b.svc.PutRegistrationFieldValue(b.ctx, &T.PutRegistrationFieldValueRequest{RegistrationId: id, FieldPath: &path,
			TextValue: text, SelectChoices: choices, RegistrationAttachmentId: att})
		return err
	}
	fieldErr := func(err error, reason, field string) {
		t.Helper()
		var ve *registrations.ValidationError
		require.True(t, errors.As(err, &ve), "%T %v", err, err)
		require.Equal(t, reason, ve.Reason)
		require.Len(t, ve.Fields, 1)
		require.Equal(t, field, ve.Fields[0].Name)
		require.Equal(t, fault.Invalid, fault.KindOf(err))
	}
	for _, tc := range []struct {
		path    string
		text    *string
		choices []string
		att     *string
		reason  string
	}{
		{"companyInfo.zipCode", ptr("9810a"), nil, nil, "FIELD_VALIDATION_FAILED"},
		{"companyInfo.zipCode", ptr("12345678901"), nil, nil, "FIELD_VALIDATION_FAILED"},
		{"companyInfo.companyName", ptr(" "), nil, nil, "FIELD_VALIDATION_FAILED"},
		{"companyInfo.website", ptr("ftp://example.com"), nil, nil, "FIELD_VALIDATION_FAILED"},
		{"contactInfo.supportPhoneNumber", ptr("+1 206 555 0100"), nil, nil, "FIELD_VALIDATION_FAILED"},
		{"contactInfo.supportEmail", ptr("a@b"), nil, nil, "FIELD_VALIDATION_FAILED"},
		{"messagingUseCase.useCaseCategory", nil, []string{"Marketing"}, nil, "FIELD_VALIDATION_FAILED"},
		{"messagingUseCase.useCaseCategory", nil, []string{}, nil, "FIELD_VALIDATION_FAILED"},
		{"messagingUseCase.useCaseCategory", nil, []string{"Other", "Other"}, nil, "FIELD_VALIDATION_FAILED"},
		{"messagingUseCase.monthlyMessageVolume", ptr("10"), nil, nil, "INVALID_PARAMETER"},
		{"companyInfo.city", ptr("x"), []string{"x"}, nil, "INVALID_PARAMETER"},
		{"companyInfo.city", nil, nil, ptr("attachment-1"), "INVALID_PARAMETER"},
		{"messagingUseCase.optInImage", ptr("x"), nil, nil, "INVALID_PARAMETER"},
		{"companyInfo.vatNumber", ptr("x"), nil, nil, "UNKNOWN_REGISTRATION_FIELD"},
	} {
		fieldErr(put(tc.path, tc.text, tc.choices, tc.att), tc.reason, tc.path)
	}
	// Lengths count characters, not bytes.
	require.NoError(t, put("companyInfo.companyName", ptr(strings.Repeat("é", 100)), nil, nil))
	require.NoError(t, put("messagingUseCase.useCaseCategory", nil, []string{"Promotions & marketing"}, nil))
	err = put("messagingUseCase.optInImage", nil, nil, ptr("attachment-0000"))
	require.Equal(t, fault.NotFound, fault.KindOf(err))

	att, err := b.svc.CreateRegistrationAttachment(b.ctx, &T.CreateRegistrationAttachmentRequest{AttachmentBody: pngBytes})
	require.NoError(t, err)
	require.NoError(t, put("messagingUseCase.optInImage", nil, nil, att.RegistrationAttachmentArn), "an ARN names it too")

	// Submitting lists every required field still missing.
	_, err = b.svc.SubmitRegistrationVersion(b.ctx, &T.SubmitRegistrationVersionRequest{RegistrationId: id})
	var ve *registrations.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, "MISSING_PARAMETER", ve.Reason)
	require.Len(t, ve.Fields, 14, "16 required fields, 2 given")

	// A deleted attachment is reported at submission.
	_, err = b.svc.DeleteRegistrationAttachment(b.ctx, &T.DeleteRegistrationAttachmentRequest{RegistrationAttachmentId: att.RegistrationAttachmentId})
	require.NoError(t, err)
	_, err = b.svc.SubmitRegistrationVersion(b.ctx, &T.SubmitRegistrationVersionRequest{RegistrationId: id})
	require.True(t, errors.As(err, &ve))
	require.Len(t, ve.Fields, 15)
	i := slices.IndexFunc(ve.Fields, func(f registrations.FieldError) bool { return f.Name == "messagingUseCase.optInImage" })
	require.GreaterOrEqual(t, i, 0, "%v", ve.Fields)
	require.Contains(t, ve.Fields[i].Message, "no longer exists")

	dv, err := b.svc.DeleteRegistrationFieldValue(b.ctx, &T.DeleteRegistrationFieldValueRequest{RegistrationId: id, FieldPath: ptr("messagingUseCase.useCaseCategory")})
	require.NoError(t, err)
	require.Equal(t, []string{"Promotions & marketing"}, dv.SelectChoices)
	_, err = b.svc.DeleteRegistrationFieldValue(b.ctx, &T.DeleteRegistrationFieldValueRequest{RegistrationId: id, FieldPath: ptr("messagingUseCase.useCaseCategory")})
	require.Equal(t, fault.NotFound, fault.KindOf(err))
}

func TestAttachments(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, registrations.MaxAttachmentBytes)...)
	for body, reason := range map[string]string{
		string(big[:registrations.MaxAttachmentBytes+1]): "MAXIMUM_SIZE_EXCEEDED",
		"GIF89a....": "ATTACHMENT_TYPE_NOT_SUPPORTED",
		"":           "MISSING_PARAMETER",
	} {
		_, err := b.svc.CreateRegistrationAttachment(b.ctx, &T.CreateRegistrationAttachmentRequest{AttachmentBody: []byte(body)})
		requireReason(t, err, fault.Invalid, reason)
	}
	_, err := b.svc.CreateRegistrationAttachment(b.ctx, &T.CreateRegistrationAttachmentRequest{AttachmentUrl: ptr("s3://b/k.png")})
	requireReason(t, err, fault.Invalid, "INVALID_PARAMETER")
	_, err = b.svc.CreateRegistrationAttachment(b.ctx, &T.CreateRegistrationAttachmentRequest{AttachmentUrl: ptr("s3://b/k.png"), AttachmentBody: pngBytes})
	requireReason(t, err, fault.Invalid, "PARAMETERS_CANNOT_BE_USED_TOGETHER")

	var ids []string
	for range 3 {
		out, err := b.svc.CreateRegistrationAttachment(b.ctx, &T.CreateRegistrationAttachmentRequest{AttachmentBody: big[:registrations.MaxAttachmentBytes]})
		require.NoError(t, err)
		ids = append(ids, *out.RegistrationAttachmentId)
		b.clock.Add(time.Second)
	}
	var seen []string
	var tok *string
	for {
		out, err := b.svc.DescribeRegistrationAttachments(b.ctx, &T.DescribeRegistrationAttachmentsRequest{MaxResults: ptr(int64(2)), NextToken: tok})
		require.NoError(t, err)
		for _, a := range out.RegistrationAttachments {
			seen = append(seen, *a.RegistrationAttachmentId)
		}
		if tok = out.NextToken; tok == nil {
			break
		}
	}
	require.Equal(t, ids, seen)
	_, err = b.svc.DescribeRegistrationAttachments(b.ctx, &T.DescribeRegistrationAttachmentsRequest{RegistrationAttachmentIds: []string{"attachment-x"}})
	require.Equal(t, fault.NotFound, fault.KindOf(err))
	// Another account sees none of them.
	other := iam.WithPrincipal(context.Background(), iam.Principal{AccountID: "999988887777"})
	out, err := b.svc.DescribeRegistrationAttachments(other, &T.DescribeRegistrationAttachmentsRequest{})
	require.NoError(t, err)
	require.Empty(t, out.RegistrationAttachments)
}

func TestAssociationsAndDeletion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.submitted(t, "phone-1")
	other, err := b.svc.CreateRegistration(b.ctx, &T.CreateRegistrationRequest{RegistrationType: ptr(tfn)})
	require.NoError(t, err)
	_, err = b.svc.CreateRegistrationAssociation(b.ctx, &T.CreateRegistrationAssociationRequest{RegistrationId: other.RegistrationId, ResourceId: ptr("phone-1")})
	requireReason(t, err, fault.Conflict, "RESOURCE_ALREADY_ASSOCIATED")
	_, err = b.svc.CreateRegistrationAssociation(b.ctx, &T.CreateRegistrationAssociationRequest{RegistrationId: other.RegistrationId, ResourceId: ptr("senderid-abc")})
	requireReason(t, err, fault.Invalid, "INVALID_REGISTRATION_ASSOCIATION")
	_, err = b.svc.CreateRegistrationAssociation(b.ctx, &T.CreateRegistrationAssociationRequest{RegistrationId: &id, ResourceId: ptr("phone-2")})
	requireReason(t, err, fault.Conflict, "REGISTRATION_ALREADY_SUBMITTED")

	_, err = b.svc.DeleteRegistration(b.ctx, &T.DeleteRegistrationRequest{RegistrationId: &id})
	requireReason(t, err, fault.Conflict, "RESOURCE_DELETION_NOT_ALLOWED")
	_, err = b.svc.Review(b.ctx, acct, id, registrations.ReviewInput{Decision: registrations.Approve})
	require.NoError(t, err)
	del, err := b.svc.DeleteRegistration(b.ctx, &T.DeleteRegistrationRequest{RegistrationId: &id})
	require.NoError(t, err)
	require.Equal(t, T.RegistrationStatusDeleted, *del.RegistrationStatus)
	_, _, found, err := b.svc.ResourceRegistration(b.ctx, acct, "phone-1")
	require.NoError(t, err)
	require.False(t, found, "the number is free again")
	_, err = b.svc.DescribeRegistrations(b.ctx, &T.DescribeRegistrationsRequest{RegistrationIds: []string{id}})
	require.Equal(t, fault.NotFound, fault.KindOf(err))
}

func TestPagingTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var paths []string
	var tok *string
	for {
		out, err := b.svc.DescribeRegistrationFieldDefinitions(b.ctx, &T.DescribeRegistrationFieldDefinitionsRequest{
			RegistrationType: ptr(tfn), MaxResults: ptr(int64(6)), NextToken: tok})
		require.NoError(t, err)
		for _, f := range out.RegistrationFieldDefinitions {
			paths = append(paths, *f.FieldPath)
		}
		if tok = out.NextToken; tok == nil {
			break
		}
	}
	require.Len(t, paths, 20)
	require.Equal(t, "companyInfo.companyName", paths[0])
	require.Equal(t, "messageSamples.messageSample3", paths[19])

	// A token of another list, or none of ours, is refused.
	out, err := b.svc.DescribeRegistrationSectionDefinitions(b.ctx, &T.DescribeRegistrationSectionDefinitionsRequest{RegistrationType: ptr(tfn), MaxResults: ptr(int64(1))})
	require.NoError(t, err)
	_, err = b.svc.DescribeRegistrationFieldDefinitions(b.ctx, &T.DescribeRegistrationFieldDefinitionsRequest{RegistrationType: ptr(tfn), NextToken: out.NextToken})
	requireReason(t, err, fault.Invalid, "INVALID_NEXT_TOKEN")
	_, err = b.svc.DescribeRegistrations(b.ctx, &T.DescribeRegistrationsRequest{NextToken: ptr("!!")})
	requireReason(t, err, fault.Invalid, "INVALID_NEXT_TOKEN")
	_, err = b.svc.DescribeRegistrationFieldDefinitions(b.ctx, &T.DescribeRegistrationFieldDefinitionsRequest{RegistrationType: ptr(tfn), SectionPath: ptr("nope")})
	requireReason(t, err, fault.Invalid, "UNKNOWN_REGISTRATION_SECTION")
}

type fakeAuth struct{ p iam.Principal }

func (f fakeAuth) Authenticate(*http.Request) (iam.Principal, error) { return f.p, nil }

func TestNativeHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.submitted(t, "phone-1")
	call := func(account, method, path, body string) (int, string) {
		h := b.svc.NativeHandler(fakeAuth{iam.Principal{AccountID: account}}, acct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec.Code, rec.Body.String()
	}
	code, body := call("999988887777", "GET", "/v1/registrations", "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = call(acct, "GET", "/v1/registrations?status=submitted", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, id)
	require.Contains(t, body, "phone-1")
	code, body = call(acct, "GET", "/v1/registrations?status=COMPLETE", "")
	require.Equal(t, http.StatusOK, code, body)
	require.NotContains(t, body, id)

	code, body = call(acct, "POST", "/v1/registrations/"+id+"/review", `{"decision":"approve","color":"green"}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	code, body = call(acct, "POST", "/v1/registrations/registration-none/review", `{"decision":"approve"}`)
	require.Equal(t, http.StatusNotFound, code, body)
	code, body = call(acct, "POST", "/v1/registrations/"+id+"/review", `{"decision":"approve"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"status":"COMPLETE"`)
	code, body = call(acct, "POST", "/v1/registrations/"+id+"/review", `{"decision":"approve"}`)
	require.Equal(t, http.StatusConflict, code, body)
	att, err := b.svc.CreateRegistrationAttachment(b.ctx, &T.CreateRegistrationAttachmentRequest{AttachmentBody: pngBytes})
	require.NoError(t, err)
	code, body = call(acct, "GET", "/v1/registrations/"+id, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"path":"companyInfo.zipCode"`)
	require.Contains(t, body, `"title":"Zip Code / Postal Code"`)
	// Only an attachment the registration names can be read through it.
	code, body = call(acct, "GET", "/v1/registrations/"+id+"/attachments/"+*att.RegistrationAttachmentId, "")
	require.Equal(t, http.StatusNotFound, code, body)
	code, _ = call("999988887777", "GET", "/v1/registrations/"+id, "")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = call(acct, "GET", "/v1/registrations/x/y", "")
	require.Equal(t, http.StatusNotFound, code)
}
