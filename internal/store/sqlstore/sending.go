package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/sending"
)

// Sending is the store of outbound email (sending.Store).
type Sending struct{ s *Store }

var (
	_ sending.Store = Sending{}
	_ sending.Tx    = sendingTx{}
)

// Sending returns the outbound email store.
func (s *Store) Sending() Sending { return Sending{s} }

// querier is what reads need: the read pool or a transaction.
type sendingReader struct {
	s *Store
	q querier
	// pool is set outside transactions: statements are then prepared once
	// per pool (the send path runs the same few reads for every message,
	// and SQLite spends more time parsing a statement than running it).
	pool bool
}

// queryRow runs a one-row query.
func (r sendingReader) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if r.pool {
		if st, err := r.s.gwPrepared(ctx, r.s.rdb, query); err == nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return r.q.QueryRowContext(ctx, r.s.q(query), args...)
}

func (r sendingReader) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if r.pool {
		if st, err := r.s.gwPrepared(ctx, r.s.rdb, query); err == nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return r.q.QueryContext(ctx, r.s.q(query), args...)
}

type sendingTx struct {
	sendingReader
	tx *sql.Tx
}

func (g Sending) reader() sendingReader { return sendingReader{s: g.s, q: g.s.rdb, pool: true} }

// InTx runs fn in one transaction of the write pool.
func (g Sending) InTx(ctx context.Context, fn func(sending.Tx) error) error {
	run := func(tx *sql.Tx) error {
		return fn(sendingTx{sendingReader: sendingReader{s: g.s, q: tx}, tx: tx})
	}
	return g.s.inTx(ctx, run)
}

func (g Sending) Get(ctx context.Context, acct string, kind sending.Kind, name string) (*sending.Resource, error) {
	return g.reader().Get(ctx, acct, kind, name)
}
func (g Sending) List(ctx context.Context, acct string, kind sending.Kind, after string, limit int) ([]sending.Resource, error) {
	return g.reader().List(ctx, acct, kind, after, limit)
}
func (g Sending) ListByStatus(ctx context.Context, kind sending.Kind, statuses []string, limit int) ([]sending.Resource, error) {
	return g.reader().ListByStatus(ctx, kind, statuses, limit)
}
func (g Sending) GetSuppressed(ctx context.Context, acct, email string) (*sending.Suppressed, error) {
	return g.reader().GetSuppressed(ctx, acct, email)
}
func (g Sending) ListSuppressed(ctx context.Context, acct string, f sending.SuppressedFilter) ([]sending.Suppressed, error) {
	return g.reader().ListSuppressed(ctx, acct, f)
}
func (g Sending) GetMessage(ctx context.Context, id string) (*sending.Message, error) {
	return g.reader().GetMessage(ctx, id)
}
func (g Sending) SpooledContent(ctx context.Context, key string) ([]byte, error) {
	return g.reader().SpooledContent(ctx, key)
}
func (g Sending) Recipients(ctx context.Context, id string) ([]sending.Recipient, error) {
	return g.reader().Recipients(ctx, id)
}
func (g Sending) CountRecipientsSince(ctx context.Context, acct string, since time.Time) (int64, error) {
	return g.reader().CountRecipientsSince(ctx, acct, since)
}
func (g Sending) SendStatistics(ctx context.Context, acct string, since time.Time) ([]sending.SendStats, error) {
	return g.reader().SendStatistics(ctx, acct, since)
}

const sesResourceCols = `account_id, kind, name, status, body, created_at, updated_at`

func scanSesResource(sc interface{ Scan(...any) error }) (sending.Resource, error) {
	var (
		r            sending.Resource
		kind         string
		created, upd int64
	)
	err := sc.Scan(&r.AccountID, &kind, &r.Name, &r.Status, &r.Body, &created, &upd)
	r.Kind, r.CreatedAt, r.UpdatedAt = sending.Kind(kind), fromMS(created), fromMS(upd)
	return r, err
}

