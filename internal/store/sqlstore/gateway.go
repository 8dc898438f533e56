package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/jobs"
)

// Gateway is the store of the gateway queue (gateway.Store): messages,
// steps and deliveries.
type Gateway struct{ s *Store }

var (
	_ gateway.Store = (*Gateway)(nil)
	_ gateway.Tx    = (*gatewayTx)(nil)
)

// Gateway returns the gateway queue store.
func (s *Store) Gateway() *Gateway { return &Gateway{s} }

// gwStmts keeps the queue's statements prepared, per pool: the queue runs
// the same few statements for every message, and SQLite spends more time
// parsing a statement than running it.
//
// A statement is prepared on the pool outside transactions only: on
// SQLite the writer pool has one connection, which a transaction holds, so
// preparing from inside one would wait for ever. A statement first met
// inside a transaction runs unprepared and is prepared before the next
// transaction begins (gwWarm).
var (
	gwStmts  sync.Map // gwStmtKey -> *sql.Stmt
	gwWanted sync.Map // gwStmtKey -> struct{}: met in a transaction, not prepared yet
)

type gwStmtKey struct {
	db    *sql.DB
	query string
}

func (s *Store) gwPrepared(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	k := gwStmtKey{db, query}
	if v, ok := gwStmts.Load(k); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, s.q(query))
	if err != nil {
		return nil, err
	}
	if v, loaded := gwStmts.LoadOrStore(k, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// gwWarm prepares the statements met in transactions; call it holding no
// connection.
func (s *Store) gwWarm(ctx context.Context) {
	gwWanted.Range(func(key, _ any) bool {
		k := key.(gwStmtKey)
		if k.db == s.db {
			if _, err := s.gwPrepared(ctx, k.db, k.query); err == nil {
				gwWanted.Delete(key)
			}
		}
		return true
	})
}

// stmt returns query prepared for the reader's transaction or pool, or
// nil when it is to run unprepared this time.
func (r gwReader) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if r.tx == nil {
		return r.s.gwPrepared(ctx, r.s.rdb, query)
	}
	k := gwStmtKey{r.s.db, query}
	if v, ok := gwStmts.Load(k); ok {
		return r.tx.StmtContext(ctx, v.(*sql.Stmt)), nil
	}
	gwWanted.Store(k, struct{}{})
	return nil, nil
}

func (r gwReader) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return r.tx.QueryContext(ctx, r.s.q(query), args...)
	}
	return st.QueryContext(ctx, args...)
}

// row runs a one-row query; scan receives its columns.
func (r gwReader) row(ctx context.Context, query string, scan func(*sql.Row) error, args ...any) error {
	st, err := r.stmt(ctx, query)
	switch {
	case err != nil:
		return err
	case st == nil:
		return scan(r.tx.QueryRowContext(ctx, r.s.q(query), args...))
	}
	return scan(st.QueryRowContext(ctx, args...))
}

// gwReader implements gateway.Reader: over the read pool outside
// transactions (tx nil), over the transaction inside one.
type gwReader struct {
	s  *Store
	tx *sql.Tx
}

// gatewayTx is a gateway.Tx.
type gatewayTx struct {
	gwReader
	tx *sql.Tx
}

// InTx runs fn in one transaction.
func (g *Gateway) InTx(ctx context.Context, fn func(gateway.Tx) error) error {
	s := g.s
	s.gwWarm(ctx)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		return fn(&gatewayTx{gwReader: gwReader{s: s, tx: tx}, tx: tx})
	})
}

func (g *Gateway) reader() gwReader { return gwReader{s: g.s} }

func (g *Gateway) GetMessage(ctx context.Context, id string) (*gateway.Message, error) {
	return g.reader().GetMessage(ctx, id)
}
func (g *Gateway) Steps(ctx context.Context, id string) ([]gateway.Step, error) {
	return g.reader().Steps(ctx, id)
}
func (g *Gateway) Deliveries(ctx context.Context, id string) ([]gateway.Delivery, error) {
	return g.reader().Deliveries(ctx, id)
}
func (g *Gateway) ListMessages(ctx context.Context, f gateway.ListFilter) ([]gateway.Message, error) {
	return g.reader().ListMessages(ctx, f)
}
func (g *Gateway) CountMessages(ctx context.Context) (map[gateway.MessageState]int64, error) {
	return g.reader().CountMessages(ctx)
}
func (g *Gateway) LeasedDeliveries(ctx context.Context) ([]gateway.Delivery, error) {
	return g.reader().LeasedDeliveries(ctx)
}

