package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/sms"
)

// SMS is the store of End User Messaging SMS and voice (sms.Store).
type SMS struct{ s *Store }

var (
	_ sms.Store = (*SMS)(nil)
	_ sms.Tx    = (*smsTx)(nil)
)

// SMS returns the SMS store.
func (s *Store) SMS() *SMS { return &SMS{s} }

// InTx runs fn in one transaction.
func (st *SMS) InTx(ctx context.Context, fn func(sms.Tx) error) error {
	s := st.s
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(&smsTx{txn: txn{s: s, tx: tx}}) })
}

// Read runs fn in a read-only transaction of the read pool.
func (st *SMS) Read(ctx context.Context, fn func(sms.Tx) error) error {
	s := st.s
	return s.readTx(ctx, func(tx *sql.Tx) error { return fn(&smsTx{txn: txn{s: s, tx: tx}, readOnly: true}) })
}

// Lock takes a transaction-scoped advisory lock on PostgreSQL (released
// when the transaction ends); on SQLite the transaction holds the one
// write lock already.
func (t *smsTx) Lock(ctx context.Context, key string) error {
	if t.s.d.Name() != "postgres" {
		return nil
	}
	_, err := t.exec(ctx, "lock "+key, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, key)
	return err
}

// smsTx is an sms.Tx. Like txn, statements that may meet a taken key use ON
// CONFLICT DO NOTHING and look at the count, so that a PostgreSQL
// transaction survives a fault.Conflict.
type smsTx struct {
	txn
	readOnly bool // Read's: rows are not locked (PostgreSQL refuses FOR UPDATE there)
}

const smsResourceCols = `account_id, kind, id, name, global_key, body, created_at, updated_at`

func scanSMSResource(sc interface{ Scan(...any) error }) (*sms.Resource, error) {
	var (
		r        sms.Resource
		kind     string
		cat, uat int64
	)
	if err := sc.Scan(&r.AccountID, &kind, &r.ID, &r.Name, &r.GlobalKey, &r.Body, &cat, &uat); err != nil {
		return nil, err
	}
	r.Kind = sms.Kind(kind)
	r.CreatedAt, r.UpdatedAt = fromMS(cat), fromMS(uat)
	if r.Body == nil {
		r.Body = []byte{}
	}
	return &r, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (t *smsTx) Insert(ctx context.Context, r *sms.Resource) error {
	if r.AccountID == "" || r.Kind == "" || r.ID == "" {
		return fault.Invalidf("a resource needs an account, a kind and an ID")
	}
	now := time.Now()
	r.CreatedAt = stored(r.CreatedAt, now)
	r.UpdatedAt = stored(r.UpdatedAt, r.CreatedAt)
	res, err := t.exec(ctx, "insert sms resource",
		`INSERT INTO sms_resources (`+smsResourceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.AccountID, string(r.Kind), r.ID, r.Name, r.GlobalKey, nonNil(r.Body), ms(r.CreatedAt), ms(r.UpdatedAt))
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return t.takenBy(ctx, r, true)
	}
	return nil
}

// takenBy explains why r could not be written: its ID (when checkID), name
// or global key is another row's.
func (t *smsTx) takenBy(ctx context.Context, r *sms.Resource, checkID bool) error {
	var one int
	if checkID {
		err := t.row(ctx, `SELECT 1 FROM sms_resources WHERE account_id = ? AND kind = ? AND id = ?`,
			r.AccountID, string(r.Kind), r.ID).Scan(&one)
		if err == nil {
			return conflict(string(r.Kind), r.ID, "%s %s already exists", r.Kind, r.ID)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return t.s.wrap(err, "insert sms resource")
		}
	}
	if r.GlobalKey != "" {
		err := t.row(ctx, `SELECT 1 FROM sms_resources WHERE kind = ? AND global_key = ?`, string(r.Kind), r.GlobalKey).Scan(&one)
		if err == nil {
			return conflict(string(r.Kind), r.GlobalKey, "%s %s is already taken", r.Kind, r.GlobalKey)
		}
	}
	return conflict(string(r.Kind), r.Name, "a %s named %q already exists", r.Kind, r.Name)
}