func (r sendingReader) Get(ctx context.Context, acct string, kind sending.Kind, name string) (*sending.Resource, error) {
	res, err := scanSesResource(r.queryRow(ctx, `SELECT `+sesResourceCols+` FROM ses_resources
		WHERE account_id = ? AND kind = ? AND name = ?`, acct, string(kind), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(string(kind), name, "%s %s does not exist", kindNoun(kind), name)
	}
	if err != nil {
		return nil, r.s.wrap(err, "get "+string(kind))
	}
	return &res, nil
}

func kindNoun(k sending.Kind) string {
	switch k {
	case sending.KindIdentity:
		return "Email identity"
	case sending.KindConfigSet:
		return "Configuration set"
	}
	return strings.ReplaceAll(string(k), "-", " ")
}

func (r sendingReader) list(ctx context.Context, op, query string, args ...any) ([]sending.Resource, error) {
	rows, err := r.query(ctx, query, args...)
	if err != nil {
		return nil, r.s.wrap(err, op)
	}
	defer rows.Close()
	var out []sending.Resource
	for rows.Next() {
		res, err := scanSesResource(rows)
		if err != nil {
			return nil, r.s.wrap(err, op)
		}
		out = append(out, res)
	}
	return out, r.s.wrap(rows.Err(), op)
}

func (r sendingReader) List(ctx context.Context, acct string, kind sending.Kind, after string, limit int) ([]sending.Resource, error) {
	if limit <= 0 {
		limit = 1000
	}
	return r.list(ctx, "list "+string(kind), `SELECT `+sesResourceCols+` FROM ses_resources
		WHERE account_id = ? AND kind = ? AND name > ? ORDER BY name LIMIT ?`, acct, string(kind), after, limit)
}

func (r sendingReader) ListByStatus(ctx context.Context, kind sending.Kind, statuses []string, limit int) ([]sending.Resource, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	if limit <= 0 {
		limit = 1000
	}
	args := []any{string(kind)}
	for _, st := range statuses {
		args = append(args, st)
	}
	args = append(args, limit)
	return r.list(ctx, "list "+string(kind)+" by status", `SELECT `+sesResourceCols+` FROM ses_resources
		WHERE kind = ? AND status IN (?`+strings.Repeat(", ?", len(statuses)-1)+`) ORDER BY account_id, name LIMIT ?`, args...)
}

func scanSuppressed(sc interface{ Scan(...any) error }) (sending.Suppressed, error) {
	var (
		s   sending.Suppressed
		upd int64
	)
	err := sc.Scan(&s.AccountID, &s.Email, &s.Reason, &s.MessageID, &s.FeedbackID, &upd)
	s.UpdatedAt = fromMS(upd)
	return s, err
}

const sesSuppressedCols = `account_id, email, reason, message_id, feedback_id, updated_at`

func (r sendingReader) GetSuppressed(ctx context.Context, acct, email string) (*sending.Suppressed, error) {
	s, err := scanSuppressed(r.queryRow(ctx, `SELECT `+sesSuppressedCols+` FROM ses_suppressed
		WHERE account_id = ? AND email = ?`, acct, email))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("suppressed-destination", email, "Email address %s does not exist on your suppression list", email)
	}
	if err != nil {
		return nil, r.s.wrap(err, "get suppressed")
	}
	return &s, nil
}

func (r sendingReader) ListSuppressed(ctx context.Context, acct string, f sending.SuppressedFilter) ([]sending.Suppressed, error) {
	q := `SELECT ` + sesSuppressedCols + ` FROM ses_suppressed WHERE account_id = ? AND email > ?`
	args := []any{acct, f.After}
	if len(f.Reasons) > 0 {
		q += ` AND reason IN (?` + strings.Repeat(", ?", len(f.Reasons)-1) + `)`
		for _, rs := range f.Reasons {
			args = append(args, rs)
		}
	}
	if !f.Since.IsZero() {
		q += ` AND updated_at >= ?`
		args = append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND updated_at < ?`
		args = append(args, ms(f.Until))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += ` ORDER BY email LIMIT ?`
	args = append(args, limit)
	rows, err := r.query(ctx, q, args...)
	if err != nil {
		return nil, r.s.wrap(err, "list suppressed")
	}
	defer rows.Close()
	var out []sending.Suppressed
	for rows.Next() {
		s, err := scanSuppressed(rows)
		if err != nil {
			return nil, r.s.wrap(err, "list suppressed")
		}
		out = append(out, s)
	}
	return out, r.s.wrap(rows.Err(), "list suppressed")
}

func (r sendingReader) SpooledContent(ctx context.Context, key string) ([]byte, error) {
	return r.s.spoolContent(ctx, r.q, key)
}

// sendingMessageCols are the columns scanSendingMessage reads.
const sendingMessageCols = `message_id, account_id, state, meta, blob_key, recipients, created_at, updated_at, lease_owner, lease_until`

func scanSendingMessage(sc interface{ Scan(...any) error }) (*sending.Message, error) {
	var (
		m                   sending.Message
		state               string
		created, upd, until int64
	)
	if err := sc.Scan(&m.MessageID, &m.AccountID, &state, &m.Meta, &m.BlobKey, &m.Recipients, &created, &upd, &m.LeaseOwner, &until); err != nil {
		return nil, err
	}
	m.State, m.CreatedAt, m.UpdatedAt = sending.MessageState(state), fromMS(created), fromMS(upd)
	if until != 0 {
		m.LeaseUntil = fromMS(until)
	}
	return &m, nil
}

func (r sendingReader) GetMessage(ctx context.Context, id string) (*sending.Message, error) {
	m, err := scanSendingMessage(r.queryRow(ctx, `SELECT `+sendingMessageCols+` FROM ses_messages WHERE message_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("message", id, "message %s does not exist", id)
	}
	if err != nil {
		return nil, r.s.wrap(err, "get message")
	}
	return m, nil
}

