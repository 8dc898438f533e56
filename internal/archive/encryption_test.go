package archive_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// encrypted creates a KMS key of acct1 and an archive encrypted under it.
func (b *testBundle) encrypted(t *testing.T, name, alias string) (archiveID, keyARN string) {
	t.Helper()
	k, err := b.kms.CreateKey(context.Background(), acct1, alias, "")
	require.NoError(t, err)
	keyARN = k.ARN("us-east-1")
	out, err := b.mm.CreateArchive(b.ctx, &mm.CreateArchiveRequest{ArchiveName: p(name), KmsKeyArn: p(keyARN)})
	require.NoError(t, err)
	return *out.ArchiveId, keyARN
}

// blobFiles returns the contents of every file under the archive's part
// of the blob store.
func (b *testBundle) blobFiles(t *testing.T) map[string][]byte {
	t.Helper()
	return filesUnder(t, filepath.Join(b.blobs.Root(), "archive"))
}

// filesUnder returns the contents of every file under root.
func filesUnder(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = data
		return err
	}))
	return files
}

// secretMessage is a message whose body token and subject must never be
// on disk in clear. It has no repetition zstd could hide the token in.
func secretMessage(i int) []byte {
	return fmt.Appendf(nil, "From: Carol Auditor <carol@bank.example>\r\nTo: dave@bank.example\r\n"+
		"Subject: merger plan %d\r\nMessage-ID: <secret-%d@bank.example>\r\nContent-Type: text/plain\r\n\r\n"+
		"The codeword is zanzibarquokka%d. Do not forward.\r\n", i, i, i)
}

// TestEncryptedArchive: messages of an archive with a KmsKeyArn are on
// disk encrypted (no plaintext in any blob file), and every way of reading
// them works: OpenMessage, the download link, GetArchiveMessageContent,
// searches, the native search and exports.
func TestEncryptedArchive(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{jobs: true})
	arc, _ := b.encrypted(t, "sealed", "")
	plain := b.archive(t, "clear", "")
	start := b.clock.Now().Add(-time.Hour)

	raw := secretMessage(1)
	id := b.store(t, arc, raw, start)
	clearID := b.store(t, plain, secretMessage(2), start)

	files := b.blobFiles(t)
	require.Len(t, files, 2)
	var sawClear bool
	for path, data := range files {
		// zstd Huffman-codes literals, so compression alone already
		// hides the token from grep: the check is on what decompressing
		// the file gives, as anyone with the disk could do.
		dec, derr := zstdDecode(data)
		if strings.Contains(path, clearID) {
			// The control: the unencrypted archive's blob is only
			// compressed, and decompressing it shows the token.
			require.NoError(t, derr)
			require.Contains(t, string(dec), "zanzibarquokka2", "the control blob should hold the token")
			sawClear = true
			continue
		}
		require.True(t, strings.HasSuffix(path, ".enc"), path)
		require.Error(t, derr, "the encrypted blob must not be a zstd stream")
		for _, secret := range []string{"zanzibarquokka", "merger", "carol@bank", "codeword"} {
			require.NotContains(t, string(data), secret, "plaintext in %s", path)
			require.NotContains(t, string(dec), secret, "plaintext in %s", path)
		}
	}
	require.True(t, sawClear)

	m, rc, err := b.svc.OpenMessage(context.Background(), acct1, id)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	require.NoError(t, err)
	require.Equal(t, raw, got)
	require.NotEmpty(t, m.DataKeyID)
	require.Equal(t, "merger plan 1", m.Meta.Subject)

	msg, err := b.svc.GetArchiveMessage(b.ctx, &mm.GetArchiveMessageRequest{ArchivedMessageId: p(id)})
	require.NoError(t, err)
	resp, err := http.Get(*msg.MessageDownloadLink)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, raw, body)

	content, err := b.svc.GetArchiveMessageContent(b.ctx, &mm.GetArchiveMessageContentRequest{ArchivedMessageId: p(id)})
	require.NoError(t, err)
	require.Contains(t, *content.Body.Text, "zanzibarquokka1")

	res, err := b.svc.SearchNative(b.ctx, acct1, arc, "zanzibarquokka1 from:carol", 10, "")
	require.NoError(t, err)
	require.Len(t, res.Messages, 1)
	require.Equal(t, id, res.Messages[0].ID)

	sid := b.callOK("StartArchiveSearch", map[string]any{
		"ArchiveId": arc, "FromTimestamp": epoch(start.Add(-time.Minute)), "ToTimestamp": epoch(b.clock.Now()), "MaxResults": 10,
		"Filters": map[string]any{"Include": []any{strExpr("SUBJECT", "CONTAINS", "merger")}},
	})["SearchId"].(string)
	b.awaitState(t, "GetArchiveSearch", "SearchId", sid, "COMPLETED")
	rows := b.callOK("GetArchiveSearchResults", map[string]any{"SearchId": sid})["Rows"].([]any)
	require.Len(t, rows, 1)
	require.Equal(t, id, rows[0].(map[string]any)["ArchivedMessageId"])

	eid := b.callOK("StartArchiveExport", map[string]any{
		"ArchiveId": arc, "FromTimestamp": epoch(start.Add(-time.Minute)), "ToTimestamp": epoch(b.clock.Now()),
		"ExportDestinationConfiguration": map[string]any{"S3": map[string]any{"S3Location": "s3://audit/sealed/"}},
	})["ExportId"].(string)
	b.awaitState(t, "GetArchiveExport", "ExportId", eid, "COMPLETED")
	erc, _, err := b.blobs.Get(context.Background(), "exports/audit/sealed/"+eid+"/"+id+".eml")
	require.NoError(t, err)
	exported, err := io.ReadAll(erc)
	erc.Close()
	require.NoError(t, err)
	require.Equal(t, raw, exported, "an export holds the message as received, decrypted")
}

