package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/store"
)

// RunGateway is the conformance suite of the gateway queue store
// (gateway.Store); open returns a fresh, empty database for each test.
func RunGateway(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *gwBundle)
	}{
		{"MessageRoundTrip", testGwMessageRoundTrip},
		{"MessageConflict", testGwMessageConflict},
		{"ClaimMessage", testGwClaimMessage},
		{"ListMessages", testGwListMessages},
		{"Steps", testGwSteps},
		{"ClaimDeliveries", testGwClaimDeliveries},
		{"ConcurrentClaims", testGwConcurrentClaims},
		{"Notifications", testGwNotifications},
		{"DeleteMessage", testGwDeleteMessage},
		{"EnqueueRollsBack", testGwEnqueueRollsBack},
		{"SpooledContent", testGwSpooledContent},
		{"EnqueueMany", testGwEnqueueMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			db := open(t)
			tt.fn(t, &gwBundle{ctx: ctx, db: db, gw: db.Gateway()})
		})
	}
}

type gwBundle struct {
	ctx context.Context
	db  *store.DB
	gw  gateway.Store
}

func (b *gwBundle) tx(t *testing.T, fn func(tx gateway.Tx) error) {
	t.Helper()
	require.NoError(t, b.gw.InTx(b.ctx, fn))
}

var gwT0 = time.UnixMilli(1_700_000_000_000).UTC()

func gwMessage(id string) *gateway.Message {
	return &gateway.Message{
		QueueID: id, AccountID: "111122223333", IngressPointID: "inp-1", RuleSetID: "rs-1",
		State: gateway.Queued, Envelope: []byte(`{"MailFrom":"a@x.test","Recipients":["b@y.test"]}`),
		BlobKey: "spool/2023/11/14/" + id, Size: 1234, ReceivedAt: gwT0, UpdatedAt: gwT0,
	}
}

// gwID returns a distinct queue id per n (ids must only be unique and ordered).
func gwID(n int) string { return fmt.Sprintf("01HF0000000000000000%06d", n) }

