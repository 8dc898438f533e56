// Package blobtest is the conformance suite every blob.Store must pass; the
// fs package runs it, and so will the S3 one.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
)

// Run runs the suite; newStore returns a fresh, empty store for each test.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	// Measured first and alone: the allocation count of a streamed Put is
	// process-wide, so no other subtest may run beside it.
	t.Run("Streaming", func(t *testing.T) { testStreaming(t, newStore(t)) })

	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutGetStat", testPutGetStat},
		{"Empty", testEmpty},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"BadKeys", testBadKeys},
		{"GoodKeys", testGoodKeys},
		{"List", testList},
		{"ListOrder", testListOrder},
		{"ListPages", testListPages},
		{"FailedPutLeavesOld", testFailedPut},
		{"CancelledPut", testCancelledPut},
		{"AtomicReplace", testAtomicReplace},
		{"ConcurrentPutsSameKey", testConcurrentPuts},
		{"KeyUnderObject", testKeyUnderObject},
		{"ReaderSurvivesReplace", testReaderSurvivesReplace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func requireKind(t *testing.T, err error, k fault.Kind) {
	t.Helper()
	requireKindf(t, err, k, "")
}

func requireKindf(t *testing.T, err error, k fault.Kind, format string, args ...any) {
	t.Helper()
	what := fmt.Sprintf(format, args...)
	require.Error(t, err, what)
	require.Equalf(t, k, fault.KindOf(err), "%s: error %q", what, err)
}

func get(t *testing.T, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Get(ctxOf(t), key)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b, info
}

func put(t *testing.T, s blob.Store, key, content string) blob.Info {
	t.Helper()
	info, err := s.Put(ctxOf(t), key, strings.NewReader(content))
	require.NoError(t, err)
	return info
}

func testPutGetStat(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	data := []byte("From: a@example.com\r\n\r\nhello\r\n")
	before := time.Now().Add(-2 * time.Second)
	info, err := s.Put(ctx, "spool/2026/msg-1.eml", bytes.NewReader(data))
	require.NoError(t, err)
	require.Equal(t, "spool/2026/msg-1.eml", info.Key)
	require.Equal(t, int64(len(data)), info.Size)
	require.Equal(t, sum(data), info.SHA256)
	require.True(t, info.ModTime.After(before), "ModTime %s", info.ModTime)
	require.True(t, info.ModTime.Before(time.Now().Add(2*time.Second)), "ModTime %s", info.ModTime)

	b, got := get(t, s, "spool/2026/msg-1.eml")
	require.Equal(t, data, b)
	require.Equal(t, info.Key, got.Key)
	require.Equal(t, info.Size, got.Size)
	require.Equal(t, info.SHA256, got.SHA256)
	require.True(t, info.ModTime.Equal(got.ModTime), "%s vs %s", info.ModTime, got.ModTime)

	st, err := s.Stat(ctx, "spool/2026/msg-1.eml")
	require.NoError(t, err)
	require.Equal(t, got.Key, st.Key)
	require.Equal(t, got.Size, st.Size)
	require.Equal(t, got.SHA256, st.SHA256)
	require.True(t, got.ModTime.Equal(st.ModTime))
}

func testEmpty(t *testing.T, s blob.Store) {
	info := put(t, s, "empty", "")
	require.Zero(t, info.Size)
	require.Equal(t, sum(nil), info.SHA256)
	b, got := get(t, s, "empty")
	require.Empty(t, b)
	require.Equal(t, sum(nil), got.SHA256)
}

func testOverwrite(t *testing.T, s blob.Store) {
	put(t, s, "k", "old content")
	info := put(t, s, "k", "new")
	require.Equal(t, int64(3), info.Size)
	b, got := get(t, s, "k")
	require.Equal(t, "new", string(b))
	require.Equal(t, sum([]byte("new")), got.SHA256)
	st, err := s.Stat(ctxOf(t), "k")
	require.NoError(t, err)
	require.Equal(t, sum([]byte("new")), st.SHA256)
	require.EqualValues(t, 3, st.Size)
	all, err := s.List(ctxOf(t), "", "", 0)
	require.NoError(t, err)
	require.Len(t, all, 1)
}

func testMissing(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	put(t, s, "dir/present", "x")
	for _, k := range []string{"nope", "dir/nope", "dir", "dir/present/deeper", "nodir/nope"} {
		_, _, err := s.Get(ctx, k)
		requireKindf(t, err, fault.NotFound, "Get %q", k)
		_, err = s.Stat(ctx, k)
		requireKindf(t, err, fault.NotFound, "Stat %q", k)
		requireKindf(t, s.Delete(ctx, k), fault.NotFound, "Delete %q", k)
	}
	b, _ := get(t, s, "dir/present")
	require.Equal(t, "x", string(b), "failed deletes touched nothing")
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	put(t, s, "a/b/c", "x")
	put(t, s, "a/d", "y")
	require.NoError(t, s.Delete(ctx, "a/b/c"))
	_, err := s.Stat(ctx, "a/b/c")
	requireKind(t, err, fault.NotFound)
	requireKind(t, s.Delete(ctx, "a/b/c"), fault.NotFound)
	all, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"a/d"}, keys(all))
	// The key can be put again, and one under a now empty "directory".
	put(t, s, "a/b/c", "again")
	put(t, s, "a/b/e", "more")
	b, _ := get(t, s, "a/b/c")
	require.Equal(t, "again", string(b))
	require.NoError(t, s.Delete(ctx, "a/d"))
	require.NoError(t, s.Delete(ctx, "a/b/c"))
	require.NoError(t, s.Delete(ctx, "a/b/e"))
	all, err = s.List(ctx, "", "", 0)
	require.NoError(t, err)
	require.Empty(t, all)
}