func (g *Gateway) SpooledContent(ctx context.Context, key string) ([]byte, error) {
	return g.reader().SpooledContent(ctx, key)
}

// gwMS and gwFromMS map the zero time to 0 and back.
func gwMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func gwFromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

func gwBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const gwMessageCols = `queue_id, account_id, ingress_point_id, rule_set_id, state, envelope, auth, blob_key, size, error,
	received_at, updated_at, lease_owner, lease_until`

func gwScanMessage(sc interface{ Scan(...any) error }) (*gateway.Message, error) {
	var (
		m                 gateway.Message
		state             string
		recv, upd, leaseU int64
	)
	if err := sc.Scan(&m.QueueID, &m.AccountID, &m.IngressPointID, &m.RuleSetID, &state, &m.Envelope, &m.Auth,
		&m.BlobKey, &m.Size, &m.Error, &recv, &upd, &m.LeaseOwner, &leaseU); err != nil {
		return nil, err
	}
	m.State = gateway.MessageState(state)
	m.ReceivedAt, m.UpdatedAt, m.LeaseUntil = gwFromMS(recv), gwFromMS(upd), gwFromMS(leaseU)
	m.Envelope, m.Auth = gwBytes(m.Envelope), gwBytes(m.Auth)
	if len(m.Auth) == 0 {
		m.Auth = nil
	}
	return &m, nil
}

func gwMessageNotFound(id string) error {
	return notFound("gateway-message", id, "message %s is not in the queue", id)
}

func (r gwReader) GetMessage(ctx context.Context, id string) (*gateway.Message, error) {
	var m *gateway.Message
	err := r.row(ctx, `SELECT `+gwMessageCols+` FROM gateway_messages WHERE queue_id = ?`, func(row *sql.Row) (err error) {
		m, err = gwScanMessage(row)
		return err
	}, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gwMessageNotFound(id)
	}
	if err != nil {
		return nil, r.s.wrap(err, "get message")
	}
	return m, nil
}

func (r gwReader) ListMessages(ctx context.Context, f gateway.ListFilter) ([]gateway.Message, error) {
	where := []string{`m.queue_id > ?`}
	args := []any{f.After}
	if f.State != "" {
		where = append(where, `m.state = ?`)
		args = append(args, string(f.State))
	}
	if f.Leased {
		where = append(where, `m.lease_owner <> ''`)
	}
	if !f.UpdatedBefore.IsZero() {
		where = append(where, `m.updated_at < ?`)
		args = append(args, ms(f.UpdatedBefore))
	}
	if f.Deferred {
		where = append(where, `EXISTS (SELECT 1 FROM gateway_deliveries d WHERE d.queue_id = m.queue_id AND d.state = 'DEFERRED')`)
	}
	query := `SELECT ` + gwPrefixCols("m.", gwMessageCols) + ` FROM gateway_messages m WHERE ` +
		strings.Join(where, ` AND `) + ` ORDER BY m.queue_id` + limitClause(f.Limit)
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return nil, r.s.wrap(err, "list messages")
	}
	defer rows.Close()
	out := []gateway.Message{}
	for rows.Next() {
		m, err := gwScanMessage(rows)
		if err != nil {
			return nil, r.s.wrap(err, "list messages")
		}
		out = append(out, *m)
	}
	return out, r.s.wrap(rows.Err(), "list messages")
}

// gwPrefixCols qualifies every column of a list with a table alias.
func gwPrefixCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func (r gwReader) CountMessages(ctx context.Context) (map[gateway.MessageState]int64, error) {
	rows, err := r.query(ctx, `SELECT state, count(*) FROM gateway_messages GROUP BY state`)
	if err != nil {
		return nil, r.s.wrap(err, "count messages")
	}
	defer rows.Close()
	out := map[gateway.MessageState]int64{}
	for rows.Next() {
		var (
			st string
			n  int64
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, r.s.wrap(err, "count messages")
		}
		out[gateway.MessageState(st)] = n
	}
	return out, r.s.wrap(rows.Err(), "count messages")
}

const gwStepCols = `queue_id, idx, rule, rule_name, action, spec, recipients, state, detail, error, updated_at`

