package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/registrations"
	"github.com/tidings/tidings/internal/store"
)

// RunRegistrations runs the conformance suite of registrations.Store; open
// returns a fresh, empty database for each test.
func RunRegistrations(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *regBundle)
	}{
		{"InsertGet", testRegInsertGet},
		{"Update", testRegUpdate},
		{"ConcurrentUpdates", testRegConcurrentUpdates},
		{"ListFilterPage", testRegList},
		{"Delete", testRegDelete},
		{"Attachments", testRegAttachments},
		{"Associations", testRegAssociations},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			db := open(t)
			tt.fn(t, &regBundle{ctx: ctx, st: db.Registrations()})
		})
	}
}

type regBundle struct {
	ctx context.Context
	st  registrations.Store
}

var regDay0 = time.Date(2025, 4, 1, 12, 0, 0, 0, time.UTC)

func newReg(acct, id, typ, status string, at time.Time) *registrations.Registration {
	text := "AnyCompany"
	return &registrations.Registration{
		AccountID: acct, ID: id, Type: typ, Status: status, CreatedAt: at, UpdatedAt: at,
		Tags: []registrations.Tag{{Key: "Name", Value: "friendly"}},
		Versions: []registrations.Version{{
			Number: 1, Status: "DRAFT", History: map[string]time.Time{"DRAFT": at},
			Fields: map[string]registrations.FieldValue{
				"companyInfo.companyName":               {Text: &text},
				"messagingUseCase.monthlyMessageVolume": {Choices: []string{"1,000"}},
			},
		}},
	}
}

func testRegInsertGet(t *testing.T, b *regBundle) {
	r := newReg("111111111111", "registration-1", "US_TOLL_FREE_REGISTRATION", "CREATED", regDay0.Add(123*time.Microsecond))
	require.NoError(t, b.st.InsertRegistration(b.ctx, r))
	got, err := b.st.GetRegistration(b.ctx, "111111111111", "registration-1")
	require.NoError(t, err)
	require.Equal(t, regDay0, got.CreatedAt, "stored to the millisecond, in UTC")
	require.Equal(t, "US_TOLL_FREE_REGISTRATION", got.Type)
	require.Equal(t, "CREATED", got.Status)
	require.Equal(t, []registrations.Tag{{Key: "Name", Value: "friendly"}}, got.Tags)
	require.Len(t, got.Versions, 1)
	require.Equal(t, "AnyCompany", *got.Versions[0].Fields["companyInfo.companyName"].Text)
	require.Equal(t, []string{"1,000"}, got.Versions[0].Fields["messagingUseCase.monthlyMessageVolume"].Choices)
	require.True(t, got.Versions[0].History["DRAFT"].Equal(regDay0.Add(123*time.Microsecond)), "the document as written")

	err = b.st.InsertRegistration(b.ctx, newReg("111111111111", "registration-1", "US_TOLL_FREE_REGISTRATION", "CREATED", regDay0))
	requireKind(t, err, fault.Conflict)

	// Another account does not see it.
	_, err = b.st.GetRegistration(b.ctx, "222222222222", "registration-1")
	requireKind(t, err, fault.NotFound)
	var fe *fault.Error
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "registration", fe.ResourceType)
	require.Equal(t, "registration-1", fe.ResourceID)
}

