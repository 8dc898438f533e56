// Package blob is the store of large immutable objects: raw messages in the
// spool, archived mail, exports. Objects are named by keys shaped like S3's
// ("spool/2024/05/06/0123.eml") so that the same code runs over files in the
// data directory (blob/fs) and S3-compatible object storage; both pass the
// conformance suite in blob/blobtest.
package blob

import (
	"context"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidings/tidings/internal/fault"
)

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// SHA256 is the hex SHA-256 of the content. Put, Get and Stat fill it;
	// List may leave it empty where the backend cannot tell cheaply.
	SHA256 string
}

// Store keeps objects by key. Errors: fault.Invalid for a malformed key,
// fault.NotFound for a missing object, fault.Conflict where a backend cannot
// hold both a key and keys under it ("a" and "a/b") and is asked to.
type Store interface {
	// Put stores the content of r under key, replacing any object there.
	// It is atomic: a reader sees the old object or the new, never part of
	// one, and a failed Put (r's error, ctx ended) leaves the old in place.
	// It streams: r is never held whole in memory. It returns when the
	// object is durable.
	Put(ctx context.Context, key string, r io.Reader) (Info, error)
	// Get opens the object; the caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	Stat(ctx context.Context, key string) (Info, error)
	Delete(ctx context.Context, key string) error
	// List returns up to limit objects (all when limit <= 0) whose keys
	// start with prefix and sort after `after` ("" for the first page),
	// in byte order of their keys.
	List(ctx context.Context, prefix, after string, limit int) ([]Info, error)
}

// MaxKeyLen is the longest key in bytes, as in S3.
const MaxKeyLen = 1024

// ValidateKey checks that key can name an object on every backend: not
// empty, at most MaxKeyLen bytes, valid UTF-8 without control characters
// (NUL included) or backslashes (a path separator somewhere), relative (no
// leading "/"), and made of non-empty segments none of which is "." or "..".
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fault.Invalidf("blob key is empty")
	case len(key) > MaxKeyLen:
		return fault.Invalidf("blob key is %d bytes long, more than %d", len(key), MaxKeyLen)
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fault.Invalidf("blob key %q contains a control character", key)
	case strings.IndexByte(key, '\\') >= 0:
		return fault.Invalidf("blob key %q contains a backslash", key)
	case !utf8.ValidString(key):
		return fault.Invalidf("blob key %q is not valid UTF-8", key)
	case strings.HasPrefix(key, "/"):
		return fault.Invalidf("blob key %q is absolute", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fault.Invalidf("blob key %q has an empty segment", key)
		case ".", "..":
			return fault.Invalidf("blob key %q has a %q segment", key, seg)
		}
	}
	return nil
}

// InlineMax is the size up to which a spooled message (the gateway's
// spool, the send queue) is kept in the database, written in the
// transaction that queues it, instead of in a file of its own: a group
// commit then makes many messages durable with one fsync, where each file
// costs an fsync of itself and one of its directory. Larger messages are
// streamed to the blob store, so no connection holds more than this.
const InlineMax = 128 << 10