func testBadKeys(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	bad := []string{
		"", "/abs", "..", "../x", "a/../../x", "a/..", ".", "./a", "a/./b", "a//b", "a/",
		"a\x00b", "a\nb", "a\x7fb", `a\b`, "\xff\xfe", strings.Repeat("k/", blob.MaxKeyLen/2) + "k",
	}
	for _, k := range bad {
		requireKindf(t, blob.ValidateKey(k), fault.Invalid, "ValidateKey %q", k)
		_, err := s.Put(ctx, k, strings.NewReader("x"))
		requireKindf(t, err, fault.Invalid, "Put %q", k)
		_, _, err = s.Get(ctx, k)
		requireKindf(t, err, fault.Invalid, "Get %q", k)
		_, err = s.Stat(ctx, k)
		requireKindf(t, err, fault.Invalid, "Stat %q", k)
		requireKindf(t, s.Delete(ctx, k), fault.Invalid, "Delete %q", k)
	}
	all, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	require.Empty(t, all, "nothing was written, inside the store or out of it")
	// A prefix that no valid key can have lists nothing, and reads
	// nothing outside the store.
	for _, p := range []string{"../", "../../etc/", "/etc/", "a/../"} {
		got, err := s.List(ctx, p, "", 0)
		if err == nil {
			require.Empty(t, got, "prefix %q", p)
		} else {
			requireKindf(t, err, fault.Invalid, "prefix %q", p)
		}
	}
}

func testGoodKeys(t *testing.T, s blob.Store) {
	// The longest key: MaxKeyLen bytes in segments of 200.
	long := strings.Repeat(strings.Repeat("x", 199)+"/", blob.MaxKeyLen/200)
	long += strings.Repeat("y", blob.MaxKeyLen-len(long))
	require.Len(t, long, blob.MaxKeyLen)
	good := []string{"a", "with space", "ünï/cödé ✉", "a.b/c-d/e_f", "...", "..a", "a..", ".hidden", "x=1&y=2;z", long}
	for _, k := range good {
		require.NoError(t, blob.ValidateKey(k), k)
		put(t, s, k, "v:"+k)
		b, info := get(t, s, k)
		require.Equal(t, "v:"+k, string(b))
		require.Equal(t, k, info.Key)
	}
	all, err := s.List(ctxOf(t), "", "", 0)
	require.NoError(t, err)
	want := slices.Clone(good)
	slices.Sort(want)
	require.Equal(t, want, keys(all))
}

func keys(infos []blob.Info) []string {
	out := []string{}
	for _, i := range infos {
		out = append(out, i.Key)
	}
	return out
}

