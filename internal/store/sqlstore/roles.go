package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// Roles and STS sessions (migration 0016): the part of iam.Store behind
// AssumeRole and temporary credentials.

func (m *IAM) CreateRole(ctx context.Context, r iam.Role) error {
	if r.AccountID == "" || r.Name == "" || r.RoleID == "" || r.Path == "" {
		return fault.Invalidf("a role needs an account, a name, a path and an id")
	}
	if _, err := m.GetAccount(ctx, r.AccountID); err != nil {
		return err
	}
	res, err := m.s.execWrite(ctx, "create role", `INSERT INTO iam_roles
		(account_id, name_key, name, path, role_id, trusted_accounts, max_session_seconds, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, name_key) DO NOTHING`,
		r.AccountID, strings.ToLower(r.Name), r.Name, r.Path, r.RoleID, strings.Join(r.TrustedAccounts, ","),
		int64(r.MaxSessionDuration/time.Second), ms(stored(r.CreatedAt, time.Now())))
	if err != nil {
		if m.s.d.ForeignKeyViolation(err) {
			return notFound("account", r.AccountID, "account %s not found", r.AccountID)
		}
		return err
	}
	if affected(res) == 0 {
		return conflict("role", r.Name, "Role with name %s already exists.", r.Name)
	}
	return nil
}

const roleCols = `account_id, name, path, role_id, trusted_accounts, max_session_seconds, created_at`

func scanRole(sc interface{ Scan(...any) error }) (*iam.Role, error) {
	var (
		r          iam.Role
		trusted    string
		maxSec, at int64
	)
	if err := sc.Scan(&r.AccountID, &r.Name, &r.Path, &r.RoleID, &trusted, &maxSec, &at); err != nil {
		return nil, err
	}
	if trusted != "" {
		r.TrustedAccounts = strings.Split(trusted, ",")
	}
	r.MaxSessionDuration = time.Duration(maxSec) * time.Second
	r.CreatedAt = fromMS(at)
	return &r, nil
}

func (m *IAM) GetRole(ctx context.Context, accountID, name string) (*iam.Role, error) {
	r, err := scanRole(m.s.rdb.QueryRowContext(ctx, m.s.q(`SELECT `+roleCols+` FROM iam_roles WHERE account_id = ? AND name_key = ?`),
		accountID, strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("role", name, "The role with name %s cannot be found.", name)
	}
	if err != nil {
		return nil, m.s.wrap(err, "get role")
	}
	return r, nil
}

func (m *IAM) ListRoles(ctx context.Context, accountID string) ([]iam.Role, error) {
	q, args := `SELECT `+roleCols+` FROM iam_roles ORDER BY account_id, name_key`, []any(nil)
	if accountID != "" {
		q, args = `SELECT `+roleCols+` FROM iam_roles WHERE account_id = ? ORDER BY account_id, name_key`, []any{accountID}
	}
	rows, err := m.s.rdb.QueryContext(ctx, m.s.q(q), args...)
	if err != nil {
		return nil, m.s.wrap(err, "list roles")
	}
	defer rows.Close()
	rs := []iam.Role{}
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, m.s.wrap(err, "list roles")
		}
		rs = append(rs, *r)
	}
	return rs, m.s.wrap(rows.Err(), "list roles")
}

func (m *IAM) DeleteRole(ctx context.Context, accountID, name string) error {
	key := strings.ToLower(name)
	var n int64
	err := m.s.writeTx(ctx, func(tx *sql.Tx) error {
		// Credentials issued for the role die with it.
		_, err := tx.ExecContext(ctx, m.s.q(`DELETE FROM iam_sessions WHERE role_id IN
			(SELECT role_id FROM iam_roles WHERE account_id = ? AND name_key = ?)`), accountID, key)
		if err != nil {
			return m.s.wrap(err, "delete role sessions")
		}
		res, err := tx.ExecContext(ctx, m.s.q(`DELETE FROM iam_roles WHERE account_id = ? AND name_key = ?`), accountID, key)
		if err != nil {
			return m.s.wrap(err, "delete role")
		}
		n = affected(res)
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("role", name, "The role with name %s cannot be found.", name)
	}
	return nil
}

func (m *IAM) CreateSession(ctx context.Context, s iam.Session) error {
	if s.AccessKeyID == "" || s.SecretAccessKey == "" || s.TokenHash == "" || s.AccountID == "" || s.Expiration.IsZero() {
		return fault.Invalidf("a session needs an access key id, a secret, a token hash, an account and an expiration")
	}
	res, err := m.s.execWrite(ctx, "create session", `INSERT INTO iam_sessions
		(access_key_id, secret, token_hash, account_id, arn, user_id, role_id, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (access_key_id) DO NOTHING`,
		s.AccessKeyID, s.SecretAccessKey, s.TokenHash, s.AccountID, s.ARN, s.UserID,
		s.RoleID, ms(s.Expiration), ms(stored(s.CreatedAt, time.Now())))
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return conflict("session", s.AccessKeyID, "access key %s already exists", s.AccessKeyID)
	}
	return nil
}

func (m *IAM) GetSession(ctx context.Context, accessKeyID string) (*iam.Session, error) {
	var (
		s       iam.Session
		exp, at int64
	)
	err := m.s.rdb.QueryRowContext(ctx, m.s.q(`SELECT access_key_id, secret, token_hash, account_id, arn, user_id,
		role_id, expires_at, created_at FROM iam_sessions WHERE access_key_id = ?`), accessKeyID).
		Scan(&s.AccessKeyID, &s.SecretAccessKey, &s.TokenHash, &s.AccountID, &s.ARN, &s.UserID, &s.RoleID, &exp, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session", accessKeyID, "access key %s not found", accessKeyID)
	}
	if err != nil {
		return nil, m.s.wrap(err, "get session")
	}
	s.Expiration, s.CreatedAt = fromMS(exp), fromMS(at)
	return &s, nil
}

func (m *IAM) PurgeSessions(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := m.s.execWrite(ctx, "purge sessions", `DELETE FROM iam_sessions WHERE expires_at < ?`, ms(cutoff))
	if err != nil {
		return 0, err
	}
	return affected(res), nil
}
