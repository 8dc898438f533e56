package archive

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Keys gives the data keys that archives with a KmsKeyArn are encrypted
// under (internal/kms implements it). Errors: fault.NotFound when keyRef
// names no key of the account.
type Keys interface {
	// DataKey returns the current data key of owner under the key keyRef
	// names: an ID to store and the AES-256 key.
	DataKey(ctx context.Context, accountID, keyRef, owner string) (id string, key []byte, err error)
	// OpenDataKey returns the key of a data key ID DataKey returned.
	OpenDataKey(ctx context.Context, accountID, id string) ([]byte, error)
}

// dataKeyOwner is the owner of an archive's data keys.
func dataKeyOwner(archiveID string) string { return "archive/" + archiveID }

// Encrypted blobs. A message's compressed bytes are cut into chunks of
// cryptChunk bytes, each sealed with AES-256-GCM under the archive's data
// key: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár,
// "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance",
// 2015), so that a message of any size is encrypted and decrypted as a
// stream, and a blob cut short, reordered or spliced fails to open.
//
//	blob  = magic(4) prefix(7) chunk…
//	chunk = AES-256-GCM(key, nonce = prefix ‖ counter(4, big-endian) ‖ last(1), data, ad)
//
// The prefix is random per message; last is 1 on the final chunk only
// (which may be empty). The associated data names the account, archive
// and message, so a blob copied under another message does not open.
const (
	cryptMagic  = "TDA1"
	cryptPrefix = 7
	cryptChunk  = 64 << 10
)

func cryptAD(accountID, archiveID, messageID string) []byte {
	return fmt.Appendf(nil, "tidings-archive\x00%s\x00%s\x00%s", accountID, archiveID, messageID)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("archive: data key: %w", err)
	}
	return cipher.NewGCM(b)
}

func cryptNonce(prefix []byte, ctr uint32, last bool) []byte {
	n := make([]byte, 12)
	copy(n, prefix)
	binary.BigEndian.PutUint32(n[cryptPrefix:], ctr)
	if last {
		n[11] = 1
	}
	return n
}

// sealWriter encrypts what is written to it onto w; Close seals the final
// chunk (it does not close w).
type sealWriter struct {
	w      io.Writer
	aead   cipher.AEAD
	prefix []byte
	ad     []byte
	buf    []byte
	out    []byte
	ctr    uint32
	err    error
}

func newSealWriter(w io.Writer, key, ad []byte) (*sealWriter, error) {
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	prefix := make([]byte, cryptPrefix)
	if _, err := rand.Read(prefix); err != nil {
		return nil, err
	}
	sw := &sealWriter{w: w, aead: a, prefix: prefix, ad: ad, buf: make([]byte, 0, cryptChunk+1)}
	_, sw.err = w.Write(append([]byte(cryptMagic), prefix...))
	return sw, nil
}

func (sw *sealWriter) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	n := len(p)
	for len(p) > 0 {
		// A chunk is sealed only once more follows, so that the final
		// one is left for Close.
		if len(sw.buf) == cryptChunk {
			if sw.err = sw.seal(false); sw.err != nil {
				return 0, sw.err
			}
		}
		c := min(len(p), cryptChunk-len(sw.buf))
		sw.buf = append(sw.buf, p[:c]...)
		p = p[c:]
	}
	return n, nil
}

func (sw *sealWriter) seal(last bool) error {
	if sw.ctr == ^uint32(0) {
		return errors.New("archive: message too large to encrypt")
	}
	sw.out = sw.aead.Seal(sw.out[:0], cryptNonce(sw.prefix, sw.ctr, last), sw.buf, sw.ad)
	sw.ctr++
	sw.buf = sw.buf[:0]
	_, err := sw.w.Write(sw.out)
	return err
}

func (sw *sealWriter) Close() error {
	if sw.err != nil {
		return sw.err
	}
	sw.err = sw.seal(true)
	if sw.err == nil {
		sw.err = errors.New("archive: sealWriter closed")
		return nil
	}
	return sw.err
}

// openReader decrypts a blob of sealWriter.
type openReader struct {
	r      *bufio.Reader
	aead   cipher.AEAD
	prefix []byte
	ad     []byte
	in     []byte
	plain  []byte
	pos    int
	ctr    uint32
	done   bool
	err    error
}

var errDecrypt = errors.New("archive: the encrypted message does not decrypt (damaged, truncated, or not this message's)")

func newOpenReader(r io.Reader, key, ad []byte) (*openReader, error) {
	a, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(r, cryptChunk+64)
	head := make([]byte, len(cryptMagic)+cryptPrefix)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:len(cryptMagic)]) != cryptMagic {
		return nil, errDecrypt
	}
	return &openReader{r: br, aead: a, prefix: head[len(cryptMagic):], ad: ad, in: make([]byte, cryptChunk+a.Overhead())}, nil
}

func (or *openReader) Read(p []byte) (int, error) {
	for or.pos == len(or.plain) {
		if or.err != nil {
			return 0, or.err
		}
		if or.done {
			return 0, io.EOF
		}
		or.err = or.next()
	}
	n := copy(p, or.plain[or.pos:])
	or.pos += n
	return n, nil
}

// next reads and opens one chunk.
func (or *openReader) next() error {
	n, err := io.ReadFull(or.r, or.in)
	last := false
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		last = true
	case err != nil:
		return err
	default:
		if _, perr := or.r.Peek(1); errors.Is(perr, io.EOF) {
			last = true
		} else if perr != nil {
			return perr
		}
	}
	plain, oerr := or.aead.Open(or.plain[:0], cryptNonce(or.prefix, or.ctr, last), or.in[:n], or.ad)
	if oerr != nil {
		return errDecrypt
	}
	or.ctr++
	or.plain, or.pos, or.done = plain, 0, last
	return nil
}
