package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/fault"
)

// ArchiveStore is the archive.Store over the database. The full-text index
// is an FTS5 table on SQLite and a tsvector column with a GIN index on
// PostgreSQL; both are fed the archive package's tokens, never text, and
// queried with those tokens as words and phrases, so that both find the
// same messages (the conformance suite checks it).
type ArchiveStore struct{ s *Store }

var _ archive.Store = ArchiveStore{}

// Archive returns the archive store.
func (s *Store) Archive() ArchiveStore { return ArchiveStore{s} }

func (a ArchiveStore) pg() bool { return a.s.d.Name() == "postgres" }

const arcMsgCols = `m.account_id, m.archive_id, m.id, m.received_at, m.blob_key, m.size, m.stored_size,
	m.sha256, m.compression, m.malformed, m.has_attachments, m.meta, m.data_key_id`

func arcScanMessage(sc interface{ Scan(...any) error }, extra ...any) (*archive.Message, error) {
	var (
		m    archive.Message
		at   int64
		meta string
	)
	dst := append([]any{&m.AccountID, &m.ArchiveID, &m.ID, &at, &m.BlobKey, &m.Size, &m.StoredSize,
		&m.SHA256, &m.Compression, &m.Malformed, &m.HasAttachments, &meta, &m.DataKeyID}, extra...)
	if err := sc.Scan(dst...); err != nil {
		return nil, err
	}
	m.ReceivedAt = fromMS(at)
	if err := json.Unmarshal([]byte(meta), &m.Meta); err != nil {
		return nil, fmt.Errorf("message %s: bad metadata: %w", m.ID, err)
	}
	return &m, nil
}

// arcFolded returns the f_* column values of m, in column order.
func arcFolded(m *archive.Message) []any {
	return []any{
		archive.Fold(m.Meta.Subject), archive.Fold(m.Meta.From), archive.Fold(m.Meta.To),
		archive.Fold(m.Meta.Cc), archive.Fold(strings.Join(m.Meta.SearchEnvelopeFrom(), "\n")),
		archive.Fold(strings.Join(m.Meta.SearchEnvelopeTo(), "\n")),
	}
}

func (a ArchiveStore) InsertMessage(ctx context.Context, m *archive.Message, doc *archive.Document) error {
	return a.InsertMessages(ctx, []archive.Insert{{Message: m, Doc: doc}})
}

