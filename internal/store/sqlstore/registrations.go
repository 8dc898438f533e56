package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/registrations"
)

// RegistrationStore is the registrations.Store over the database.
type RegistrationStore struct{ s *Store }

var _ registrations.Store = RegistrationStore{}

// Registrations returns the store of number registrations.
func (s *Store) Registrations() RegistrationStore { return RegistrationStore{s} }

// maxUpdateAttempts bounds the read-modify-write retries of one update.
const maxUpdateAttempts = 10

func regNotFound(id string) error {
	return notFound("registration", id, "registration %s does not exist", id)
}

func (r RegistrationStore) InsertRegistration(ctx context.Context, reg *registrations.Registration) error {
	if reg.AccountID == "" || reg.ID == "" {
		return fault.Invalidf("a registration needs an account and an ID")
	}
	body, err := json.Marshal(reg)
	if err != nil {
		return fmt.Errorf("store: registration: %w", err)
	}
	reg.Rev = 1
	_, err = r.s.execWrite(ctx, "insert registration",
		`INSERT INTO registrations (account_id, id, type, status, created_at, updated_at, rev, body)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		reg.AccountID, reg.ID, reg.Type, reg.Status, ms(reg.CreatedAt), ms(reg.UpdatedAt), reg.Rev, string(body))
	if _, ok := r.s.d.UniqueViolation(err); ok {
		return conflict("registration", reg.ID, "registration %s already exists", reg.ID)
	}
	return err
}

const regCols = `account_id, id, type, status, created_at, updated_at, rev, body`

func scanRegistration(sc interface{ Scan(...any) error }) (*registrations.Registration, error) {
	var (
		reg      registrations.Registration
		cat, uat int64
		body     string
	)
	if err := sc.Scan(&reg.AccountID, &reg.ID, &reg.Type, &reg.Status, &cat, &uat, &reg.Rev, &body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &reg); err != nil {
		return nil, fmt.Errorf("registration %s: bad document: %w", reg.ID, err)
	}
	reg.CreatedAt, reg.UpdatedAt = fromMS(cat), fromMS(uat)
	return &reg, nil
}

func (r RegistrationStore) GetRegistration(ctx context.Context, accountID, id string) (*registrations.Registration, error) {
	row := r.s.rdb.QueryRowContext(ctx, r.s.q(`SELECT `+regCols+` FROM registrations WHERE account_id = ? AND id = ?`), accountID, id)
	reg, err := scanRegistration(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, regNotFound(id)
	}
	return reg, r.s.wrap(err, "get registration")
}

func (r RegistrationStore) UpdateRegistration(ctx context.Context, accountID, id string, fn func(*registrations.Registration) error) (*registrations.Registration, error) {
	for range maxUpdateAttempts {
		reg, err := r.GetRegistration(ctx, accountID, id)
		if err != nil {
			return nil, err
		}
		rev := reg.Rev
		if err := fn(reg); err != nil {
			return nil, err
		}
		body, err := json.Marshal(reg)
		if err != nil {
			return nil, fmt.Errorf("store: registration: %w", err)
		}
		res, err := r.s.execWrite(ctx, "update registration",
			`UPDATE registrations SET status = ?, updated_at = ?, rev = ?, body = ?
			 WHERE account_id = ? AND id = ? AND rev = ?`,
			reg.Status, ms(reg.UpdatedAt), rev+1, string(body), accountID, id, rev)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, r.s.wrap(err, "update registration")
		}
		if n == 1 {
			reg.Rev = rev + 1
			reg.UpdatedAt = fromMS(ms(reg.UpdatedAt))
			return reg, nil
		}
		// Changed (or deleted) since the read: read again.
	}
	return nil, &fault.Error{Kind: fault.Unavailable, Message: "the registration is being changed by other requests; retry later"}
}

func (r RegistrationStore) DeleteRegistration(ctx context.Context, accountID, id string, check func(*registrations.Registration) error) (*registrations.Registration, error) {
	for range maxUpdateAttempts {
		reg, err := r.GetRegistration(ctx, accountID, id)
		if err != nil {
			return nil, err
		}
		if err := check(reg); err != nil {
			return nil, err
		}
		// Associations go with it (ON DELETE CASCADE).
		res, err := r.s.execWrite(ctx, "delete registration",
			`DELETE FROM registrations WHERE account_id = ? AND id = ? AND rev = ?`, accountID, id, reg.Rev)
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, r.s.wrap(err, "delete registration")
		}
		if n == 1 {
			return reg, nil
		}
	}
	return nil, &fault.Error{Kind: fault.Unavailable, Message: "the registration is being changed by other requests; retry later"}
}

// inList appends "AND column IN (?, …)" for vals (nothing when empty).
func inList(where *strings.Builder, args *[]any, column string, vals []string) {
	if len(vals) == 0 {
		return
	}
	where.WriteString(" AND " + column + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ") + ")")
	for _, v := range vals {
		*args = append(*args, v)
	}
}

// afterCursor appends the keyset condition of a page that starts after c.
func afterCursor(where *strings.Builder, args *[]any, c registrations.Cursor) {
	if c.ID == "" {
		return
	}
	where.WriteString(" AND (created_at > ? OR (created_at = ? AND id > ?))")
	*args = append(*args, ms(c.CreatedAt), ms(c.CreatedAt), c.ID)
}

func (r RegistrationStore) ListRegistrations(ctx context.Context, f registrations.ListFilter) ([]*registrations.Registration, error) {
	var where strings.Builder
	var args []any
	where.WriteString("1 = 1")
	if f.AccountID != "" {
		where.WriteString(" AND account_id = ?")
		args = append(args, f.AccountID)
	}
	inList(&where, &args, "id", f.IDs)
	inList(&where, &args, "type", f.Types)
	inList(&where, &args, "status", f.Statuses)
	afterCursor(&where, &args, f.After)
	q := `SELECT ` + regCols + ` FROM registrations WHERE ` + where.String() + ` ORDER BY created_at, id, account_id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := r.s.rdb.QueryContext(ctx, r.s.q(q), args...)
	if err != nil {
		return nil, r.s.wrap(err, "list registrations")
	}
	defer rows.Close()
	var out []*registrations.Registration
	for rows.Next() {
		reg, err := scanRegistration(rows)
		if err != nil {
			return nil, r.s.wrap(err, "list registrations")
		}
		out = append(out, reg)
	}
	return out, r.s.wrap(rows.Err(), "list registrations")
}

func (r RegistrationStore) InsertAttachment(ctx context.Context, a *registrations.Attachment) error {
	if a.AccountID == "" || a.ID == "" {
		return fault.Invalidf("a registration attachment needs an account and an ID")
	}
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("store: registration attachment: %w", err)
	}
	_, err = r.s.execWrite(ctx, "insert registration attachment",
		`INSERT INTO registration_attachments (account_id, id, status, created_at, body) VALUES (?, ?, ?, ?, ?)`,
		a.AccountID, a.ID, a.Status, ms(a.CreatedAt), string(body))
	if _, ok := r.s.d.UniqueViolation(err); ok {
		return conflict("registration-attachment", a.ID, "registration attachment %s already exists", a.ID)
	}
	return err
}

