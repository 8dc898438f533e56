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
	"github.com/tidings/tidings/internal/blob/pack"
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
// in-process and prints the rate.
func benchDirect(o options, dataDir string, s *tidingsSetup, corpus Corpus) error {
	r, err := fillDirect(o.clients, "", dataDir, s.accountID, s.directID, corpus, 0, o.n)
	if err != nil {
		return err
	}
	fmt.Printf("%-14s ingest %7.0f msgs/s %6.1f MB/s  (%d msgs, %.1f MB in %.1fs, %d writers, no SMTP)\n",
		"tidings direct", r.rate(), r.mbps(), r.n, float64(r.bytes)/1e6, r.ready.Seconds(), o.clients)
	return nil
}

// fillDirect stores corpus messages [from, from+n) in archiveID of the
// stopped server's data dir, in-process: the archive service's Store
// (compress into the blob store, parse, metadata and index committed in
// group), without SMTP, the spool or the rule job. It prints progress
// every 10 s. With a databaseURL, the rows go to that PostgreSQL database
// (the blobs still to dataDir).
func fillDirect(clients int, databaseURL, dataDir, accountID, archiveID string, corpus Corpus, from, n int) (ingest, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, databaseURL, dataDir, nil)
	if err != nil {
		return ingest{}, err
	}
	defer db.Close()
	blobs, err := blobfs.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		return ingest{}, err
	}
	packs, err := pack.Open(filepath.Join(dataDir, "packs", "archive")) // as Tidings lays them out
	if err != nil {
		return ingest{}, err
	}
	defer packs.Close()
	svc, err := archive.New(db.Archive(), blobs, fixedArchive{}, archive.Config{SigningKey: bytes.Repeat([]byte{1}, 32), Packs: packs}, nil)
	if err != nil {
		return ingest{}, err
	}
	var total, done atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Second):
				fmt.Printf("  direct: %d of %d stored after %.0fs\n", done.Load(), n, time.Since(start).Seconds())
			}
		}
	}()
	err = parallel(n, clients, func() (func(int) error, func()) {
		return func(i int) error {
			m := corpus.Message(from + i)
			env := &message.Envelope{AccountID: accountID, MailFrom: m.From, Recipients: m.To, Size: int64(len(m.Raw)), ReceivedAt: time.Now()}
			if _, err := svc.Store(ctx, accountID, archiveID, env, message.Auth{}, bytes.NewReader(m.Raw)); err != nil {
				return err
			}
			total.Add(int64(len(m.Raw)))
			done.Add(1)
			return nil
		}, func() {}
	})
	if err != nil {
		return ingest{}, err
	}
	took := time.Since(start)
	return ingest{n: n, bytes: total.Load(), accepted: took, ready: took}, nil
}
