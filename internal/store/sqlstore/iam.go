package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// IAM is the store of accounts, access keys and settings. Besides
// iam.Store it answers awsapi.KeyLookup.
type IAM struct{ s *Store }

var _ iam.Store = (*IAM)(nil)

// IAM returns the IAM store.
func (s *Store) IAM() *IAM { return &IAM{s} }

func (m *IAM) EnsureAccount(ctx context.Context, a iam.Account) error {
	if a.ID == "" {
		return fault.Invalidf("an account needs an ID")
	}
	_, err := m.s.execWrite(ctx, "ensure account", `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		a.ID, a.Name, ms(stored(a.CreatedAt, time.Now())))
	return err
}

func (m *IAM) GetAccount(ctx context.Context, id string) (*iam.Account, error) {
	var (
		a  iam.Account
		at int64
	)
	err := m.s.rdb.QueryRowContext(ctx, m.s.q(`SELECT id, name, created_at FROM accounts WHERE id = ?`), id).Scan(&a.ID, &a.Name, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("account", id, "account %s not found", id)
	}
	if err != nil {
		return nil, m.s.wrap(err, "get account")
	}
	a.CreatedAt = fromMS(at)
	return &a, nil
}

func (m *IAM) ListAccounts(ctx context.Context) ([]iam.Account, error) {
	rows, err := m.s.rdb.QueryContext(ctx, `SELECT id, name, created_at FROM accounts ORDER BY id`)
	if err != nil {
		return nil, m.s.wrap(err, "list accounts")
	}
	defer rows.Close()
	as := []iam.Account{}
	for rows.Next() {
		var (
			a  iam.Account
			at int64
		)
		if err := rows.Scan(&a.ID, &a.Name, &at); err != nil {
			return nil, m.s.wrap(err, "list accounts")
		}
		a.CreatedAt = fromMS(at)
		as = append(as, a)
	}
	return as, m.s.wrap(rows.Err(), "list accounts")
}

func (m *IAM) CreateAccessKey(ctx context.Context, k iam.AccessKey) error {
	switch {
	case k.AccessKeyID == "" || k.SecretAccessKey == "":
		return fault.Invalidf("an access key needs an ID and a secret")
	case k.Status == "":
		k.Status = iam.StatusActive
	case k.Status != iam.StatusActive && k.Status != iam.StatusInactive:
		return fault.Invalidf("access key status must be %s or %s, not %q", iam.StatusActive, iam.StatusInactive, k.Status)
	}
	if _, err := m.GetAccount(ctx, k.AccountID); err != nil {
		return err
	}
	res, err := m.s.execWrite(ctx, "create access key", `INSERT INTO access_keys (id, secret, account_id, status, created_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		k.AccessKeyID, k.SecretAccessKey, k.AccountID, k.Status, ms(stored(k.CreatedAt, time.Now())))
	if err != nil {
		if m.s.d.ForeignKeyViolation(err) { // the account went away meanwhile
			return notFound("account", k.AccountID, "account %s not found", k.AccountID)
		}
		return err
	}
	if affected(res) == 0 {
		return conflict("access-key", k.AccessKeyID, "access key %s already exists", k.AccessKeyID)
	}
	return nil
}

const keyCols = `id, secret, account_id, status, created_at`

func scanKey(sc interface{ Scan(...any) error }) (*iam.AccessKey, error) {
	var (
		k  iam.AccessKey
		at int64
	)
	if err := sc.Scan(&k.AccessKeyID, &k.SecretAccessKey, &k.AccountID, &k.Status, &at); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMS(at)
	return &k, nil
}

func (m *IAM) GetAccessKey(ctx context.Context, id string) (*iam.AccessKey, error) {
	k, err := scanKey(m.s.rdb.QueryRowContext(ctx, m.s.q(`SELECT `+keyCols+` FROM access_keys WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("access-key", id, "access key %s not found", id)
	}
	if err != nil {
		return nil, m.s.wrap(err, "get access key")
	}
	return k, nil
}

func (m *IAM) ListAccessKeys(ctx context.Context, accountID string) ([]iam.AccessKey, error) {
	rows, err := m.s.rdb.QueryContext(ctx, m.s.q(`SELECT `+keyCols+` FROM access_keys WHERE account_id = ? ORDER BY id`), accountID)
	if err != nil {
		return nil, m.s.wrap(err, "list access keys")
	}
	defer rows.Close()
	ks := []iam.AccessKey{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, m.s.wrap(err, "list access keys")
		}
		ks = append(ks, *k)
	}
	return ks, m.s.wrap(rows.Err(), "list access keys")
}

func (m *IAM) DeleteAccessKey(ctx context.Context, id string) error {
	res, err := m.s.execWrite(ctx, "delete access key", `DELETE FROM access_keys WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if affected(res) == 0 {
		return notFound("access-key", id, "access key %s not found", id)
	}
	return nil
}

func (m *IAM) GetSetting(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := m.s.rdb.QueryRowContext(ctx, m.s.q(`SELECT value FROM settings WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, m.s.wrap(err, "get setting")
	}
	return v, true, nil
}

func (m *IAM) PutSetting(ctx context.Context, key, value string) error {
	_, err := m.s.execWrite(ctx, "put setting", `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

// LookupAccessKey answers awsapi.KeyLookup: the secret of an active key and
// the account's root principal. fault.NotFound for an unknown key,
// fault.AccessDenied for an inactive one.
func (m *IAM) LookupAccessKey(ctx context.Context, accessKeyID string) (string, iam.Principal, error) {
	k, err := m.GetAccessKey(ctx, accessKeyID)
	if err != nil {
		return "", iam.Principal{}, err
	}
	if k.Status != iam.StatusActive {
		return "", iam.Principal{}, &fault.Error{Kind: fault.AccessDenied,
			Message: "The access key " + k.AccessKeyID + " is inactive", ResourceType: "access-key", ResourceID: k.AccessKeyID}
	}
	return k.SecretAccessKey, iam.Principal{
		AccountID:   k.AccountID,
		AccessKeyID: k.AccessKeyID,
		ARN:         "arn:aws:iam::" + k.AccountID + ":root",
	}, nil
}
