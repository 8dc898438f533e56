package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/store"
)

// RunEvents runs the conformance suite of events.Store; open returns a
// fresh, empty database for each test.
func RunEvents(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b *evBundle)
	}{
		{"Topics", testEvTopics},
		{"Subscriptions", testEvSubscriptions},
		{"PublishTx", testEvPublishTx},
		{"Rollback", testEvRollback},
		{"Dedup", testEvDedup},
		{"EventLog", testEvEventLog},
		{"Deliveries", testEvDeliveries},
		{"DeleteCascades", testEvDeleteCascades},
		{"Purge", testEvPurge},
		{"ConcurrentPublishAndDelete", testEvConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			db := open(t)
			tt.fn(t, &evBundle{ctx: ctx, db: db, st: db.Events()})
		})
	}
}

type evBundle struct {
	ctx context.Context
	db  *store.DB
	st  events.Store
}

const (
	evAcct  = "111111111111"
	evOther = "222222222222"
)

var evT0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func (b *evBundle) tx(t *testing.T, fn func(tx events.Tx) error) {
	t.Helper()
	require.NoError(t, b.st.InTx(b.ctx, fn))
}

func (b *evBundle) topic(t *testing.T, acct, name string) {
	t.Helper()
	require.NoError(t, b.st.CreateTopic(b.ctx, &events.Topic{AccountID: acct, Name: name, CreatedAt: evT0}))
}

func (b *evBundle) sub(t *testing.T, acct, topic, id string, at time.Time) *events.Subscription {
	t.Helper()
	s := &events.Subscription{AccountID: acct, ID: id, Topic: topic, URL: "https://hooks.example/" + id,
		Secret: "whsec_" + id, Filter: `{"eventType":["Bounce"]}`, CreatedAt: at}
	require.NoError(t, b.st.CreateSubscription(b.ctx, s))
	return s
}

// event adds an event (and pending deliveries to subs) in one transaction.
func (b *evBundle) event(t *testing.T, acct, topic, id string, at time.Time, subs ...string) *events.Event {
	t.Helper()
	ev := &events.Event{AccountID: acct, ID: id, Topic: topic, Body: []byte(`{"id":"` + id + `"}`), CreatedAt: at}
	b.tx(t, func(tx events.Tx) error {
		if err := tx.InsertEvent(b.ctx, ev); err != nil {
			return err
		}
		var ds []events.Delivery
		for _, s := range subs {
			ds = append(ds, events.Delivery{AccountID: acct, EventID: id, SubscriptionID: s, Topic: topic, State: events.Pending,
				NextAttemptAt: at, DeadlineAt: at.Add(24 * time.Hour), CreatedAt: at, UpdatedAt: at})
		}
		return tx.InsertDeliveries(b.ctx, ds)
	})
	return ev
}

func testEvTopics(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.topic(t, evAcct, "alerts")
	b.topic(t, evOther, "orders") // the same name in another account

	err := b.st.CreateTopic(b.ctx, &events.Topic{AccountID: evAcct, Name: "orders"})
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)

	got, err := b.st.GetTopic(b.ctx, evAcct, "orders")
	require.NoError(t, err)
	require.Equal(t, &events.Topic{AccountID: evAcct, Name: "orders", CreatedAt: evT0}, got)
	_, err = b.st.GetTopic(b.ctx, evAcct, "nope")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	list, err := b.st.ListTopics(b.ctx, evAcct)
	require.NoError(t, err)
	require.Equal(t, []events.Topic{{AccountID: evAcct, Name: "alerts", CreatedAt: evT0}, {AccountID: evAcct, Name: "orders", CreatedAt: evT0}}, list)
	list, err = b.st.ListTopics(b.ctx, "333333333333")
	require.NoError(t, err)
	require.Empty(t, list)

	// EnsureTopic: the existing one, or a new one.
	b.tx(t, func(tx events.Tx) error {
		tp, err := tx.EnsureTopic(b.ctx, evAcct, "orders", evT0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, evT0, tp.CreatedAt, "existing topic kept")
		tp, err = tx.EnsureTopic(b.ctx, evAcct, "fresh", evT0.Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, evT0.Add(time.Hour), tp.CreatedAt)
		return nil
	})
	_, err = b.st.GetTopic(b.ctx, evAcct, "fresh")
	require.NoError(t, err)

	require.NoError(t, b.st.DeleteTopic(b.ctx, evAcct, "orders"))
	err = b.st.DeleteTopic(b.ctx, evAcct, "orders")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	_, err = b.st.GetTopic(b.ctx, evOther, "orders")
	require.NoError(t, err, "the other account's topic stays")
}

