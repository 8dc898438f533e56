package kms

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// MasterKeyFile is the name of the master key's file in the data dir.
const MasterKeyFile = "master.key"

// MasterKey returns the master key: fromEnv when it is set (the decoded
// TIDINGS_MASTER_KEY, which every node of a cluster must share), else the
// key in <dataDir>/master.key, which is created (mode 0600, base64) when
// it does not exist yet; generated says it was.
//
// Losing the master key loses every encrypted archive: back it up apart
// from the database.
func MasterKey(dataDir string, fromEnv []byte) (key []byte, generated bool, err error) {
	if len(fromEnv) > 0 {
		if len(fromEnv) != KeySize {
			return nil, false, fmt.Errorf("kms: the master key must have %d bytes, not %d", KeySize, len(fromEnv))
		}
		return fromEnv, false, nil
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
		if err != nil || len(key) != KeySize {
			return nil, false, fmt.Errorf("kms: %s: want %d bytes in base64", path, KeySize)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("kms: reading the master key: %w", err)
	}
	key = randomKey()
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, false, err
	}
	// O_EXCL: two processes starting at once must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return MasterKey(dataDir, nil)
	}
	if err != nil {
		return nil, false, fmt.Errorf("kms: creating the master key: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("kms: writing the master key: %w", err)
	}
	return key, true, nil
}
