package mailmanager_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func archivePurge(acct, id string) mailmanager.ArchivePurgeArgs {
	return mailmanager.ArchivePurgeArgs{AccountID: acct, ArchiveID: id}
}

func TestArchiveLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.archive(t, "short-term")
	got, err := b.svc.GetArchive(b.ctx, &mm.GetArchiveRequest{ArchiveId: p(id)})
	require.NoError(t, err)
	require.Equal(t, mm.ArchiveStateActive, *got.ArchiveState)
	require.Equal(t, mm.RetentionPeriodSixMonths, *got.Retention.RetentionPeriod, "180 days by default")
	require.Nil(t, got.KmsKeyArn)

	long, err := b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{
		ArchiveName: p("long-term"),
		Retention:   &mm.ArchiveRetention{RetentionPeriod: p(mm.RetentionPeriodTenYears)},
		KmsKeyArn:   p("arn:aws:kms:us-east-1:" + acct1 + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"),
	})
	require.NoError(t, err)
	gl, err := b.svc.GetArchive(b.ctx, &mm.GetArchiveRequest{ArchiveId: long.ArchiveId})
	require.NoError(t, err)
	require.Equal(t, mm.RetentionPeriodTenYears, *gl.Retention.RetentionPeriod)
	require.NotNil(t, gl.KmsKeyArn)

	_, err = b.svc.UpdateArchive(b.ctx, &mm.UpdateArchiveRequest{ArchiveId: p(id), Retention: &mm.ArchiveRetention{RetentionPeriod: p(mm.RetentionPeriodPermanent)}})
	require.NoError(t, err)

	// Delete: PENDING_DELETION, the name still taken, no more updates.
	_, err = b.svc.DeleteArchive(b.ctx, &mm.DeleteArchiveRequest{ArchiveId: p(id)})
	require.NoError(t, err)
	got, err = b.svc.GetArchive(b.ctx, &mm.GetArchiveRequest{ArchiveId: p(id)})
	require.NoError(t, err)
	require.Equal(t, mm.ArchiveStatePendingDeletion, *got.ArchiveState)
	require.Equal(t, mm.RetentionPeriodPermanent, *got.Retention.RetentionPeriod)
	_, err = b.svc.DeleteArchive(b.ctx, &mm.DeleteArchiveRequest{ArchiveId: p(id)})
	require.NoError(t, err, "deleting again changes nothing")
	_, err = b.svc.UpdateArchive(b.ctx, &mm.UpdateArchiveRequest{ArchiveId: p(id), ArchiveName: p("renamed")})
	requireFault(t, err, fault.Conflict, "PENDING_DELETION")
	_, err = b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: p("short-term")})
	requireFault(t, err, fault.Conflict, "short-term")
	// A rule cannot archive to it.
	_, err = b.svc.CreateRuleSet(b.ctx, ruleSetRequest("to-deleted", id, ""))
	requireFault(t, err, fault.Invalid, "PENDING_DELETION")

	list, err := b.svc.ListArchives(b.ctx, &mm.ListArchivesRequest{})
	require.NoError(t, err)
	require.Len(t, list.Archives, 2)

	// The purge job waits for the grace period, then removes the archive.
	var later *mailmanager.RetryAt
	err = b.svc.PurgeArchive(b.ctx, archivePurge(acct1, id))
	require.ErrorAs(t, err, &later)
	require.Equal(t, b.clock.Now().Add(30*24*time.Hour), later.At)

	b.clock.Advance(30*24*time.Hour + time.Second)
	require.NoError(t, b.svc.PurgeArchive(b.ctx, archivePurge(acct1, id)))
	_, err = b.svc.GetArchive(b.ctx, &mm.GetArchiveRequest{ArchiveId: p(id)})
	requireFault(t, err, fault.NotFound, id)
	require.NoError(t, b.svc.PurgeArchive(b.ctx, archivePurge(acct1, id)), "idempotent")
	_, err = b.svc.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: p("short-term")})
	require.NoError(t, err, "the name is free again")

	// The purge job of an active archive does nothing.
	require.NoError(t, b.svc.PurgeArchive(b.ctx, archivePurge(acct1, *long.ArchiveId)))
	_, err = b.svc.GetArchive(b.ctx, &mm.GetArchiveRequest{ArchiveId: long.ArchiveId})
	require.NoError(t, err)
}