func testEvSubscriptions(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.topic(t, evAcct, "alerts")
	s2 := b.sub(t, evAcct, "orders", "sub-2", evT0.Add(time.Second))
	s1 := b.sub(t, evAcct, "orders", "sub-1", evT0.Add(2*time.Second))
	b.sub(t, evAcct, "alerts", "sub-3", evT0)

	err := b.st.CreateSubscription(b.ctx, &events.Subscription{AccountID: evAcct, ID: "sub-9", Topic: "nope", URL: "http://x", Secret: "s"})
	require.True(t, fault.Is(err, fault.NotFound), "subscription to a missing topic: %v", err)
	err = b.st.CreateSubscription(b.ctx, &events.Subscription{AccountID: evAcct, ID: "sub-1", Topic: "orders", URL: "http://x", Secret: "s"})
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)

	list, err := b.st.ListSubscriptions(b.ctx, evAcct, "orders")
	require.NoError(t, err)
	require.Equal(t, []events.Subscription{*s2, *s1}, list, "oldest first")
	got, err := b.st.GetSubscription(b.ctx, evAcct, "sub-1")
	require.NoError(t, err)
	require.Equal(t, s1, got)
	_, err = b.st.GetSubscription(b.ctx, evOther, "sub-1")
	require.True(t, fault.Is(err, fault.NotFound), "another account's: %v", err)

	err = b.st.DeleteSubscription(b.ctx, evAcct, "alerts", "sub-1")
	require.True(t, fault.Is(err, fault.NotFound), "wrong topic: %v", err)
	require.NoError(t, b.st.DeleteSubscription(b.ctx, evAcct, "orders", "sub-1"))
	list, err = b.st.ListSubscriptions(b.ctx, evAcct, "orders")
	require.NoError(t, err)
	require.Equal(t, []events.Subscription{*s2}, list)
}

func testEvPublishTx(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.sub(t, evAcct, "orders", "sub-1", evT0)
	b.tx(t, func(tx events.Tx) error {
		subs, err := tx.ListSubscriptions(b.ctx, evAcct, "orders")
		require.NoError(t, err)
		require.Len(t, subs, 1)
		ev := &events.Event{AccountID: evAcct, ID: "e1", Topic: "orders", Body: []byte("hello"), CreatedAt: evT0}
		require.NoError(t, tx.InsertEvent(b.ctx, ev))
		require.NoError(t, tx.InsertDeliveries(b.ctx, []events.Delivery{{AccountID: evAcct, EventID: "e1", SubscriptionID: "sub-1",
			Topic: "orders", State: events.Pending, NextAttemptAt: evT0, DeadlineAt: evT0.Add(time.Hour), CreatedAt: evT0}}))
		return tx.Enqueue(b.ctx, events.DeliverArgs{AccountID: evAcct, EventID: "e1", SubscriptionID: "sub-1"})
	})
	ev, err := b.st.GetEvent(b.ctx, evAcct, "e1")
	require.NoError(t, err)
	require.Equal(t, &events.Event{AccountID: evAcct, ID: "e1", Topic: "orders", Body: []byte("hello"), CreatedAt: evT0}, ev)
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(events.KindDeliver))
	require.NoError(t, err)
	require.Len(t, jobs, 1, "the job committed with the rows")

	// An event of a missing topic is refused.
	err = b.st.InTx(b.ctx, func(tx events.Tx) error {
		return tx.InsertEvent(b.ctx, &events.Event{AccountID: evAcct, ID: "e2", Topic: "nope", Body: []byte{}, CreatedAt: evT0})
	})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	// Empty bodies round-trip as empty, not nil.
	b.event(t, evAcct, "orders", "e3", evT0)
	b.tx(t, func(tx events.Tx) error {
		return tx.InsertEvent(b.ctx, &events.Event{AccountID: evAcct, ID: "e4", Topic: "orders", CreatedAt: evT0})
	})
	ev, err = b.st.GetEvent(b.ctx, evAcct, "e4")
	require.NoError(t, err)
	require.Equal(t, []byte{}, ev.Body)
}

