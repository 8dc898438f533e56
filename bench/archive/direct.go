package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/internal/archive"
	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/message"
	"github.com/tidings/tidings/internal/store"
)

// fixedArchive answers for the one archive -direct fills (created through
// the API while the server ran), active and without encryption.
type fixedArchive struct{}

func (fixedArchive) Archive(context.Context, string, string) (archive.ArchiveInfo, error) {
	return archive.ArchiveInfo{State: "ACTIVE", Retention: "PERMANENT"}, nil
}

// benchDirect fills the second archive of the stopped server's data dir
// in-process: the archive service's Store (compress into the blob store,
// parse, one transaction of metadata and index), without SMTP, the spool
// or the rule job.
func benchDirect(o options, dataDir string, s *tidingsSetup, corpus Corpus) error {
	ctx := context.Background()
	db, err := store.Open(ctx, "", dataDir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	blobs, err := blobfs.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		return err
	}
	svc, err := archive.New(db.Archive(), blobs, fixedArchive{}, archive.Config{SigningKey: bytes.Repeat([]byte{1}, 32)}, nil)
	if err != nil {
		return err
	}
	var total atomic.Int64
	start := time.Now()
	err = parallel(o.n, o.clients, func() (func(int) error, func()) {
		return func(i int) error {
			m := corpus.Message(i)
			env := &message.Envelope{AccountID: s.accountID, MailFrom: m.From, Recipients: m.To, Size: int64(len(m.Raw)), ReceivedAt: time.Now()}
			if _, err := svc.Store(ctx, s.accountID, s.directID, env, message.Auth{}, bytes.NewReader(m.Raw)); err != nil {
				return err
			}
			total.Add(int64(len(m.Raw)))
			return nil
		}, func() {}
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	r := ingest{n: o.n, bytes: total.Load(), accepted: took, ready: took}
	fmt.Printf("%-14s ingest %7.0f msgs/s %6.1f MB/s  (%d msgs, %.1f MB in %.1fs, %d writers, no SMTP)\n",
		"tidings direct", r.rate(), r.mbps(), r.n, float64(r.bytes)/1e6, took.Seconds(), o.clients)
	return nil
}
