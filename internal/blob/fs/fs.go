// Package fs is the blob store of the embedded shape: one file per object
// under a root directory, keys mapping to relative paths ("spool/x.eml" is
// <root>/spool/x.eml).
//
// Durability like an MTA's spool: Put writes a temporary file in the
// object's directory, fsyncs it, renames it over the object (atomic on
// POSIX file systems), then fsyncs the directory so that the rename itself
// survives a crash; directories it creates are fsynced into their parents
// the same way. The SHA-256 of an object is kept in an extended attribute
// (user.tidings.sha256) where the file system has them, and computed from
// the content where not.
//
// Because objects are files, a key cannot be both an object and a
// directory of others: with "a" stored, Put("a/b") fails with
// fault.Conflict, and the other way round.
package fs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
)

// tmpPrefix starts the names of files being written; List skips them and
// no key segment may start with it.
const tmpPrefix = ".tidings-tmp-"

// maxSegment is the longest name most file systems take (NAME_MAX).
const maxSegment = 255

// Store is a blob.Store over a directory.
type Store struct {
	root string
}

var _ blob.Store = (*Store)(nil)

// New returns the store rooted at dir, creating it.
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Store{root: abs}, nil
}

// Root is the directory of the store.
func (s *Store) Root() string { return s.root }

func (s *Store) validate(key string) error {
	if err := blob.ValidateKey(key); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > maxSegment {
			return fault.Invalidf("blob key %q has a segment longer than %d bytes", key, maxSegment)
		}
		if strings.HasPrefix(seg, tmpPrefix) {
			return fault.Invalidf("blob key %q has a segment starting with %q, reserved", key, tmpPrefix)
		}
	}
	return nil
}

func (s *Store) path(key string) string { return filepath.Join(s.root, filepath.FromSlash(key)) }

// notFound maps a missing file, or a path through a file, to fault.NotFound.
func notFound(key string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("blob %s not found", key), ResourceType: "blob", ResourceID: key, Err: err}
	}
	return fmt.Errorf("blob %s: %w", key, err)
}