func (a ArchiveStore) InsertMessages(ctx context.Context, batch []archive.Insert) error {
	for _, in := range batch {
		if m := in.Message; m == nil || m.AccountID == "" || m.ArchiveID == "" || m.ID == "" {
			return fault.Invalidf("an archived message needs an account, an archive and an ID")
		}
	}
	return a.s.inTx(ctx, func(tx *sql.Tx) error {
		for _, in := range batch {
			if err := a.insertMessage(ctx, tx, in.Message, in.Doc); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a ArchiveStore) insertMessage(ctx context.Context, tx *sql.Tx, m *archive.Message, doc *archive.Document) error {
	if doc == nil {
		doc = &archive.Document{}
	}
	meta, err := json.Marshal(m.Meta)
	if err != nil {
		return fmt.Errorf("store: message metadata: %w", err)
	}
	m.ReceivedAt = fromMS(ms(m.ReceivedAt))
	args := append([]any{m.AccountID, m.ArchiveID, m.ID, ms(m.ReceivedAt), m.BlobKey, m.Size, m.StoredSize,
		m.SHA256, m.Compression, m.Malformed, m.HasAttachments}, arcFolded(m)...)
	args = append(args, string(meta), m.DataKeyID)
	const cols = `account_id, archive_id, id, received_at, blob_key, size, stored_size, sha256, compression,
		malformed, has_attachments, f_subject, f_from, f_to, f_cc, f_env_from, f_env_to, meta, data_key_id`
	if a.pg() {
		_, err := tx.ExecContext(ctx, a.s.q(`INSERT INTO archive_messages (`+cols+`, tsv)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS tsvector))`),
			append(args, arcTsvector(doc))...)
		return a.insertErr(err, m)
	}
	res, err := tx.ExecContext(ctx, a.s.q(`INSERT INTO archive_messages (`+cols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...)
	if err != nil {
		return a.insertErr(err, m)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return a.s.wrap(err, "insert archived message")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO archive_fts (rowid, subject, sender, recipients, body) VALUES (?, ?, ?, ?, ?)`,
		seq, strings.Join(doc.Subject, " "), strings.Join(doc.Sender, " "),
		strings.Join(doc.Recipients, " "), strings.Join(doc.Body, " "))
	return a.s.wrap(err, "index archived message")
}

func (a ArchiveStore) insertErr(err error, m *archive.Message) error {
	if _, ok := a.s.d.UniqueViolation(err); ok {
		return conflict("archived-message", m.ID, "archived message %s already exists", m.ID)
	}
	return a.s.wrap(err, "insert archived message")
}

// PostgreSQL's tsvector: at most 16383 positions, 256 per lexeme.
const (
	arcMaxTSPosition    = 16383
	arcMaxTSLexemeNPos  = 256
	arcTsFieldGap       = 1 // an unused position between fields: no phrase spans two
	arcTsWeightSubject  = "A"
	arcTsWeightSender   = "B"
	arcTsWeightRecipint = "C"
)

// arcTsvector returns the tsvector literal of doc ('word':1A,7 'other':2A …),
// cast to tsvector in SQL as it is: no parser or dictionary touches it.
func arcTsvector(doc *archive.Document) string {
	type occ struct{ pos []string }
	lex := map[string]*occ{}
	var order []string
	pos := 1
	add := func(tokens []string, weight string) {
		for _, t := range tokens {
			if pos > arcMaxTSPosition {
				return
			}
			o := lex[t]
			if o == nil {
				o = &occ{}
				lex[t] = o
				order = append(order, t)
			}
			if len(o.pos) < arcMaxTSLexemeNPos {
				o.pos = append(o.pos, strconv.Itoa(pos)+weight)
			}
			pos++
		}
		pos += arcTsFieldGap
	}
	add(doc.Subject, arcTsWeightSubject)
	add(doc.Sender, arcTsWeightSender)
	add(doc.Recipients, arcTsWeightRecipint)
	add(doc.Body, "") // D, the default
	sort.Strings(order)
	var b strings.Builder
	for i, t := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(arcTsQuote(t))
		b.WriteByte(':')
		b.WriteString(strings.Join(lex[t].pos, ","))
	}
	return b.String()
}

// arcTsQuote quotes a lexeme for arcTsvector and arcTsquery input.
func arcTsQuote(t string) string {
	t = strings.ReplaceAll(t, `\`, `\\`)
	return "'" + strings.ReplaceAll(t, "'", "''") + "'"
}

func arcTsWeight(f archive.Field) string {
	switch f {
	case archive.FieldSubject:
		return arcTsWeightSubject
	case archive.FieldSender:
		return arcTsWeightSender
	case archive.FieldRecipients:
		return arcTsWeightRecipint
	case archive.FieldBody:
		return "D"
	}
	return ""
}

// arcTsquery returns the arcTsquery of terms joined by op ("&" or "|").
func arcTsquery(terms []archive.Term, op string) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		w := arcTsWeight(t.Field)
		words := make([]string, len(t.Tokens))
		for i, tok := range t.Tokens {
			words[i] = arcTsQuote(tok)
			if w != "" {
				words[i] += ":" + w
			}
		}
		parts = append(parts, "("+strings.Join(words, " <-> ")+")")
	}
	return strings.Join(parts, " "+op+" ")
}

func arcFtsColumn(f archive.Field) string {
	switch f {
	case archive.FieldSubject:
		return "subject"
	case archive.FieldSender:
		return "sender"
	case archive.FieldRecipients:
		return "recipients"
	case archive.FieldBody:
		return "body"
	}
	return ""
}

// arcFtsMatch returns the FTS5 query of terms joined by op ("AND", "OR").
// Tokens are letters and digits only, so quoting them is safe.
func arcFtsMatch(terms []archive.Term, op string) string {
	parts := make([]string, 0, len(terms))
	for _, t := range terms {
		p := `"` + strings.Join(t.Tokens, " ") + `"`
		if c := arcFtsColumn(t.Field); c != "" {
			p = "{" + c + "} : " + p
		}
		parts = append(parts, "("+p+")")
	}
	return strings.Join(parts, " "+op+" ")
}

func (a ArchiveStore) GetMessage(ctx context.Context, accountID, id string) (*archive.Message, error) {
	m, err := arcScanMessage(a.s.rdb.QueryRowContext(ctx, a.s.q(`SELECT `+arcMsgCols+` FROM archive_messages m WHERE m.account_id = ? AND m.id = ?`), accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("archived-message", id, "archived message %s not found", id)
	}
	return m, a.s.wrap(err, "get archived message")
}

func (a ArchiveStore) queryMessages(ctx context.Context, op, query string, args ...any) ([]*archive.Message, error) {
	rows, err := a.s.rdb.QueryContext(ctx, a.s.q(query), args...)
	if err != nil {
		return nil, a.s.wrap(err, op)
	}
	defer rows.Close()
	var out []*archive.Message
	for rows.Next() {
		m, err := arcScanMessage(rows)
		if err != nil {
			return nil, a.s.wrap(err, op)
		}
		out = append(out, m)
	}
	return out, a.s.wrap(rows.Err(), op)
}

// contains is the dialect's substring test of a column and a bound value.
func (a ArchiveStore) contains(col string) string {
	if a.pg() {
		return "strpos(" + col + ", ?) > 0"
	}
	return "instr(" + col + ", ?) > 0"
}

var arcAttrColumn = map[archive.Attribute]string{
	archive.AttrTo: "m.f_to", archive.AttrFrom: "m.f_from", archive.AttrCc: "m.f_cc",
	archive.AttrSubject: "m.f_subject", archive.AttrEnvelopeTo: "m.f_env_to",
	archive.AttrEnvelopeFrom: "m.f_env_from",
}

// condition returns the SQL of one filter condition and its arguments.
func (a ArchiveStore) condition(c archive.Condition) (string, []any, error) {
	if c.Attr == archive.AttrHasAttachments {
		return "m.has_attachments = ?", []any{c.Bool}, nil
	}
	col, ok := arcAttrColumn[c.Attr]
	if !ok || len(c.Values) == 0 {
		return "", nil, fault.Invalidf("bad filter condition on %q", c.Attr)
	}
	ors := make([]string, len(c.Values))
	args := make([]any, len(c.Values))
	for i, v := range c.Values {
		ors[i], args[i] = a.contains(col), v
	}
	return "(" + strings.Join(ors, " OR ") + ")", args, nil
}

// filterWhere returns the WHERE clause of f (without its cursor).
func (a ArchiveStore) filterWhere(f *archive.Filter) (string, []any, error) {
	where := []string{"m.account_id = ?", "m.archive_id = ?"}
	args := []any{f.AccountID, f.ArchiveID}
	if !f.Since.IsZero() {
		where, args = append(where, "m.received_at >= ?"), append(args, ms(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "m.received_at < ?"), append(args, ms(f.Until))
	}
	for _, c := range f.Include {
		sqlc, cargs, err := a.condition(c)
		if err != nil {
			return "", nil, err
		}
		where, args = append(where, sqlc), append(args, cargs...)
	}
	for _, c := range f.Unless {
		sqlc, cargs, err := a.condition(c)
		if err != nil {
			return "", nil, err
		}
		where, args = append(where, "NOT "+sqlc), append(args, cargs...)
	}
	return strings.Join(where, " AND "), args, nil
}

func (a ArchiveStore) FilterMessages(ctx context.Context, f *archive.Filter) ([]*archive.Message, error) {
	where, args, err := a.filterWhere(f)
	if err != nil {
		return nil, err
	}
	if c := f.After; c != nil {
		where += " AND (m.received_at < ? OR (m.received_at = ? AND m.id < ?))"
		args = append(args, ms(c.ReceivedAt), ms(c.ReceivedAt), c.ID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	return a.queryMessages(ctx, "filter archived messages",
		`SELECT `+arcMsgCols+` FROM archive_messages m WHERE `+where+` ORDER BY m.received_at DESC, m.id DESC LIMIT ?`,
		append(args, limit)...)
}

func (a ArchiveStore) CountMessages(ctx context.Context, f *archive.Filter) (int64, error) {
	where, args, err := a.filterWhere(f)
	if err != nil {
		return 0, err
	}
	var n int64
	err = a.s.rdb.QueryRowContext(ctx, a.s.q(`SELECT count(*) FROM archive_messages m WHERE `+where), args...).Scan(&n)
	return n, a.s.wrap(err, "count archived messages")
}

func (a ArchiveStore) SearchMessages(ctx context.Context, q *archive.Query) ([]archive.Hit, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	offset := max(q.Offset, 0)
	if len(q.Must) > 0 {
		return a.searchRanked(ctx, q, offset, limit)
	}
	where := []string{"m.account_id = ?", "m.archive_id = ?"}
	args := []any{q.AccountID, q.ArchiveID}
	fw, fargs := a.searchFilters(q, "m.received_at")
	where, args = append(where, fw...), append(args, fargs...)
	query := `SELECT ` + arcMsgCols + ` FROM archive_messages m WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY m.received_at DESC, m.id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, offset)
	rows, err := a.s.rdb.QueryContext(ctx, a.s.q(query), args...)
	if err != nil {
		return nil, a.s.wrap(err, "search archived messages")
	}
	defer rows.Close()
	var out []archive.Hit
	for rows.Next() {
		m, err := arcScanMessage(rows)
		if err != nil {
			return nil, a.s.wrap(err, "search archived messages")
		}
		out = append(out, archive.Hit{Message: m})
	}
	return out, a.s.wrap(rows.Err(), "search archived messages")
}

// searchFilters returns the conditions of q besides its words and
// archive: attachments, the time range, the negated terms. at is the
// received_at column as the query should test it.
func (a ArchiveStore) searchFilters(q *archive.Query, at string) (where []string, args []any) {
	if q.HasAttachments != nil {
		where, args = append(where, "m.has_attachments = ?"), append(args, *q.HasAttachments)
	}
	if !q.Since.IsZero() {
		where, args = append(where, at+" >= ?"), append(args, ms(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, at+" < ?"), append(args, ms(q.Until))
	}
	if len(q.Not) > 0 {
		if a.pg() {
			where, args = append(where, "NOT (m.tsv @@ CAST(? AS tsquery))"), append(args, arcTsquery(q.Not, "|"))
		} else {
			where = append(where, "m.seq NOT IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?)")
			args = append(args, arcFtsMatch(q.Not, "OR"))
		}
	}
	return where, args
}

// arcRanked is a match of a ranked search: the rowid of a message, its
// score and what orders equal scores.
type arcRanked struct {
	seq   int64
	score float64
	at    int64
	id    string
}

// arcRankLess orders the matches of a window: score, then newest first.
func arcRankLess(x, y arcRanked) bool {
	if x.score != y.score {
		return x.score > y.score
	}
	if x.at != y.at {
		return x.at > y.at
	}
	return x.id > y.id
}

// searchRanked runs a query with words. Ranking every match of a common
// word took time in the number of matches (a p50 of 485 ms over
// 1,000,000 messages): the score of each, and its row looked up for the
// filters. Instead matches are ranked by windows (archive.RankWindow):
// the newest matches, by when they were archived, ranked by score, then
// the window of the matches before them, and so on. A page costs its
// offset plus one window, whatever the number of matches.
func (a ArchiveStore) searchRanked(ctx context.Context, q *archive.Query, offset, limit int) ([]archive.Hit, error) {
	w := q.Window
	if w <= 0 {
		w = archive.RankWindow
	}
	need := offset + limit
	var newest []arcRanked
	var err error
	if a.pg() {
		newest, err = a.newestMatchesPG(ctx, q, (need+w-1)/w*w)
	} else {
		newest, err = a.newestMatches(ctx, q, (need+w-1)/w*w)
	}
	if err != nil {
		return nil, a.s.wrap(err, "search archived messages")
	}
	sort.Slice(newest, func(i, j int) bool { return newest[i].seq > newest[j].seq })
	for i := 0; i < len(newest); i += w {
		win := newest[i:min(i+w, len(newest))]
		sort.Slice(win, func(i, j int) bool { return arcRankLess(win[i], win[j]) })
	}
	if offset >= len(newest) {
		return nil, nil
	}
	return a.hitsBySeq(ctx, newest[offset:min(need, len(newest))])
}

// newestMatches returns the n newest matches of q on SQLite, scored.
// FTS5 walks the matches newest first and scores only those it returns;
// each is looked up for the archive and filters.
func (a ArchiveStore) newestMatches(ctx context.Context, q *archive.Query, n int) ([]arcRanked, error) {
	match := arcFtsMatch(q.Must, "AND")
	if len(q.Not) > 0 {
		// A negated term left out by FTS5 itself. Its phrases are in no
		// matching row, so they add nothing to bm25: the scores are those
		// of the words alone.
		match = "(" + match + ") NOT (" + arcFtsMatch(q.Not, "OR") + ")"
	}
	// The unary + keeps SQLite from driving the query by the time index
	// and re-running the full-text match per row. Each match is checked
	// in archive_messages_rank, not in its row (see its migration): for
	// a lookup by rowid SQLite would read the row.
	where := []string{"archive_fts MATCH ?", "+m.account_id = ?", "+m.archive_id = ?"}
	args := []any{match, q.AccountID, q.ArchiveID}
	noNot := *q
	noNot.Not = nil // in the match already
	fw, fargs := a.searchFilters(&noNot, "+m.received_at")
	where, args = append(where, fw...), append(args, fargs...)
	score := "-bm25(archive_fts, 8.0, 4.0, 4.0, 1.0)"
	if !q.Scored() {
		score = "0.0"
	}
	return a.scanRanked(ctx, `SELECT archive_fts.rowid, `+score+`, m.received_at, m.id
		FROM archive_fts JOIN archive_messages m INDEXED BY archive_messages_rank ON m.seq = archive_fts.rowid WHERE `+strings.Join(where, " AND ")+`
		ORDER BY archive_fts.rowid DESC LIMIT ?`, append(args, n)...)
}

// newestMatchesPG returns the n newest matches of q on PostgreSQL,
// scored: the index finds them, and only the newest n are ranked.
func (a ArchiveStore) newestMatchesPG(ctx context.Context, q *archive.Query, n int) ([]arcRanked, error) {
	tq := arcTsquery(q.Must, "&")
	where := []string{"m.account_id = ?", "m.archive_id = ?", "m.tsv @@ CAST(? AS tsquery)"}
	args := []any{tq, q.AccountID, q.ArchiveID, tq}
	fw, fargs := a.searchFilters(q, "m.received_at")
	where, args = append(where, fw...), append(args, fargs...)
	score := "ts_rank(r.tsv, CAST(? AS tsquery))"
	if !q.Scored() {
		score, args = "0.0", args[1:]
	}
	return a.scanRanked(ctx, a.s.q(`SELECT r.seq, `+score+`, r.received_at, r.id
		FROM archive_messages r WHERE r.seq IN (SELECT m.seq FROM archive_messages m WHERE `+strings.Join(where, " AND ")+`
		ORDER BY m.seq DESC LIMIT ?)`), append(args, n)...)
}

func (a ArchiveStore) scanRanked(ctx context.Context, query string, args ...any) ([]arcRanked, error) {
	rows, err := a.s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []arcRanked{}
	for rows.Next() {
		var c arcRanked
		if err := rows.Scan(&c.seq, &c.score, &c.at, &c.id); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// hitsBySeq reads the rows of ranked messages, in their order; one
// deleted meanwhile is left out.
func (a ArchiveStore) hitsBySeq(ctx context.Context, rank []arcRanked) ([]archive.Hit, error) {
	if len(rank) == 0 {
		return nil, nil
	}
	args := make([]any, len(rank))
	for i, r := range rank {
		args[i] = r.seq
	}
	rows, err := a.s.rdb.QueryContext(ctx, a.s.q(`SELECT `+arcMsgCols+`, m.seq FROM archive_messages m WHERE m.seq IN (?`+
		strings.Repeat(", ?", len(rank)-1)+`)`), args...)
	if err != nil {
		return nil, a.s.wrap(err, "search archived messages")
	}
	defer rows.Close()
	got := make(map[int64]*archive.Message, len(rank))
	for rows.Next() {
		var seq int64
		m, err := arcScanMessage(rows, &seq)
		if err != nil {
			return nil, a.s.wrap(err, "search archived messages")
		}
		got[seq] = m
	}
	if err := rows.Err(); err != nil {
		return nil, a.s.wrap(err, "search archived messages")
	}
	out := make([]archive.Hit, 0, len(rank))
	for _, r := range rank {
		if m := got[r.seq]; m != nil {
			out = append(out, archive.Hit{Message: m, Score: r.score})
		}
	}
	return out, nil
}

func (a ArchiveStore) ArchiveMessages(ctx context.Context, accountID, archiveID string, before time.Time, limit int) ([]*archive.Message, error) {
	where, args := "m.account_id = ? AND m.archive_id = ?", []any{accountID, archiveID}
	if !before.IsZero() {
		where, args = where+" AND m.received_at < ?", append(args, ms(before))
	}
	return a.queryMessages(ctx, "list archived messages",
		`SELECT `+arcMsgCols+` FROM archive_messages m WHERE `+where+` ORDER BY m.received_at, m.id LIMIT ?`,
		append(args, limit)...)
}

func (a ArchiveStore) Archives(ctx context.Context) ([]archive.ArchiveRef, error) {
	rows, err := a.s.rdb.QueryContext(ctx, `SELECT DISTINCT account_id, archive_id FROM archive_messages ORDER BY account_id, archive_id`)
	if err != nil {
		return nil, a.s.wrap(err, "list archives")
	}
	defer rows.Close()
	var out []archive.ArchiveRef
	for rows.Next() {
		var r archive.ArchiveRef
		if err := rows.Scan(&r.AccountID, &r.ArchiveID); err != nil {
			return nil, a.s.wrap(err, "list archives")
		}
		out = append(out, r)
	}
	return out, a.s.wrap(rows.Err(), "list archives")
}

func (a ArchiveStore) DeleteMessages(ctx context.Context, msgs []*archive.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return a.s.inTx(ctx, func(tx *sql.Tx) error {
		for _, m := range msgs {
			if a.pg() {
				if _, err := tx.ExecContext(ctx, a.s.q(`DELETE FROM archive_messages WHERE account_id = ? AND id = ?`), m.AccountID, m.ID); err != nil {
					return a.s.wrap(err, "delete archived message")
				}
				continue
			}
			var seq int64
			err := tx.QueryRowContext(ctx, `DELETE FROM archive_messages WHERE account_id = ? AND id = ? RETURNING seq`, m.AccountID, m.ID).Scan(&seq)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return a.s.wrap(err, "delete archived message")
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM archive_fts WHERE rowid = ?`, seq); err != nil {
				return a.s.wrap(err, "unindex archived message")
			}
		}
		return nil
	})
}

// Tasks.

const arcTaskCols = `account_id, kind, id, archive_id, state, request, error, submitted_at, completed_at, total, done`

func arcScanTask(sc interface{ Scan(...any) error }) (*archive.Task, error) {
	var (
		t        archive.Task
		kind     string
		req      string
		sub, cmp int64
	)
	if err := sc.Scan(&t.AccountID, &kind, &t.ID, &t.ArchiveID, &t.State, &req, &t.Error, &sub, &cmp, &t.Total, &t.Done); err != nil {
		return nil, err
	}
	t.Kind, t.Request, t.SubmittedAt = archive.TaskKind(kind), []byte(req), fromMS(sub)
	if cmp != 0 {
		t.CompletedAt = fromMS(cmp)
	}
	return &t, nil
}

func arcMsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

func (a ArchiveStore) CreateTask(ctx context.Context, t *archive.Task, job archive.Job) error {
	if t.AccountID == "" || t.ID == "" || t.Kind == "" {
		return fault.Invalidf("a task needs an account, a kind and an ID")
	}
	t.SubmittedAt = stored(t.SubmittedAt, time.Now())
	return a.s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, a.s.q(`INSERT INTO archive_tasks (`+arcTaskCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			t.AccountID, string(t.Kind), t.ID, t.ArchiveID, t.State, string(t.Request), t.Error,
			ms(t.SubmittedAt), arcMsOrZero(t.CompletedAt), t.Total, t.Done)
		if _, ok := a.s.d.UniqueViolation(err); ok {
			return conflict(string(t.Kind), t.ID, "%s %s already exists", t.Kind, t.ID)
		}
		if err != nil {
			return a.s.wrap(err, "create archive task")
		}
		if job == nil {
			return nil
		}
		if a.s.queue == nil {
			return errors.New("store: no job queue")
		}
		return a.s.wrap(a.s.queue.InsertTx(ctx, tx, job, nil), "enqueue")
	})
}

func (a ArchiveStore) GetTask(ctx context.Context, accountID string, kind archive.TaskKind, id string) (*archive.Task, error) {
	t, err := arcScanTask(a.s.rdb.QueryRowContext(ctx, a.s.q(`SELECT `+arcTaskCols+` FROM archive_tasks WHERE account_id = ? AND kind = ? AND id = ?`),
		accountID, string(kind), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(string(kind), id, "%s %s not found", kind, id)
	}
	return t, a.s.wrap(err, "get archive task")
}

func (a ArchiveStore) updateTask(ctx context.Context, ex interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, t *archive.Task, from []string) (bool, error) {
	query := `UPDATE archive_tasks SET state = ?, error = ?, completed_at = ?, total = ?, done = ?
		WHERE account_id = ? AND kind = ? AND id = ?`
	args := []any{t.State, t.Error, arcMsOrZero(t.CompletedAt), t.Total, t.Done, t.AccountID, string(t.Kind), t.ID}
	if len(from) > 0 {
		query += ` AND state IN (?` + strings.Repeat(", ?", len(from)-1) + `)`
		for _, f := range from {
			args = append(args, f)
		}
	}
	res, err := ex.ExecContext(ctx, a.s.q(query), args...)
	if err != nil {
		return false, a.s.wrap(err, "update archive task")
	}
	if !t.CompletedAt.IsZero() {
		t.CompletedAt = fromMS(ms(t.CompletedAt))
	}
	return affected(res) > 0, nil
}

func (a ArchiveStore) UpdateTask(ctx context.Context, t *archive.Task, from ...string) (bool, error) {
	return a.updateTask(ctx, a.s.db, t, from)
}

// arcResultsChunk rows per INSERT of search results.
const arcResultsChunk = 200

func (a ArchiveStore) CompleteSearch(ctx context.Context, t *archive.Task, ids []string, from ...string) (bool, error) {
	var done bool
	err := a.s.inTx(ctx, func(tx *sql.Tx) error {
		ok, err := a.updateTask(ctx, tx, t, from)
		if err != nil || !ok {
			return err
		}
		if _, err := tx.ExecContext(ctx, a.s.q(`DELETE FROM archive_search_results WHERE account_id = ? AND search_id = ?`), t.AccountID, t.ID); err != nil {
			return a.s.wrap(err, "store search results")
		}
		for start := 0; start < len(ids); start += arcResultsChunk {
			chunk := ids[start:min(start+arcResultsChunk, len(ids))]
			var b strings.Builder
			b.WriteString(`INSERT INTO archive_search_results (account_id, search_id, pos, message_id) VALUES `)
			args := make([]any, 0, 4*len(chunk))
			for i, id := range chunk {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString("(?, ?, ?, ?)")
				args = append(args, t.AccountID, t.ID, start+i, id)
			}
			if _, err := tx.ExecContext(ctx, a.s.d.Rebind(b.String()), args...); err != nil {
				return a.s.wrap(err, "store search results")
			}
		}
		done = true
		return nil
	})
	return done && err == nil, err
}

func (a ArchiveStore) SearchResults(ctx context.Context, accountID, searchID string) ([]*archive.Message, error) {
	return a.queryMessages(ctx, "get search results",
		`SELECT `+arcMsgCols+` FROM archive_search_results r JOIN archive_messages m ON m.account_id = r.account_id AND m.id = r.message_id
		WHERE r.account_id = ? AND r.search_id = ? ORDER BY r.pos`, accountID, searchID)
}

func (a ArchiveStore) ListTasks(ctx context.Context, accountID, archiveID string, kind archive.TaskKind, since time.Time, after string, limit int) ([]*archive.Task, error) {
	where := `account_id = ? AND archive_id = ? AND kind = ? AND submitted_at >= ?`
	args := []any{accountID, archiveID, string(kind), ms(since)}
	if after != "" {
		prev, err := a.GetTask(ctx, accountID, kind, after)
		if fault.Is(err, fault.NotFound) {
			return nil, nil // forgotten since: the listing has moved past it
		}
		if err != nil {
			return nil, err
		}
		at := ms(prev.SubmittedAt)
		where += ` AND (submitted_at < ? OR (submitted_at = ? AND id < ?))`
		args = append(args, at, at, after)
	}
	rows, err := a.s.rdb.QueryContext(ctx, a.s.q(`SELECT `+arcTaskCols+` FROM archive_tasks WHERE `+where+
		` ORDER BY submitted_at DESC, id DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, a.s.wrap(err, "list archive tasks")
	}
	defer rows.Close()
	var out []*archive.Task
	for rows.Next() {
		t, err := arcScanTask(rows)
		if err != nil {
			return nil, a.s.wrap(err, "list archive tasks")
		}
		out = append(out, t)
	}
	return out, a.s.wrap(rows.Err(), "list archive tasks")
}

func (a ArchiveStore) DeleteTasks(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := a.s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, a.s.q(`DELETE FROM archive_search_results WHERE (account_id, search_id) IN
			(SELECT account_id, id FROM archive_tasks WHERE kind = 'search' AND submitted_at < ?)`), ms(cutoff)); err != nil {
			return a.s.wrap(err, "delete search results")
		}
		res, err := tx.ExecContext(ctx, a.s.q(`DELETE FROM archive_tasks WHERE submitted_at < ?`), ms(cutoff))
		if err != nil {
			return a.s.wrap(err, "delete archive tasks")
		}
		n = affected(res)
		return nil
	})
	return n, err
}

func (a ArchiveStore) DeleteArchiveTasks(ctx context.Context, accountID, archiveID string) error {
	return a.s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, a.s.q(`DELETE FROM archive_search_results WHERE account_id = ? AND search_id IN
			(SELECT id FROM archive_tasks WHERE account_id = ? AND archive_id = ? AND kind = 'search')`), accountID, accountID, archiveID); err != nil {
			return a.s.wrap(err, "delete search results")
		}
		_, err := tx.ExecContext(ctx, a.s.q(`DELETE FROM archive_tasks WHERE account_id = ? AND archive_id = ?`), accountID, archiveID)
		return a.s.wrap(err, "delete archive tasks")
	})
}