func testList(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	for i := range 7 {
		put(t, s, fmt.Sprintf("exports/job1/part-%02d", i), strings.Repeat("x", i))
	}
	put(t, s, "exports/job2/part-00", "y")
	put(t, s, "exports/job10", "z")
	put(t, s, "other", "z")

	got, err := s.List(ctx, "exports/job1/", "", 0)
	require.NoError(t, err)
	require.Len(t, got, 7)
	for i, info := range got {
		require.Equal(t, fmt.Sprintf("exports/job1/part-%02d", i), info.Key)
		require.EqualValues(t, i, info.Size)
		require.False(t, info.ModTime.IsZero())
		if info.SHA256 != "" {
			require.Equal(t, sum([]byte(strings.Repeat("x", i))), info.SHA256)
		}
	}
	for prefix, want := range map[string][]string{
		"exports/job1": {"exports/job1/part-00", "exports/job1/part-01", "exports/job1/part-02", "exports/job1/part-03",
			"exports/job1/part-04", "exports/job1/part-05", "exports/job1/part-06", "exports/job10"},
		"exports/job1/part-0": {"exports/job1/part-00", "exports/job1/part-01", "exports/job1/part-02", "exports/job1/part-03",
			"exports/job1/part-04", "exports/job1/part-05", "exports/job1/part-06"},
		"exports/job2":          {"exports/job2/part-00"},
		"exports/job1/part-05":  {"exports/job1/part-05"},
		"o":                     {"other"},
		"other":                 {"other"},
		"other/":                {},
		"nothing":               {},
		"exports/job3/":         {},
		"exports/job1/part-06x": {},
	} {
		got, err := s.List(ctx, prefix, "", 0)
		require.NoError(t, err)
		require.Equal(t, want, keys(got), "prefix %q", prefix)
	}
	all, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	require.Len(t, all, 10)
	// after and prefix together
	got, err = s.List(ctx, "exports/", "exports/job1/part-05", 3)
	require.NoError(t, err)
	require.Equal(t, []string{"exports/job1/part-06", "exports/job10", "exports/job2/part-00"}, keys(got))
	got, err = s.List(ctx, "exports/job2", "exports/job1", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"exports/job2/part-00"}, keys(got))
	got, err = s.List(ctx, "", "other", 0)
	require.NoError(t, err)
	require.Empty(t, got)
}

// testListOrder: keys come in byte order of the whole key, whatever the
// backend's layout ("a.c" < "a/b" < "a0" as '.' < '/' < '0').
func testListOrder(t *testing.T, s blob.Store) {
	ks := []string{"a0", "a/b", "a.c", "a-d", "a/b0", "a/b.x/y", "a/b-", "B", "a/b/", "é", "z"}
	ks = slices.DeleteFunc(ks, func(k string) bool { return blob.ValidateKey(k) != nil }) // "a/b/"
	rand.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
	for _, k := range ks {
		put(t, s, k, k)
	}
	slices.Sort(ks)
	all, err := s.List(ctxOf(t), "", "", 0)
	require.NoError(t, err)
	require.Equal(t, ks, keys(all))
	// Page by page, one at a time, gives the same.
	var paged []string
	after := ""
	for {
		page, err := s.List(ctxOf(t), "", after, 1)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		require.Len(t, page, 1)
		paged = append(paged, page[0].Key)
		after = page[0].Key
	}
	require.Equal(t, ks, paged)
}

func testListPages(t *testing.T, s blob.Store) {
	var want []string
	for d := range 4 {
		for i := range 6 {
			k := fmt.Sprintf("spool/%d/%02d", d, i)
			want = append(want, k)
			put(t, s, k, k)
		}
	}
	for _, size := range []int{1, 5, 7, 24, 100} {
		var got []string
		after := ""
		for {
			page, err := s.List(ctxOf(t), "spool/", after, size)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page), size)
			if len(page) == 0 {
				break
			}
			got = append(got, keys(page)...)
			after = page[len(page)-1].Key
		}
		require.Equal(t, want, got, "page size %d", size)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }

func testFailedPut(t *testing.T, s blob.Store) {
	put(t, s, "k", "old")
	_, err := s.Put(ctxOf(t), "k", io.MultiReader(strings.NewReader(strings.Repeat("partial", 10000)), errReader{}))
	require.ErrorContains(t, err, "client went away")
	b, info := get(t, s, "k")
	require.Equal(t, "old", string(b))
	require.Equal(t, sum([]byte("old")), info.SHA256)
	// A failed first Put leaves no object either.
	_, err = s.Put(ctxOf(t), "new/k", io.MultiReader(strings.NewReader("partial"), errReader{}))
	require.Error(t, err)
	_, err = s.Stat(ctxOf(t), "new/k")
	requireKind(t, err, fault.NotFound)
	all, err := s.List(ctxOf(t), "", "", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"k"}, keys(all), "a failed Put leaves nothing behind")
}

// blockReader gives n bytes, then blocks until its context ends.
type blockReader struct {
	ctx  context.Context
	n    int
	sent chan struct{}
}

func (r *blockReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := min(len(p), r.n)
		r.n -= k
		for i := range p[:k] {
			p[i] = 'x'
		}
		return k, nil
	}
	close(r.sent)
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

func testCancelledPut(t *testing.T, s blob.Store) {
	put(t, s, "k", "old")
	ctx, cancel := context.WithCancel(ctxOf(t))
	r := &blockReader{ctx: ctx, n: 100000, sent: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Put(ctx, "k", r)
		errc <- err
	}()
	select {
	case <-r.sent:
	case <-time.After(time.Minute):
		t.Fatal("Put did not read")
	}
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(time.Minute):
		t.Fatal("Put did not end with its context")
	}
	b, _ := get(t, s, "k")
	require.Equal(t, "old", string(b))
}

