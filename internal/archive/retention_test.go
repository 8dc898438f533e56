package archive_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// TestRetention: the job deletes, in batches, what is older than each
// archive's retention, blob and row; PERMANENT keeps everything; a change
// of retention applies from the next run on.
func TestRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := b.clock.Now()
	short := b.archive(t, "short", mm.RetentionPeriodThreeMonths)
	long := b.archive(t, "long", mm.RetentionPeriodOneYear)
	forever := b.archive(t, "forever", mm.RetentionPeriodPermanent)
	raw := corpus()[0].raw
	type stored struct {
		archive, id string
		age         time.Duration
	}
	var all []stored
	for _, arc := range []string{short, long, forever} {
		for _, days := range []int{1, 30, 80, 100, 200, 300, 400, 800} {
			age := time.Duration(days) * 24 * time.Hour
			all = append(all, stored{arc, b.store(t, arc, raw, now.Add(-age)), age})
		}
	}
	exists := func(s stored) bool {
		_, err := b.svc.GetArchiveMessage(b.ctx, &mm.GetArchiveMessageRequest{ArchivedMessageId: &s.id})
		if fault.Is(err, fault.NotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	keep := func(s stored) bool {
		switch s.archive {
		case short:
			return s.age < 90*24*time.Hour // three calendar months before 1 March: 1 December
		case long:
			return s.age < 365*24*time.Hour
		}
		return true
	}

	n, err := b.svc.RunRetention(context.Background())
	require.NoError(t, err)
	require.Equal(t, 5+2, n) // short: 100, 200, 300, 400, 800 days; long: 400, 800
	for _, s := range all {
		require.Equal(t, keep(s), exists(s), "%s aged %v", s.archive, s.age)
	}
	// The blobs went with the rows.
	for _, arc := range []string{short, long, forever} {
		keys, err := b.blobs.List(context.Background(), "archive/"+acct1+"/"+arc+"/", "", 0)
		require.NoError(t, err)
		want := 0
		for _, s := range all {
			if s.archive == arc && keep(s) {
				want++
			}
		}
		require.Len(t, keys, want, arc)
	}
	require.Equal(t, 1, b.obs.runs)
	require.Equal(t, n, b.obs.deleted)
	require.EqualValues(t, n*len(raw), b.obs.bytes)

	// Nothing more to do.
	n, err = b.svc.RunRetention(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)

	// Lengthen short to TWO_YEARS and shorten forever to SIX_MONTHS: from
	// the next run on, forever loses its old mail, short keeps what it has.
	_, err = b.mm.UpdateArchive(b.ctx, &mm.UpdateArchiveRequest{ArchiveId: &short, Retention: &mm.ArchiveRetention{RetentionPeriod: p(mm.RetentionPeriodTwoYears)}})
	require.NoError(t, err)
	_, err = b.mm.UpdateArchive(b.ctx, &mm.UpdateArchiveRequest{ArchiveId: &forever, Retention: &mm.ArchiveRetention{RetentionPeriod: p(mm.RetentionPeriodSixMonths)}})
	require.NoError(t, err)
	n, err = b.svc.RunRetention(context.Background())
	require.NoError(t, err)
	require.Equal(t, 4, n) // forever: 200, 300, 400, 800 days
	for _, s := range all {
		if s.archive == forever {
			require.Equal(t, s.age < 180*24*time.Hour, exists(s), "%v", s.age)
		}
	}

	// Seventy days on, long's 300-day message is past its year; short's
	// 80-day one is kept by the two years it has now.
	b.clock.Advance(70 * 24 * time.Hour)
	n, err = b.svc.RunRetention(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	for _, s := range all {
		if s.archive == long && s.age == 300*24*time.Hour {
			require.False(t, exists(s))
		}
		if s.archive == short && s.age == 80*24*time.Hour {
			require.True(t, exists(s))
		}
	}
}

// TestPurgeArchive: the purge of a deleted archive removes its messages
// and its history, and nothing of other archives.
func TestPurgeArchive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gone := b.archive(t, "gone", mm.RetentionPeriodPermanent)
	stays := b.archive(t, "stays", "")
	for i, raw := range generated(8, 3) {
		b.store(t, gone, raw, time.Time{})
		if i%2 == 0 {
			b.store(t, stays, raw, time.Time{})
		}
	}
	_, err := b.svc.StartArchiveSearch(b.ctx, &mm.StartArchiveSearchRequest{ArchiveId: &gone,
		FromTimestamp: nil, ToTimestamp: nil, MaxResults: p(int64(5))})
	requireFault(t, err, fault.Invalid)

	_, err = b.mm.DeleteArchive(b.ctx, &mm.DeleteArchiveRequest{ArchiveId: &gone})
	require.NoError(t, err)
	// PENDING_DELETION: retention leaves it to the purge, and it still
	// lists its history.
	n, err := b.svc.RunRetention(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	b.callOK("ListArchiveSearches", map[string]any{"ArchiveId": gone})

	require.NoError(t, b.svc.PurgeArchive(context.Background(), acct1, gone))
	require.NoError(t, b.svc.PurgeArchive(context.Background(), acct1, gone), "idempotent")
	keys, err := b.blobs.List(context.Background(), "archive/"+acct1+"/"+gone+"/", "", 0)
	require.NoError(t, err)
	require.Empty(t, keys)
	keys, err = b.blobs.List(context.Background(), "archive/"+acct1+"/"+stays+"/", "", 0)
	require.NoError(t, err)
	require.Len(t, keys, 4)
	res, err := b.svc.SearchNative(b.ctx, acct1, stays, "", 50, "")
	require.NoError(t, err)
	require.Len(t, res.Messages, 4)
}

// TestRetentionJob: registered with the queue, retention runs on its own
// (at start, then every interval) under River's leader.
func TestRetentionJob(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{jobs: true})
	eventually(t, 60*time.Second, func() bool {
		b.obs.mu.Lock()
		defer b.obs.mu.Unlock()
		return b.obs.runs >= 1
	}, "the retention job to run")
}