func (t *smsTx) getWhere(ctx context.Context, kind sms.Kind, ident, where string, args ...any) (*sms.Resource, error) {
	r, err := scanSMSResource(t.row(ctx, `SELECT `+smsResourceCols+` FROM sms_resources WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(string(kind), ident, "%s %s not found", kind, ident)
	}
	return r, t.s.wrap(err, "get sms resource")
}

func (t *smsTx) Get(ctx context.Context, accountID string, kind sms.Kind, id string) (*sms.Resource, error) {
	return t.getWhere(ctx, kind, id, `account_id = ? AND kind = ? AND id = ?`, accountID, string(kind), id)
}

func (t *smsTx) GetByName(ctx context.Context, accountID string, kind sms.Kind, name string) (*sms.Resource, error) {
	if name == "" {
		return nil, notFound(string(kind), name, "%s with an empty name not found", kind)
	}
	return t.getWhere(ctx, kind, name, `account_id = ? AND kind = ? AND name = ?`, accountID, string(kind), name)
}

func (t *smsTx) GetByKey(ctx context.Context, kind sms.Kind, key string) (*sms.Resource, error) {
	if key == "" {
		return nil, notFound(string(kind), key, "%s with an empty key not found", kind)
	}
	return t.getWhere(ctx, kind, key, `kind = ? AND global_key = ?`, string(kind), key)
}

func (t *smsTx) Update(ctx context.Context, r *sms.Resource) error {
	r.UpdatedAt = stored(r.UpdatedAt, time.Now())
	// The WHERE NOT EXISTS clauses keep a taken name or key from raising a
	// unique violation, which would abort a PostgreSQL transaction.
	res, err := t.exec(ctx, "update sms resource",
		`UPDATE sms_resources SET name = ?, global_key = ?, body = ?, updated_at = ?
		 WHERE account_id = ? AND kind = ? AND id = ?
		   AND (? = '' OR NOT EXISTS (SELECT 1 FROM sms_resources o WHERE o.account_id = ? AND o.kind = ? AND o.name = ? AND o.id <> ?))
		   AND (? = '' OR NOT EXISTS (SELECT 1 FROM sms_resources o WHERE o.kind = ? AND o.global_key = ? AND NOT (o.account_id = ? AND o.id = ?)))`,
		r.Name, r.GlobalKey, nonNil(r.Body), ms(r.UpdatedAt), r.AccountID, string(r.Kind), r.ID,
		r.Name, r.AccountID, string(r.Kind), r.Name, r.ID,
		r.GlobalKey, string(r.Kind), r.GlobalKey, r.AccountID, r.ID)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		if _, err := t.Get(ctx, r.AccountID, r.Kind, r.ID); err != nil {
			return err
		}
		return t.takenBy(ctx, r, false)
	}
	return nil
}

func (t *smsTx) Put(ctx context.Context, r *sms.Resource) error {
	if r.Name != "" || r.GlobalKey != "" {
		return fault.Invalidf("Put is for resources without a name or key")
	}
	now := time.Now()
	r.CreatedAt = stored(r.CreatedAt, now)
	r.UpdatedAt = stored(r.UpdatedAt, r.CreatedAt)
	_, err := t.exec(ctx, "put sms resource",
		`INSERT INTO sms_resources (`+smsResourceCols+`) VALUES (?, ?, ?, '', '', ?, ?, ?)
		 ON CONFLICT (account_id, kind, id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
		r.AccountID, string(r.Kind), r.ID, nonNil(r.Body), ms(r.CreatedAt), ms(r.UpdatedAt))
	return err
}

func (t *smsTx) Delete(ctx context.Context, accountID string, kind sms.Kind, id string) error {
	res, err := t.exec(ctx, "delete sms resource",
		`DELETE FROM sms_resources WHERE account_id = ? AND kind = ? AND id = ?`, accountID, string(kind), id)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return notFound(string(kind), id, "%s %s not found", kind, id)
	}
	return nil
}

func (t *smsTx) List(ctx context.Context, accountID string, kind sms.Kind, after string, limit int) ([]*sms.Resource, error) {
	rows, err := t.query(ctx, "list sms resources",
		`SELECT `+smsResourceCols+` FROM sms_resources WHERE account_id = ? AND kind = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, string(kind), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sms.Resource
	for rows.Next() {
		r, err := scanSMSResource(rows)
		if err != nil {
			return nil, t.s.wrap(err, "list sms resources")
		}
		out = append(out, r)
	}
	return out, t.s.wrap(rows.Err(), "list sms resources")
}

func (t *smsTx) Count(ctx context.Context, accountID string, kind sms.Kind) (int64, error) {
	var n int64
	err := t.row(ctx, `SELECT COUNT(*) FROM sms_resources WHERE account_id = ? AND kind = ?`, accountID, string(kind)).Scan(&n)
	return n, t.s.wrap(err, "count sms resources")
}

func (t *smsTx) PutEntry(ctx context.Context, accountID string, kind sms.Kind, id string, e *sms.Entry) error {
	// The resource is looked up first: a foreign key violation would abort
	// a PostgreSQL transaction.
	if _, err := t.Get(ctx, accountID, kind, id); err != nil {
		return err
	}
	now := time.Now()
	e.CreatedAt = stored(e.CreatedAt, now)
	e.UpdatedAt = stored(e.UpdatedAt, e.CreatedAt)
	_, err := t.exec(ctx, "put sms resource entry",
		`INSERT INTO sms_resource_entries (account_id, kind, id, entry, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (account_id, kind, id, entry) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
		accountID, string(kind), id, e.Key, nonNil(e.Body), ms(e.CreatedAt), ms(e.UpdatedAt))
	if err != nil {
		return err
	}
	got, err := t.GetEntry(ctx, accountID, kind, id, e.Key)
	if err != nil {
		return err
	}
	e.CreatedAt = got.CreatedAt
	return nil
}

func scanSMSEntry(sc interface{ Scan(...any) error }) (*sms.Entry, error) {
	var (
		e        sms.Entry
		cat, uat int64
	)
	if err := sc.Scan(&e.Key, &e.Body, &cat, &uat); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt = fromMS(cat), fromMS(uat)
	if e.Body == nil {
		e.Body = []byte{}
	}
	return &e, nil
}

func (t *smsTx) GetEntry(ctx context.Context, accountID string, kind sms.Kind, id, key string) (*sms.Entry, error) {
	e, err := scanSMSEntry(t.row(ctx, `SELECT entry, body, created_at, updated_at FROM sms_resource_entries
		WHERE account_id = ? AND kind = ? AND id = ? AND entry = ?`, accountID, string(kind), id, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(string(kind), id, "%s %s has no entry %s", kind, id, key)
	}
	return e, t.s.wrap(err, "get sms resource entry")
}

func (t *smsTx) DeleteEntry(ctx context.Context, accountID string, kind sms.Kind, id, key string) error {
	res, err := t.exec(ctx, "delete sms resource entry",
		`DELETE FROM sms_resource_entries WHERE account_id = ? AND kind = ? AND id = ? AND entry = ?`, accountID, string(kind), id, key)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return notFound(string(kind), id, "%s %s has no entry %s", kind, id, key)
	}
	return nil
}

func (t *smsTx) ListEntries(ctx context.Context, accountID string, kind sms.Kind, id, prefix, after string, limit int) ([]*sms.Entry, error) {
	// Keys with the prefix are those in [prefix, prefix+U+10FFFF): a
	// range both dialects compare bytewise (COLLATE "C" on PostgreSQL).
	rows, err := t.query(ctx, "list sms resource entries",
		`SELECT entry, body, created_at, updated_at FROM sms_resource_entries
		 WHERE account_id = ? AND kind = ? AND id = ? AND entry >= ? AND entry > ? AND entry < ? ORDER BY entry LIMIT ?`,
		accountID, string(kind), id, prefix, after, prefix+"\U0010FFFF", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sms.Entry
	for rows.Next() {
		e, err := scanSMSEntry(rows)
		if err != nil {
			return nil, t.s.wrap(err, "list sms resource entries")
		}
		out = append(out, e)
	}
	return out, t.s.wrap(rows.Err(), "list sms resource entries")
}

func (t *smsTx) PutOptedOut(ctx context.Context, accountID, list string, o sms.OptedOut) error {
	o.CreatedAt = stored(o.CreatedAt, time.Now())
	_, err := t.exec(ctx, "put opted-out number",
		`INSERT INTO sms_opted_out (account_id, list_name, number, end_user, created_at) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (account_id, list_name, number) DO UPDATE SET end_user = excluded.end_user`,
		accountID, list, o.Number, o.EndUser, ms(o.CreatedAt))
	return err
}

func (t *smsTx) GetOptedOut(ctx context.Context, accountID, list, number string) (*sms.OptedOut, error) {
	var (
		o  = sms.OptedOut{Number: number}
		at int64
	)
	err := t.row(ctx, `SELECT end_user, created_at FROM sms_opted_out WHERE account_id = ? AND list_name = ? AND number = ?`,
		accountID, list, number).Scan(&o.EndUser, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("opted-out-number", number, "%s is not on opt-out list %s", number, list)
	}
	if err != nil {
		return nil, t.s.wrap(err, "get opted-out number")
	}
	o.CreatedAt = fromMS(at)
	return &o, nil
}

func (t *smsTx) DeleteOptedOut(ctx context.Context, accountID, list, number string) error {
	res, err := t.exec(ctx, "delete opted-out number",
		`DELETE FROM sms_opted_out WHERE account_id = ? AND list_name = ? AND number = ?`, accountID, list, number)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return notFound("opted-out-number", number, "%s is not on opt-out list %s", number, list)
	}
	return nil
}

func (t *smsTx) ListOptedOut(ctx context.Context, accountID, list, after string, limit int) ([]sms.OptedOut, error) {
	rows, err := t.query(ctx, "list opted-out numbers",
		`SELECT number, end_user, created_at FROM sms_opted_out WHERE account_id = ? AND list_name = ? AND number > ? ORDER BY number LIMIT ?`,
		accountID, list, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sms.OptedOut
	for rows.Next() {
		var (
			o  sms.OptedOut
			at int64
		)
		if err := rows.Scan(&o.Number, &o.EndUser, &at); err != nil {
			return nil, t.s.wrap(err, "list opted-out numbers")
		}
		o.CreatedAt = fromMS(at)
		out = append(out, o)
	}
	return out, t.s.wrap(rows.Err(), "list opted-out numbers")
}

func (t *smsTx) ClearOptedOut(ctx context.Context, accountID, list string) error {
	_, err := t.exec(ctx, "clear opt-out list",
		`DELETE FROM sms_opted_out WHERE account_id = ? AND list_name = ?`, accountID, list)
	return err
}

const smsMessageCols = `id, account_id, provider_id, final, body, created_at, updated_at, lease_owner, lease_until`

func scanSMSMessage(sc interface{ Scan(...any) error }) (*sms.MessageRecord, error) {
	var (
		m             sms.MessageRecord
		cat, uat, lat int64
	)
	if err := sc.Scan(&m.ID, &m.AccountID, &m.ProviderID, &m.Final, &m.Body, &cat, &uat, &m.LeaseOwner, &lat); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = fromMS(cat), fromMS(uat)
	if lat != 0 {
		m.LeaseUntil = fromMS(lat)
	}
	return &m, nil
}

func (t *smsTx) InsertMessage(ctx context.Context, m *sms.MessageRecord) error {
	now := time.Now()
	m.CreatedAt = stored(m.CreatedAt, now)
	m.UpdatedAt = stored(m.UpdatedAt, m.CreatedAt)
	res, err := t.exec(ctx, "insert sms message",
		`INSERT INTO sms_messages (`+smsMessageCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		m.ID, m.AccountID, m.ProviderID, m.Final, nonNil(m.Body), ms(m.CreatedAt), ms(m.UpdatedAt), m.LeaseOwner, leaseMS(m))
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return conflict("message", m.ID, "message %s already exists", m.ID)
	}
	return nil
}

// getMessage reads a message and locks it until the transaction ends, so
// that a receipt's read-modify-write cannot lose another's. SQLite
// transactions hold the database's write lock from BEGIN; PostgreSQL needs
// the row locked.
func (t *smsTx) getMessage(ctx context.Context, ident, where string, args ...any) (*sms.MessageRecord, error) {
	query := `SELECT ` + smsMessageCols + ` FROM sms_messages WHERE ` + where
	if t.s.d.Name() == "postgres" && !t.readOnly {
		query += ` FOR UPDATE`
	}
	m, err := scanSMSMessage(t.row(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("message", ident, "message %s not found", ident)
	}
	return m, t.s.wrap(err, "get sms message")
}

func (t *smsTx) GetMessage(ctx context.Context, id string) (*sms.MessageRecord, error) {
	return t.getMessage(ctx, id, `id = ?`, id)
}

func (t *smsTx) GetMessageByProvider(ctx context.Context, providerID string) (*sms.MessageRecord, error) {
	if providerID == "" {
		return nil, notFound("message", "", "message with an empty provider ID not found")
	}
	// The newest message whose first part or another part has the id
	// (carriers reuse ids in time). provider_id <> '' lets the partial
	// index sms_messages_provider serve the look-up: neither database can
	// tell that a bound parameter is not '' (without it, every receipt
	// scanned the whole table).
	return t.getMessage(ctx, providerID, `id = (SELECT id FROM (
		SELECT id, created_at FROM sms_messages WHERE provider_id = ? AND provider_id <> ''
		UNION ALL
		SELECT m.id, m.created_at FROM sms_message_parts p JOIN sms_messages m ON m.id = p.message_id WHERE p.provider_id = ?
	) AS c ORDER BY created_at DESC LIMIT 1)`, providerID, providerID)
}

func (t *smsTx) InsertMessageParts(ctx context.Context, messageID string, providerIDs []string) error {
	now := ms(time.Now())
	for _, p := range providerIDs {
		if p == "" {
			continue
		}
		if _, err := t.exec(ctx, "insert sms message part",
			`INSERT INTO sms_message_parts (provider_id, message_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			p, messageID, now); err != nil {
			return err
		}
	}
	return nil
}

func (t *smsTx) UpdateMessage(ctx context.Context, m *sms.MessageRecord) error {
	m.UpdatedAt = stored(m.UpdatedAt, time.Now())
	res, err := t.exec(ctx, "update sms message",
		`UPDATE sms_messages SET provider_id = ?, final = ?, body = ?, updated_at = ?, lease_owner = '', lease_until = 0 WHERE id = ?`,
		m.ProviderID, m.Final, nonNil(m.Body), ms(m.UpdatedAt), m.ID)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return notFound("message", m.ID, "message %s not found", m.ID)
	}
	m.LeaseOwner, m.LeaseUntil = "", time.Time{}
	return nil
}

// leaseMS is m's lease_until: 0 without a lease.
func leaseMS(m *sms.MessageRecord) int64 {
	if m.LeaseOwner == "" || m.LeaseUntil.IsZero() {
		return 0
	}
	return ms(m.LeaseUntil)
}

func (t *smsTx) LeasedMessages(ctx context.Context, owner func(string) bool, before time.Time, limit int) ([]*sms.MessageRecord, error) {
	// lease_owner <> '' as the partial index sms_messages_lease has it.
	where, args := `lease_owner <> ''`, []any{}
	if !before.IsZero() {
		where, args = where+` AND lease_until < ?`, append(args, ms(before))
	}
	rows, err := t.query(ctx, "leased sms messages",
		`SELECT `+smsMessageCols+` FROM sms_messages WHERE `+where+` ORDER BY lease_until, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sms.MessageRecord
	for rows.Next() && len(out) < limit {
		m, err := scanSMSMessage(rows)
		if err != nil {
			return nil, t.s.wrap(err, "leased sms messages")
		}
		if owner == nil || owner(m.LeaseOwner) {
			out = append(out, m)
		}
	}
	return out, t.s.wrap(rows.Err(), "leased sms messages")
}

func (t *smsTx) PendingMessages(ctx context.Context, before time.Time, limit int) ([]*sms.MessageRecord, error) {
	// final as the partial index sms_messages_pending spells it, a
	// literal, so that the index serves the sweep instead of a scan.
	notFinal := "final = 0"
	if t.s.d.Name() == "postgres" {
		notFinal = "final = FALSE"
	}
	rows, err := t.query(ctx, "pending sms messages",
		`SELECT `+smsMessageCols+` FROM sms_messages WHERE `+notFinal+` AND created_at < ? ORDER BY created_at LIMIT ?`,
		ms(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*sms.MessageRecord
	for rows.Next() {
		m, err := scanSMSMessage(rows)
		if err != nil {
			return nil, t.s.wrap(err, "pending sms messages")
		}
		out = append(out, m)
	}
	return out, t.s.wrap(rows.Err(), "pending sms messages")
}

func (t *smsTx) Enqueue(ctx context.Context, js ...sms.Job) error {
	if t.s.queue == nil {
		return errors.New("store: Enqueue: no job queue")
	}
	if len(js) == 1 {
		return t.s.wrap(t.s.queue.InsertTx(ctx, t.tx, js[0], nil), fmt.Sprintf("enqueue %s", js[0].Kind()))
	}
	return t.s.wrap(jobs.InsertManyTx(ctx, t.s.queue, t.tx, js), "enqueue")
}
