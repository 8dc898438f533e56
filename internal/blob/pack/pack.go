// Package pack keeps many small immutable objects in a few large
// append-only files, so that storing one costs a share of an fsync
// instead of a file of its own.
//
// A file per object (blob/fs) costs creating it, an fsync of it, a rename
// and an fsync of its directory: about what the object's bytes cost a
// hundred times over when objects are a few kilobytes, as archived mail
// is once compressed. Here concurrent Appends write their bytes into the
// current segment file at offsets they reserve, and one fsync of that
// file makes all of them durable (group commit, as internal/groupcommit
// does for transactions). An object is then named by a Ref: its segment,
// offset and length, which the caller keeps in its database row.
//
// Objects are freed one by one (Free): on Linux the range is punched out
// of the file (fallocate FALLOC_FL_PUNCH_HOLE), so the disk space comes
// back at once, and a segment no longer appended to whose every byte is
// freed is removed. Elsewhere Free only forgets: the space stays until the
// segment is deleted by hand.
//
// Layout: <dir>/YYYY/MM/DD/<start time>-<random>.pack, the date and time
// when the segment was started (UTC). A process appends to one segment at
// a time and starts another when it has MaxSegment bytes or is Rotate old,
// so a segment older than twice that is never written again, by this
// process or another sharing the directory: only such segments are removed.
package pack

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/fault"
)

const (
	// MaxSegment is the size after which a new segment file is started.
	MaxSegment = 256 << 20
	// Rotate is the age after which a new segment file is started.
	Rotate = time.Hour
	// suffix ends segment file names.
	suffix = ".pack"
	// prefix starts every Ref.
	prefix = "pack:"
	// stamp is the start time in segment names.
	stamp = "20060102T150405.000000000Z"
)

// Store appends objects to segment files under a directory.
type Store struct {
	dir string
	now func() time.Time
	max int64 // MaxSegment; tests make it smaller

	mu    sync.Mutex // guards cur, the reservation of its bytes, and dirty
	cur   *segment
	dirty map[string]bool // segments partly freed before they were sealed
}

// segment is a segment file open for appending.
type segment struct {
	f       *os.File
	name    string // relative to the store's directory, with slashes
	started time.Time
	size    int64 // bytes reserved so far

	// Group fsync: an Append takes a ticket once its bytes are written
	// and waits until an fsync that began after that has ended.
	mu      sync.Mutex
	cond    *sync.Cond
	written uint64 // tickets handed out
	synced  uint64 // tickets covered by the last fsync
	syncing bool
	err     error // of the last fsync; the segment is abandoned after one
	users   int   // Appends between reserving and their fsync; closed at 0 once replaced
	retired bool
}

// Open returns the store over dir, creating it.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return &Store{dir: abs, now: time.Now, max: MaxSegment}, nil
}

// Dir is the directory of the store.
func (s *Store) Dir() string { return s.dir }

// Ref names an object: "pack:<segment>:<offset>:<length>".
type Ref struct {
	Segment string
	Offset  int64
	Length  int64
}

func (r Ref) String() string {
	return prefix + r.Segment + ":" + strconv.FormatInt(r.Offset, 10) + ":" + strconv.FormatInt(r.Length, 10)
}

func (r Ref) check() error {
	if !validName(r.Segment) || r.Offset < 0 || r.Length <= 0 {
		return fault.Invalidf("%q is not a pack reference", r.String())
	}
	return nil
}

// IsRef tells whether s names a packed object, as opposed to a blob key.
func IsRef(s string) bool { return strings.HasPrefix(s, prefix) }

// ParseRef parses what Ref.String made; fault.Invalid otherwise.
func ParseRef(s string) (Ref, error) {
	bad := fault.Invalidf("%q is not a pack reference", s)
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return Ref{}, bad
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return Ref{}, bad
	}
	j := strings.LastIndexByte(rest[:i], ':')
	if j < 0 {
		return Ref{}, bad
	}
	off, err1 := strconv.ParseInt(rest[j+1:i], 10, 64)
	n, err2 := strconv.ParseInt(rest[i+1:], 10, 64)
	r := Ref{Segment: rest[:j], Offset: off, Length: n}
	if err1 != nil || err2 != nil || r.check() != nil {
		return Ref{}, bad
	}
	return r, nil
}