func testRegUpdate(t *testing.T, b *regBundle) {
	const acct = "111111111111"
	require.NoError(t, b.st.InsertRegistration(b.ctx, newReg(acct, "registration-1", "T", "CREATED", regDay0)))
	later := regDay0.Add(time.Hour)
	got, err := b.st.UpdateRegistration(b.ctx, acct, "registration-1", func(r *registrations.Registration) error {
		r.Status = "SUBMITTED"
		r.UpdatedAt = later
		r.Versions[0].Status = "SUBMITTED"
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "SUBMITTED", got.Status)
	again, err := b.st.GetRegistration(b.ctx, acct, "registration-1")
	require.NoError(t, err)
	require.Equal(t, "SUBMITTED", again.Versions[0].Status)
	require.Equal(t, later, again.UpdatedAt)
	require.Equal(t, regDay0, again.CreatedAt)

	// fn's error is returned and nothing is written.
	boom := fault.Conflictf("no")
	_, err = b.st.UpdateRegistration(b.ctx, acct, "registration-1", func(r *registrations.Registration) error {
		r.Status = "COMPLETE"
		return boom
	})
	require.ErrorIs(t, err, boom)
	again, err = b.st.GetRegistration(b.ctx, acct, "registration-1")
	require.NoError(t, err)
	require.Equal(t, "SUBMITTED", again.Status)

	_, err = b.st.UpdateRegistration(b.ctx, acct, "registration-none", func(*registrations.Registration) error { return nil })
	requireKind(t, err, fault.NotFound)
}

// testRegConcurrentUpdates: read-modify-write updates racing on one
// registration lose none of their changes.
func testRegConcurrentUpdates(t *testing.T, b *regBundle) {
	const acct, n = "111111111111", 8
	require.NoError(t, b.st.InsertRegistration(b.ctx, newReg(acct, "registration-1", "T", "CREATED", regDay0)))
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = b.st.UpdateRegistration(b.ctx, acct, "registration-1", func(r *registrations.Registration) error {
				v := fmt.Sprint(i)
				r.Versions[0].Fields[fmt.Sprintf("f%d", i)] = registrations.FieldValue{Text: &v}
				return nil
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			// Only contention beyond the retries may fail, and then as
			// Unavailable (retry later), never silently.
			requireKind(t, err, fault.Unavailable)
		}
	}
	got, err := b.st.GetRegistration(b.ctx, acct, "registration-1")
	require.NoError(t, err)
	for i := range n {
		_, ok := got.Versions[0].Fields[fmt.Sprintf("f%d", i)]
		require.Equal(t, errs[i] == nil, ok, "update %d", i)
	}
}

func testRegList(t *testing.T, b *regBundle) {
	const a1, a2 = "111111111111", "222222222222"
	for i, r := range []*registrations.Registration{
		newReg(a1, "registration-c", "US_TOLL_FREE_REGISTRATION", "CREATED", regDay0),
		newReg(a1, "registration-a", "US_TOLL_FREE_REGISTRATION", "SUBMITTED", regDay0), // same time: by ID
		newReg(a1, "registration-b", "OTHER", "COMPLETE", regDay0.Add(time.Second)),
		newReg(a2, "registration-d", "US_TOLL_FREE_REGISTRATION", "SUBMITTED", regDay0.Add(2*time.Second)),
	} {
		require.NoError(t, b.st.InsertRegistration(b.ctx, r), i)
	}
	ids := func(f registrations.ListFilter) []string {
		t.Helper()
		list, err := b.st.ListRegistrations(b.ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	require.Equal(t, []string{"registration-a", "registration-c", "registration-b"}, ids(registrations.ListFilter{AccountID: a1}))
	require.Equal(t, []string{"registration-a", "registration-c", "registration-b", "registration-d"}, ids(registrations.ListFilter{}))
	require.Equal(t, []string{"registration-a", "registration-c"}, ids(registrations.ListFilter{AccountID: a1, Types: []string{"US_TOLL_FREE_REGISTRATION"}}))
	require.Equal(t, []string{"registration-a", "registration-d"}, ids(registrations.ListFilter{Statuses: []string{"SUBMITTED"}}))
	require.Equal(t, []string{"registration-c", "registration-b"}, ids(registrations.ListFilter{AccountID: a1, IDs: []string{"registration-b", "registration-c", "registration-d"}}))

	// Pages: keyset on (created at, ID).
	first := ids(registrations.ListFilter{AccountID: a1, Limit: 2})
	require.Equal(t, []string{"registration-a", "registration-c"}, first)
	rest := ids(registrations.ListFilter{AccountID: a1, Limit: 2, After: registrations.Cursor{CreatedAt: regDay0, ID: "registration-c"}})
	require.Equal(t, []string{"registration-b"}, rest)
	require.Empty(t, ids(registrations.ListFilter{AccountID: a1, After: registrations.Cursor{CreatedAt: regDay0.Add(time.Second), ID: "registration-b"}}))
}

func testRegDelete(t *testing.T, b *regBundle) {
	const acct = "111111111111"
	require.NoError(t, b.st.InsertRegistration(b.ctx, newReg(acct, "registration-1", "T", "CREATED", regDay0)))
	require.NoError(t, b.st.InsertAssociation(b.ctx, &registrations.Association{AccountID: acct, RegistrationID: "registration-1",
		ResourceID: "phone-1", CreatedAt: regDay0, ResourceType: "PHONE_NUMBER", ResourceARN: "arn:x"}))

	no := fault.Conflictf("under review")
	_, err := b.st.DeleteRegistration(b.ctx, acct, "registration-1", func(*registrations.Registration) error { return no })
	require.ErrorIs(t, err, no)
	_, err = b.st.GetRegistration(b.ctx, acct, "registration-1")
	require.NoError(t, err)

	got, err := b.st.DeleteRegistration(b.ctx, acct, "registration-1", func(*registrations.Registration) error { return nil })
	require.NoError(t, err)
	require.Equal(t, "registration-1", got.ID)
	_, err = b.st.GetRegistration(b.ctx, acct, "registration-1")
	requireKind(t, err, fault.NotFound)
	// Its associations went with it: the number is free again.
	_, err = b.st.AssociationOf(b.ctx, acct, "phone-1")
	requireKind(t, err, fault.NotFound)
	_, err = b.st.DeleteRegistration(b.ctx, acct, "registration-1", func(*registrations.Registration) error { return nil })
	requireKind(t, err, fault.NotFound)
}

func testRegAttachments(t *testing.T, b *regBundle) {
	const acct = "111111111111"
	mk := func(id string, at time.Time) *registrations.Attachment {
		return &registrations.Attachment{AccountID: acct, ID: id, Status: "UPLOAD_COMPLETE", CreatedAt: at,
			BlobKey: "registration-attachments/" + id, ContentType: "image/png", Size: 42, SHA256: "ab"}
	}
	require.NoError(t, b.st.InsertAttachment(b.ctx, mk("attachment-b", regDay0)))
	require.NoError(t, b.st.InsertAttachment(b.ctx, mk("attachment-a", regDay0.Add(time.Second))))
	requireKind(t, b.st.InsertAttachment(b.ctx, mk("attachment-a", regDay0)), fault.Conflict)

	got, err := b.st.GetAttachment(b.ctx, acct, "attachment-a")
	require.NoError(t, err)
	require.Equal(t, "image/png", got.ContentType)
	require.Equal(t, int64(42), got.Size)
	require.Equal(t, regDay0.Add(time.Second), got.CreatedAt)

	list, err := b.st.ListAttachments(b.ctx, registrations.AttachmentFilter{AccountID: acct})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "attachment-b", list[0].ID, "oldest first")
	list, err = b.st.ListAttachments(b.ctx, registrations.AttachmentFilter{AccountID: acct, Limit: 1,
		After: registrations.Cursor{CreatedAt: regDay0, ID: "attachment-b"}})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "attachment-a", list[0].ID)
	list, err = b.st.ListAttachments(b.ctx, registrations.AttachmentFilter{AccountID: acct, Statuses: []string{"UPLOAD_FAILED"}})
	require.NoError(t, err)
	require.Empty(t, list)
	list, err = b.st.ListAttachments(b.ctx, registrations.AttachmentFilter{AccountID: "222222222222"})
	require.NoError(t, err)
	require.Empty(t, list)

	require.NoError(t, b.st.DeleteAttachment(b.ctx, acct, "attachment-a"))
	requireKind(t, b.st.DeleteAttachment(b.ctx, acct, "attachment-a"), fault.NotFound)
	_, err = b.st.GetAttachment(b.ctx, acct, "attachment-a")
	requireKind(t, err, fault.NotFound)
}

func testRegAssociations(t *testing.T, b *regBundle) {
	const acct = "111111111111"
	require.NoError(t, b.st.InsertRegistration(b.ctx, newReg(acct, "registration-1", "T", "CREATED", regDay0)))
	require.NoError(t, b.st.InsertRegistration(b.ctx, newReg(acct, "registration-2", "T", "CREATED", regDay0)))
	as := func(reg, res string, at time.Time) *registrations.Association {
		return &registrations.Association{AccountID: acct, RegistrationID: reg, ResourceID: res, CreatedAt: at,
			ResourceType: "PHONE_NUMBER", ResourceARN: "arn:aws:sms-voice:us-east-1:" + acct + ":phone-number/" + res,
			PhoneNumber: "+18005550100", IsoCountryCode: "US"}
	}
	require.NoError(t, b.st.InsertAssociation(b.ctx, as("registration-1", "phone-b", regDay0)))
	require.NoError(t, b.st.InsertAssociation(b.ctx, as("registration-1", "phone-a", regDay0.Add(time.Second))))

	// A number belongs to one registration.
	err := b.st.InsertAssociation(b.ctx, as("registration-2", "phone-a", regDay0))
	requireKind(t, err, fault.Conflict)
	var fe *fault.Error
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "RESOURCE_ALREADY_ASSOCIATED", fe.Reason)
	require.Equal(t, "phone-number", fe.ResourceType)

	requireKind(t, b.st.InsertAssociation(b.ctx, as("registration-none", "phone-c", regDay0)), fault.NotFound)

	list, err := b.st.ListAssociations(b.ctx, acct, "registration-1")
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "phone-b", list[0].ResourceID)
	require.Equal(t, "+18005550100", list[1].PhoneNumber)
	list, err = b.st.ListAssociations(b.ctx, acct, "registration-2")
	require.NoError(t, err)
	require.Empty(t, list)

	a, err := b.st.AssociationOf(b.ctx, acct, "phone-a")
	require.NoError(t, err)
	require.Equal(t, "registration-1", a.RegistrationID)
	_, err = b.st.AssociationOf(b.ctx, "222222222222", "phone-a")
	requireKind(t, err, fault.NotFound)
}
