package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/fault"
)

// Events is the store of topics, subscriptions, the event log and
// deliveries (events.Store).
type Events struct{ s *Store }

var (
	_ events.Store = Events{}
	_ events.Tx    = (*eventsTx)(nil)
)

// Events returns the events store.
func (s *Store) Events() Events { return Events{s} }

// querier is what reads need: the read pool, the write pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// evDB runs the events statements over one querier.
type evDB struct {
	s *Store
	q querier
}

type eventsTx struct {
	evDB
	tx *sql.Tx
}

func (e Events) read() evDB { return evDB{e.s, e.s.rdb} }

// InTx runs fn in one transaction.
func (e Events) InTx(ctx context.Context, fn func(events.Tx) error) error {
	return e.s.writeTx(ctx, func(tx *sql.Tx) error { return fn(&eventsTx{evDB: evDB{e.s, tx}, tx: tx}) })
}

// write runs fn in a transaction of its own.
func (e Events) write(ctx context.Context, fn func(d evDB) error) error {
	return e.InTx(ctx, func(tx events.Tx) error { return fn(tx.(*eventsTx).evDB) })
}

func topicNotFound(name string) error {
	return notFound("topic", name, "topic %s does not exist", name)
}

// ---------------------------------------------------------------------------
// Topics.

func (e Events) CreateTopic(ctx context.Context, t *events.Topic) error {
	t.CreatedAt = stored(t.CreatedAt, time.Now())
	return e.write(ctx, func(d evDB) error {
		_, err := d.q.ExecContext(ctx, d.s.q(`INSERT INTO topics (account_id, name, created_at) VALUES (?, ?, ?)`),
			t.AccountID, t.Name, ms(t.CreatedAt))
		if _, ok := d.s.d.UniqueViolation(err); ok {
			return conflict("topic", t.Name, "topic %s already exists", t.Name)
		}
		return d.s.wrap(err, "create topic")
	})
}

func (e Events) GetTopic(ctx context.Context, accountID, name string) (*events.Topic, error) {
	return e.read().GetTopic(ctx, accountID, name)
}

func (d evDB) GetTopic(ctx context.Context, accountID, name string) (*events.Topic, error) {
	lock := ""
	if _, inTx := d.q.(*sql.Tx); inTx {
		lock = d.lockClause(false)
	}
	return d.getTopic(ctx, accountID, name, lock)
}

// Topic row locks (PostgreSQL; SQLite's one writer serializes anyway):
// publishes hold the topic's row shared, deletes of the topic or of a
// subscription hold it exclusive from their first statement, so that a
// delete waits for the publishes in flight and a publish never waits on a
// delete halfway through (which could deadlock, or fail a delivery row's
// foreign key).
func (d evDB) lockClause(exclusive bool) string {
	switch {
	case d.s.d.Name() != "postgres":
		return ""
	case exclusive:
		return ` FOR UPDATE`
	}
	return ` FOR SHARE`
}

func (d evDB) getTopic(ctx context.Context, accountID, name, lock string) (*events.Topic, error) {
	t := events.Topic{AccountID: accountID, Name: name}
	var at int64
	err := d.q.QueryRowContext(ctx, d.s.q(`SELECT created_at FROM topics WHERE account_id = ? AND name = ?`+lock), accountID, name).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, topicNotFound(name)
	}
	if err != nil {
		return nil, d.s.wrap(err, "get topic")
	}
	t.CreatedAt = fromMS(at)
	return &t, nil
}

func (d evDB) EnsureTopic(ctx context.Context, accountID, name string, now time.Time) (*events.Topic, error) {
	t, err := d.getTopic(ctx, accountID, name, d.lockClause(false))
	if !fault.Is(err, fault.NotFound) {
		return t, err
	}
	// ON CONFLICT: a concurrent publish (PostgreSQL) may create it first.
	_, err = d.q.ExecContext(ctx, d.s.q(`INSERT INTO topics (account_id, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id, name) DO NOTHING`), accountID, name, ms(now))
	if err != nil {
		return nil, d.s.wrap(err, "create topic")
	}
	return d.getTopic(ctx, accountID, name, d.lockClause(false))
}