// testAtomicReplace: while a key is replaced again and again by objects of
// different sizes, every Get sees one whole object, its bytes agreeing with
// its Info.
func testAtomicReplace(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	version := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10+i*1000) }
	_, err := s.Put(ctx, "hot", bytes.NewReader(version(0)))
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	readErrs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				rc, info, err := s.Get(ctx, "hot")
				if err != nil {
					readErrs <- err
					return
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				switch {
				case err != nil:
					readErrs <- err
					return
				case int64(len(b)) != info.Size || sum(b) != info.SHA256:
					readErrs <- fmt.Errorf("read %d bytes (sha %s), Info says %d (sha %s)", len(b), sum(b)[:8], info.Size, info.SHA256[:8])
					return
				case len(b) == 0 || !bytes.Equal(b, bytes.Repeat(b[:1], len(b))):
					readErrs <- errors.New("read a mix of two objects")
					return
				}
			}
		}()
	}
	for i := 1; i <= 40; i++ {
		_, err := s.Put(ctx, "hot", bytes.NewReader(version(i)))
		require.NoError(t, err)
	}
	close(stop)
	wg.Wait()
	close(readErrs)
	for err := range readErrs {
		require.NoError(t, err)
	}
	b, _ := get(t, s, "hot")
	require.Equal(t, version(40), b)
}

func testConcurrentPuts(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Put(ctx, "race/key", strings.NewReader(strings.Repeat(fmt.Sprint(i), 10000)))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	b, info := get(t, s, "race/key")
	require.Len(t, b, 10000)
	require.Equal(t, strings.Repeat(string(b[0]), 10000), string(b), "one whole write wins")
	require.Equal(t, sum(b), info.SHA256)
	all, err := s.List(ctx, "", "", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"race/key"}, keys(all))
}

// testKeyUnderObject: "a" and "a/b" both stored, or the second refused with
// fault.Conflict; either way the first is intact.
func testKeyUnderObject(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	put(t, s, "a", "object a")
	_, err := s.Put(ctx, "a/b", strings.NewReader("under a"))
	if err != nil {
		requireKind(t, err, fault.Conflict)
	}
	b, _ := get(t, s, "a")
	require.Equal(t, "object a", string(b))

	put(t, s, "c/d", "under c")
	_, err = s.Put(ctx, "c", strings.NewReader("object c"))
	if err != nil {
		requireKind(t, err, fault.Conflict)
		_, err = s.Stat(ctx, "c")
		requireKind(t, err, fault.NotFound)
	}
	b, _ = get(t, s, "c/d")
	require.Equal(t, "under c", string(b))
}

// testReaderSurvivesReplace: a reader opened before a Put or Delete goes
// on reading the object it opened.
func testReaderSurvivesReplace(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	old := strings.Repeat("o", 100000)
	put(t, s, "k", old)
	rc, _, err := s.Get(ctx, "k")
	require.NoError(t, err)
	defer rc.Close()
	head := make([]byte, 10)
	_, err = io.ReadFull(rc, head)
	require.NoError(t, err)
	put(t, s, "k", "new")
	require.NoError(t, s.Delete(ctx, "k"))
	rest, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, old, string(head)+string(rest))
}

// repeatReader is an endless stream of one byte.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// testStreaming: a 64 MiB object goes in and out with a few MiB of
// allocation: Put and Get stream.
func testStreaming(t *testing.T, s blob.Store) {
	ctx := ctxOf(t)
	const size = 64 << 20
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	info, err := s.Put(ctx, "big", io.LimitReader(repeatReader('m'), size))
	require.NoError(t, err)
	runtime.ReadMemStats(&m1)
	require.EqualValues(t, size, info.Size)
	require.Less(t, m1.TotalAlloc-m0.TotalAlloc, uint64(8<<20), "Put allocated %d bytes for a %d-byte object", m1.TotalAlloc-m0.TotalAlloc, size)

	h := sha256.New()
	_, err = io.Copy(h, io.LimitReader(repeatReader('m'), size))
	require.NoError(t, err)
	require.Equal(t, hex.EncodeToString(h.Sum(nil)), info.SHA256)

	runtime.ReadMemStats(&m0)
	rc, got, err := s.Get(ctx, "big")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	runtime.ReadMemStats(&m1)
	require.EqualValues(t, size, n)
	require.Equal(t, info.SHA256, got.SHA256)
	require.Less(t, m1.TotalAlloc-m0.TotalAlloc, uint64(8<<20), "Get allocated %d bytes", m1.TotalAlloc-m0.TotalAlloc)
}