func TestAddressListMembers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	list := b.addressList(t, "vip")

	for _, a := range []string{"Carol@Example.com", "alice@example.com", "bob@example.org", "alice@example.com", "zed@sub.example.com"} {
		_, err := b.svc.RegisterMemberToAddressList(b.ctx, &mm.RegisterMemberToAddressListRequest{AddressListId: p(list), Address: p(a)})
		require.NoError(t, err, a)
	}
	for _, bad := range []string{"not-an-address", "Alice <alice@example.com>", "a@b@c", "x@-bad-.com", "x@exa mple.com"} {
		_, err := b.svc.RegisterMemberToAddressList(b.ctx, &mm.RegisterMemberToAddressListRequest{AddressListId: p(list), Address: p(bad)})
		requireFault(t, err, fault.Invalid, "not a valid email address")
	}
	_, err := b.svc.RegisterMemberToAddressList(b.ctx, &mm.RegisterMemberToAddressListRequest{AddressListId: p("al-missing"), Address: p("a@example.com")})
	requireFault(t, err, fault.NotFound, "al-missing")

	m, err := b.svc.GetMemberOfAddressList(b.ctx, &mm.GetMemberOfAddressListRequest{AddressListId: p(list), Address: p("CAROL@example.COM")})
	require.NoError(t, err)
	require.Equal(t, "carol@example.com", *m.Address)
	require.Equal(t, b.clock.Now(), m.CreatedTimestamp.Time)

	all := func(prefix string, size int64) []string {
		var out []string
		var token *string
		for {
			in := &mm.ListMembersOfAddressListRequest{AddressListId: p(list), PageSize: p(size), NextToken: token}
			if prefix != "" {
				in.Filter = &mm.AddressFilter{AddressPrefix: p(prefix)}
			}
			page, err := b.svc.ListMembersOfAddressList(b.ctx, in)
			require.NoError(t, err)
			for _, a := range page.Addresses {
				out = append(out, *a.Address)
			}
			if page.NextToken == nil {
				return out
			}
			token = page.NextToken
		}
	}
	require.Equal(t, []string{"alice@example.com", "bob@example.org", "carol@example.com", "zed@sub.example.com"}, all("", 1))
	require.Equal(t, []string{"alice@example.com", "bob@example.org", "carol@example.com", "zed@sub.example.com"}, all("", 1000))
	require.Equal(t, []string{"alice@example.com"}, all("Al", 1))

	_, err = b.svc.DeregisterMemberFromAddressList(b.ctx, &mm.DeregisterMemberFromAddressListRequest{AddressListId: p(list), Address: p("bob@example.org")})
	require.NoError(t, err)
	_, err = b.svc.DeregisterMemberFromAddressList(b.ctx, &mm.DeregisterMemberFromAddressListRequest{AddressListId: p(list), Address: p("bob@example.org")})
	requireFault(t, err, fault.NotFound, "bob@example.org")
	_, err = b.svc.GetMemberOfAddressList(b.ctx, &mm.GetMemberOfAddressListRequest{AddressListId: p(list), Address: p("bob@example.org")})
	requireFault(t, err, fault.NotFound, "not a member")

	// Another account cannot see the list or its members.
	_, err = b.svc.GetMemberOfAddressList(b.ctx2, &mm.GetMemberOfAddressListRequest{AddressListId: p(list), Address: p("alice@example.com")})
	requireFault(t, err, fault.NotFound, list)

	// Deleting the list deletes its members.
	_, err = b.svc.DeleteAddressList(b.ctx, &mm.DeleteAddressListRequest{AddressListId: p(list)})
	require.NoError(t, err)
	require.NoError(t, b.store.InTx(b.ctx, func(tx mailmanager.Tx) error {
		n, err := tx.CountMembers(b.ctx, list)
		require.Zero(t, n)
		return err
	}))
}
