package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/blob/pack"
)

// PackMax is the stored size (compressed, and encrypted where the archive
// is) up to which a message goes into a pack segment shared with others
// (see internal/blob/pack) when the archive has one: one fsync then
// serves many messages, where a file of its own costs two. Larger
// messages, and all of them without a pack store, get a blob each.
const PackMax = 1 << 20

var sinkBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// sink receives the stored bytes of one message: kept in memory for a
// pack while they fit, streamed to a blob of their own from the moment
// they do not (so no message is held whole past PackMax).
type sink struct {
	s   *Service
	ctx context.Context
	key string // of the blob, if it comes to one

	buf  *bytes.Buffer
	pw   *io.PipeWriter
	done chan putResult
}

type putResult struct {
	info blob.Info
	err  error
}

func (s *Service) newSink(ctx context.Context, key string) *sink {
	k := &sink{s: s, ctx: ctx, key: key}
	if s.cfg.Packs != nil {
		k.buf = sinkBuffers.Get().(*bytes.Buffer)
		k.buf.Reset()
	}
	return k
}

func (k *sink) Write(p []byte) (int, error) {
	if k.pw == nil {
		if k.buf != nil && k.buf.Len()+len(p) <= PackMax {
			return k.buf.Write(p)
		}
		if err := k.spill(); err != nil {
			return 0, err
		}
	}
	return k.pw.Write(p)
}

// spill starts the blob Put and hands it what was buffered.
func (k *sink) spill() error {
	pr, pw := io.Pipe()
	k.pw, k.done = pw, make(chan putResult, 1)
	go func() {
		info, err := k.s.blobs.Put(k.ctx, k.key, pr)
		pr.CloseWithError(errPutEnded) // unblock the writer if Put stopped early
		k.done <- putResult{info, err}
	}()
	if k.buf == nil {
		return nil
	}
	b := k.buf
	k.buf = nil
	defer sinkBuffers.Put(b)
	if b.Len() == 0 {
		return nil
	}
	_, err := pw.Write(b.Bytes())
	return err
}

// close ends the message: with err nil, it is stored durably and close
// returns where (a pack reference or the blob key) and its stored size.
// With err, nothing is kept.
func (k *sink) close(err error) (where string, size int64, _ error) {
	if k.pw == nil && k.buf == nil { // no pack store, nothing written
		if err != nil {
			return "", 0, err
		}
		if err := k.spill(); err != nil {
			return "", 0, err
		}
	}
	if k.pw == nil {
		b := k.buf
		k.buf = nil
		defer sinkBuffers.Put(b)
		if err != nil {
			return "", 0, err
		}
		ref, err := k.s.cfg.Packs.Append(b.Bytes())
		if err != nil {
			return "", 0, err
		}
		return ref.String(), ref.Length, nil
	}
	k.pw.CloseWithError(err) // nil: EOF, Put completes
	put := <-k.done
	if put.err != nil && (err == nil || errors.Is(err, errPutEnded)) {
		err = put.err // the cause, when the blob store stopped first
	}
	if err != nil {
		k.s.dropContent(k.ctx, k.key)
		return "", 0, err
	}
	return k.key, put.info.Size, nil
}

var errPutEnded = errors.New("archive: blob store stopped reading")

// packRef parses where a message's content is when it is in a pack
// (packed), failing when no pack store is configured to hold it.
func (s *Service) packRef(where string) (ref pack.Ref, packed bool, err error) {
	if !pack.IsRef(where) {
		return pack.Ref{}, false, nil
	}
	if s.cfg.Packs == nil {
		return pack.Ref{}, true, fmt.Errorf("archive: %s is in a pack but no pack store is configured", where)
	}
	ref, err = pack.ParseRef(where)
	return ref, true, err
}

// openContent opens the stored bytes of a message, in a pack or a blob.
func (s *Service) openContent(ctx context.Context, m *Message) (io.ReadCloser, error) {
	if ref, packed, err := s.packRef(m.BlobKey); packed {
		if err != nil {
			return nil, err
		}
		rc, err := s.cfg.Packs.Open(ref)
		if isNotFound(err) {
			return nil, fmt.Errorf("archive: the content of message %s is missing (%s)", m.ID, m.BlobKey)
		}
		return rc, err
	}
	rc, _, err := s.blobs.Get(ctx, m.BlobKey)
	if isNotFound(err) {
		return nil, fmt.Errorf("archive: the content of message %s is missing from the blob store (%s)", m.ID, m.BlobKey)
	}
	return rc, err
}

// deleteContent deletes the stored bytes of a message; gone already is
// not an error.
func (s *Service) deleteContent(ctx context.Context, where string) error {
	if ref, packed, err := s.packRef(where); packed {
		if err != nil {
			return err
		}
		return s.cfg.Packs.Free(ref)
	}
	if err := s.blobs.Delete(ctx, where); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

// dropContent deletes the content of a message that could not be
// archived; a failure leaves an orphan, which is logged.
func (s *Service) dropContent(ctx context.Context, where string) {
	if err := s.deleteContent(context.WithoutCancel(ctx), where); err != nil {
		s.log.Warn("could not delete the content of a message not archived", "where", where, "err", err)
	}
}