func (s *Store) Put(ctx context.Context, key string, r io.Reader) (blob.Info, error) {
	if err := s.validate(key); err != nil {
		return blob.Info{}, err
	}
	final := s.path(key)
	dir := filepath.Dir(final)
	var f *os.File
	for attempt := 0; ; attempt++ {
		if err := s.mkdirAll(key, dir); err != nil {
			// A Delete may have pruned a parent, empty, while we made
			// its child: make the path again.
			if errors.Is(err, iofs.ErrNotExist) && attempt < 3 {
				continue
			}
			return blob.Info{}, err
		}
		var err error
		f, err = os.CreateTemp(dir, tmpPrefix+"*")
		if err == nil {
			break
		}
		// A Delete may have pruned the directory, empty, in between.
		if !errors.Is(err, iofs.ErrNotExist) || attempt == 3 {
			return blob.Info{}, fmt.Errorf("blob: put %s: %w", key, err)
		}
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := setSum(f, sum); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return blob.Info{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return blob.Info{}, fmt.Errorf("blob: put %s: fsync: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return blob.Info{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return blob.Info{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil { // last moment to give up: before the rename
		return blob.Info{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return blob.Info{}, fault.Conflictf("blob key %s names a directory of other objects", key)
		}
		return blob.Info{}, fmt.Errorf("blob: put %s: %w", key, err)
	}
	done = true
	if err := SyncDir(dir); err != nil {
		return blob.Info{}, fmt.Errorf("blob: put %s: fsync directory: %w", key, err)
	}
	return blob.Info{Key: key, Size: n, ModTime: fi.ModTime().UTC(), SHA256: sum}, nil
}

// mkdirAll creates dir and its missing parents under the root, fsyncing
// each new directory's parent so that the new entry is durable.
func (s *Store) mkdirAll(key, dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil, errors.Is(err, syscall.ENOTDIR):
		return fault.Conflictf("blob key %s lies under another object", key)
	case !errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	parent := filepath.Dir(dir)
	if dir == s.root || parent == dir {
		return fmt.Errorf("blob: put %s: root %s is missing", key, s.root)
	}
	if err := s.mkdirAll(key, parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if !errors.Is(err, iofs.ErrExist) {
			return fmt.Errorf("blob: put %s: %w", key, err)
		}
		// Made by a concurrent Put, or an object of that name.
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fault.Conflictf("blob key %s lies under another object", key)
		}
		return nil
	}
	return SyncDir(parent)
}

// SyncDir fsyncs a directory, making the entries made or removed in it
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// open opens the object of key with its Info.
func (s *Store) open(key string) (*os.File, blob.Info, error) {
	if err := s.validate(key); err != nil {
		return nil, blob.Info{}, err
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, blob.Info{}, notFound(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blob.Info{}, notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, blob.Info{}, notFound(key, iofs.ErrNotExist)
	}
	sum, err := getSum(f)
	if err != nil {
		// No attribute (a file system without them, or a file put there
		// by hand): read the content once.
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			f.Close()
			return nil, blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, blob.Info{}, fmt.Errorf("blob %s: %w", key, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	return f, blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime().UTC(), SHA256: sum}, nil
}

func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, blob.Info{}, err
	}
	f, info, err := s.open(key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	return f, info, nil
}

func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := ctx.Err(); err != nil {
		return blob.Info{}, err
	}
	f, info, err := s.open(key)
	if err != nil {
		return blob.Info{}, err
	}
	f.Close()
	return info, nil
}

func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.validate(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	if err != nil {
		return notFound(key, err)
	}
	if fi.IsDir() {
		return notFound(key, iofs.ErrNotExist)
	}
	if err := os.Remove(p); err != nil {
		return notFound(key, err)
	}
	dir := filepath.Dir(p)
	if err := SyncDir(dir); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			// A concurrent Delete pruned the directory, empty: the entry
			// went with it.
			return nil
		}
		return fmt.Errorf("blob: delete %s: fsync directory: %w", key, err)
	}
	// Prune the directories left empty, up to the root; Remove fails on a
	// directory that is not empty, which ends the climb.
	for dir != s.root && strings.HasPrefix(dir, s.root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]blob.Info, error) {
	if strings.IndexByte(prefix, 0) >= 0 {
		return nil, fault.Invalidf("blob prefix %q contains NUL", prefix)
	}
	out := []blob.Info{}
	// Every key with the prefix lies in the directory named by the
	// prefix up to its last "/".
	dirKey := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey = prefix[:i+1]
		if s.validate(strings.TrimSuffix(dirKey, "/")) != nil {
			return out, nil // no valid key lies there
		}
	}
	_, err := s.walk(ctx, dirKey, prefix, after, limit, &out)
	return out, err
}

// walk appends to out the objects under the directory of dirKey ("" or
// "a/b/") in key order, and reports whether limit was reached.
func (s *Store) walk(ctx context.Context, dirKey, prefix, after string, limit int, out *[]blob.Info) (bool, error) {
	entries, err := os.ReadDir(s.path(dirKey))
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob: list %s: %w", prefix, err)
	}
	type entry struct {
		e    iofs.DirEntry
		key  string
		sort string // key, with "/" after a directory's: its keys sort so
	}
	es := make([]entry, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		key := dirKey + e.Name()
		sort := key
		if e.IsDir() {
			sort += "/"
		}
		es = append(es, entry{e, key, sort})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.sort, b.sort) })

	for _, e := range es {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if e.e.IsDir() {
			p := e.sort // key + "/"
			if !strings.HasPrefix(p, prefix) && !strings.HasPrefix(prefix, p) {
				continue
			}
			// Every key under p is before `after` when after sorts past p
			// without starting with it.
			if after > p && !strings.HasPrefix(after, p) {
				continue
			}
			full, err := s.walk(ctx, p, prefix, after, limit, out)
			if full || err != nil {
				return full, err
			}
			continue
		}
		if !e.e.Type().IsRegular() || !strings.HasPrefix(e.key, prefix) || e.key <= after {
			continue
		}
		fi, err := e.e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		sum, _ := pathSum(s.path(e.key))
		*out = append(*out, blob.Info{Key: e.key, Size: fi.Size(), ModTime: fi.ModTime().UTC(), SHA256: sum})
		if limit > 0 && len(*out) >= limit {
			return true, nil
		}
	}
	return false, nil
}

// ctxReader ends a Put's copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
