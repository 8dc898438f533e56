package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tidings/tidings/internal/kms"
)

// KMS is the store of the keys Tidings manages (kms.Store).
type KMS struct{ s *Store }

var _ kms.Store = KMS{}

// KMS returns the key store.
func (s *Store) KMS() KMS { return KMS{s} }

// inTx runs fn in a transaction of the write pool.
func (k KMS) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := k.s.db.BeginTx(ctx, nil)
	if err != nil {
		return k.s.wrap(err, op)
	}
	defer func() { _ = tx.Rollback() }() // after Commit: ErrTxDone, ignored
	if err := fn(tx); err != nil {
		return err
	}
	return k.s.wrap(k.s.commit(ctx, tx), op)
}

func (k KMS) CreateKey(ctx context.Context, key *kms.Key, material []byte) error {
	return k.inTx(ctx, "create KMS key", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, k.s.q(`INSERT INTO kms_keys (account_id, id, alias, description, current_version, created_at, rotated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`),
			key.AccountID, key.ID, key.Alias, key.Description, key.CurrentVersion, ms(key.CreatedAt), msOrZero(key.RotatedAt))
		if _, ok := k.s.d.UniqueViolation(err); ok {
			if key.Alias != "" {
				return conflict("kms-alias", key.Alias, "alias/%s already names a key", key.Alias)
			}
			return conflict("kms-key", key.ID, "key %s already exists", key.ID)
		}
		if err != nil {
			return k.s.wrap(err, "create KMS key")
		}
		_, err = tx.ExecContext(ctx, k.s.q(`INSERT INTO kms_key_versions (account_id, key_id, version, material, created_at) VALUES (?, ?, ?, ?, ?)`),
			key.AccountID, key.ID, key.CurrentVersion, material, ms(key.CreatedAt))
		return k.s.wrap(err, "create KMS key version")
	})
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

func timeOrZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMS(v)
}

const kmsKeyCols = `account_id, id, alias, description, current_version, created_at, rotated_at`

func scanKMSKey(sc interface{ Scan(...any) error }) (*kms.Key, error) {
	var (
		key              kms.Key
		created, rotated int64
	)
	if err := sc.Scan(&key.AccountID, &key.ID, &key.Alias, &key.Description, &key.CurrentVersion, &created, &rotated); err != nil {
		return nil, err
	}
	key.CreatedAt, key.RotatedAt = fromMS(created), timeOrZero(rotated)
	return &key, nil
}

func (k KMS) getKey(ctx context.Context, where, ref string, args ...any) (*kms.Key, error) {
	key, err := scanKMSKey(k.s.rdb.QueryRowContext(ctx, k.s.q(`SELECT `+kmsKeyCols+` FROM kms_keys WHERE `+where), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("kms-key", ref, "KMS key %s not found", ref)
	}
	return key, k.s.wrap(err, "get KMS key")
}

func (k KMS) GetKey(ctx context.Context, accountID, id string) (*kms.Key, error) {
	return k.getKey(ctx, `account_id = ? AND id = ?`, id, accountID, id)
}

func (k KMS) GetKeyByAlias(ctx context.Context, accountID, alias string) (*kms.Key, error) {
	if alias == "" {
		return nil, notFound("kms-key", "alias/", "KMS key alias/ not found")
	}
	return k.getKey(ctx, `account_id = ? AND alias = ?`, "alias/"+alias, accountID, alias)
}

func (k KMS) ListKeys(ctx context.Context, accountID string) ([]*kms.Key, error) {
	rows, err := k.s.rdb.QueryContext(ctx, k.s.q(`SELECT `+kmsKeyCols+` FROM kms_keys WHERE account_id = ? ORDER BY created_at, id`), accountID)
	if err != nil {
		return nil, k.s.wrap(err, "list KMS keys")
	}
	defer rows.Close()
	out := []*kms.Key{}
	for rows.Next() {
		key, err := scanKMSKey(rows)
		if err != nil {
			return nil, k.s.wrap(err, "list KMS keys")
		}
		out = append(out, key)
	}
	return out, k.s.wrap(rows.Err(), "list KMS keys")
}

func (k KMS) AddKeyVersion(ctx context.Context, accountID, keyID string, version int, material []byte, at time.Time) error {
	return k.inTx(ctx, "rotate KMS key", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, k.s.q(`UPDATE kms_keys SET current_version = ?, rotated_at = ?
			WHERE account_id = ? AND id = ? AND current_version = ?`), version, ms(at), accountID, keyID, version-1)
		if err != nil {
			return k.s.wrap(err, "rotate KMS key")
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			if _, gerr := k.getKeyTx(ctx, tx, accountID, keyID); gerr != nil {
				return gerr
			}
			return conflict("kms-key", keyID, "key %s was rotated concurrently; retry", keyID)
		}
		_, err = tx.ExecContext(ctx, k.s.q(`INSERT INTO kms_key_versions (account_id, key_id, version, material, created_at) VALUES (?, ?, ?, ?, ?)`),
			accountID, keyID, version, material, ms(at))
		if _, ok := k.s.d.UniqueViolation(err); ok {
			return conflict("kms-key", keyID, "key %s was rotated concurrently; retry", keyID)
		}
		return k.s.wrap(err, "rotate KMS key")
	})
}

