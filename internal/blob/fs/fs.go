// Package fs is the blob store on a local file system: each object is a
// file under the root, named by its key.
//
// Durability: Put writes to a temporary file in the destination directory,
// fsyncs it, renames it over the key and fsyncs the directory, so that once
// Put returns the object survives a crash and a reader never sees a part.
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
	"sort"
	"strings"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
)

// Store keeps objects under Root.
type Store struct {
	root string
}

var _ blob.Store = (*Store)(nil)

// tmpPrefix marks files being written; List skips them.
const tmpPrefix = ".tmp-"

// shaSuffix is the suffix of the side file holding an object's digest.
const shaSuffix = ".sha256"

// New opens (creating) a store rooted at dir.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return &Store{root: abs}, nil
}

func (s *Store) path(key string) (string, error) {
	if err := blob.ValidateKey(key); err != nil {
		return "", fault.Invalidf("%v", err)
	}
	base := filepath.Base(key)
	if strings.HasPrefix(base, tmpPrefix) || strings.HasSuffix(base, shaSuffix) {
		return "", fault.Invalidf("blob: key %q uses a reserved name", key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

func notFound(key string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return &fault.Error{Kind: fault.NotFound, Message: fmt.Sprintf("blob %q not found", key), Err: err}
	}
	return err
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return blob.Info{}, err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return blob.Info{}, err
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
		return blob.Info{}, err
	}
	if err := f.Sync(); err != nil {
		return blob.Info{}, err
	}
	if err := f.Close(); err != nil {
		return blob.Info{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	tst, err := os.Stat(tmp)
	if err != nil {
		return blob.Info{}, err
	}
	// The digest goes first, naming the size and modification time of the
	// file it describes: a crash between the two renames leaves a digest
	// that does not match the (old) object, which info then recomputes.
	if err := writeFileSync(p+shaSuffix, []byte(fmt.Sprintf("%d %d %s", n, tst.ModTime().UnixNano(), sum))); err != nil {
		return blob.Info{}, err
	}
	if err := os.Rename(tmp, p); err != nil {
		return blob.Info{}, err
	}
	done = true
	if err := syncDir(dir); err != nil {
		return blob.Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return blob.Info{}, err
	}
	return blob.Info{Key: key, Size: n, ModTime: st.ModTime().UTC(), SHA256: sum}, nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, blob.Info{}, notFound(key, err)
	}
	info, err := s.info(key, p, f)
	if err != nil {
		f.Close()
		return nil, blob.Info{}, err
	}
	return f, info, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return blob.Info{}, notFound(key, err)
	}
	defer f.Close()
	return s.info(key, p, f)
}

// info reads the object's digest from its side file, recomputing it when
// the side file is missing or stale.
func (s *Store) info(key, p string, f *os.File) (blob.Info, error) {
	st, err := f.Stat()
	if err != nil {
		return blob.Info{}, err
	}
	info := blob.Info{Key: key, Size: st.Size(), ModTime: st.ModTime().UTC()}
	if b, err := os.ReadFile(p + shaSuffix); err == nil {
		var n, mtime int64
		var sum string
		if _, err := fmt.Sscanf(string(b), "%d %d %s", &n, &mtime, &sum); err == nil && n == st.Size() && mtime == st.ModTime().UnixNano() {
			info.SHA256 = sum
			return info, nil
		}
	}
	h := sha256.New()
	sr := io.NewSectionReader(f, 0, st.Size())
	if _, err := io.Copy(h, sr); err != nil {
		return blob.Info{}, err
	}
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	return info, nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFound(key, err)
	}
	_ = os.Remove(p + shaSuffix)
	return syncDir(filepath.Dir(p))
}

// List implements blob.Store.
func (s *Store) List(ctx context.Context, prefix, after string, limit int) ([]blob.Info, error) {
	if limit <= 0 {
		limit = 1000
	}
	// Walk only the deepest directory the prefix names.
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, tmpPrefix) || strings.HasSuffix(name, shaSuffix) {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) && key > after {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]blob.Info, 0, len(keys))
	for _, k := range keys {
		info, err := s.Stat(ctx, k)
		if fault.Is(err, fault.NotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func writeFileSync(p string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops a copy when the context ends.
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