func (r sendingReader) Recipients(ctx context.Context, id string) ([]sending.Recipient, error) {
	rows, err := r.query(ctx, `SELECT message_id, recipient, state, attempts, next_attempt_at, last_reply, remote_mta, updated_at
		FROM ses_recipients WHERE message_id = ? ORDER BY recipient`, id)
	if err != nil {
		return nil, r.s.wrap(err, "recipients")
	}
	defer rows.Close()
	var out []sending.Recipient
	for rows.Next() {
		var (
			rc        sending.Recipient
			state     string
			next, upd int64
		)
		if err := rows.Scan(&rc.MessageID, &rc.Recipient, &state, &rc.Attempts, &next, &rc.LastReply, &rc.RemoteMTA, &upd); err != nil {
			return nil, r.s.wrap(err, "recipients")
		}
		rc.State, rc.NextAttemptAt, rc.UpdatedAt = sending.RecipientState(state), gwFromMS(next), fromMS(upd)
		out = append(out, rc)
	}
	return out, r.s.wrap(rows.Err(), "recipients")
}

func (r sendingReader) CountRecipientsSince(ctx context.Context, acct string, since time.Time) (int64, error) {
	var n int64
	err := r.queryRow(ctx, `SELECT COALESCE(SUM(recipients), 0) FROM ses_messages
		WHERE account_id = ? AND created_at >= ?`, acct, ms(since)).Scan(&n)
	return n, r.s.wrap(err, "count sent")
}

func (r sendingReader) SendStatistics(ctx context.Context, acct string, since time.Time) ([]sending.SendStats, error) {
	iv := sending.StatsInterval.Milliseconds()
	byStart := map[int64]*sending.SendStats{}
	at := func(b int64) *sending.SendStats {
		st := byStart[b]
		if st == nil {
			st = &sending.SendStats{Start: fromMS(b)}
			byStart[b] = st
		}
		return st
	}
	rows, err := r.query(ctx, `SELECT m.created_at / ? * ? AS b,
		SUM(CASE WHEN r.attempts > 0 OR r.state IN (?, ?) THEN 1 ELSE 0 END),
		SUM(CASE WHEN r.state = ? THEN 1 ELSE 0 END)
		FROM ses_messages m JOIN ses_recipients r ON r.message_id = m.message_id
		WHERE m.account_id = ? AND m.created_at >= ? AND r.state <> ? AND LOWER(r.recipient) NOT LIKE '%@simulator.amazonses.com'
		GROUP BY b`, iv, iv, string(sending.RcptDelivered), string(sending.RcptBounced), string(sending.RcptBounced),
		acct, ms(since), string(sending.RcptSuppressed))
	if err != nil {
		return nil, r.s.wrap(err, "send statistics")
	}
	defer rows.Close()
	for rows.Next() {
		var b, attempts, bounces int64
		if err := rows.Scan(&b, &attempts, &bounces); err != nil {
			return nil, r.s.wrap(err, "send statistics")
		}
		st := at(b)
		st.Attempts, st.Bounces = attempts, bounces
	}
	if err := rows.Err(); err != nil {
		return nil, r.s.wrap(err, "send statistics")
	}
	fb, err := r.query(ctx, `SELECT bucket, bounces, complaints FROM ses_feedback_counts WHERE account_id = ? AND bucket >= ?`,
		acct, ms(since)/iv*iv)
	if err != nil {
		return nil, r.s.wrap(err, "feedback counts")
	}
	defer fb.Close()
	for fb.Next() {
		var b, bounces, complaints int64
		if err := fb.Scan(&b, &bounces, &complaints); err != nil {
			return nil, r.s.wrap(err, "feedback counts")
		}
		st := at(b)
		st.Bounces += bounces
		st.Complaints += complaints
	}
	if err := fb.Err(); err != nil {
		return nil, r.s.wrap(err, "feedback counts")
	}
	out := make([]sending.SendStats, 0, len(byStart))
	for _, st := range byStart {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b sending.SendStats) int { return a.Start.Compare(b.Start) })
	return out, nil
}

