package pack

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
)

func read(t *testing.T, s *Store, ref Ref) []byte {
	t.Helper()
	rc, err := s.Open(ref)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

func object(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("object %d;", i)), 1+i%700)
}

func TestConcurrentAppends(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	s.max = 64 << 10 // several segments
	const n = 400
	refs := make([]Ref, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ref, err := s.Append(object(i))
			require.NoError(t, err)
			refs[i] = ref
		})
	}
	wg.Wait()
	segs := map[string]bool{}
	for i, ref := range refs {
		require.Equal(t, object(i), read(t, s, ref), "object %d", i)
		back, err := ParseRef(ref.String())
		require.NoError(t, err)
		require.Equal(t, ref, back)
		segs[ref.Segment] = true
	}
	require.Greater(t, len(segs), 1, "segments rotate at their size")
	require.NoError(t, s.Close())
}

func TestRotatesByAge(t *testing.T) {
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	a, err := s.Append([]byte("a"))
	require.NoError(t, err)
	now = now.Add(Rotate)
	b, err := s.Append([]byte("b"))
	require.NoError(t, err)
	require.NotEqual(t, a.Segment, b.Segment)
	require.Regexp(t, `^2026/11/26/20261126T080000\.000000000Z-[0-9a-f]{8}\.pack$`, a.Segment)
}

func TestFreeRemovesSealedSegments(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	now := time.Now()
	s.now = func() time.Time { return now }
	var refs []Ref
	for i := range 50 {
		ref, err := s.Append(object(i))
		require.NoError(t, err)
		refs = append(refs, ref)
	}
	path := filepath.Join(dir, filepath.FromSlash(refs[0].Segment))
	// Freed out of order, the others stay readable.
	for i := 1; i < len(refs); i += 2 {
		require.NoError(t, s.Free(refs[i]))
		require.NoError(t, s.Free(refs[i]), "idempotent")
	}
	for i := 0; i < len(refs); i += 2 {
		require.True(t, bytes.Equal(object(i), read(t, s, refs[i])), "object %d", i)
	}
	// The segment being written to stays even when all is freed.
	for i := 0; i < len(refs); i += 2 {
		require.NoError(t, s.Free(refs[i]))
	}
	_, err = os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, s.Sweep(), "not sealed yet: nothing to do")
	_, err = os.Stat(path)
	require.NoError(t, err)
	if !canPunch(t, dir) {
		t.Skip("the file system cannot punch holes")
	}
	// Once sealed, Sweep punches the blocks the objects shared and removes
	// the segment.
	now = now.Add(2*Rotate + time.Minute)
	require.NoError(t, s.Sweep())
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = s.Open(refs[0])
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	require.NoError(t, s.Free(refs[2]), "a missing segment is not an error")
}

func TestFreeInSealedSegment(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	now := time.Now()
	s.now = func() time.Time { return now }
	var refs []Ref
	for i := range 30 {
		ref, err := s.Append(object(i * 7))
		require.NoError(t, err)
		refs = append(refs, ref)
	}
	now = now.Add(2*Rotate + time.Minute)
	path := filepath.Join(dir, filepath.FromSlash(refs[0].Segment))
	for _, i := range []int{5, 0, 29, 3, 4, 6, 1, 2} {
		require.NoError(t, s.Free(refs[i]))
	}
	for i := 7; i < 29; i++ {
		require.True(t, bytes.Equal(object(i*7), read(t, s, refs[i])), "object %d", i)
	}
	for i := 28; i >= 7; i-- {
		require.NoError(t, s.Free(refs[i]))
	}
	if !canPunch(t, dir) {
		t.Skip("the file system cannot punch holes")
	}
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "the last Free removes the sealed segment")
}

func TestRefs(t *testing.T) {
	for _, bad := range []string{"", "pack:", "pack:a:1:2", "pack:../../etc/passwd:0:1",
		"pack:2026/11/26/../x.pack:0:1", "pack:2026/11/26/x.pack:-1:2", "pack:2026/11/26/x.pack:0:0",
		"archive/x.eml.zst", "pack:2026/11/26/x.pack:1"} {
		_, err := ParseRef(bad)
		require.True(t, fault.Is(err, fault.Invalid), "%q", bad)
	}
	ref, err := ParseRef("pack:2026/11/26/20261126T080000.000000000Z-01020304.pack:10:20")
	require.NoError(t, err)
	require.Equal(t, Ref{Segment: "2026/11/26/20261126T080000.000000000Z-01020304.pack", Offset: 10, Length: 20}, ref)
	require.True(t, IsRef(ref.String()))
	require.False(t, IsRef("archive/a/b.eml.zst"))

	s, err := Open(t.TempDir())
	require.NoError(t, err)
	got, err := s.Append([]byte("short"))
	require.NoError(t, err)
	got.Length = 100
	_, err = s.Open(got)
	require.Error(t, err, "a reference past the end of its segment")
}
