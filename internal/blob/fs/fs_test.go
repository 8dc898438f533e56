package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/blob/blobtest"
	"github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/fault"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := fs.New(t.TempDir())
		require.NoError(t, err)
		return s
	})
}

// TestLayout: objects are plain files at their key's path, private to the
// server, with no temporary file left and empty directories pruned.
func TestLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "blobs")
	s, err := fs.New(root)
	require.NoError(t, err)
	_, err = s.Put(ctx, "spool/2026/01/m.eml", strings.NewReader("hello"))
	require.NoError(t, err)
	p := filepath.Join(root, "spool", "2026", "01", "m.eml")
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(p))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")

	require.NoError(t, s.Delete(ctx, "spool/2026/01/m.eml"))
	_, err = os.Stat(filepath.Join(root, "spool"))
	require.ErrorIs(t, err, os.ErrNotExist, "empty directories are pruned")
	_, err = os.Stat(root)
	require.NoError(t, err, "the root stays")
}

// TestForeignFiles: a stray temporary file (a crash mid-Put) is not listed;
// a file put there by hand, without the digest attribute, is served with
// its digest computed.
func TestForeignFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	s, err := fs.New(root)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, ".tidings-tmp-123"), []byte("partial"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(root, "by-hand"), []byte("abc"), 0o600))
	all, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.Equal(t, "by-hand", all[0].Key)
	st, err := s.Stat(ctx, "by-hand")
	require.NoError(t, err)
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", st.SHA256)

	_, err = s.Put(ctx, ".tidings-tmp-x", strings.NewReader("x"))
	require.True(t, fault.Is(err, fault.Invalid), "reserved names: %v", err)
	_, err = s.Put(ctx, strings.Repeat("n", 256), strings.NewReader("x"))
	require.True(t, fault.Is(err, fault.Invalid), "segment over NAME_MAX: %v", err)
}

// TestPutRacesPruningDelete: a Delete that prunes the directories it
// empties must not make a concurrent Put into the same directories fail.
func TestPutRacesPruningDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := fs.New(t.TempDir())
	require.NoError(t, err)
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		go func(w int) {
			for i := 0; i < 100; i++ {
				key := "spool/2026/11/25/" + strings.Repeat("x", w+1)
				if _, err := s.Put(ctx, key, strings.NewReader("m")); err != nil {
					errs <- err
					return
				}
				if err := s.Delete(ctx, key); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < 8; w++ {
		require.NoError(t, <-errs)
	}
}