func (r gwReader) Steps(ctx context.Context, id string) ([]gateway.Step, error) {
	rows, err := r.query(ctx, `SELECT `+gwStepCols+` FROM gateway_steps WHERE queue_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, r.s.wrap(err, "steps")
	}
	defer rows.Close()
	out := []gateway.Step{}
	for rows.Next() {
		var (
			s         gateway.Step
			rcpts, st string
			idx, rule int64
			upd       int64
		)
		if err := rows.Scan(&s.QueueID, &idx, &rule, &s.RuleName, &s.Action, &s.Spec, &rcpts, &st, &s.Detail, &s.Error, &upd); err != nil {
			return nil, r.s.wrap(err, "steps")
		}
		s.Index, s.Rule, s.State, s.UpdatedAt = int(idx), int(rule), gateway.StepState(st), gwFromMS(upd)
		if err := json.Unmarshal([]byte(rcpts), &s.Recipients); err != nil {
			return nil, fmt.Errorf("store: steps of %s: recipients: %w", id, err)
		}
		s.Spec = gwBytes(s.Spec)
		out = append(out, s)
	}
	return out, r.s.wrap(rows.Err(), "steps")
}

const gwDeliveryCols = `queue_id, step, recipient, relay_id, state, attempts, next_attempt_at, last_attempt_at, last_reply,
	remote_mta, dsn, lease_owner, lease_until, created_at, updated_at`

func (r gwReader) deliveries(ctx context.Context, op, where string, args ...any) ([]gateway.Delivery, error) {
	rows, err := r.query(ctx, `SELECT `+gwDeliveryCols+` FROM gateway_deliveries WHERE `+where+` ORDER BY queue_id, step, recipient`, args...)
	if err != nil {
		return nil, r.s.wrap(err, op)
	}
	defer rows.Close()
	out := []gateway.Delivery{}
	for rows.Next() {
		var (
			d                                    gateway.Delivery
			st                                   string
			step, attempts                       int64
			next, last, leaseU, created, updated int64
		)
		if err := rows.Scan(&d.QueueID, &step, &d.Recipient, &d.RelayID, &st, &attempts, &next, &last, &d.LastReply,
			&d.RemoteMTA, &d.DSN, &d.LeaseOwner, &leaseU, &created, &updated); err != nil {
			return nil, r.s.wrap(err, op)
		}
		d.Step, d.Attempts, d.State = int(step), int(attempts), gateway.DeliveryState(st)
		d.NextAttemptAt, d.LastAttemptAt, d.LeaseUntil = gwFromMS(next), gwFromMS(last), gwFromMS(leaseU)
		d.CreatedAt, d.UpdatedAt = gwFromMS(created), gwFromMS(updated)
		out = append(out, d)
	}
	return out, r.s.wrap(rows.Err(), op)
}

func (r gwReader) Deliveries(ctx context.Context, id string) ([]gateway.Delivery, error) {
	return r.deliveries(ctx, "deliveries", `queue_id = ?`, id)
}

func (r gwReader) LeasedDeliveries(ctx context.Context) ([]gateway.Delivery, error) {
	return r.deliveries(ctx, "leased deliveries", `lease_owner <> ''`)
}

func (t *gatewayTx) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return nil, t.s.wrap(err, op)
	}
	var res sql.Result
	if st == nil {
		res, err = t.tx.ExecContext(ctx, t.s.q(query), args...)
	} else {
		res, err = st.ExecContext(ctx, args...)
	}
	return res, t.s.wrap(err, op)
}

func (t *gatewayTx) InsertMessage(ctx context.Context, m *gateway.Message) error {
	if m.QueueID == "" || m.AccountID == "" {
		return fault.Invalidf("a queued message needs a queue id and an account")
	}
	res, err := t.exec(ctx, "insert message", `INSERT INTO gateway_messages (`+gwMessageCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		m.QueueID, m.AccountID, m.IngressPointID, m.RuleSetID, string(m.State), gwBytes(m.Envelope), gwBytes(m.Auth),
		m.BlobKey, m.Size, m.Error, gwMS(m.ReceivedAt), gwMS(m.UpdatedAt), m.LeaseOwner, gwMS(m.LeaseUntil))
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return conflict("gateway-message", m.QueueID, "message %s is already queued", m.QueueID)
	}
	if m.Content != nil {
		return t.s.putSpoolContent(ctx, t.tx, m.BlobKey, m.Content)
	}
	return nil
}

func (t *gatewayTx) UpdateMessage(ctx context.Context, m *gateway.Message) error {
	if m.BlobKey == "" {
		// The spooled copy is no longer needed: the database's goes now.
		if err := t.dropSpoolContent(ctx, m.QueueID); err != nil {
			return err
		}
	}
	res, err := t.exec(ctx, "update message", `UPDATE gateway_messages SET state = ?, auth = ?, blob_key = ?, error = ?,
		updated_at = ?, lease_owner = ?, lease_until = ? WHERE queue_id = ?`,
		string(m.State), gwBytes(m.Auth), m.BlobKey, m.Error, gwMS(m.UpdatedAt), m.LeaseOwner, gwMS(m.LeaseUntil), m.QueueID)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return gwMessageNotFound(m.QueueID)
	}
	return nil
}

func (t *gatewayTx) ClaimMessage(ctx context.Context, id, owner string, now, until time.Time) (bool, error) {
	res, err := t.exec(ctx, "claim message", `UPDATE gateway_messages SET lease_owner = ?, lease_until = ?
		WHERE queue_id = ? AND state = ? AND (lease_owner = '' OR lease_until < ?)`,
		owner, ms(until), id, string(gateway.Queued), ms(now))
	if err != nil {
		return false, err
	}
	return affected(res) == 1, nil
}

func (t *gatewayTx) LockMessage(ctx context.Context, id string) (*gateway.Message, error) {
	query := `SELECT ` + gwMessageCols + ` FROM gateway_messages WHERE queue_id = ?`
	if t.s.d.Name() == "postgres" {
		// SQLite transactions hold the database's write lock from BEGIN
		// (_txlock=immediate); PostgreSQL needs the row locked.
		query += ` FOR UPDATE`
	}
	var m *gateway.Message
	err := t.row(ctx, query, func(row *sql.Row) (err error) {
		m, err = gwScanMessage(row)
		return err
	}, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gwMessageNotFound(id)
	}
	if err != nil {
		return nil, t.s.wrap(err, "lock message")
	}
	return m, nil
}

func (t *gatewayTx) DeleteMessage(ctx context.Context, id string) error {
	// Children first: the schema cascades, but a database opened without
	// foreign keys enforced must not keep orphans.
	if _, err := t.exec(ctx, "delete deliveries", `DELETE FROM gateway_deliveries WHERE queue_id = ?`, id); err != nil {
		return err
	}
	if _, err := t.exec(ctx, "delete steps", `DELETE FROM gateway_steps WHERE queue_id = ?`, id); err != nil {
		return err
	}
	if err := t.dropSpoolContent(ctx, id); err != nil {
		return err
	}
	res, err := t.exec(ctx, "delete message", `DELETE FROM gateway_messages WHERE queue_id = ?`, id)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return gwMessageNotFound(id)
	}
	return nil
}

// dropSpoolContent removes the database's copy of a message, if any.
func (t *gatewayTx) dropSpoolContent(ctx context.Context, queueID string) error {
	return t.s.dropSpoolContent(ctx, t.tx, `SELECT blob_key FROM gateway_messages WHERE queue_id = ?`, queueID)
}

// SpooledContent reads the database's copy of a spooled message.
func (r gwReader) SpooledContent(ctx context.Context, key string) ([]byte, error) {
	if r.tx != nil {
		return r.s.spoolContent(ctx, r.tx, key)
	}
	return r.s.spoolContent(ctx, r.s.rdb, key)
}

func gwRecipients(rs []string) string {
	if rs == nil {
		rs = []string{}
	}
	b, _ := json.Marshal(rs)
	return string(b)
}

func (t *gatewayTx) InsertSteps(ctx context.Context, steps []gateway.Step) error {
	for _, s := range steps {
		if _, err := t.exec(ctx, "insert step", `INSERT INTO gateway_steps (`+gwStepCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			s.QueueID, s.Index, s.Rule, s.RuleName, s.Action, gwBytes(s.Spec), gwRecipients(s.Recipients),
			string(s.State), s.Detail, s.Error, gwMS(s.UpdatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func (t *gatewayTx) UpdateStep(ctx context.Context, s *gateway.Step) (bool, error) {
	res, err := t.exec(ctx, "update step", `UPDATE gateway_steps SET state = ?, detail = ?, error = ?, recipients = ?, updated_at = ?
		WHERE queue_id = ? AND idx = ? AND state = ?`,
		string(s.State), s.Detail, s.Error, gwRecipients(s.Recipients), gwMS(s.UpdatedAt), s.QueueID, s.Index, string(gateway.StepPending))
	if err != nil {
		return false, err
	}
	return affected(res) == 1, nil
}

func (t *gatewayTx) InsertDeliveries(ctx context.Context, ds []gateway.Delivery) error {
	for _, d := range ds {
		if _, err := t.exec(ctx, "insert delivery", `INSERT INTO gateway_deliveries (`+gwDeliveryCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			d.QueueID, d.Step, d.Recipient, d.RelayID, string(d.State), d.Attempts, gwMS(d.NextAttemptAt), gwMS(d.LastAttemptAt),
			d.LastReply, d.RemoteMTA, d.DSN, d.LeaseOwner, gwMS(d.LeaseUntil), gwMS(d.CreatedAt), gwMS(d.UpdatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func (t *gatewayTx) claim(ctx context.Context, op, cond string, id string, step int, owner string, now, until time.Time, args ...any) ([]gateway.Delivery, error) {
	all := append([]any{owner, ms(until), id, step}, args...)
	all = append(all, ms(now))
	if _, err := t.exec(ctx, op, `UPDATE gateway_deliveries SET lease_owner = ?, lease_until = ?
		WHERE queue_id = ? AND step = ? AND `+cond+` AND lease_until < ?`, all...); err != nil {
		return nil, err
	}
	return t.deliveries(ctx, op, `queue_id = ? AND step = ? AND lease_owner = ?`, id, step, owner)
}

func (t *gatewayTx) ClaimDeliveries(ctx context.Context, id string, step int, owner string, now, until time.Time) ([]gateway.Delivery, error) {
	return t.claim(ctx, "claim deliveries", `state IN (?, ?) AND next_attempt_at <= ?`, id, step, owner, now, until,
		string(gateway.DeliveryPending), string(gateway.DeliveryDeferred), ms(now))
}

func (t *gatewayTx) ClaimNotifications(ctx context.Context, id string, step int, owner string, now, until time.Time) ([]gateway.Delivery, error) {
	return t.claim(ctx, "claim notifications", `dsn = ?`, id, step, owner, now, until, gateway.DSNPending)
}

func (t *gatewayTx) UpdateDelivery(ctx context.Context, d *gateway.Delivery, owner string) (bool, error) {
	query := `UPDATE gateway_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?, last_reply = ?,
		remote_mta = ?, dsn = ?, lease_owner = ?, lease_until = ?, updated_at = ?
		WHERE queue_id = ? AND step = ? AND recipient = ?`
	args := []any{string(d.State), d.Attempts, gwMS(d.NextAttemptAt), gwMS(d.LastAttemptAt), d.LastReply,
		d.RemoteMTA, d.DSN, d.LeaseOwner, gwMS(d.LeaseUntil), gwMS(d.UpdatedAt), d.QueueID, d.Step, d.Recipient}
	if owner != "" {
		query += ` AND lease_owner = ?`
		args = append(args, owner)
	}
	res, err := t.exec(ctx, "update delivery", query, args...)
	if err != nil {
		return false, err
	}
	return affected(res) == 1, nil
}

func (t *gatewayTx) CountOpen(ctx context.Context, id string) (int, error) {
	var n int
	err := t.row(ctx, `SELECT count(*) FROM gateway_deliveries
		WHERE queue_id = ? AND (state IN (?, ?) OR dsn = ?)`, func(row *sql.Row) error { return row.Scan(&n) },
		id, string(gateway.DeliveryPending), string(gateway.DeliveryDeferred), gateway.DSNPending)
	return n, t.s.wrap(err, "count open deliveries")
}

func (t *gatewayTx) Enqueue(ctx context.Context, js ...gateway.Job) error {
	if t.s.queue == nil {
		return errors.New("store: Enqueue: no job queue")
	}
	if len(js) == 1 {
		return t.s.wrap(t.s.queue.InsertTx(ctx, t.tx, js[0], nil), fmt.Sprintf("enqueue %s", js[0].Kind()))
	}
	return t.s.wrap(jobs.InsertManyTx(ctx, t.s.queue, t.tx, js), "enqueue")
}