const attCols = `account_id, id, status, created_at, body`

func scanAttachment(sc interface{ Scan(...any) error }) (*registrations.Attachment, error) {
	var (
		a    registrations.Attachment
		cat  int64
		body string
	)
	if err := sc.Scan(&a.AccountID, &a.ID, &a.Status, &cat, &body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return nil, fmt.Errorf("registration attachment %s: bad document: %w", a.ID, err)
	}
	a.CreatedAt = fromMS(cat)
	return &a, nil
}

func (r RegistrationStore) GetAttachment(ctx context.Context, accountID, id string) (*registrations.Attachment, error) {
	row := r.s.rdb.QueryRowContext(ctx, r.s.q(`SELECT `+attCols+` FROM registration_attachments WHERE account_id = ? AND id = ?`), accountID, id)
	a, err := scanAttachment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("registration-attachment", id, "registration attachment %s does not exist", id)
	}
	return a, r.s.wrap(err, "get registration attachment")
}

func (r RegistrationStore) ListAttachments(ctx context.Context, f registrations.AttachmentFilter) ([]*registrations.Attachment, error) {
	var where strings.Builder
	args := []any{f.AccountID}
	where.WriteString("account_id = ?")
	inList(&where, &args, "id", f.IDs)
	inList(&where, &args, "status", f.Statuses)
	afterCursor(&where, &args, f.After)
	q := `SELECT ` + attCols + ` FROM registration_attachments WHERE ` + where.String() + ` ORDER BY created_at, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := r.s.rdb.QueryContext(ctx, r.s.q(q), args...)
	if err != nil {
		return nil, r.s.wrap(err, "list registration attachments")
	}
	defer rows.Close()
	var out []*registrations.Attachment
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			return nil, r.s.wrap(err, "list registration attachments")
		}
		out = append(out, a)
	}
	return out, r.s.wrap(rows.Err(), "list registration attachments")
}

func (r RegistrationStore) DeleteAttachment(ctx context.Context, accountID, id string) error {
	res, err := r.s.execWrite(ctx, "delete registration attachment",
		`DELETE FROM registration_attachments WHERE account_id = ? AND id = ?`, accountID, id)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return r.s.wrap(err, "delete registration attachment")
	}
	if n == 0 {
		return notFound("registration-attachment", id, "registration attachment %s does not exist", id)
	}
	return nil
}

func (r RegistrationStore) InsertAssociation(ctx context.Context, a *registrations.Association) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("store: registration association: %w", err)
	}
	_, err = r.s.execWrite(ctx, "insert registration association",
		`INSERT INTO registration_associations (account_id, registration_id, resource_id, created_at, body) VALUES (?, ?, ?, ?, ?)`,
		a.AccountID, a.RegistrationID, a.ResourceID, ms(a.CreatedAt), string(body))
	if _, ok := r.s.d.UniqueViolation(err); ok {
		return &fault.Error{Kind: fault.Conflict, Reason: "RESOURCE_ALREADY_ASSOCIATED",
			Message:      fmt.Sprintf("%s is already associated with a registration", a.ResourceID),
			ResourceType: resourceTypeName(a.ResourceType), ResourceID: a.ResourceID}
	}
	if err != nil && r.s.d.ForeignKeyViolation(err) {
		return regNotFound(a.RegistrationID)
	}
	return err
}

// resourceTypeName is the ResourceType of the API's errors for an
// association's resource type.
func resourceTypeName(t string) string {
	return strings.ReplaceAll(strings.ToLower(t), "_", "-")
}

const assocCols = `account_id, registration_id, resource_id, created_at, body`

func scanAssociation(sc interface{ Scan(...any) error }) (*registrations.Association, error) {
	var (
		a    registrations.Association
		cat  int64
		body string
	)
	if err := sc.Scan(&a.AccountID, &a.RegistrationID, &a.ResourceID, &cat, &body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return nil, fmt.Errorf("registration association %s: bad document: %w", a.ResourceID, err)
	}
	a.CreatedAt = fromMS(cat)
	return &a, nil
}

func (r RegistrationStore) ListAssociations(ctx context.Context, accountID, registrationID string) ([]*registrations.Association, error) {
	rows, err := r.s.rdb.QueryContext(ctx, r.s.q(`SELECT `+assocCols+` FROM registration_associations
		WHERE account_id = ? AND registration_id = ? ORDER BY created_at, resource_id`), accountID, registrationID)
	if err != nil {
		return nil, r.s.wrap(err, "list registration associations")
	}
	defer rows.Close()
	var out []*registrations.Association
	for rows.Next() {
		a, err := scanAssociation(rows)
		if err != nil {
			return nil, r.s.wrap(err, "list registration associations")
		}
		out = append(out, a)
	}
	return out, r.s.wrap(rows.Err(), "list registration associations")
}

func (r RegistrationStore) AssociationOf(ctx context.Context, accountID, resourceID string) (*registrations.Association, error) {
	row := r.s.rdb.QueryRowContext(ctx, r.s.q(`SELECT `+assocCols+` FROM registration_associations
		WHERE account_id = ? AND resource_id = ?`), accountID, resourceID)
	a, err := scanAssociation(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("registration-association", resourceID, "%s is not associated with a registration", resourceID)
	}
	return a, r.s.wrap(err, "get registration association")
}