func (k KMS) getKeyTx(ctx context.Context, tx *sql.Tx, accountID, id string) (*kms.Key, error) {
	key, err := scanKMSKey(tx.QueryRowContext(ctx, k.s.q(`SELECT `+kmsKeyCols+` FROM kms_keys WHERE account_id = ? AND id = ?`), accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("kms-key", id, "KMS key %s not found", id)
	}
	return key, k.s.wrap(err, "get KMS key")
}

func (k KMS) KeyVersion(ctx context.Context, accountID, keyID string, version int) ([]byte, error) {
	var material []byte
	err := k.s.rdb.QueryRowContext(ctx, k.s.q(`SELECT material FROM kms_key_versions WHERE account_id = ? AND key_id = ? AND version = ?`),
		accountID, keyID, version).Scan(&material)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("kms-key", keyID, "version %d of KMS key %s not found", version, keyID)
	}
	return material, k.s.wrap(err, "get KMS key version")
}

func (k KMS) InsertDataKey(ctx context.Context, d *kms.DataKey) error {
	_, err := k.s.execWrite(ctx, "insert data key", `INSERT INTO kms_data_keys (account_id, id, owner, key_id, key_version, wrapped, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, d.AccountID, d.ID, d.Owner, d.KeyID, d.KeyVersion, d.Wrapped, ms(d.CreatedAt))
	if k.isUnique(err) {
		return conflict("data-key", d.ID, "data key %s already exists", d.ID)
	}
	return err
}

// isUnique sees through wrap's wrapping.
func (k KMS) isUnique(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := k.s.d.UniqueViolation(e); ok {
			return true
		}
	}
	return false
}

const kmsDataKeyCols = `account_id, id, owner, key_id, key_version, wrapped, created_at`

func scanDataKey(sc interface{ Scan(...any) error }) (*kms.DataKey, error) {
	var (
		d  kms.DataKey
		at int64
	)
	if err := sc.Scan(&d.AccountID, &d.ID, &d.Owner, &d.KeyID, &d.KeyVersion, &d.Wrapped, &at); err != nil {
		return nil, err
	}
	d.CreatedAt = fromMS(at)
	return &d, nil
}

func (k KMS) GetDataKey(ctx context.Context, accountID, id string) (*kms.DataKey, error) {
	d, err := scanDataKey(k.s.rdb.QueryRowContext(ctx, k.s.q(`SELECT `+kmsDataKeyCols+` FROM kms_data_keys WHERE account_id = ? AND id = ?`), accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("data-key", id, "data key %s not found", id)
	}
	return d, k.s.wrap(err, "get data key")
}

func (k KMS) CurrentDataKey(ctx context.Context, accountID, owner, keyID string, version int) (*kms.DataKey, error) {
	d, err := scanDataKey(k.s.rdb.QueryRowContext(ctx, k.s.q(`SELECT `+kmsDataKeyCols+` FROM kms_data_keys
		WHERE account_id = ? AND owner = ? AND key_id = ? AND key_version = ?
		ORDER BY created_at DESC, id DESC LIMIT 1`), accountID, owner, keyID, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("data-key", owner, "no data key of %s under version %d of key %s", owner, version, keyID)
	}
	return d, k.s.wrap(err, "get current data key")
}
