package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
)

// RunSending is the conformance suite of the outbound email store
// (sending.Store); open returns a fresh, empty database for each test.
func RunSending(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(ctx context.Context, t *testing.T, st sending.Store)
	}{
		{"Resources", testSesResources},
		{"Suppressed", testSesSuppressed},
		{"Messages", testSesMessages},
		{"EnqueueRollsBack", testSesRollback},
		{"SpooledContent", testSesSpooledContent},
		{"SendStatistics", testSesSendStatistics},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			tt.fn(ctx, t, open(t).Sending())
		})
	}
}

func testSesResources(ctx context.Context, t *testing.T, st sending.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	put := func(r sending.Resource) error {
		return st.InTx(ctx, func(tx sending.Tx) error { return tx.Insert(ctx, &r) })
	}
	for _, n := range []string{"b.example", "a@x.example", "c.example"} {
		require.NoError(t, put(sending.Resource{AccountID: "111", Kind: sending.KindIdentity, Name: n, Status: "PENDING", Body: []byte(`{"n":"` + n + `"}`), CreatedAt: now, UpdatedAt: now}))
	}
	require.NoError(t, put(sending.Resource{AccountID: "222", Kind: sending.KindIdentity, Name: "b.example", Status: "SUCCESS", Body: []byte(`{}`)}))
	err := put(sending.Resource{AccountID: "111", Kind: sending.KindIdentity, Name: "b.example", Status: "PENDING"})
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)

	r, err := st.Get(ctx, "111", sending.KindIdentity, "b.example")
	require.NoError(t, err)
	require.Equal(t, `{"n":"b.example"}`, string(r.Body))
	require.Equal(t, now, r.CreatedAt)
	_, err = st.Get(ctx, "111", sending.KindConfigSet, "b.example")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	page, err := st.List(ctx, "111", sending.KindIdentity, "", 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, "a@x.example", page[0].Name)
	require.Equal(t, "b.example", page[1].Name)
	page, err = st.List(ctx, "111", sending.KindIdentity, "b.example", 2)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, "c.example", page[0].Name)

	// Put replaces status and body; ListByStatus sees it.
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error {
		return tx.Put(ctx, &sending.Resource{AccountID: "111", Kind: sending.KindIdentity, Name: "c.example", Status: "SUCCESS", Body: []byte(`{"v":2}`)})
	}))
	pending, err := st.ListByStatus(ctx, sending.KindIdentity, []string{"PENDING", "TEMPORARY_FAILURE"}, 0)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	ok, err := st.ListByStatus(ctx, sending.KindIdentity, []string{"SUCCESS"}, 0)
	require.NoError(t, err)
	require.Len(t, ok, 2)
	require.Equal(t, "111", ok[0].AccountID)
	require.Equal(t, `{"v":2}`, string(ok[0].Body))

	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.Delete(ctx, "111", sending.KindIdentity, "c.example") }))
	err = st.InTx(ctx, func(tx sending.Tx) error { return tx.Delete(ctx, "111", sending.KindIdentity, "c.example") })
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func testSesSuppressed(ctx context.Context, t *testing.T, st sending.Store) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, e := range []string{"a@x", "b@x", "c@x", "d@x"} {
		reason := "BOUNCE"
		if i%2 == 1 {
			reason = "COMPLAINT"
		}
		require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error {
			return tx.PutSuppressed(ctx, &sending.Suppressed{AccountID: "111", Email: e, Reason: reason, MessageID: "m" + e, UpdatedAt: base.Add(time.Duration(i) * time.Hour)})
		}))
	}
	s, err := st.GetSuppressed(ctx, "111", "b@x")
	require.NoError(t, err)
	require.Equal(t, "COMPLAINT", s.Reason)
	require.Equal(t, base.Add(time.Hour), s.UpdatedAt)
	_, err = st.GetSuppressed(ctx, "222", "b@x")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	all, err := st.ListSuppressed(ctx, "111", sending.SuppressedFilter{})
	require.NoError(t, err)
	require.Len(t, all, 4)
	bounces, err := st.ListSuppressed(ctx, "111", sending.SuppressedFilter{Reasons: []string{"BOUNCE"}})
	require.NoError(t, err)
	require.Len(t, bounces, 2)
	require.Equal(t, "c@x", bounces[1].Email)
	window, err := st.ListSuppressed(ctx, "111", sending.SuppressedFilter{Since: base.Add(time.Hour), Until: base.Add(3 * time.Hour)})
	require.NoError(t, err)
	require.Len(t, window, 2)
	page, err := st.ListSuppressed(ctx, "111", sending.SuppressedFilter{After: "b@x", Limit: 1})
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, "c@x", page[0].Email)

	// Put replaces.
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error {
		return tx.PutSuppressed(ctx, &sending.Suppressed{AccountID: "111", Email: "b@x", Reason: "BOUNCE"})
	}))
	s, err = st.GetSuppressed(ctx, "111", "b@x")
	require.NoError(t, err)
	require.Equal(t, "BOUNCE", s.Reason)
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.DeleteSuppressed(ctx, "111", "b@x") }))
	err = st.InTx(ctx, func(tx sending.Tx) error { return tx.DeleteSuppressed(ctx, "111", "b@x") })
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func testSesMessages(ctx context.Context, t *testing.T, st sending.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	m := &sending.Message{MessageID: "m1", AccountID: "111", State: sending.MessageQueued, Meta: []byte(`{"a":1}`), BlobKey: "k", Recipients: 2, CreatedAt: now, UpdatedAt: now}
	rc := []sending.Recipient{{Recipient: "b@x", State: sending.RcptPending}, {Recipient: "a@x", State: sending.RcptPending}}
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.InsertMessage(ctx, m, rc) }))
	err := st.InTx(ctx, func(tx sending.Tx) error { return tx.InsertMessage(ctx, m, rc) })
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)
	old := &sending.Message{MessageID: "m0", AccountID: "111", State: sending.MessageDone, Meta: []byte(`{}`), Recipients: 5, CreatedAt: now.Add(-25 * time.Hour)}
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.InsertMessage(ctx, old, nil) }))

	got, err := st.GetMessage(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, *m, *got)
	rs, err := st.Recipients(ctx, "m1")
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, "a@x", rs[0].Recipient)
	require.True(t, rs[0].NextAttemptAt.IsZero())

	next := now.Add(time.Minute)
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error {
		r := rs[0]
		r.State, r.Attempts, r.NextAttemptAt, r.LastReply, r.RemoteMTA = sending.RcptDeferred, 1, next, "451 4.3.0 try later", "mx.x"
		if err := tx.UpdateRecipient(ctx, &r); err != nil {
			return err
		}
		m.State, m.BlobKey = sending.MessageActive, ""
		return tx.UpdateMessage(ctx, m)
	}))
	rs, err = st.Recipients(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, sending.RcptDeferred, rs[0].State)
	require.Equal(t, next, rs[0].NextAttemptAt)
	require.Equal(t, "mx.x", rs[0].RemoteMTA)
	got, err = st.GetMessage(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, sending.MessageActive, got.State)
	require.Equal(t, "", got.BlobKey)

	// Purge takes DONE messages updated before the cutoff only.
	var purged int64
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error {
		var err error
		purged, err = tx.PurgeMessages(ctx, now.Add(time.Hour), 10)
		return err
	}))
	require.EqualValues(t, 1, purged) // m0; m1 is ACTIVE
	_, err = st.GetMessage(ctx, "m0")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	old.MessageID = "m0"
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.InsertMessage(ctx, old, nil) }))

	n, err := st.CountRecipientsSince(ctx, "111", now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	n, err = st.CountRecipientsSince(ctx, "111", now.Add(-48*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 7, n)
	_, err = st.GetMessage(ctx, "nope")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

type sesTestJob struct{}

func (sesTestJob) Kind() string { return "storetest.sending" }

func testSesRollback(ctx context.Context, t *testing.T, st sending.Store) {
	boom := fault.Invalidf("boom")
	err := st.InTx(ctx, func(tx sending.Tx) error {
		if err := tx.InsertMessage(ctx, &sending.Message{MessageID: "m1", AccountID: "1", State: sending.MessageQueued}, []sending.Recipient{{Recipient: "a@x", State: sending.RcptPending}}); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, sesTestJob{}); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = st.GetMessage(ctx, "m1")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

// testSesSpooledContent: a small message's copy is inserted with its row,
// read back byte for byte, kept until the message is delivered (blob key
// cleared), then removed.
func testSesSpooledContent(ctx context.Context, t *testing.T, st sending.Store) {
	now := time.UnixMilli(1_700_000_000_000).UTC()
	body := []byte("Subject: x\r\n\r\n\x00\xfe\r\n")
	m := &sending.Message{MessageID: "m1", AccountID: "111", State: sending.MessageQueued, Meta: []byte(`{}`), BlobKey: "sending/k1",
		Content: body, Recipients: 1, CreatedAt: now, UpdatedAt: now}
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.InsertMessage(ctx, m, nil) }))
	got, err := st.SpooledContent(ctx, "sending/k1")
	require.NoError(t, err)
	require.Equal(t, body, got)
	stored, err := st.GetMessage(ctx, "m1")
	require.NoError(t, err)
	require.Nil(t, stored.Content)

	stored.State = sending.MessageActive
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.UpdateMessage(ctx, stored) }))
	_, err = st.SpooledContent(ctx, "sending/k1")
	require.NoError(t, err)
	stored.State, stored.BlobKey = sending.MessageDone, ""
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.UpdateMessage(ctx, stored) }))
	_, err = st.SpooledContent(ctx, "sending/k1")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func testSesSendStatistics(ctx context.Context, t *testing.T, st sending.Store) {
	iv := sending.StatsInterval
	base := time.Now().UTC().Truncate(iv).Add(-3 * iv)
	insert := func(id, acct string, at time.Time, rcpts ...sending.Recipient) {
		t.Helper()
		m := &sending.Message{MessageID: id, AccountID: acct, State: sending.MessageActive, Meta: []byte(`{}`), BlobKey: "k/" + id,
			Recipients: len(rcpts), CreatedAt: at, UpdatedAt: at}
		require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error { return tx.InsertMessage(ctx, m, rcpts) }))
	}
	r := func(addr string, state sending.RecipientState, attempts int) sending.Recipient {
		return sending.Recipient{Recipient: addr, State: state, Attempts: attempts}
	}
	// First interval: two delivered, one bounced at delivery, one pending
	// not yet tried, one deferred once; the simulator's and a suppressed
	// one are not counted.
	insert("m1", "111", base.Add(time.Minute),
		r("a@x.example", sending.RcptDelivered, 1), r("b@x.example", sending.RcptDelivered, 1),
		r("c@x.example", sending.RcptBounced, 1), r("d@x.example", sending.RcptPending, 0), r("e@x.example", sending.RcptDeferred, 1),
		r("bounce@SIMULATOR.amazonses.com", sending.RcptBounced, 1), r("s@x.example", sending.RcptSuppressed, 0))
	// Third interval: one delivered; another account's does not count.
	insert("m2", "111", base.Add(2*iv+time.Second), r("a@x.example", sending.RcptDelivered, 1))
	insert("m3", "222", base.Add(2*iv+time.Second), r("a@x.example", sending.RcptDelivered, 1))
	// Before `since`: left out.
	insert("m0", "111", base.Add(-20*iv), r("a@x.example", sending.RcptDelivered, 1))
	// Reports: a complaint in the third interval, a bounce and a complaint
	// in the fourth (where nothing was sent).
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error {
		if err := tx.AddFeedbackCounts(ctx, "111", base.Add(2*iv+5*time.Minute), 0, 1); err != nil {
			return err
		}
		if err := tx.AddFeedbackCounts(ctx, "111", base.Add(3*iv), 1, 0); err != nil {
			return err
		}
		return tx.AddFeedbackCounts(ctx, "111", base.Add(3*iv+14*time.Minute), 0, 2)
	}))

	got, err := st.SendStatistics(ctx, "111", base.Add(-iv))
	require.NoError(t, err)
	require.Equal(t, []sending.SendStats{
		{Start: base, Attempts: 4, Bounces: 1},
		{Start: base.Add(2 * iv), Attempts: 1, Complaints: 1},
		{Start: base.Add(3 * iv), Bounces: 1, Complaints: 2},
	}, got)
	none, err := st.SendStatistics(ctx, "333", base.Add(-iv))
	require.NoError(t, err)
	require.Empty(t, none)

	// The purge drops feedback counts before its time.
	require.NoError(t, st.InTx(ctx, func(tx sending.Tx) error {
		_, err := tx.PurgeMessages(ctx, base.Add(3*iv), 100)
		return err
	}))
	got, err = st.SendStatistics(ctx, "111", base.Add(-iv))
	require.NoError(t, err)
	require.Equal(t, sending.SendStats{Start: base.Add(2 * iv), Attempts: 1}, got[1], "the third interval's complaint count is purged")
}
