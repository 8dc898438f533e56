// Package blobtest is the conformance suite every blob.Store must pass.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
)

// Run exercises a store made fresh for each subtest by newStore.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	ctx := context.Background()
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

	t.Run("PutGetStat", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		data := []byte("From: a@example.com\r\n\r\nhello\r\n")
		info, err := s.Put(ctx, "spool/2026/msg-1", bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, "spool/2026/msg-1", info.Key)
		require.Equal(t, int64(len(data)), info.Size)
		require.Equal(t, sum(data), info.SHA256)

		rc, got, err := s.Get(ctx, "spool/2026/msg-1")
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		require.Equal(t, data, b)
		require.Equal(t, info.SHA256, got.SHA256)

		st, err := s.Stat(ctx, "spool/2026/msg-1")
		require.NoError(t, err)
		require.Equal(t, info.Size, st.Size)
		require.Equal(t, info.SHA256, st.SHA256)
	})

	t.Run("Overwrite", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Put(ctx, "k", strings.NewReader("old content"))
		require.NoError(t, err)
		info, err := s.Put(ctx, "k", strings.NewReader("new"))
		require.NoError(t, err)
		require.Equal(t, int64(3), info.Size)
		st, err := s.Stat(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, sum([]byte("new")), st.SHA256)
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, _, err := s.Get(ctx, "nope")
		require.True(t, fault.Is(err, fault.NotFound), "Get: %v", err)
		_, err = s.Stat(ctx, "nope")
		require.True(t, fault.Is(err, fault.NotFound), "Stat: %v", err)
		require.True(t, fault.Is(s.Delete(ctx, "nope"), fault.NotFound))
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Put(ctx, "a/b", strings.NewReader("x"))
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, "a/b"))
		_, err = s.Stat(ctx, "a/b")
		require.True(t, fault.Is(err, fault.NotFound))
	})

	t.Run("BadKeys", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for _, k := range []string{"", "../x", "a/../../x", "/abs", "a//b", "a/./b", "a\x00b", "a\nb", `a\b`, strings.Repeat("k", blob.MaxKeyLen+1)} {
			_, err := s.Put(ctx, k, strings.NewReader("x"))
			require.Error(t, err, "key %q", k)
			_, _, err = s.Get(ctx, k)
			require.Error(t, err, "key %q", k)
		}
	})

	t.Run("ListPrefixAndPages", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		for i := 0; i < 7; i++ {
			_, err := s.Put(ctx, fmt.Sprintf("exports/job1/part-%02d", i), strings.NewReader("x"))
			require.NoError(t, err)
		}
		_, err := s.Put(ctx, "exports/job2/part-00", strings.NewReader("y"))
		require.NoError(t, err)
		_, err = s.Put(ctx, "other", strings.NewReader("z"))
		require.NoError(t, err)

		var keys []string
		after := ""
		for {
			page, err := s.List(ctx, "exports/job1/", after, 3)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), 3)
			if len(page) == 0 {
				break
			}
			for _, p := range page {
				keys = append(keys, p.Key)
			}
			after = page[len(page)-1].Key
		}
		require.Len(t, keys, 7)
		require.Equal(t, "exports/job1/part-00", keys[0])
		require.Equal(t, "exports/job1/part-06", keys[6])

		all, err := s.List(ctx, "", "", 100)
		require.NoError(t, err)
		require.Len(t, all, 9)
		partial, err := s.List(ctx, "exports/job", "", 100)
		require.NoError(t, err)
		require.Len(t, partial, 8)
	})

	t.Run("LargeStreamed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const size = 8 << 20
		r := io.LimitReader(repeatReader('m'), size)
		info, err := s.Put(ctx, "big", r)
		require.NoError(t, err)
		require.Equal(t, int64(size), info.Size)
		rc, _, err := s.Get(ctx, "big")
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		require.Equal(t, int64(size), n)
	})

	t.Run("FailedPutLeavesOld", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		_, err := s.Put(ctx, "k", strings.NewReader("old"))
		require.NoError(t, err)
		_, err = s.Put(ctx, "k", io.MultiReader(strings.NewReader("partial"), errReader{}))
		require.Error(t, err)
		rc, _, err := s.Get(ctx, "k")
		require.NoError(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		require.Equal(t, "old", string(b))
		all, err := s.List(ctx, "", "", 100)
		require.NoError(t, err)
		require.Len(t, all, 1, "a failed Put must leave no object behind")
	})

	t.Run("ConcurrentPutsSameKey", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := s.Put(ctx, "race", strings.NewReader(strings.Repeat(fmt.Sprint(i), 1000)))
				require.NoError(t, err)
			}(i)
		}
		wg.Wait()
		rc, info, err := s.Get(ctx, "race")
		require.NoError(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		require.Len(t, b, 1000)
		require.Equal(t, strings.Repeat(string(b[0]), 1000), string(b), "a reader must never see a mix of two writes")
		require.Equal(t, sum(b), info.SHA256)
	})
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("client went away") }