// TestEncryptedRotation: after the KMS key rotates, new messages get a new
// data key (wrapped by the new version); old messages are not re-encrypted
// and still read back, also through a service that has cached nothing.
func TestEncryptedRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc, keyARN := b.encrypted(t, "rotating", "alias/journal")
	before := b.store(t, arc, secretMessage(1), time.Time{})
	before2 := b.store(t, arc, secretMessage(2), time.Time{})
	m1 := b.message(t, before)
	require.Equal(t, m1.DataKeyID, b.message(t, before2).DataKeyID, "one data key per archive and key version")
	oldBlob := b.blobFiles(t)

	k, err := b.kms.RotateKey(context.Background(), acct1, keyARN)
	require.NoError(t, err)
	require.Equal(t, 2, k.CurrentVersion)
	after := b.store(t, arc, secretMessage(3), time.Time{})
	m3 := b.message(t, after)
	require.NotEqual(t, m1.DataKeyID, m3.DataKeyID)

	// The old blobs are untouched.
	for path, data := range oldBlob {
		now, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, data, now, path)
	}
	for i, id := range []string{before, before2, after} {
		_, rc, err := b.svc.OpenMessage(context.Background(), acct1, id)
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		rc.Close()
		require.NoError(t, err)
		require.Equal(t, secretMessage(i+1), got)
	}
	// Rotating by alias works too.
	k, err = b.kms.RotateKey(context.Background(), acct1, "alias/journal")
	require.NoError(t, err)
	require.Equal(t, 3, k.CurrentVersion)
}

func (b *testBundle) message(t *testing.T, id string) *archiveMessage {
	t.Helper()
	m, rc, err := b.svc.OpenMessage(context.Background(), acct1, id)
	require.NoError(t, err)
	rc.Close()
	return &archiveMessage{DataKeyID: m.DataKeyID, StoredSize: m.StoredSize}
}

type archiveMessage struct {
	DataKeyID  string
	StoredSize int64
}

// TestEncryptedTampering: a blob changed on disk fails to read, with an
// error, rather than giving altered mail.
func TestEncryptedTampering(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc, _ := b.encrypted(t, "tamper", "")
	id := b.store(t, arc, secretMessage(1), time.Time{})
	for path, data := range b.blobFiles(t) {
		for _, bad := range [][]byte{
			flip(data, len(data)/2),
			data[:len(data)-1],
			data[:11],
			append(bytes.Clone(data), 0),
		} {
			require.NoError(t, os.WriteFile(path, bad, 0o600))
			_, rc, err := b.svc.OpenMessage(context.Background(), acct1, id)
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			require.ErrorContains(t, err, "does not decrypt")
		}
	}
}

func zstdDecode(b []byte) ([]byte, error) {
	d, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.DecodeAll(b, nil)
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

// TestUnknownKmsKey: CreateArchive with a KmsKeyArn naming no key of the
// account is a ValidationException, as AWS; nothing is created.
func TestUnknownKmsKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k, err := b.kms.CreateKey(context.Background(), acct2, "", "")
	require.NoError(t, err)
	for _, arn := range []string{
		"arn:aws:kms:us-east-1:" + acct1 + ":key/1234abcd-12ab-34cd-56ef-1234567890ab",
		k.ARN("us-east-1"), // another account's
		"arn:aws:kms:us-east-1:" + acct1 + ":alias/none",
	} {
		out := b.callErr("CreateArchive", map[string]any{"ArchiveName": "bad-key", "KmsKeyArn": arn}, "ValidationException")
		require.Contains(t, out["message"], "does not exist", "%v", out)
	}
	list, err := b.mm.ListArchives(b.ctx, &mm.ListArchivesRequest{})
	require.NoError(t, err)
	require.Empty(t, list.Archives)

	_, err = b.kms.CreateKey(context.Background(), acct1, "archive-key", "")
	require.NoError(t, err)
	b.callOK("CreateArchive", map[string]any{"ArchiveName": "by-alias", "KmsKeyArn": "arn:aws:kms:us-east-1:" + acct1 + ":alias/archive-key"})
	requireFault(t, b.kms.CheckKey(context.Background(), acct1, "arn:aws:kms:us-east-1:"+acct1+":alias/nope"), fault.Invalid)
}
