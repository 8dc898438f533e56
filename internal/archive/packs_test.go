package archive_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/blob/pack"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/message"
)

// TestPacks: with a pack store, small messages share segment files and
// large ones get a blob each; both read back byte for byte, encrypted
// ones leave no plaintext in the segments, and deleting frees their
// bytes.
func TestPacks(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{packs: true})
	arc := b.archive(t, "packed", "")
	sealed, _ := b.encrypted(t, "packed-sealed", "")

	// Concurrent stores share segments (and their fsyncs).
	var raws [][]byte
	for _, s := range corpus() {
		raws = append(raws, s.raw)
	}
	ids := make([]string, len(raws))
	var wg sync.WaitGroup
	for i, raw := range raws {
		wg.Go(func() { ids[i] = b.storeQuiet(t, arc, raw) })
	}
	wg.Wait()

	// Past PackMax stored bytes, a blob of its own: random base64 hardly
	// compresses.
	noise := make([]byte, archive.PackMax*7/8)
	rand.Read(noise)
	big := []byte("From: big@ext.example\r\nTo: bob@corp.example\r\nSubject: scans\r\n\r\n" +
		base64.StdEncoding.EncodeToString(noise) + "\r\n")
	bigID := b.store(t, arc, big, time.Time{})
	raws, ids = append(raws, big), append(ids, bigID)

	secret := secretMessage(7)
	secretID := b.store(t, sealed, secret, time.Time{})
	raws, ids = append(raws, secret), append(ids, secretID)

	for i, id := range ids {
		m, rc, err := b.svc.OpenMessage(context.Background(), acct1, id)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		require.True(t, bytes.Equal(raws[i], got), "message %d reads back as stored", i)
		if id == bigID {
			require.True(t, strings.HasPrefix(m.BlobKey, "archive/"), m.BlobKey)
			_, err := b.blobs.Stat(context.Background(), m.BlobKey)
			require.NoError(t, err)
		} else {
			require.True(t, pack.IsRef(m.BlobKey), m.BlobKey)
		}
	}
	files := filesUnder(t, b.packs.Dir())
	require.NotEmpty(t, files)
	for name, data := range files {
		require.False(t, bytes.Contains(data, []byte("zanzibarquokka7")), "plaintext of an encrypted message in %s", name)
	}

	// Deleting the archive frees every message's bytes.
	refs := map[string]pack.Ref{}
	for _, id := range ids {
		m, err := b.db.Archive().GetMessage(context.Background(), acct1, id)
		require.NoError(t, err)
		if pack.IsRef(m.BlobKey) && m.ArchiveID == arc {
			ref, err := pack.ParseRef(m.BlobKey)
			require.NoError(t, err)
			refs[id] = ref
		}
	}
	require.NoError(t, b.svc.PurgeArchive(context.Background(), acct1, arc))
	for id, ref := range refs {
		_, _, err := b.svc.OpenMessage(context.Background(), acct1, id)
		requireFault(t, err, fault.NotFound)
		data, err := os.ReadFile(filepath.Join(b.packs.Dir(), filepath.FromSlash(ref.Segment)))
		require.NoError(t, err)
		require.True(t, bytes.Equal(make([]byte, ref.Length), data[ref.Offset:ref.Offset+ref.Length]),
			"the bytes of %s are freed", id)
	}
	_, err := b.blobs.Stat(context.Background(), "archive/"+acct1+"/"+arc)
	require.Error(t, err)
	// The encrypted archive's message is untouched.
	_, rc, err := b.svc.OpenMessage(context.Background(), acct1, secretID)
	require.NoError(t, err)
	rc.Close()
}

// storeQuiet is store without the testing.T calls a goroutine must not
// make fail the test from (require.FailNow).
func (b *testBundle) storeQuiet(t *testing.T, archiveID string, raw []byte) string {
	id, err := b.svc.Store(context.Background(), acct1, archiveID, nil, message.Auth{}, bytes.NewReader(raw))
	if err != nil {
		t.Error(err)
	}
	return id
}