// validName accepts the segment names Store makes: YYYY/MM/DD/name.pack,
// nothing that could leave the directory.
func validName(name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || !strings.HasSuffix(parts[3], suffix) {
		return false
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "\\\x00") {
			return false
		}
	}
	return true
}

// Append stores b and returns its Ref once b is durable. Concurrent
// Appends share the fsync of their segment.
func (s *Store) Append(b []byte) (Ref, error) {
	if len(b) == 0 {
		return Ref{}, fault.Invalidf("pack: empty object")
	}
	seg, off, err := s.reserve(int64(len(b)))
	if err != nil {
		return Ref{}, err
	}
	defer s.release(seg)
	if _, err := seg.f.WriteAt(b, off); err != nil {
		s.abandon(seg)
		return Ref{}, fmt.Errorf("pack: writing %s: %w", seg.name, err)
	}
	if err := seg.sync(); err != nil {
		s.abandon(seg)
		return Ref{}, fmt.Errorf("pack: fsync %s: %w", seg.name, err)
	}
	return Ref{Segment: seg.name, Offset: off, Length: int64(len(b))}, nil
}

// reserve gives n bytes of the current segment, starting a new one when
// there is none, it is full or it is old.
func (s *Store) reserve(n int64) (*segment, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c := s.cur; c == nil || (c.size > 0 && c.size+n > s.max) || now.Sub(c.started) >= Rotate {
		seg, err := s.create(now)
		if err != nil {
			return nil, 0, err
		}
		if c != nil {
			s.retire(c)
		}
		s.cur = seg
	}
	c := s.cur
	off := c.size
	c.size += n
	c.mu.Lock()
	c.users++
	c.mu.Unlock()
	return c, off, nil
}

// create starts a segment file, durable in its directory before any
// object is written to it.
func (s *Store) create(now time.Time) (*segment, error) {
	var rnd [4]byte
	rand.Read(rnd[:])
	now = now.UTC()
	day := now.Format("2006/01/02")
	name := day + "/" + now.Format(stamp) + "-" + hex.EncodeToString(rnd[:]) + suffix
	if err := mkdirAll(s.dir, day); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	path := filepath.Join(s.dir, filepath.FromSlash(name))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	if err := blobfs.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("pack: %w", err)
	}
	seg := &segment{f: f, name: name, started: now}
	seg.cond = sync.NewCond(&seg.mu)
	return seg, nil
}

// retire marks seg as no longer appended to: its file closes once the
// Appends writing to it are done. s.mu is held.
func (s *Store) retire(seg *segment) {
	seg.mu.Lock()
	seg.retired = true
	closeNow := seg.users == 0
	seg.mu.Unlock()
	if closeNow {
		seg.f.Close()
	}
}

func (s *Store) release(seg *segment) {
	seg.mu.Lock()
	seg.users--
	closeNow := seg.retired && seg.users == 0
	seg.mu.Unlock()
	if closeNow {
		seg.f.Close()
	}
}

// abandon stops appending to seg after a write or fsync failed: what
// follows goes to a new segment.
func (s *Store) abandon(seg *segment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == seg {
		s.cur = nil
		s.retire(seg)
	}
}

// SyncWindow is how long the fsync of a segment waits for more appends to
// share it. An Append takes that much longer; concurrent ones (the archive
// steps of many messages) share fewer fsyncs (bench/relay with archiving:
// about 0.6 fsyncs of a segment per message without the wait).
var SyncWindow = 2 * time.Millisecond

// sync returns once an fsync that began after the caller's write has
// ended, running it when none is running.
func (seg *segment) sync() error {
	seg.mu.Lock()
	defer seg.mu.Unlock()
	seg.written++
	ticket := seg.written
	for seg.synced < ticket {
		if seg.err != nil {
			return seg.err
		}
		if seg.syncing {
			seg.cond.Wait()
			continue
		}
		seg.syncing = true
		seg.mu.Unlock()
		// Let the appends of the next moments join this fsync: each
		// fsync of a growing file is also a journal commit, and the
		// disk's time is what the spool's own fsyncs wait for.
		time.Sleep(SyncWindow)
		seg.mu.Lock()
		target := seg.written
		seg.mu.Unlock()
		err := seg.f.Sync()
		if err == nil {
			dropCache(seg.f)
		}
		seg.mu.Lock()
		seg.syncing = false
		if err != nil {
			seg.err = err
		} else {
			seg.synced = target
		}
		seg.cond.Broadcast()
	}
	return nil
}

