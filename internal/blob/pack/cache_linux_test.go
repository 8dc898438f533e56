package pack

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// resident counts the pages of the file at path in the page cache.
func resident(t *testing.T, path string) int {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	require.NoError(t, err)
	defer unix.Munmap(m)
	pages := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&pages[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, p := range pages {
		n += int(p & 1)
	}
	return n
}

// An appended object is not kept in the page cache once it is on disk,
// and reads back whole.
func TestAppendDropsCache(t *testing.T) {
	dir := t.TempDir()
	var fs unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &fs))
	if fs.Type == unix.TMPFS_MAGIC {
		t.Skip("a tmpfs keeps its files in the page cache")
	}
	s, err := Open(dir)
	require.NoError(t, err)
	defer s.Close()
	obj := bytes.Repeat([]byte("archived mail "), 1<<16) // 896 KiB
	ref, err := s.Append(obj)
	require.NoError(t, err)
	path := filepath.Join(s.dir, filepath.FromSlash(ref.Segment))
	require.Less(t, resident(t, path), 8, "pages of %d", len(obj)/os.Getpagesize())

	r, err := s.Open(ref)
	require.NoError(t, err)
	got, err := io.ReadAll(r)
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.Equal(t, obj, got)
}
