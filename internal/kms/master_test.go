package kms_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/kms"
)

func TestMasterKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	k1, generated, err := kms.MasterKey(dir, nil)
	require.NoError(t, err)
	require.True(t, generated)
	require.Len(t, k1, kms.KeySize)
	fi, err := os.Stat(filepath.Join(dir, kms.MasterKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	k2, generated, err := kms.MasterKey(dir, nil)
	require.NoError(t, err)
	require.False(t, generated)
	require.Equal(t, k1, k2, "the same key at every start")

	env := bytes.Repeat([]byte{1}, kms.KeySize)
	k3, generated, err := kms.MasterKey(dir, env)
	require.NoError(t, err)
	require.False(t, generated)
	require.Equal(t, env, k3, "TIDINGS_MASTER_KEY wins over the file")
	_, _, err = kms.MasterKey(dir, []byte("short"))
	require.Error(t, err)

	require.NoError(t, os.WriteFile(filepath.Join(dir, kms.MasterKeyFile), []byte("bm90IDMyIGJ5dGVz\n"), 0o600))
	_, _, err = kms.MasterKey(dir, nil)
	require.ErrorContains(t, err, "want 32 bytes")
}

func TestNewChecksMasterKey(t *testing.T) {
	t.Parallel()
	_, err := kms.New(nil, kms.Config{MasterKey: make([]byte, 32)}, nil)
	require.Error(t, err)
}