func (e Events) ListTopics(ctx context.Context, accountID string) ([]events.Topic, error) {
	rows, err := e.s.rdb.QueryContext(ctx, e.s.q(`SELECT name, created_at FROM topics WHERE account_id = ? ORDER BY name`), accountID)
	if err != nil {
		return nil, e.s.wrap(err, "list topics")
	}
	defer rows.Close()
	out := []events.Topic{}
	for rows.Next() {
		t := events.Topic{AccountID: accountID}
		var at int64
		if err := rows.Scan(&t.Name, &at); err != nil {
			return nil, e.s.wrap(err, "list topics")
		}
		t.CreatedAt = fromMS(at)
		out = append(out, t)
	}
	return out, e.s.wrap(rows.Err(), "list topics")
}

func (e Events) DeleteTopic(ctx context.Context, accountID, name string) error {
	return e.write(ctx, func(d evDB) error {
		if _, err := d.getTopic(ctx, accountID, name, d.lockClause(true)); err != nil {
			return err
		}
		// Children first: the cascades would do it, but explicit deletes
		// keep the order of locks the same on both databases.
		for _, q := range []string{
			`DELETE FROM topic_deliveries WHERE account_id = ? AND topic = ?`,
			`DELETE FROM topic_events WHERE account_id = ? AND topic = ?`,
			`DELETE FROM topic_subscriptions WHERE account_id = ? AND topic = ?`,
		} {
			if _, err := d.q.ExecContext(ctx, d.s.q(q), accountID, name); err != nil {
				return d.s.wrap(err, "delete topic")
			}
		}
		res, err := d.q.ExecContext(ctx, d.s.q(`DELETE FROM topics WHERE account_id = ? AND name = ?`), accountID, name)
		if err != nil {
			return d.s.wrap(err, "delete topic")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return topicNotFound(name)
		}
		return nil
	})
}

// ---------------------------------------------------------------------------
// Subscriptions.

const evSubCols = `account_id, id, topic, url, secret, filter, created_at`

func evScanSub(sc interface{ Scan(...any) error }) (*events.Subscription, error) {
	var s events.Subscription
	var at int64
	if err := sc.Scan(&s.AccountID, &s.ID, &s.Topic, &s.URL, &s.Secret, &s.Filter, &at); err != nil {
		return nil, err
	}
	s.CreatedAt = fromMS(at)
	return &s, nil
}

