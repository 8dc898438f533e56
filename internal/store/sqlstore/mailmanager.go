package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
)

// txn is a mailmanager.Tx. Statements that may meet a taken name or key use
// ON CONFLICT DO NOTHING and look at the count rather than provoking the
// constraint error: a failed statement aborts a PostgreSQL transaction, and a
// caller that gets fault.Conflict must be able to go on in the same one.
type txn struct {
	s  *Store
	tx *sql.Tx
}

var _ mailmanager.Tx = (*txn)(nil)

func (t *txn) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	res, err := t.tx.ExecContext(ctx, t.s.q(query), args...)
	return res, t.s.wrap(err, op)
}

func (t *txn) query(ctx context.Context, op, query string, args ...any) (*sql.Rows, error) {
	rows, err := t.tx.QueryContext(ctx, t.s.q(query), args...)
	return rows, t.s.wrap(err, op)
}

func (t *txn) row(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.s.q(query), args...)
}

func affected(res sql.Result) int64 {
	n, _ := res.RowsAffected()
	return n
}

const resourceCols = `account_id, kind, id, name, arn, body, created_at, updated_at`

func scanResource(sc interface{ Scan(...any) error }) (*mailmanager.Resource, error) {
	var (
		r        mailmanager.Resource
		kind     string
		cat, uat int64
	)
	if err := sc.Scan(&r.AccountID, &kind, &r.ID, &r.Name, &r.ARN, &r.Body, &cat, &uat); err != nil {
		return nil, err
	}
	r.Kind = mailmanager.Kind(kind)
	r.CreatedAt, r.UpdatedAt = fromMS(cat), fromMS(uat)
	if r.Body == nil {
		r.Body = []byte{}
	}
	return &r, nil
}

func (t *txn) Insert(ctx context.Context, r *mailmanager.Resource) error {
	if r.AccountID == "" || r.Kind == "" || r.ID == "" {
		return fault.Invalidf("a resource needs an account, a kind and an ID")
	}
	now := time.Now()
	r.CreatedAt = stored(r.CreatedAt, now)
	r.UpdatedAt = stored(r.UpdatedAt, r.CreatedAt)
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	res, err := t.exec(ctx, "insert resource",
		`INSERT INTO resources (`+resourceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.AccountID, string(r.Kind), r.ID, r.Name, r.ARN, body, ms(r.CreatedAt), ms(r.UpdatedAt))
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		var one int
		err := t.row(ctx, `SELECT 1 FROM resources WHERE account_id = ? AND kind = ? AND id = ?`,
			r.AccountID, string(r.Kind), r.ID).Scan(&one)
		switch {
		case err == nil:
			return conflict(string(r.Kind), r.ID, "%s %s already exists", noun(r.Kind), r.ID)
		case errors.Is(err, sql.ErrNoRows):
			return conflict(string(r.Kind), r.ID, "a %s named %q already exists", noun(r.Kind), r.Name)
		default:
			return t.s.wrap(err, "insert resource")
		}
	}
	return t.putRefs(ctx, r)
}

// putRefs stores r.Refs, sorted and without duplicates.
func (t *txn) putRefs(ctx context.Context, r *mailmanager.Resource) error {
	refs := slices.Clone(r.Refs)
	slices.Sort(refs)
	refs = slices.Compact(refs)
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		if _, err := t.exec(ctx, "insert refs",
			`INSERT INTO resource_refs (account_id, kind, id, ref_id) VALUES (?, ?, ?, ?)`,
			r.AccountID, string(r.Kind), r.ID, ref); err != nil {
			return err
		}
	}
	return nil
}

// refsOf loads the refs of one resource.
func (t *txn) refsOf(ctx context.Context, r *mailmanager.Resource) error {
	rows, err := t.query(ctx, "get refs",
		`SELECT ref_id FROM resource_refs WHERE account_id = ? AND kind = ? AND id = ? ORDER BY ref_id`,
		r.AccountID, string(r.Kind), r.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ref string
		if err := rows.Scan(&ref); err != nil {
			return t.s.wrap(err, "get refs")
		}
		r.Refs = append(r.Refs, ref)
	}
	return t.s.wrap(rows.Err(), "get refs")
}