func (t sendingTx) AddFeedbackCounts(ctx context.Context, acct string, at time.Time, bounces, complaints int) error {
	iv := sending.StatsInterval.Milliseconds()
	_, err := t.exec(ctx, "add feedback counts", `INSERT INTO ses_feedback_counts (account_id, bucket, bounces, complaints) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id, bucket) DO UPDATE SET bounces = ses_feedback_counts.bounces + excluded.bounces,
		complaints = ses_feedback_counts.complaints + excluded.complaints`, acct, ms(at)/iv*iv, bounces, complaints)
	return err
}

func (t sendingTx) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, t.s.q(query), args...)
	return res, t.s.wrap(err, op)
}

func (t sendingTx) Insert(ctx context.Context, r *sending.Resource) error {
	now := time.Now()
	_, err := t.tx.ExecContext(ctx, t.s.q(`INSERT INTO ses_resources (`+sesResourceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		r.AccountID, string(r.Kind), r.Name, r.Status, gwBytes(r.Body), ms(stored(r.CreatedAt, now)), ms(stored(r.UpdatedAt, now)))
	if _, ok := t.s.d.UniqueViolation(err); ok {
		return conflict(string(r.Kind), r.Name, "%s %s already exists", kindNoun(r.Kind), r.Name)
	}
	return t.s.wrap(err, "insert "+string(r.Kind))
}

func (t sendingTx) Put(ctx context.Context, r *sending.Resource) error {
	now := time.Now()
	_, err := t.exec(ctx, "put "+string(r.Kind), `INSERT INTO ses_resources (`+sesResourceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, kind, name) DO UPDATE SET status = excluded.status, body = excluded.body, updated_at = excluded.updated_at`,
		r.AccountID, string(r.Kind), r.Name, r.Status, gwBytes(r.Body), ms(stored(r.CreatedAt, now)), ms(stored(r.UpdatedAt, now)))
	return err
}

func (t sendingTx) Delete(ctx context.Context, acct string, kind sending.Kind, name string) error {
	res, err := t.exec(ctx, "delete "+string(kind), `DELETE FROM ses_resources WHERE account_id = ? AND kind = ? AND name = ?`, acct, string(kind), name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(string(kind), name, "%s %s does not exist", kindNoun(kind), name)
	}
	return nil
}

func (t sendingTx) PutSuppressed(ctx context.Context, s *sending.Suppressed) error {
	_, err := t.exec(ctx, "put suppressed", `INSERT INTO ses_suppressed (`+sesSuppressedCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id, email) DO UPDATE SET reason = excluded.reason, message_id = excluded.message_id,
		feedback_id = excluded.feedback_id, updated_at = excluded.updated_at`,
		s.AccountID, s.Email, s.Reason, s.MessageID, s.FeedbackID, ms(stored(s.UpdatedAt, time.Now())))
	return err
}

func (t sendingTx) DeleteSuppressed(ctx context.Context, acct, email string) error {
	res, err := t.exec(ctx, "delete suppressed", `DELETE FROM ses_suppressed WHERE account_id = ? AND email = ?`, acct, email)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("suppressed-destination", email, "Email address %s does not exist on your suppression list", email)
	}
	return nil
}