func (e Events) CreateSubscription(ctx context.Context, sub *events.Subscription) error {
	sub.CreatedAt = stored(sub.CreatedAt, time.Now())
	return e.write(ctx, func(d evDB) error {
		if _, err := d.GetTopic(ctx, sub.AccountID, sub.Topic); err != nil {
			return err
		}
		_, err := d.q.ExecContext(ctx, d.s.q(`INSERT INTO topic_subscriptions (`+evSubCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			sub.AccountID, sub.ID, sub.Topic, sub.URL, sub.Secret, sub.Filter, ms(sub.CreatedAt))
		if _, ok := d.s.d.UniqueViolation(err); ok {
			return conflict("subscription", sub.ID, "subscription %s already exists", sub.ID)
		}
		return d.s.wrap(err, "create subscription")
	})
}

func (e Events) GetSubscription(ctx context.Context, accountID, id string) (*events.Subscription, error) {
	s, err := evScanSub(e.s.rdb.QueryRowContext(ctx, e.s.q(`SELECT `+evSubCols+` FROM topic_subscriptions WHERE account_id = ? AND id = ?`), accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("subscription", id, "subscription %s does not exist", id)
	}
	return s, e.s.wrap(err, "get subscription")
}

func (e Events) ListSubscriptions(ctx context.Context, accountID, topic string) ([]events.Subscription, error) {
	return e.read().ListSubscriptions(ctx, accountID, topic)
}

func (d evDB) ListSubscriptions(ctx context.Context, accountID, topic string) ([]events.Subscription, error) {
	rows, err := d.q.QueryContext(ctx, d.s.q(`SELECT `+evSubCols+` FROM topic_subscriptions
		WHERE account_id = ? AND topic = ? ORDER BY created_at, id`), accountID, topic)
	if err != nil {
		return nil, d.s.wrap(err, "list subscriptions")
	}
	defer rows.Close()
	out := []events.Subscription{}
	for rows.Next() {
		s, err := evScanSub(rows)
		if err != nil {
			return nil, d.s.wrap(err, "list subscriptions")
		}
		out = append(out, *s)
	}
	return out, d.s.wrap(rows.Err(), "list subscriptions")
}

func (e Events) DeleteSubscription(ctx context.Context, accountID, topic, id string) error {
	return e.write(ctx, func(d evDB) error {
		if _, err := d.getTopic(ctx, accountID, topic, d.lockClause(true)); fault.Is(err, fault.NotFound) {
			return notFound("subscription", id, "topic %s has no subscription %s", topic, id)
		} else if err != nil {
			return err
		}
		if _, err := d.q.ExecContext(ctx, d.s.q(`DELETE FROM topic_deliveries WHERE account_id = ? AND subscription_id = ? AND topic = ?`),
			accountID, id, topic); err != nil {
			return d.s.wrap(err, "delete subscription")
		}
		res, err := d.q.ExecContext(ctx, d.s.q(`DELETE FROM topic_subscriptions WHERE account_id = ? AND id = ? AND topic = ?`), accountID, id, topic)
		if err != nil {
			return d.s.wrap(err, "delete subscription")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("subscription", id, "topic %s has no subscription %s", topic, id)
		}
		return nil
	})
}

func (e Events) SubscriptionStats(ctx context.Context, accountID, topic string) ([]events.DeliveryStats, error) {
	rows, err := e.s.rdb.QueryContext(ctx, e.s.q(`SELECT subscription_id, state, count(*), max(last_attempt_at)
		FROM topic_deliveries WHERE account_id = ? AND topic = ?
		GROUP BY subscription_id, state ORDER BY subscription_id, state`), accountID, topic)
	if err != nil {
		return nil, e.s.wrap(err, "subscription stats")
	}
	defer rows.Close()
	out := []events.DeliveryStats{}
	for rows.Next() {
		var (
			id, state string
			n, last   int64
		)
		if err := rows.Scan(&id, &state, &n, &last); err != nil {
			return nil, e.s.wrap(err, "subscription stats")
		}
		if len(out) == 0 || out[len(out)-1].SubscriptionID != id {
			out = append(out, events.DeliveryStats{SubscriptionID: id, Counts: map[events.DeliveryState]int64{}})
		}
		st := &out[len(out)-1]
		st.Counts[events.DeliveryState(state)] = n
		if t := gwFromMS(last); t.After(st.LastAttemptAt) {
			st.LastAttemptAt = t
		}
	}
	return out, e.s.wrap(rows.Err(), "subscription stats")
}

// ---------------------------------------------------------------------------
// Events.

const evEventCols = `account_id, id, topic, body, dedup_key, created_at`

func evScanEvent(sc interface{ Scan(...any) error }) (*events.Event, error) {
	var ev events.Event
	var at int64
	if err := sc.Scan(&ev.AccountID, &ev.ID, &ev.Topic, &ev.Body, &ev.DedupKey, &at); err != nil {
		return nil, err
	}
	ev.CreatedAt = fromMS(at)
	ev.Body = gwBytes(ev.Body)
	return &ev, nil
}

func (e Events) GetEvent(ctx context.Context, accountID, id string) (*events.Event, error) {
	ev, err := evScanEvent(e.s.rdb.QueryRowContext(ctx, e.s.q(`SELECT `+evEventCols+` FROM topic_events WHERE account_id = ? AND id = ?`), accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("event", id, "event %s does not exist", id)
	}
	return ev, e.s.wrap(err, "get event")
}

func (e Events) ListEvents(ctx context.Context, accountID, topic, before string, limit int) ([]events.Event, error) {
	where := `account_id = ? AND topic = ?`
	args := []any{accountID, topic}
	if before != "" {
		where += ` AND id < ?`
		args = append(args, before)
	}
	rows, err := e.s.rdb.QueryContext(ctx, e.s.q(`SELECT `+evEventCols+` FROM topic_events WHERE `+where+
		` ORDER BY id DESC`+limitClause(limit)), args...)
	if err != nil {
		return nil, e.s.wrap(err, "list events")
	}
	defer rows.Close()
	out := []events.Event{}
	for rows.Next() {
		ev, err := evScanEvent(rows)
		if err != nil {
			return nil, e.s.wrap(err, "list events")
		}
		out = append(out, *ev)
	}
	return out, e.s.wrap(rows.Err(), "list events")
}

func (d evDB) FindEvent(ctx context.Context, accountID, topic, key string) (*events.Event, error) {
	ev, err := evScanEvent(d.q.QueryRowContext(ctx, d.s.q(`SELECT `+evEventCols+` FROM topic_events
		WHERE account_id = ? AND topic = ? AND dedup_key = ?`), accountID, topic, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return ev, d.s.wrap(err, "find event")
}

func (d evDB) InsertEvent(ctx context.Context, ev *events.Event) error {
	ev.CreatedAt = stored(ev.CreatedAt, time.Now())
	_, err := d.q.ExecContext(ctx, d.s.q(`INSERT INTO topic_events (`+evEventCols+`) VALUES (?, ?, ?, ?, ?, ?)`),
		ev.AccountID, ev.ID, ev.Topic, gwBytes(ev.Body), ev.DedupKey, ms(ev.CreatedAt))
	if _, ok := d.s.d.UniqueViolation(err); ok {
		return conflict("event", ev.ID, "event %s already exists", ev.ID)
	}
	if d.s.d.ForeignKeyViolation(err) {
		return topicNotFound(ev.Topic)
	}
	return d.s.wrap(err, "insert event")
}

func (e Events) PurgeEvents(ctx context.Context, cutoff time.Time, keep int) (int64, error) {
	const notPending = ` AND NOT EXISTS (SELECT 1 FROM topic_deliveries d
		WHERE d.account_id = topic_events.account_id AND d.event_id = topic_events.id AND d.state = 'PENDING')`
	var total int64
	del := func(where string, args ...any) error {
		return e.write(ctx, func(d evDB) error {
			// Deliveries first, for the same lock order as the other deletes.
			if _, err := d.q.ExecContext(ctx, d.s.q(`DELETE FROM topic_deliveries WHERE EXISTS (SELECT 1 FROM topic_events
				WHERE topic_events.account_id = topic_deliveries.account_id AND topic_events.id = topic_deliveries.event_id AND `+
				where+notPending+`)`), args...); err != nil {
				return d.s.wrap(err, "purge events")
			}
			res, err := d.q.ExecContext(ctx, d.s.q(`DELETE FROM topic_events WHERE `+where+notPending), args...)
			if err != nil {
				return d.s.wrap(err, "purge events")
			}
			n, _ := res.RowsAffected()
			total += n
			return nil
		})
	}
	if err := del(`topic_events.created_at < ?`, ms(cutoff)); err != nil {
		return total, err
	}
	if keep <= 0 {
		return total, nil
	}
	// Topics over the bound: the cut is the ID of the keep-th newest event.
	rows, err := e.s.rdb.QueryContext(ctx, e.s.q(`SELECT account_id, topic FROM topic_events GROUP BY account_id, topic HAVING count(*) > ?`), keep)
	if err != nil {
		return total, e.s.wrap(err, "purge events")
	}
	type key struct{ acct, topic string }
	var over []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.acct, &k.topic); err != nil {
			rows.Close()
			return total, e.s.wrap(err, "purge events")
		}
		over = append(over, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return total, e.s.wrap(err, "purge events")
	}
	for _, k := range over {
		var cut string
		err := e.s.rdb.QueryRowContext(ctx, e.s.q(`SELECT id FROM topic_events WHERE account_id = ? AND topic = ?
			ORDER BY id DESC LIMIT 1 OFFSET ?`), k.acct, k.topic, keep-1).Scan(&cut)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return total, e.s.wrap(err, "purge events")
		}
		if err := del(`topic_events.account_id = ? AND topic_events.topic = ? AND topic_events.id < ?`, k.acct, k.topic, cut); err != nil {
			return total, err
		}
	}
	return total, nil
}

// ---------------------------------------------------------------------------
// Deliveries.

const evDelCols = `account_id, event_id, subscription_id, topic, state, attempts, next_attempt_at, last_attempt_at,
	deadline_at, last_status, last_error, created_at, updated_at`

func evScanDelivery(sc interface{ Scan(...any) error }) (*events.Delivery, error) {
	var (
		d                          events.Delivery
		state                      string
		next, last, dead, crt, upd int64
	)
	if err := sc.Scan(&d.AccountID, &d.EventID, &d.SubscriptionID, &d.Topic, &state, &d.Attempts, &next, &last,
		&dead, &d.LastStatus, &d.LastError, &crt, &upd); err != nil {
		return nil, err
	}
	d.State = events.DeliveryState(state)
	d.NextAttemptAt, d.LastAttemptAt, d.DeadlineAt = gwFromMS(next), gwFromMS(last), gwFromMS(dead)
	d.CreatedAt, d.UpdatedAt = gwFromMS(crt), gwFromMS(upd)
	return &d, nil
}

func (d evDB) InsertDeliveries(ctx context.Context, ds []events.Delivery) error {
	now := time.Now()
	for i := range ds {
		x := &ds[i]
		x.CreatedAt = stored(x.CreatedAt, now)
		x.UpdatedAt = stored(x.UpdatedAt, x.CreatedAt)
		_, err := d.q.ExecContext(ctx, d.s.q(`INSERT INTO topic_deliveries (`+evDelCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			x.AccountID, x.EventID, x.SubscriptionID, x.Topic, string(x.State), x.Attempts, gwMS(x.NextAttemptAt),
			gwMS(x.LastAttemptAt), gwMS(x.DeadlineAt), x.LastStatus, x.LastError, ms(x.CreatedAt), ms(x.UpdatedAt))
		if _, ok := d.s.d.UniqueViolation(err); ok {
			return conflict("delivery", x.EventID, "event %s already has a delivery to subscription %s", x.EventID, x.SubscriptionID)
		}
		if err != nil {
			return d.s.wrap(err, "insert delivery")
		}
	}
	return nil
}

func (e Events) GetDelivery(ctx context.Context, accountID, eventID, subID string) (*events.Delivery, error) {
	return e.read().GetDelivery(ctx, accountID, eventID, subID)
}

func (d evDB) GetDelivery(ctx context.Context, accountID, eventID, subID string) (*events.Delivery, error) {
	x, err := evScanDelivery(d.q.QueryRowContext(ctx, d.s.q(`SELECT `+evDelCols+` FROM topic_deliveries
		WHERE account_id = ? AND event_id = ? AND subscription_id = ?`), accountID, eventID, subID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("delivery", eventID, "event %s has no delivery to subscription %s", eventID, subID)
	}
	return x, d.s.wrap(err, "get delivery")
}

func (d evDB) UpdateDelivery(ctx context.Context, x *events.Delivery, wantState events.DeliveryState, wantAttempts int) (bool, error) {
	x.UpdatedAt = stored(x.UpdatedAt, time.Now())
	res, err := d.q.ExecContext(ctx, d.s.q(`UPDATE topic_deliveries SET state = ?, attempts = ?, next_attempt_at = ?,
		last_attempt_at = ?, deadline_at = ?, last_status = ?, last_error = ?, updated_at = ?
		WHERE account_id = ? AND event_id = ? AND subscription_id = ? AND state = ? AND attempts = ?`),
		string(x.State), x.Attempts, gwMS(x.NextAttemptAt), gwMS(x.LastAttemptAt), gwMS(x.DeadlineAt), x.LastStatus,
		x.LastError, ms(x.UpdatedAt), x.AccountID, x.EventID, x.SubscriptionID, string(wantState), wantAttempts)
	if err != nil {
		return false, d.s.wrap(err, "update delivery")
	}
	n, err := res.RowsAffected()
	return n == 1, d.s.wrap(err, "update delivery")
}

func (e Events) ListDeliveries(ctx context.Context, f events.DeliveryFilter) ([]events.Delivery, error) {
	return e.read().ListDeliveries(ctx, f)
}

func (d evDB) ListDeliveries(ctx context.Context, f events.DeliveryFilter) ([]events.Delivery, error) {
	where := []string{`account_id = ?`, `topic = ?`}
	args := []any{f.AccountID, f.Topic}
	for _, c := range []struct{ col, v string }{{"event_id", f.EventID}, {"subscription_id", f.SubscriptionID}, {"state", string(f.State)}} {
		if c.v != "" {
			where = append(where, c.col+` = ?`)
			args = append(args, c.v)
		}
	}
	if f.AfterEvent != "" || f.AfterSubscription != "" {
		where = append(where, `(event_id > ? OR (event_id = ? AND subscription_id > ?))`)
		args = append(args, f.AfterEvent, f.AfterEvent, f.AfterSubscription)
	}
	rows, err := d.q.QueryContext(ctx, d.s.q(`SELECT `+evDelCols+` FROM topic_deliveries WHERE `+strings.Join(where, ` AND `)+
		` ORDER BY event_id, subscription_id`+limitClause(f.Limit)), args...)
	if err != nil {
		return nil, d.s.wrap(err, "list deliveries")
	}
	defer rows.Close()
	out := []events.Delivery{}
	for rows.Next() {
		x, err := evScanDelivery(rows)
		if err != nil {
			return nil, d.s.wrap(err, "list deliveries")
		}
		out = append(out, *x)
	}
	return out, d.s.wrap(rows.Err(), "list deliveries")
}

func (t *eventsTx) Enqueue(ctx context.Context, job events.Job) error {
	if t.s.queue == nil {
		return errors.New("store: Enqueue: no job queue")
	}
	return t.s.wrap(t.s.queue.InsertTx(ctx, t.tx, job, nil), "enqueue")
}
