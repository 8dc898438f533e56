package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/templates"
)

// TemplatesStore is the templates.Store over the database.
type TemplatesStore struct{ s *Store }

var _ templates.Store = TemplatesStore{}

// Templates returns the store of email templates.
func (s *Store) Templates() TemplatesStore { return TemplatesStore{s} }

func tplNotFound(name string) error {
	return notFound(templates.ResourceType, name, "Template %s does not exist.", name)
}

func (ts TemplatesStore) CreateTemplate(ctx context.Context, t *templates.Template, maxCount int) error {
	s := ts.s
	tags, err := json.Marshal(nonNilTags(t.Tags))
	if err != nil {
		return fmt.Errorf("store: template tags: %w", err)
	}
	now := time.Now()
	created := stored(time.Time{}, now)
	conn, err := s.writer(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err, "begin")
	}
	defer func() { _ = tx.Rollback() }() // after Commit: ErrTxDone, ignored
	var n int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM email_templates WHERE account_id = ?`), t.AccountID).Scan(&n); err != nil {
		return s.wrap(err, "count templates")
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO email_templates (account_id, name, subject, html, text, tags, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		t.AccountID, t.Name, t.Subject, t.HTML, t.Text, string(tags), ms(created), ms(created))
	if err != nil {
		return s.wrap(err, "insert template")
	}
	if affected(res) == 0 {
		return conflict(templates.ResourceType, t.Name, "Template %s already exists.", t.Name)
	}
	// Counted before the insert, in the same transaction: on SQLite, whose
	// one writer serializes creates, the quota is exact; on PostgreSQL
	// concurrent creates may pass it by a few.
	if n >= maxCount {
		return &fault.Error{Kind: fault.QuotaExceeded, ResourceType: templates.ResourceType, ResourceID: t.Name,
			Message: fmt.Sprintf("The account has %d templates, the most it may have.", n)}
	}
	if err := s.commit(ctx, tx); err != nil {
		return s.wrap(err, "commit")
	}
	t.CreatedAt, t.UpdatedAt = created, created
	return nil
}

func nonNilTags(tags []templates.Tag) []templates.Tag {
	if tags == nil {
		return []templates.Tag{}
	}
	return tags
}

const tplCols = `account_id, name, subject, html, text, tags, created_at, updated_at`

func scanTemplate(sc interface{ Scan(...any) error }) (*templates.Template, error) {
	var (
		t        templates.Template
		tags     string
		cat, uat int64
	)
	if err := sc.Scan(&t.AccountID, &t.Name, &t.Subject, &t.HTML, &t.Text, &tags, &cat, &uat); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &t.Tags); err != nil {
		return nil, fmt.Errorf("store: tags of template %s: %w", t.Name, err)
	}
	t.CreatedAt, t.UpdatedAt = fromMS(cat), fromMS(uat)
	return &t, nil
}

func (ts TemplatesStore) GetTemplate(ctx context.Context, accountID, name string) (*templates.Template, error) {
	s := ts.s
	t, err := scanTemplate(s.rdb.QueryRowContext(ctx, s.q(`SELECT `+tplCols+` FROM email_templates WHERE account_id = ? AND name = ?`), accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tplNotFound(name)
	}
	return t, s.wrap(err, "get template")
}

func (ts TemplatesStore) UpdateTemplate(ctx context.Context, t *templates.Template) error {
	s := ts.s
	updated := stored(time.Time{}, time.Now())
	res, err := s.execWrite(ctx, "update template",
		`UPDATE email_templates SET subject = ?, html = ?, text = ?, updated_at = ? WHERE account_id = ? AND name = ?`,
		t.Subject, t.HTML, t.Text, ms(updated), t.AccountID, t.Name)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return tplNotFound(t.Name)
	}
	t.UpdatedAt = updated
	return nil
}

func (ts TemplatesStore) UpdateTemplateTags(ctx context.Context, accountID, name string, fn func([]templates.Tag) ([]templates.Tag, error)) error {
	s := ts.s
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var have string
		err := tx.QueryRowContext(ctx, s.q(`SELECT tags FROM email_templates WHERE account_id = ? AND name = ?`), accountID, name).Scan(&have)
		if errors.Is(err, sql.ErrNoRows) {
			return tplNotFound(name)
		}
		if err != nil {
			return s.wrap(err, "get template tags")
		}
		var tags []templates.Tag
		if err := json.Unmarshal([]byte(have), &tags); err != nil {
			return fmt.Errorf("store: tags of template %s: %w", name, err)
		}
		if tags, err = fn(tags); err != nil {
			return err
		}
		b, err := json.Marshal(nonNilTags(tags))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE email_templates SET tags = ? WHERE account_id = ? AND name = ?`),
			string(b), accountID, name)
		return s.wrap(err, "update template tags")
	})
}

func (ts TemplatesStore) DeleteTemplate(ctx context.Context, accountID, name string) error {
	res, err := ts.s.execWrite(ctx, "delete template",
		`DELETE FROM email_templates WHERE account_id = ? AND name = ?`, accountID, name)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return tplNotFound(name)
	}
	return nil
}

func (ts TemplatesStore) ListTemplates(ctx context.Context, accountID, after string, limit int) ([]*templates.Template, error) {
	s := ts.s
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT account_id, name, '', '', '', tags, created_at, updated_at
		FROM email_templates WHERE account_id = ? AND name > ? ORDER BY name LIMIT ?`), accountID, after, limit)
	if err != nil {
		return nil, s.wrap(err, "list templates")
	}
	defer rows.Close()
	var out []*templates.Template
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			return nil, s.wrap(err, "list templates")
		}
		out = append(out, t)
	}
	return out, s.wrap(rows.Err(), "list templates")
}