// Open returns a reader of the object ref names. fault.NotFound when its
// segment is gone.
func (s *Store) Open(ref Ref) (io.ReadCloser, error) {
	if err := ref.check(); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(ref.Segment)))
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, fault.NotFoundf("pack segment %s not found", ref.Segment)
		}
		return nil, fmt.Errorf("pack: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pack: %w", err)
	}
	if ref.Offset+ref.Length > fi.Size() {
		f.Close()
		return nil, fmt.Errorf("pack: %s ends past its segment (%d bytes)", ref, fi.Size())
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, ref.Offset, ref.Length), f}, nil
}

// Free releases the space of the object ref names, and removes its
// segment when nothing in it is left and nobody writes to it any more. It
// is idempotent; a missing segment is not an error.
//
// In a segment still written to, only the object's own bytes can be
// punched: the blocks it shares with its neighbours are freed by Sweep
// once the segment is sealed.
func (s *Store) Free(ref Ref) error {
	if err := ref.check(); err != nil {
		return err
	}
	f, path, err := s.openSegment(ref.Segment)
	if f == nil {
		return err
	}
	defer f.Close()
	supported, err := punch(f, ref.Offset, ref.Length)
	if err != nil || !supported {
		return wrapFree(ref, err)
	}
	if !s.sealed(ref.Segment) {
		s.mu.Lock()
		if s.dirty == nil {
			s.dirty = map[string]bool{}
		}
		s.dirty[ref.Segment] = true
		s.mu.Unlock()
		return nil
	}
	empty, err := trim(f, ref.Offset, ref.Length)
	if err != nil {
		return wrapFree(ref, err)
	}
	return s.removeIfEmpty(path, empty)
}

func wrapFree(ref Ref, err error) error {
	if err != nil {
		return fmt.Errorf("pack: freeing %s: %w", ref, err)
	}
	return nil
}

func (s *Store) removeIfEmpty(path string, empty bool) error {
	if !empty {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("pack: %w", err)
	}
	return nil
}

// Sweep finishes freeing in the segments Free left partly freed because
// they were still written to, once they are sealed: the blocks of zeros
// between freed objects are punched and empty segments removed. The
// retention job runs it; what a restart forgets stays allocated.
func (s *Store) Sweep() error {
	s.mu.Lock()
	var names []string
	for name := range s.dirty {
		if s.sealed(name) {
			names = append(names, name)
			delete(s.dirty, name)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, name := range names {
		errs = append(errs, s.sweep(name))
	}
	return errors.Join(errs...)
}

// openSegment opens a segment for freeing in it: f nil and err nil when
// it is gone.
func (s *Store) openSegment(name string) (f *os.File, path string, err error) {
	path = filepath.Join(s.dir, filepath.FromSlash(name))
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("pack: %w", err)
	}
	return f, path, nil
}

func (s *Store) sweep(name string) error {
	f, path, err := s.openSegment(name)
	if f == nil {
		return err
	}
	defer f.Close()
	ranges, err := dataRanges(f)
	if err != nil {
		return fmt.Errorf("pack: sweeping %s: %w", name, err)
	}
	empty := len(ranges) == 0
	for _, r := range ranges {
		if empty, err = trim(f, r[0], r[1]-r[0]); err != nil {
			return fmt.Errorf("pack: sweeping %s: %w", name, err)
		}
	}
	return s.removeIfEmpty(path, empty)
}

// sealed tells whether no process appends to the segment any more: it
// was started more than twice Rotate ago.
func (s *Store) sealed(name string) bool {
	base := strings.TrimSuffix(filepath.Base(name), suffix)
	i := strings.LastIndexByte(base, '-')
	if i < 0 {
		return false
	}
	t, err := time.Parse(stamp, base[:i])
	return err == nil && s.now().Sub(t) > 2*Rotate
}

// Close closes the current segment; Appends after it start a new one.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.retire(s.cur)
		s.cur = nil
	}
	return nil
}

// mkdirAll creates rel under root, fsyncing each new directory into its
// parent.
func mkdirAll(root, rel string) error {
	dir := root
	for part := range strings.SplitSeq(rel, "/") {
		parent := dir
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o700); err != nil {
			if errors.Is(err, iofs.ErrExist) {
				continue
			}
			return err
		}
		if err := blobfs.SyncDir(parent); err != nil {
			return err
		}
	}
	return nil
}