func (b *gwBundle) insert(t *testing.T, ms ...*gateway.Message) {
	t.Helper()
	b.tx(t, func(tx gateway.Tx) error {
		for _, m := range ms {
			if err := tx.InsertMessage(b.ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func testGwMessageRoundTrip(t *testing.T, b *gwBundle) {
	m := gwMessage(gwID(1))
	b.insert(t, m)
	got, err := b.gw.GetMessage(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Equal(t, m, got)
	require.Nil(t, got.Auth, "no verdicts yet")
	require.True(t, got.LeaseUntil.IsZero())

	m.State, m.Auth, m.BlobKey, m.Error = gateway.Active, []byte(`{"SPF":"PASS"}`), "", "boom"
	m.UpdatedAt = gwT0.Add(time.Minute)
	b.tx(t, func(tx gateway.Tx) error { return tx.UpdateMessage(b.ctx, m) })
	got, err = b.gw.GetMessage(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Equal(t, m, got)

	_, err = b.gw.GetMessage(b.ctx, gwID(99))
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	err = b.gw.InTx(b.ctx, func(tx gateway.Tx) error { return tx.UpdateMessage(b.ctx, gwMessage(gwID(99))) })
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func testGwMessageConflict(t *testing.T, b *gwBundle) {
	b.insert(t, gwMessage(gwID(1)))
	err := b.gw.InTx(b.ctx, func(tx gateway.Tx) error {
		err := tx.InsertMessage(b.ctx, gwMessage(gwID(1)))
		require.True(t, fault.Is(err, fault.Conflict), "%v", err)
		// The transaction goes on after a conflict (PostgreSQL included).
		return tx.InsertMessage(b.ctx, gwMessage(gwID(2)))
	})
	require.NoError(t, err)
	_, err = b.gw.GetMessage(b.ctx, gwID(2))
	require.NoError(t, err)
}

func testGwClaimMessage(t *testing.T, b *gwBundle) {
	m := gwMessage(gwID(1))
	b.insert(t, m)
	claim := func(owner string, now time.Time) bool {
		var ok bool
		b.tx(t, func(tx gateway.Tx) error {
			var err error
			ok, err = tx.ClaimMessage(b.ctx, m.QueueID, owner, now, now.Add(time.Minute))
			return err
		})
		return ok
	}
	require.True(t, claim("a", gwT0))
	require.False(t, claim("b", gwT0.Add(30*time.Second)), "lease held")
	require.True(t, claim("b", gwT0.Add(2*time.Minute)), "lease ended")
	got, err := b.gw.GetMessage(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Equal(t, "b", got.LeaseOwner)
	require.Equal(t, gwT0.Add(3*time.Minute), got.LeaseUntil)

	ls, err := b.gw.ListMessages(b.ctx, gateway.ListFilter{Leased: true})
	require.NoError(t, err)
	require.Len(t, ls, 1)

	// Only QUEUED messages are claimed.
	got.State, got.LeaseOwner, got.LeaseUntil = gateway.Active, "", time.Time{}
	b.tx(t, func(tx gateway.Tx) error { return tx.UpdateMessage(b.ctx, got) })
	require.False(t, claim("c", gwT0.Add(time.Hour)))
}

func testGwListMessages(t *testing.T, b *gwBundle) {
	var all []*gateway.Message
	for i := 1; i <= 5; i++ {
		m := gwMessage(gwID(i))
		m.UpdatedAt = gwT0.Add(time.Duration(i) * time.Minute)
		if i%2 == 0 {
			m.State = gateway.Done
		}
		all = append(all, m)
	}
	b.insert(t, all...)
	b.tx(t, func(tx gateway.Tx) error {
		return tx.InsertDeliveries(b.ctx, []gateway.Delivery{{
			QueueID: gwID(3), Step: 0, Recipient: "b@y.test", RelayID: "rl-1", State: gateway.DeliveryDeferred,
			NextAttemptAt: gwT0, CreatedAt: gwT0, UpdatedAt: gwT0,
		}})
	})
	ids := func(f gateway.ListFilter) []string {
		ms, err := b.gw.ListMessages(b.ctx, f)
		require.NoError(t, err)
		var out []string
		for _, m := range ms {
			out = append(out, m.QueueID)
		}
		return out
	}
	require.Equal(t, []string{gwID(1), gwID(2), gwID(3), gwID(4), gwID(5)}, ids(gateway.ListFilter{}))
	require.Equal(t, []string{gwID(1), gwID(3), gwID(5)}, ids(gateway.ListFilter{State: gateway.Queued}))
	require.Equal(t, []string{gwID(3), gwID(4)}, ids(gateway.ListFilter{After: gwID(2), Limit: 2}))
	require.Equal(t, []string{gwID(3)}, ids(gateway.ListFilter{Deferred: true}))
	require.Equal(t, []string{gwID(2)}, ids(gateway.ListFilter{State: gateway.Done, UpdatedBefore: gwT0.Add(3 * time.Minute)}))

	n, err := b.gw.CountMessages(b.ctx)
	require.NoError(t, err)
	require.Equal(t, map[gateway.MessageState]int64{gateway.Queued: 3, gateway.Done: 2}, n)
}

func testGwSteps(t *testing.T, b *gwBundle) {
	m := gwMessage(gwID(1))
	b.insert(t, m)
	steps := []gateway.Step{
		{QueueID: m.QueueID, Index: 0, Rule: 0, RuleName: "r0", Action: "AddHeader", Spec: []byte(`{"AddHeader":{}}`),
			Recipients: []string{"b@y.test"}, State: gateway.StepPending, UpdatedAt: gwT0},
		{QueueID: m.QueueID, Index: 1, Rule: 1, RuleName: "", Action: "Relay", Spec: []byte(`{"Relay":{}}`),
			Recipients: []string{"b@y.test", "c@y.test"}, State: gateway.StepPending, UpdatedAt: gwT0},
	}
	b.tx(t, func(tx gateway.Tx) error { return tx.InsertSteps(b.ctx, steps) })
	got, err := b.gw.Steps(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Equal(t, steps, got)

	// A second plan does not replace the first.
	other := slices.Clone(steps)
	other[0].Action = "Drop"
	b.tx(t, func(tx gateway.Tx) error { return tx.InsertSteps(b.ctx, other) })
	got, err = b.gw.Steps(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Equal(t, "AddHeader", got[0].Action)

	// A step is settled once.
	s := got[1]
	s.State, s.Detail, s.Recipients, s.UpdatedAt = gateway.StepDone, `{"RelayID":"rl-1"}`, []string{"c@y.test"}, gwT0.Add(time.Second)
	var ok bool
	b.tx(t, func(tx gateway.Tx) error { ok, err = tx.UpdateStep(b.ctx, &s); return err })
	require.True(t, ok)
	s2 := s
	s2.State, s2.Error = gateway.StepFailed, "late"
	b.tx(t, func(tx gateway.Tx) error { ok, err = tx.UpdateStep(b.ctx, &s2); return err })
	require.False(t, ok)
	got, err = b.gw.Steps(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Equal(t, s, got[1])

	none, err := b.gw.Steps(b.ctx, gwID(2))
	require.NoError(t, err)
	require.Empty(t, none)
}

func gwDeliveries(id string, step int, rcpts ...string) []gateway.Delivery {
	var ds []gateway.Delivery
	for _, r := range rcpts {
		ds = append(ds, gateway.Delivery{QueueID: id, Step: step, Recipient: r, RelayID: "rl-1",
			State: gateway.DeliveryPending, NextAttemptAt: gwT0, CreatedAt: gwT0, UpdatedAt: gwT0})
	}
	return ds
}

func testGwClaimDeliveries(t *testing.T, b *gwBundle) {
	m := gwMessage(gwID(1))
	b.insert(t, m)
	ds := gwDeliveries(m.QueueID, 0, "a@y.test", "b@y.test", "c@y.test")
	ds[2].NextAttemptAt = gwT0.Add(time.Hour) // not due
	b.tx(t, func(tx gateway.Tx) error {
		if err := tx.InsertDeliveries(b.ctx, ds); err != nil {
			return err
		}
		return tx.InsertDeliveries(b.ctx, ds[:1]) // again: left as is
	})
	claim := func(owner string, now time.Time) []gateway.Delivery {
		var got []gateway.Delivery
		b.tx(t, func(tx gateway.Tx) error {
			var err error
			got, err = tx.ClaimDeliveries(b.ctx, m.QueueID, 0, owner, now, now.Add(10*time.Minute))
			return err
		})
		return got
	}
	got := claim("w1", gwT0)
	require.Len(t, got, 2)
	require.Equal(t, "a@y.test", got[0].Recipient)
	require.Equal(t, "w1", got[0].LeaseOwner)
	require.Equal(t, gwT0.Add(10*time.Minute), got[0].LeaseUntil)
	require.Empty(t, claim("w2", gwT0.Add(time.Minute)), "leased")

	var open int
	b.tx(t, func(tx gateway.Tx) (err error) { open, err = tx.CountOpen(b.ctx, m.QueueID); return err })
	require.Equal(t, 3, open)

	// Settle: a delivered, b deferred.
	a, bb := got[0], got[1]
	a.State, a.Attempts, a.LastReply, a.RemoteMTA, a.LeaseOwner, a.LeaseUntil = gateway.DeliveryDelivered, 1, "250 2.0.0 ok", "mx.y.test", "", time.Time{}
	bb.State, bb.Attempts, bb.NextAttemptAt, bb.LeaseOwner, bb.LeaseUntil = gateway.DeliveryDeferred, 1, gwT0.Add(5*time.Minute), "", time.Time{}
	bb.LastAttemptAt = gwT0
	var ok bool
	b.tx(t, func(tx gateway.Tx) (err error) {
		if ok, err = tx.UpdateDelivery(b.ctx, &a, "w2"); err != nil || ok {
			return fmt.Errorf("update by a non-owner: %v %v", ok, err)
		}
		if ok, err = tx.UpdateDelivery(b.ctx, &a, "w1"); err != nil || !ok {
			return fmt.Errorf("update by the owner: %v %v", ok, err)
		}
		_, err = tx.UpdateDelivery(b.ctx, &bb, "w1")
		return err
	})
	all, err := b.gw.Deliveries(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Equal(t, []gateway.Delivery{a, bb, ds[2]}, all)
	b.tx(t, func(tx gateway.Tx) (err error) { open, err = tx.CountOpen(b.ctx, m.QueueID); return err })
	require.Equal(t, 2, open)

	require.Empty(t, claim("w3", gwT0.Add(4*time.Minute)), "b not due yet")
	got = claim("w3", gwT0.Add(time.Hour))
	require.Len(t, got, 2, "b and c due")

	leased, err := b.gw.LeasedDeliveries(b.ctx)
	require.NoError(t, err)
	require.Len(t, leased, 2)
}

// testGwConcurrentClaims: workers racing for the same rows each get a
// disjoint share; no row is handed out twice.
func testGwConcurrentClaims(t *testing.T, b *gwBundle) {
	m := gwMessage(gwID(1))
	b.insert(t, m)
	var rcpts []string
	for i := range 20 {
		rcpts = append(rcpts, fmt.Sprintf("r%02d@y.test", i))
	}
	b.tx(t, func(tx gateway.Tx) error { return tx.InsertDeliveries(b.ctx, gwDeliveries(m.QueueID, 0, rcpts...)) })
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for {
				var got []gateway.Delivery
				err := b.gw.InTx(b.ctx, func(tx gateway.Tx) error {
					var err error
					got, err = tx.ClaimDeliveries(b.ctx, m.QueueID, 0, owner, gwT0, gwT0.Add(time.Minute))
					return err
				})
				if fault.Is(err, fault.Unavailable) {
					continue // busy: try again
				}
				if !assertNoErr(t, err) {
					return
				}
				mu.Lock()
				for _, d := range got {
					if prev, dup := seen[d.Recipient]; dup {
						t.Errorf("%s claimed by %s and %s", d.Recipient, prev, owner)
					}
					seen[d.Recipient] = owner
				}
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, 20)
}

func assertNoErr(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

func testGwNotifications(t *testing.T, b *gwBundle) {
	m := gwMessage(gwID(1))
	b.insert(t, m)
	ds := gwDeliveries(m.QueueID, 2, "a@y.test", "b@y.test")
	ds[0].State, ds[0].DSN = gateway.DeliveryFailed, gateway.DSNPending
	ds[1].State = gateway.DeliveryDelivered
	b.tx(t, func(tx gateway.Tx) error { return tx.InsertDeliveries(b.ctx, ds) })
	var got []gateway.Delivery
	b.tx(t, func(tx gateway.Tx) (err error) {
		got, err = tx.ClaimNotifications(b.ctx, m.QueueID, 2, "n1", gwT0, gwT0.Add(time.Minute))
		return err
	})
	require.Len(t, got, 1)
	require.Equal(t, "a@y.test", got[0].Recipient)
	var open int
	b.tx(t, func(tx gateway.Tx) (err error) { open, err = tx.CountOpen(b.ctx, m.QueueID); return err })
	require.Equal(t, 1, open, "a pending notification is open work")
	got[0].DSN, got[0].LeaseOwner, got[0].LeaseUntil = "sent", "", time.Time{}
	b.tx(t, func(tx gateway.Tx) error { _, err := tx.UpdateDelivery(b.ctx, &got[0], "n1"); return err })
	b.tx(t, func(tx gateway.Tx) (err error) { open, err = tx.CountOpen(b.ctx, m.QueueID); return err })
	require.Equal(t, 0, open)
}

func testGwDeleteMessage(t *testing.T, b *gwBundle) {
	m := gwMessage(gwID(1))
	b.insert(t, m, gwMessage(gwID(2)))
	b.tx(t, func(tx gateway.Tx) error {
		if err := tx.InsertSteps(b.ctx, []gateway.Step{{QueueID: m.QueueID, Action: "Relay", State: gateway.StepDone, UpdatedAt: gwT0}}); err != nil {
			return err
		}
		return tx.InsertDeliveries(b.ctx, gwDeliveries(m.QueueID, 0, "a@y.test"))
	})
	var locked *gateway.Message
	b.tx(t, func(tx gateway.Tx) (err error) {
		if locked, err = tx.LockMessage(b.ctx, m.QueueID); err != nil {
			return err
		}
		return tx.DeleteMessage(b.ctx, m.QueueID)
	})
	require.Equal(t, m.QueueID, locked.QueueID)
	_, err := b.gw.GetMessage(b.ctx, m.QueueID)
	require.True(t, fault.Is(err, fault.NotFound))
	steps, err := b.gw.Steps(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Empty(t, steps)
	ds, err := b.gw.Deliveries(b.ctx, m.QueueID)
	require.NoError(t, err)
	require.Empty(t, ds)
	_, err = b.gw.GetMessage(b.ctx, gwID(2))
	require.NoError(t, err, "other messages stay")

	err = b.gw.InTx(b.ctx, func(tx gateway.Tx) error { return tx.DeleteMessage(b.ctx, m.QueueID) })
	require.True(t, fault.Is(err, fault.NotFound))
	err = b.gw.InTx(b.ctx, func(tx gateway.Tx) error { _, err := tx.LockMessage(b.ctx, m.QueueID); return err })
	require.True(t, fault.Is(err, fault.NotFound))
}

// testGwEnqueueRollsBack: a spooled message and its job commit together,
// or neither does.
func testGwEnqueueRollsBack(t *testing.T, b *gwBundle) {
	err := b.gw.InTx(b.ctx, func(tx gateway.Tx) error {
		require.NoError(t, tx.InsertMessage(b.ctx, gwMessage(gwID(1))))
		require.NoError(t, tx.Enqueue(b.ctx, gateway.ProcessArgs{QueueID: gwID(1)}))
		return errors.New("roll back")
	})
	require.Error(t, err)
	b.tx(t, func(tx gateway.Tx) error {
		if err := tx.InsertMessage(b.ctx, gwMessage(gwID(2))); err != nil {
			return err
		}
		return tx.Enqueue(b.ctx, gateway.ProcessArgs{QueueID: gwID(2)})
	})
	_, err = b.gw.GetMessage(b.ctx, gwID(1))
	require.True(t, fault.Is(err, fault.NotFound))
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(gateway.KindProcess))
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	var a gateway.ProcessArgs
	require.NoError(t, json.Unmarshal(jobs[0].EncodedArgs, &a))
	require.Equal(t, gwID(2), a.QueueID)
}

// testGwSpooledContent: a small message's copy is inserted with its row,
// read back byte for byte, kept while the message needs it, and removed
// when its blob key is cleared or the message is deleted; a failed insert
// leaves none.
func testGwSpooledContent(t *testing.T, b *gwBundle) {
	body := []byte("Subject: hi\r\n\r\n\x00\xff binary-safe\r\n")
	m1, m2 := gwMessage(gwID(1)), gwMessage(gwID(2))
	m1.Content, m2.Content = body, []byte("second")
	b.insert(t, m1, m2)
	got, err := b.gw.SpooledContent(b.ctx, m1.BlobKey)
	require.NoError(t, err)
	require.Equal(t, body, got)
	stored, err := b.gw.GetMessage(b.ctx, m1.QueueID)
	require.NoError(t, err)
	require.Nil(t, stored.Content, "reads do not carry the copy")

	stored.State = gateway.Active
	b.tx(t, func(tx gateway.Tx) error { return tx.UpdateMessage(b.ctx, stored) })
	_, err = b.gw.SpooledContent(b.ctx, m1.BlobKey)
	require.NoError(t, err, "kept while the blob key is set")

	stored.BlobKey = ""
	b.tx(t, func(tx gateway.Tx) error { return tx.UpdateMessage(b.ctx, stored) })
	_, err = b.gw.SpooledContent(b.ctx, m1.BlobKey)
	require.True(t, fault.Is(err, fault.NotFound), "removed with the blob key: %v", err)

	b.tx(t, func(tx gateway.Tx) error { return tx.DeleteMessage(b.ctx, m2.QueueID) })
	_, err = b.gw.SpooledContent(b.ctx, m2.BlobKey)
	require.True(t, fault.Is(err, fault.NotFound), "removed with the message: %v", err)

	m3 := gwMessage(gwID(3))
	m3.Content = []byte("rolled back")
	err = b.gw.InTx(b.ctx, func(tx gateway.Tx) error {
		if err := tx.InsertMessage(b.ctx, m3); err != nil {
			return err
		}
		return errors.New("abort")
	})
	require.Error(t, err)
	_, err = b.gw.SpooledContent(b.ctx, m3.BlobKey)
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

// testGwEnqueueMany: several jobs queued with one call are all inserted,
// each with its own arguments, and none when the transaction rolls back.
func testGwEnqueueMany(t *testing.T, b *gwBundle) {
	err := b.gw.InTx(b.ctx, func(tx gateway.Tx) error {
		require.NoError(t, tx.Enqueue(b.ctx, gateway.ProcessArgs{QueueID: gwID(8)}, gateway.ProcessArgs{QueueID: gwID(9)}))
		return errors.New("roll back")
	})
	require.Error(t, err)
	b.tx(t, func(tx gateway.Tx) error {
		return tx.Enqueue(b.ctx, gateway.ProcessArgs{QueueID: gwID(1)}, gateway.ProcessArgs{QueueID: gwID(2)}, gateway.ProcessArgs{QueueID: gwID(3)})
	})
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(gateway.KindProcess))
	require.NoError(t, err)
	var ids []string
	for _, j := range jobs {
		var a gateway.ProcessArgs
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &a))
		ids = append(ids, a.QueueID)
	}
	require.ElementsMatch(t, []string{gwID(1), gwID(2), gwID(3)}, ids)
}