func (t *txn) getWhere(ctx context.Context, kind mailmanager.Kind, ident, where string, args ...any) (*mailmanager.Resource, error) {
	r, err := scanResource(t.row(ctx, `SELECT `+resourceCols+` FROM resources WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(string(kind), ident, "%s %s not found", noun(kind), ident)
	}
	if err != nil {
		return nil, t.s.wrap(err, "get resource")
	}
	if err := t.refsOf(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

func (t *txn) Get(ctx context.Context, accountID string, kind mailmanager.Kind, id string) (*mailmanager.Resource, error) {
	return t.getWhere(ctx, kind, id, `account_id = ? AND kind = ? AND id = ?`, accountID, string(kind), id)
}

func (t *txn) GetByName(ctx context.Context, accountID string, kind mailmanager.Kind, name string) (*mailmanager.Resource, error) {
	if name == "" {
		return nil, notFound(string(kind), name, "%s with an empty name not found", noun(kind))
	}
	return t.getWhere(ctx, kind, fmt.Sprintf("%q", name), `account_id = ? AND kind = ? AND name = ?`, accountID, string(kind), name)
}

func (t *txn) Update(ctx context.Context, r *mailmanager.Resource) error {
	var oldARN string
	err := t.row(ctx, `SELECT arn FROM resources WHERE account_id = ? AND kind = ? AND id = ?`,
		r.AccountID, string(r.Kind), r.ID).Scan(&oldARN)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(string(r.Kind), r.ID, "%s %s not found", noun(r.Kind), r.ID)
	}
	if err != nil {
		return t.s.wrap(err, "update resource")
	}
	if r.Name != "" {
		var other string
		err := t.row(ctx, `SELECT id FROM resources WHERE account_id = ? AND kind = ? AND name = ? AND id <> ?`,
			r.AccountID, string(r.Kind), r.Name, r.ID).Scan(&other)
		if err == nil {
			return conflict(string(r.Kind), r.ID, "a %s named %q already exists", noun(r.Kind), r.Name)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return t.s.wrap(err, "update resource")
		}
	}
	r.UpdatedAt = stored(r.UpdatedAt, time.Now())
	body := r.Body
	if body == nil {
		body = []byte{}
	}
	if _, err := t.exec(ctx, "update resource",
		`UPDATE resources SET name = ?, arn = ?, body = ?, updated_at = ? WHERE account_id = ? AND kind = ? AND id = ?`,
		r.Name, r.ARN, body, ms(r.UpdatedAt), r.AccountID, string(r.Kind), r.ID); err != nil {
		if _, ok := t.s.d.UniqueViolation(err); ok {
			// A concurrent transaction took the name after the check.
			return conflict(string(r.Kind), r.ID, "a %s named %q already exists", noun(r.Kind), r.Name)
		}
		return err
	}
	if _, err := t.exec(ctx, "update refs",
		`DELETE FROM resource_refs WHERE account_id = ? AND kind = ? AND id = ?`,
		r.AccountID, string(r.Kind), r.ID); err != nil {
		return err
	}
	if err := t.putRefs(ctx, r); err != nil {
		return err
	}
	// Tags are kept by ARN: they follow the resource if its ARN changes.
	if oldARN != "" && oldARN != r.ARN {
		if _, err := t.exec(ctx, "move tags",
			`UPDATE tags SET arn = ? WHERE account_id = ? AND arn = ?`, r.ARN, r.AccountID, oldARN); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) Delete(ctx context.Context, accountID string, kind mailmanager.Kind, id string) error {
	var arn string
	err := t.row(ctx, `SELECT arn FROM resources WHERE account_id = ? AND kind = ? AND id = ?`,
		accountID, string(kind), id).Scan(&arn)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(string(kind), id, "%s %s not found", noun(kind), id)
	}
	if err != nil {
		return t.s.wrap(err, "delete resource")
	}
	steps := []struct {
		query string
		args  []any
	}{
		{`DELETE FROM resource_refs WHERE account_id = ? AND kind = ? AND id = ?`, []any{accountID, string(kind), id}},
		{`DELETE FROM resources WHERE account_id = ? AND kind = ? AND id = ?`, []any{accountID, string(kind), id}},
		{`DELETE FROM tags WHERE account_id = ? AND arn = ?`, []any{accountID, arn}},
		{`DELETE FROM claims WHERE owner_id = ?`, []any{id}},
	}
	if kind == mailmanager.KindAddressList {
		steps = append(steps, struct {
			query string
			args  []any
		}{`DELETE FROM address_list_members WHERE list_id = ?`, []any{id}})
	}
	for _, st := range steps {
		if _, err := t.exec(ctx, "delete resource", st.query, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// limitClause returns " LIMIT n", or "" for no limit (limit <= 0).
func limitClause(limit int) string {
	if limit <= 0 {
		return ""
	}
	return fmt.Sprintf(" LIMIT %d", limit)
}

func (t *txn) List(ctx context.Context, accountID string, kind mailmanager.Kind, after string, limit int) ([]*mailmanager.Resource, error) {
	rs, err := t.resources(ctx, `SELECT `+resourceCols+` FROM resources
		WHERE account_id = ? AND kind = ? AND id > ? ORDER BY id`+limitClause(limit),
		accountID, string(kind), after)
	if err != nil || len(rs) == 0 {
		return rs, err
	}
	// The refs of the page in one query: its IDs are one contiguous range.
	refs, err := t.refsRange(ctx, `SELECT account_id, id, ref_id FROM resource_refs
		WHERE account_id = ? AND kind = ? AND id >= ? AND id <= ? ORDER BY id, ref_id`,
		accountID, string(kind), rs[0].ID, rs[len(rs)-1].ID)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		r.Refs = refs[[2]string{r.AccountID, r.ID}]
	}
	return rs, nil
}

func (t *txn) ListAll(ctx context.Context, kind mailmanager.Kind) ([]*mailmanager.Resource, error) {
	rs, err := t.resources(ctx, `SELECT `+resourceCols+` FROM resources WHERE kind = ? ORDER BY account_id, id`, string(kind))
	if err != nil || len(rs) == 0 {
		return rs, err
	}
	refs, err := t.refsRange(ctx, `SELECT account_id, id, ref_id FROM resource_refs WHERE kind = ? ORDER BY account_id, id, ref_id`, string(kind))
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		r.Refs = refs[[2]string{r.AccountID, r.ID}]
	}
	return rs, nil
}

func (t *txn) resources(ctx context.Context, query string, args ...any) ([]*mailmanager.Resource, error) {
	rows, err := t.query(ctx, "list resources", query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rs := []*mailmanager.Resource{}
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, t.s.wrap(err, "list resources")
		}
		rs = append(rs, r)
	}
	return rs, t.s.wrap(rows.Err(), "list resources")
}

func (t *txn) refsRange(ctx context.Context, query string, args ...any) (map[[2]string][]string, error) {
	rows, err := t.query(ctx, "list refs", query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[[2]string][]string{}
	for rows.Next() {
		var acct, id, ref string
		if err := rows.Scan(&acct, &id, &ref); err != nil {
			return nil, t.s.wrap(err, "list refs")
		}
		k := [2]string{acct, id}
		m[k] = append(m[k], ref)
	}
	return m, t.s.wrap(rows.Err(), "list refs")
}

func (t *txn) ReferencedBy(ctx context.Context, accountID, id string) ([]mailmanager.Ref, error) {
	rows, err := t.query(ctx, "referenced by", `SELECT r.kind, r.id, r.name
		FROM resource_refs f
		JOIN resources r ON r.account_id = f.account_id AND r.kind = f.kind AND r.id = f.id
		WHERE f.account_id = ? AND f.ref_id = ?
		ORDER BY r.kind, r.id`, accountID, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	refs := []mailmanager.Ref{}
	for rows.Next() {
		var (
			ref  mailmanager.Ref
			kind string
		)
		if err := rows.Scan(&kind, &ref.ID, &ref.Name); err != nil {
			return nil, t.s.wrap(err, "referenced by")
		}
		ref.Kind = mailmanager.Kind(kind)
		refs = append(refs, ref)
	}
	return refs, t.s.wrap(rows.Err(), "referenced by")
}

func (t *txn) Claim(ctx context.Context, namespace, key, ownerID string) error {
	res, err := t.exec(ctx, "claim",
		`INSERT INTO claims (namespace, key, owner_id) VALUES (?, ?, ?) ON CONFLICT (namespace, key) DO NOTHING`,
		namespace, key, ownerID)
	if err != nil {
		return err
	}
	if affected(res) == 1 {
		return nil
	}
	owner, err := t.Claimed(ctx, namespace, key)
	if err != nil {
		return err
	}
	if owner == ownerID {
		return nil
	}
	return &fault.Error{Kind: fault.Conflict, Message: fmt.Sprintf("%s %s is already in use by %s", namespace, key, owner), ResourceID: owner}
}

func (t *txn) Claimed(ctx context.Context, namespace, key string) (string, error) {
	var owner string
	err := t.row(ctx, `SELECT owner_id FROM claims WHERE namespace = ? AND key = ?`, namespace, key).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return owner, t.s.wrap(err, "claimed")
}

func (t *txn) Release(ctx context.Context, namespace, ownerID string) error {
	_, err := t.exec(ctx, "release", `DELETE FROM claims WHERE namespace = ? AND owner_id = ?`, namespace, ownerID)
	return err
}

func (t *txn) Tags(ctx context.Context, accountID, arn string) (map[string]string, error) {
	rows, err := t.query(ctx, "tags", `SELECT key, value FROM tags WHERE account_id = ? AND arn = ?`, accountID, arn)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tags := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, t.s.wrap(err, "tags")
		}
		tags[k] = v
	}
	return tags, t.s.wrap(rows.Err(), "tags")
}

func (t *txn) SetTags(ctx context.Context, accountID, arn string, tags map[string]string) error {
	for k, v := range tags {
		if _, err := t.exec(ctx, "set tags",
			`INSERT INTO tags (account_id, arn, key, value) VALUES (?, ?, ?, ?)
			ON CONFLICT (account_id, arn, key) DO UPDATE SET value = excluded.value`,
			accountID, arn, k, v); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) RemoveTags(ctx context.Context, accountID, arn string, keys []string) error {
	for _, k := range keys {
		if _, err := t.exec(ctx, "remove tags",
			`DELETE FROM tags WHERE account_id = ? AND arn = ? AND key = ?`, accountID, arn, k); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) AddMember(ctx context.Context, listID, address string, at time.Time) error {
	res, err := t.exec(ctx, "add member",
		`INSERT INTO address_list_members (list_id, address, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		listID, address, ms(stored(at, time.Now())))
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return conflict(string(mailmanager.KindAddressList), listID, "address %s is already a member of address list %s", address, listID)
	}
	return nil
}

// memberBatch is how many rows one INSERT of AddMembers carries: 3
// parameters each stays far below SQLite's and PostgreSQL's limits.
const memberBatch = 200

func (t *txn) AddMembers(ctx context.Context, listID string, addresses []string, at time.Time) (int, error) {
	addrs := slices.Clone(addresses)
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	when := ms(stored(at, time.Now()))
	added := 0
	for chunk := range slices.Chunk(addrs, memberBatch) {
		var b strings.Builder
		b.WriteString(`INSERT INTO address_list_members (list_id, address, created_at) VALUES `)
		args := make([]any, 0, 3*len(chunk))
		for i, a := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, listID, a, when)
		}
		b.WriteString(` ON CONFLICT DO NOTHING`)
		// Not through t.exec: each batch size is its own query text, and
		// the rebinding cache should hold only the two that recur.
		res, err := t.tx.ExecContext(ctx, t.s.q(b.String()), args...)
		if err != nil {
			return added, t.s.wrap(err, "add members")
		}
		added += int(affected(res))
	}
	return added, nil
}