func (t sendingTx) InsertMessage(ctx context.Context, m *sending.Message, rcpts []sending.Recipient) error {
	now := time.Now()
	var until int64
	if m.LeaseOwner != "" {
		until = ms(m.LeaseUntil)
	}
	_, err := t.tx.ExecContext(ctx, t.s.q(`INSERT INTO ses_messages (message_id, account_id, state, meta, blob_key, recipients, created_at, updated_at, lease_owner, lease_until)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), m.MessageID, m.AccountID, string(m.State), gwBytes(m.Meta), m.BlobKey, m.Recipients,
		ms(stored(m.CreatedAt, now)), ms(stored(m.UpdatedAt, now)), m.LeaseOwner, until)
	if _, ok := t.s.d.UniqueViolation(err); ok {
		return conflict("message", m.MessageID, "message %s exists", m.MessageID)
	}
	if err != nil {
		return t.s.wrap(err, "insert message")
	}
	if m.Content != nil {
		if err := t.s.putSpoolContent(ctx, t.tx, m.BlobKey, m.Content); err != nil {
			return err
		}
	}
	for _, r := range rcpts {
		_, err := t.exec(ctx, "insert recipient", `INSERT INTO ses_recipients (message_id, recipient, state, attempts, next_attempt_at, last_reply, remote_mta, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id, recipient) DO NOTHING`,
			m.MessageID, r.Recipient, string(r.State), r.Attempts, gwMS(r.NextAttemptAt), r.LastReply, r.RemoteMTA, ms(stored(r.UpdatedAt, now)))
		if err != nil {
			return err
		}
	}
	return nil
}

func (t sendingTx) UpdateMessage(ctx context.Context, m *sending.Message) error {
	if m.BlobKey == "" {
		// Delivered: the database's copy, if any, goes now.
		if err := t.s.dropSpoolContent(ctx, t.tx, `SELECT blob_key FROM ses_messages WHERE message_id = ?`, m.MessageID); err != nil {
			return err
		}
	}
	res, err := t.exec(ctx, "update message", `UPDATE ses_messages SET state = ?, blob_key = ?, updated_at = ?, lease_owner = '', lease_until = 0 WHERE message_id = ?`,
		string(m.State), m.BlobKey, ms(stored(m.UpdatedAt, time.Now())), m.MessageID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("message", m.MessageID, "message %s does not exist", m.MessageID)
	}
	return nil
}

func (t sendingTx) LeasedMessages(ctx context.Context, owner func(string) bool, before time.Time, limit int) ([]*sending.Message, error) {
	// lease_owner <> '' as the partial index ses_messages_lease has it.
	where, args := `lease_owner <> ''`, []any{}
	if !before.IsZero() {
		where, args = where+` AND lease_until < ?`, append(args, ms(before))
	}
	rows, err := t.query(ctx, `SELECT `+sendingMessageCols+` FROM ses_messages WHERE `+where+` ORDER BY lease_until, message_id`, args...)
	if err != nil {
		return nil, t.s.wrap(err, "leased messages")
	}
	defer rows.Close()
	var out []*sending.Message
	for rows.Next() && len(out) < limit {
		m, err := scanSendingMessage(rows)
		if err != nil {
			return nil, t.s.wrap(err, "leased messages")
		}
		if owner == nil || owner(m.LeaseOwner) {
			out = append(out, m)
		}
	}
	return out, t.s.wrap(rows.Err(), "leased messages")
}

func (t sendingTx) PurgeMessages(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := t.exec(ctx, "purge messages", `DELETE FROM ses_messages WHERE message_id IN (
		SELECT message_id FROM ses_messages WHERE state = ? AND updated_at < ? ORDER BY message_id LIMIT ?)`,
		string(sending.MessageDone), ms(before), limit)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if _, err := t.exec(ctx, "purge feedback counts", `DELETE FROM ses_feedback_counts WHERE bucket < ?`, ms(before)); err != nil {
		return 0, err
	}
	return n, nil
}

func (t sendingTx) UpdateRecipient(ctx context.Context, r *sending.Recipient) error {
	res, err := t.exec(ctx, "update recipient", `UPDATE ses_recipients SET state = ?, attempts = ?, next_attempt_at = ?, last_reply = ?,
		remote_mta = ?, updated_at = ? WHERE message_id = ? AND recipient = ?`,
		string(r.State), r.Attempts, gwMS(r.NextAttemptAt), r.LastReply, r.RemoteMTA, ms(stored(r.UpdatedAt, time.Now())), r.MessageID, r.Recipient)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return &fault.Error{Kind: fault.NotFound, Message: "recipient " + r.Recipient + " of message " + r.MessageID + " does not exist"}
	}
	return nil
}

func (t sendingTx) Enqueue(ctx context.Context, js ...sending.Job) error {
	if t.s.queue == nil {
		return errors.New("store: Enqueue: no job queue")
	}
	if len(js) == 1 {
		return t.s.wrap(t.s.queue.InsertTx(ctx, t.tx, js[0], nil), fmt.Sprintf("enqueue %s", js[0].Kind()))
	}
	return t.s.wrap(jobs.InsertManyTx(ctx, t.s.queue, t.tx, js), "enqueue")
}