func testEvRollback(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	boom := errors.New("boom")
	err := b.st.InTx(b.ctx, func(tx events.Tx) error {
		require.NoError(t, tx.InsertEvent(b.ctx, &events.Event{AccountID: evAcct, ID: "e1", Topic: "orders", Body: []byte("x"), CreatedAt: evT0}))
		require.NoError(t, tx.Enqueue(b.ctx, events.DeliverArgs{AccountID: evAcct, EventID: "e1", SubscriptionID: "s"}))
		_, err := tx.EnsureTopic(b.ctx, evAcct, "created-then-rolled-back", evT0)
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = b.st.GetEvent(b.ctx, evAcct, "e1")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	_, err = b.st.GetTopic(b.ctx, evAcct, "created-then-rolled-back")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	jobs, err := b.db.Jobs().List(b.ctx, river.NewJobListParams().Kinds(events.KindDeliver))
	require.NoError(t, err)
	require.Empty(t, jobs)
}

func testEvDedup(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.topic(t, evAcct, "alerts")
	b.tx(t, func(tx events.Tx) error {
		found, err := tx.FindEvent(b.ctx, evAcct, "orders", "k1")
		require.NoError(t, err)
		require.Nil(t, found)
		return tx.InsertEvent(b.ctx, &events.Event{AccountID: evAcct, ID: "e1", Topic: "orders", Body: []byte("x"), DedupKey: "k1", CreatedAt: evT0})
	})
	b.tx(t, func(tx events.Tx) error {
		found, err := tx.FindEvent(b.ctx, evAcct, "orders", "k1")
		require.NoError(t, err)
		require.NotNil(t, found)
		require.Equal(t, "e1", found.ID)
		require.Equal(t, "k1", found.DedupKey)
		// The same key on another topic is another event.
		return tx.InsertEvent(b.ctx, &events.Event{AccountID: evAcct, ID: "e2", Topic: "alerts", Body: []byte("x"), DedupKey: "k1", CreatedAt: evT0})
	})
	err := b.st.InTx(b.ctx, func(tx events.Tx) error {
		return tx.InsertEvent(b.ctx, &events.Event{AccountID: evAcct, ID: "e3", Topic: "orders", Body: []byte("x"), DedupKey: "k1", CreatedAt: evT0})
	})
	require.True(t, fault.Is(err, fault.Conflict), "a second event with the key: %v", err)
	// Events without a key never collide.
	b.event(t, evAcct, "orders", "e4", evT0)
	b.event(t, evAcct, "orders", "e5", evT0)
}

func testEvEventLog(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.topic(t, evAcct, "alerts")
	for i := 1; i <= 5; i++ {
		b.event(t, evAcct, "orders", fmt.Sprintf("e%d", i), evT0.Add(time.Duration(i)*time.Second))
	}
	b.event(t, evAcct, "alerts", "x1", evT0)
	ids := func(evs []events.Event) []string {
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	all, err := b.st.ListEvents(b.ctx, evAcct, "orders", "", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"e5", "e4", "e3", "e2", "e1"}, ids(all), "newest first")
	page, err := b.st.ListEvents(b.ctx, evAcct, "orders", "", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"e5", "e4"}, ids(page))
	page, err = b.st.ListEvents(b.ctx, evAcct, "orders", "e4", 2)
	require.NoError(t, err)
	require.Equal(t, []string{"e3", "e2"}, ids(page))
	page, err = b.st.ListEvents(b.ctx, evOther, "orders", "", 0)
	require.NoError(t, err)
	require.Empty(t, page)
	_, err = b.st.GetEvent(b.ctx, evOther, "e1")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func testEvDeliveries(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.sub(t, evAcct, "orders", "sub-a", evT0)
	b.sub(t, evAcct, "orders", "sub-b", evT0)
	b.event(t, evAcct, "orders", "e1", evT0, "sub-a", "sub-b")
	b.event(t, evAcct, "orders", "e2", evT0, "sub-a")

	d, err := b.st.GetDelivery(b.ctx, evAcct, "e1", "sub-b")
	require.NoError(t, err)
	want := &events.Delivery{AccountID: evAcct, EventID: "e1", SubscriptionID: "sub-b", Topic: "orders", State: events.Pending,
		NextAttemptAt: evT0, DeadlineAt: evT0.Add(24 * time.Hour), CreatedAt: evT0, UpdatedAt: evT0}
	require.Equal(t, want, d)
	_, err = b.st.GetDelivery(b.ctx, evAcct, "e2", "sub-b")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	// A failed attempt, guarded by state and attempts.
	next := *d
	next.Attempts, next.LastAttemptAt, next.LastStatus, next.LastError = 1, evT0.Add(time.Second), 503, "HTTP 503"
	next.NextAttemptAt, next.UpdatedAt = evT0.Add(time.Minute), evT0.Add(time.Second)
	b.tx(t, func(tx events.Tx) error {
		ok, err := tx.UpdateDelivery(b.ctx, &next, events.Pending, 0)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = tx.UpdateDelivery(b.ctx, &next, events.Pending, 0)
		require.NoError(t, err)
		require.False(t, ok, "attempts moved on: a stale job writes nothing")
		return nil
	})
	got, err := b.st.GetDelivery(b.ctx, evAcct, "e1", "sub-b")
	require.NoError(t, err)
	require.Equal(t, &next, got)

	dead := next
	dead.State, dead.Attempts, dead.NextAttemptAt = events.Dead, 2, time.Time{}
	b.tx(t, func(tx events.Tx) error {
		ok, err := tx.UpdateDelivery(b.ctx, &dead, events.Pending, 1)
		require.NoError(t, err)
		require.True(t, ok)
		return nil
	})
	delivered := events.Delivery{AccountID: evAcct, EventID: "e1", SubscriptionID: "sub-a", Topic: "orders", State: events.Delivered,
		Attempts: 1, LastAttemptAt: evT0.Add(2 * time.Second), DeadlineAt: evT0.Add(24 * time.Hour), LastStatus: 200, CreatedAt: evT0}
	b.tx(t, func(tx events.Tx) error {
		ok, err := tx.UpdateDelivery(b.ctx, &delivered, events.Pending, 0)
		require.NoError(t, err)
		require.True(t, ok)
		return nil
	})

	list := func(f events.DeliveryFilter) []string {
		f.AccountID, f.Topic = evAcct, "orders"
		ds, err := b.st.ListDeliveries(b.ctx, f)
		require.NoError(t, err)
		var out []string
		for _, d := range ds {
			out = append(out, d.EventID+"/"+d.SubscriptionID+"/"+string(d.State))
		}
		return out
	}
	require.Equal(t, []string{"e1/sub-a/DELIVERED", "e1/sub-b/DEAD", "e2/sub-a/PENDING"}, list(events.DeliveryFilter{}))
	require.Equal(t, []string{"e1/sub-b/DEAD"}, list(events.DeliveryFilter{State: events.Dead}))
	require.Equal(t, []string{"e1/sub-a/DELIVERED", "e2/sub-a/PENDING"}, list(events.DeliveryFilter{SubscriptionID: "sub-a"}))
	require.Equal(t, []string{"e1/sub-a/DELIVERED", "e1/sub-b/DEAD"}, list(events.DeliveryFilter{EventID: "e1"}))
	require.Equal(t, []string{"e1/sub-a/DELIVERED"}, list(events.DeliveryFilter{Limit: 1}))
	require.Equal(t, []string{"e1/sub-b/DEAD", "e2/sub-a/PENDING"}, list(events.DeliveryFilter{AfterEvent: "e1", AfterSubscription: "sub-a"}))
	b.tx(t, func(tx events.Tx) error {
		ds, err := tx.ListDeliveries(b.ctx, events.DeliveryFilter{AccountID: evAcct, Topic: "orders", State: events.Pending})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		return nil
	})

	stats, err := b.st.SubscriptionStats(b.ctx, evAcct, "orders")
	require.NoError(t, err)
	require.Equal(t, []events.DeliveryStats{
		{SubscriptionID: "sub-a", Counts: map[events.DeliveryState]int64{events.Delivered: 1, events.Pending: 1}, LastAttemptAt: evT0.Add(2 * time.Second)},
		{SubscriptionID: "sub-b", Counts: map[events.DeliveryState]int64{events.Dead: 1}, LastAttemptAt: evT0.Add(time.Second)},
	}, stats)
}

func testEvDeleteCascades(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.topic(t, evAcct, "alerts")
	b.sub(t, evAcct, "orders", "sub-a", evT0)
	b.sub(t, evAcct, "orders", "sub-b", evT0)
	b.sub(t, evAcct, "alerts", "sub-c", evT0)
	b.event(t, evAcct, "orders", "e1", evT0, "sub-a", "sub-b")
	b.event(t, evAcct, "alerts", "e2", evT0, "sub-c")

	require.NoError(t, b.st.DeleteSubscription(b.ctx, evAcct, "orders", "sub-b"))
	_, err := b.st.GetDelivery(b.ctx, evAcct, "e1", "sub-b")
	require.True(t, fault.Is(err, fault.NotFound), "the subscription's deliveries go with it: %v", err)
	_, err = b.st.GetDelivery(b.ctx, evAcct, "e1", "sub-a")
	require.NoError(t, err)

	require.NoError(t, b.st.DeleteTopic(b.ctx, evAcct, "orders"))
	_, err = b.st.GetEvent(b.ctx, evAcct, "e1")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	_, err = b.st.GetSubscription(b.ctx, evAcct, "sub-a")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	_, err = b.st.GetDelivery(b.ctx, evAcct, "e1", "sub-a")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	// The other topic is untouched.
	_, err = b.st.GetDelivery(b.ctx, evAcct, "e2", "sub-c")
	require.NoError(t, err)
	// A topic of the same name again starts empty.
	b.topic(t, evAcct, "orders")
	evs, err := b.st.ListEvents(b.ctx, evAcct, "orders", "", 0)
	require.NoError(t, err)
	require.Empty(t, evs)
}

func testEvPurge(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "orders")
	b.topic(t, evAcct, "alerts")
	b.sub(t, evAcct, "orders", "sub-a", evT0)
	day := 24 * time.Hour
	// Old: e1 (no delivery), e2 (pending: kept), e3 (dead: goes with its event).
	b.event(t, evAcct, "orders", "e1", evT0)
	b.event(t, evAcct, "orders", "e2", evT0, "sub-a")
	b.event(t, evAcct, "orders", "e3", evT0, "sub-a")
	b.tx(t, func(tx events.Tx) error {
		d, err := tx.GetDelivery(b.ctx, evAcct, "e3", "sub-a")
		require.NoError(t, err)
		d.State = events.Dead
		_, err = tx.UpdateDelivery(b.ctx, d, events.Pending, 0)
		return err
	})
	// Recent: f1..f4 on orders, g1..g2 on alerts.
	for i := 1; i <= 4; i++ {
		b.event(t, evAcct, "orders", fmt.Sprintf("f%d", i), evT0.Add(10*day+time.Duration(i)*time.Second))
	}
	b.event(t, evAcct, "alerts", "g1", evT0.Add(10*day))
	b.event(t, evAcct, "alerts", "g2", evT0.Add(10*day))

	n, err := b.st.PurgeEvents(b.ctx, evT0.Add(5*day), 0)
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "e1 and e3")
	_, err = b.st.GetDelivery(b.ctx, evAcct, "e3", "sub-a")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	// Keep 3 per topic: f1 goes; e2 is older but pending, so it stays.
	n, err = b.st.PurgeEvents(b.ctx, evT0.Add(5*day), 3)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	evs, err := b.st.ListEvents(b.ctx, evAcct, "orders", "", 0)
	require.NoError(t, err)
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
	}
	require.Equal(t, []string{"f4", "f3", "f2", "e2"}, ids)
	evs, err = b.st.ListEvents(b.ctx, evAcct, "alerts", "", 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
}