func (t *txn) RemoveMember(ctx context.Context, listID, address string) error {
	res, err := t.exec(ctx, "remove member",
		`DELETE FROM address_list_members WHERE list_id = ? AND address = ?`, listID, address)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return notFound("address-list-member", address, "address %s is not a member of address list %s", address, listID)
	}
	return nil
}

func (t *txn) GetMember(ctx context.Context, listID, address string) (*Member, error) {
	var at int64
	err := t.row(ctx, `SELECT created_at FROM address_list_members WHERE list_id = ? AND address = ?`, listID, address).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("address-list-member", address, "address %s is not a member of address list %s", address, listID)
	}
	if err != nil {
		return nil, t.s.wrap(err, "get member")
	}
	return &Member{Address: address, CreatedAt: fromMS(at)}, nil
}

// Member is mailmanager.Member, named here for brevity.
type Member = mailmanager.Member

func (t *txn) ListMembers(ctx context.Context, listID, prefix, after string, limit int) ([]Member, error) {
	where := `list_id = ? AND address > ?`
	args := []any{listID, after}
	if prefix != "" {
		// The range bounds let the primary key index do the work; HasPrefix
		// keeps the answer exact where no upper bound can be computed.
		where += ` AND address >= ? AND ` + t.s.d.HasPrefix("address")
		args = append(args, prefix, prefix)
		if up, ok := successor(prefix); ok {
			where += ` AND address < ?`
			args = append(args, up)
		}
	}
	rows, err := t.tx.QueryContext(ctx, t.s.q(`SELECT address, created_at FROM address_list_members WHERE `+where+` ORDER BY address`+limitClause(limit)), args...)
	if err != nil {
		return nil, t.s.wrap(err, "list members")
	}
	defer rows.Close()
	out := []Member{}
	for rows.Next() {
		var (
			m  Member
			at int64
		)
		if err := rows.Scan(&m.Address, &at); err != nil {
			return nil, t.s.wrap(err, "list members")
		}
		m.CreatedAt = fromMS(at)
		out = append(out, m)
	}
	return out, t.s.wrap(rows.Err(), "list members")
}

// successor returns the least valid UTF-8 string greater than every string
// that starts with p, by incrementing p's last rune; byte order of UTF-8 is
// code point order, so the range [p, successor) is exactly p's extensions.
func successor(p string) (string, bool) {
	r, size := utf8.DecodeLastRuneInString(p)
	if r == utf8.RuneError || r == utf8.MaxRune {
		return "", false
	}
	next := r + 1
	if next == 0xD800 { // skip the surrogates, which UTF-8 cannot carry
		next = 0xE000
	}
	return p[:len(p)-size] + string(next), true
}

func (t *txn) CountMembers(ctx context.Context, listID string) (int64, error) {
	var n int64
	err := t.row(ctx, `SELECT count(*) FROM address_list_members WHERE list_id = ?`, listID).Scan(&n)
	return n, t.s.wrap(err, "count members")
}

func (t *txn) Enqueue(ctx context.Context, job mailmanager.Job) error {
	if t.s.queue == nil {
		return errors.New("store: Enqueue: no job queue")
	}
	// mailmanager.Job has river.JobArgs' method set; a job that also has
	// InsertOpts() river.InsertOpts gets River's options from it.
	return t.s.wrap(t.s.queue.InsertTx(ctx, t.tx, job, nil), "enqueue")
}
