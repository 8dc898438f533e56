package mailmanager_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// importJob creates an import job and "uploads" body to its PreSignedUrl.
func (b *testBundle) importJob(t *testing.T, list string, typ mm.ImportDataType, body *string) string {
	t.Helper()
	in := &mm.CreateAddressListImportJobRequest{
		AddressListId: p(list), Name: p("nightly-sync"), ImportDataFormat: &mm.ImportDataFormat{ImportDataType: p(typ)},
	}
	require.NoError(t, in.Validate())
	out, err := b.svc.CreateAddressListImportJob(b.ctx, in)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, *out.JobId)
	if body != nil {
		u, err := url.Parse(*out.PreSignedUrl)
		require.NoError(t, err)
		b.blobs.Put(strings.TrimPrefix(u.Path, "/_tidings/upload/"), []byte(*body))
	}
	return *out.JobId
}

func (b *testBundle) runImport(t *testing.T, job string) *mm.GetAddressListImportJobResponse {
	t.Helper()
	_, err := b.svc.StartAddressListImportJob(b.ctx, &mm.StartAddressListImportJobRequest{JobId: p(job)})
	require.NoError(t, err)
	got, err := b.svc.GetAddressListImportJob(b.ctx, &mm.GetAddressListImportJobRequest{JobId: p(job)})
	require.NoError(t, err)
	require.Equal(t, mm.ImportJobStatusProcessing, *got.Status)
	require.NotNil(t, got.StartTimestamp)

	require.NoError(t, b.svc.RunImportJob(b.ctx, mailmanager.ImportJobArgs{AccountID: acct1, JobID: job}))
	got, err = b.svc.GetAddressListImportJob(b.ctx, &mm.GetAddressListImportJobRequest{JobId: p(job)})
	require.NoError(t, err)
	return got
}

func (b *testBundle) members(t *testing.T, list string) []string {
	t.Helper()
	out, err := b.svc.ListMembersOfAddressList(b.ctx, &mm.ListMembersOfAddressListRequest{AddressListId: p(list), PageSize: p(int64(1000))})
	require.NoError(t, err)
	var as []string
	for _, a := range out.Addresses {
		as = append(as, *a.Address)
	}
	return as
}

func TestImportJobFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		typ          mm.ImportDataType
		body         string
		wantMembers  []string
		wantImported int64
		wantFailed   int64
		wantError    []string
	}{
		{
			name: "csv with header, bad lines, blanks, duplicates",
			typ:  mm.ImportDataTypeCsv,
			body: "\ufeffaddress\r\n" +
				"alice@example.com\r\n" +
				"\r\n" +
				"not-an-address\r\n" +
				"Bob@Example.org\r\n" +
				"alice@example.com\r\n" +
				"\"carol@example.net\"\r\n" +
				"dave@@example.com\r\n" +
				"existing@example.com\r\n",
			wantMembers:  []string{"alice@example.com", "bob@example.org", "carol@example.net", "existing@example.com"},
			wantImported: 5,
			wantFailed:   2,
			wantError:    []string{"2 rows were not imported", `line 4: "not-an-address" is not a valid email address`, "line 8:"},
		},
		{
			name:         "csv without header, address column first",
			typ:          mm.ImportDataTypeCsv,
			body:         "x@example.com,Some Name\ny@example.com,Other\n",
			wantMembers:  []string{"existing@example.com", "x@example.com", "y@example.com"},
			wantImported: 2,
		},
		{
			name:         "csv with address in the second column",
			typ:          mm.ImportDataTypeCsv,
			body:         "name,Address\nX,x@example.com\nY,\n",
			wantMembers:  []string{"existing@example.com", "x@example.com"},
			wantImported: 1, wantFailed: 1,
			wantError: []string{"line 3"},
		},
		{
			name:         "json lines",
			typ:          mm.ImportDataTypeJson,
			body:         "{\"address\":\"j1@example.com\"}\n\"j2@example.com\"\n{\"name\":\"no address\"}\n",
			wantMembers:  []string{"existing@example.com", "j1@example.com", "j2@example.com"},
			wantImported: 2, wantFailed: 1,
			wantError: []string{"line 3"},
		},
		{
			name:         "json array",
			typ:          mm.ImportDataTypeJson,
			body:         " [\"a1@example.com\", {\"address\": \"a2@example.com\"}, 42]",
			wantMembers:  []string{"a1@example.com", "a2@example.com", "existing@example.com"},
			wantImported: 2, wantFailed: 1,
			wantError: []string{"item 3"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			list := b.addressList(t, "imported")
			_, err := b.svc.RegisterMemberToAddressList(b.ctx, &mm.RegisterMemberToAddressListRequest{AddressListId: p(list), Address: p("existing@example.com")})
			require.NoError(t, err)

			job := b.importJob(t, list, tc.typ, &tc.body)
			got := b.runImport(t, job)
			require.Equal(t, mm.ImportJobStatusCompleted, *got.Status, "error: %v", got.Error)
			require.Equal(t, tc.wantImported, *got.ImportedItemsCount)
			require.Equal(t, tc.wantFailed, *got.FailedItemsCount)
			require.NotNil(t, got.CompletedTimestamp)
			require.Equal(t, tc.typ, *got.ImportDataFormat.ImportDataType)
			if len(tc.wantError) == 0 {
				require.Nil(t, got.Error)
			}
			for _, s := range tc.wantError {
				require.Contains(t, *got.Error, s)
			}
			require.Equal(t, tc.wantMembers, b.members(t, list))
		})
	}
}

func TestImportJobLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	list := b.addressList(t, "big")

	_, err := b.svc.CreateAddressListImportJob(b.ctx, &mm.CreateAddressListImportJobRequest{
		AddressListId: p("al-missing"), Name: p("x"), ImportDataFormat: &mm.ImportDataFormat{ImportDataType: p(mm.ImportDataTypeCsv)},
	})
	requireFault(t, err, fault.NotFound, "al-missing")

	// Started before anything was uploaded: FAILED.
	empty := b.importJob(t, list, mm.ImportDataTypeCsv, nil)
	got := b.runImport(t, empty)
	require.Equal(t, mm.ImportJobStatusFailed, *got.Status)
	require.Contains(t, *got.Error, "No file was uploaded")
	_, err = b.svc.StartAddressListImportJob(b.ctx, &mm.StartAddressListImportJobRequest{JobId: p(empty)})
	requireFault(t, err, fault.Conflict, "FAILED")
	_, err = b.svc.StopAddressListImportJob(b.ctx, &mm.StopAddressListImportJobRequest{JobId: p(empty)})
	requireFault(t, err, fault.Conflict, "FAILED")

	// A file of several batches, with every 100th row bad.
	var sb strings.Builder
	sb.WriteString("address\n")
	for i := range 2500 {
		if i%100 == 99 {
			fmt.Fprintf(&sb, "bad-row-%d\n", i)
		} else {
			fmt.Fprintf(&sb, "user%04d@example.com\n", i)
		}
	}
	body := sb.String()
	big := b.importJob(t, list, mm.ImportDataTypeCsv, &body)
	got = b.runImport(t, big)
	require.Equal(t, mm.ImportJobStatusCompleted, *got.Status)
	require.Equal(t, int64(2475), *got.ImportedItemsCount)
	require.Equal(t, int64(25), *got.FailedItemsCount)
	require.Contains(t, *got.Error, "25 rows were not imported: line 101:")
	require.True(t, strings.HasSuffix(*got.Error, "…"), "only the first rows are named")
	require.NoError(t, b.store.InTx(b.ctx, func(tx mailmanager.Tx) error {
		n, err := tx.CountMembers(b.ctx, list)
		require.Equal(t, int64(2475), n)
		return err
	}))
	// Running the job again (a retried delivery) changes nothing.
	require.NoError(t, b.svc.RunImportJob(b.ctx, mailmanager.ImportJobArgs{AccountID: acct1, JobID: big}))
	again, err := b.svc.GetAddressListImportJob(b.ctx, &mm.GetAddressListImportJobRequest{JobId: p(big)})
	require.NoError(t, err)
	require.Equal(t, got, again)

	// Stopped before the worker ran: the worker does nothing.
	stopped := b.importJob(t, list, mm.ImportDataTypeCsv, p("late@example.com\n"))
	_, err = b.svc.StartAddressListImportJob(b.ctx, &mm.StartAddressListImportJobRequest{JobId: p(stopped)})
	require.NoError(t, err)
	_, err = b.svc.StopAddressListImportJob(b.ctx, &mm.StopAddressListImportJobRequest{JobId: p(stopped)})
	require.NoError(t, err)
	require.NoError(t, b.svc.RunImportJob(b.ctx, mailmanager.ImportJobArgs{AccountID: acct1, JobID: stopped}))
	gs, err := b.svc.GetAddressListImportJob(b.ctx, &mm.GetAddressListImportJobRequest{JobId: p(stopped)})
	require.NoError(t, err)
	require.Equal(t, mm.ImportJobStatusStopped, *gs.Status)
	require.Zero(t, *gs.ImportedItemsCount)
	_, err = b.svc.GetMemberOfAddressList(b.ctx, &mm.GetMemberOfAddressListRequest{AddressListId: p(list), Address: p("late@example.com")})
	requireFault(t, err, fault.NotFound)

	// A CREATED job can be stopped too, and not started after.
	created := b.importJob(t, list, mm.ImportDataTypeJson, nil)
	_, err = b.svc.StopAddressListImportJob(b.ctx, &mm.StopAddressListImportJobRequest{JobId: p(created)})
	require.NoError(t, err)
	_, err = b.svc.StartAddressListImportJob(b.ctx, &mm.StartAddressListImportJobRequest{JobId: p(created)})
	requireFault(t, err, fault.Conflict, "STOPPED")

	// Listing pages through the list's jobs.
	var ids []string
	var token *string
	for {
		page, err := b.svc.ListAddressListImportJobs(b.ctx, &mm.ListAddressListImportJobsRequest{AddressListId: p(list), PageSize: p(int64(3)), NextToken: token})
		require.NoError(t, err)
		for _, j := range page.ImportJobs {
			ids = append(ids, *j.JobId)
			require.Equal(t, list, *j.AddressListId)
			require.Equal(t, "nightly-sync", *j.Name)
		}
		if page.NextToken == nil {
			break
		}
		token = page.NextToken
	}
	require.ElementsMatch(t, []string{empty, big, stopped, created}, ids)

	// Deleting the list takes its jobs along.
	_, err = b.svc.DeleteAddressList(b.ctx, &mm.DeleteAddressListRequest{AddressListId: p(list)})
	require.NoError(t, err)
	_, err = b.svc.GetAddressListImportJob(b.ctx, &mm.GetAddressListImportJobRequest{JobId: p(big)})
	requireFault(t, err, fault.NotFound, big)
	require.NoError(t, b.svc.RunImportJob(b.ctx, mailmanager.ImportJobArgs{AccountID: acct1, JobID: big}))
}