// testEvConcurrent publishes (as the service does: ensure the topic, list
// its subscriptions, insert the event and its deliveries) while
// subscriptions and the topic are deleted: every publish either commits
// whole or fails with NotFound; none fails otherwise (deadlock, foreign
// key).
func testEvConcurrent(t *testing.T, b *evBundle) {
	b.topic(t, evAcct, "busy")
	for i := range 4 {
		b.sub(t, evAcct, "busy", fmt.Sprintf("sub-%d", i), evT0)
	}
	publish := func(id string) error {
		return b.st.InTx(b.ctx, func(tx events.Tx) error {
			if _, err := tx.GetTopic(b.ctx, evAcct, "busy"); err != nil {
				return err
			}
			subs, err := tx.ListSubscriptions(b.ctx, evAcct, "busy")
			if err != nil {
				return err
			}
			if err := tx.InsertEvent(b.ctx, &events.Event{AccountID: evAcct, ID: id, Topic: "busy", Body: []byte("x"), CreatedAt: evT0}); err != nil {
				return err
			}
			var ds []events.Delivery
			for _, s := range subs {
				ds = append(ds, events.Delivery{AccountID: evAcct, EventID: id, SubscriptionID: s.ID, Topic: "busy",
					State: events.Pending, NextAttemptAt: evT0, DeadlineAt: evT0, CreatedAt: evT0})
			}
			return tx.InsertDeliveries(b.ctx, ds)
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				if err := publish(fmt.Sprintf("e-%d-%02d", w, i)); err != nil && !fault.Is(err, fault.NotFound) {
					errs <- err
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 4 {
			if err := b.st.DeleteSubscription(b.ctx, evAcct, "busy", fmt.Sprintf("sub-%d", i)); err != nil {
				errs <- err
			}
		}
		if err := b.st.DeleteTopic(b.ctx, evAcct, "busy"); err != nil {
			errs <- err
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent publish or delete: %v", err)
	}
	_, err := b.st.GetTopic(b.ctx, evAcct, "busy")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}
