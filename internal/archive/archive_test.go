package archive_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// TestStoreCorpus archives every sample and checks the metadata row, the
// content, the malformed flag and the download, byte for byte.
func TestStoreCorpus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "corpus", "")
	for _, s := range corpus() {
		t.Run(s.name, func(t *testing.T) {
			id := b.store(t, arc, s.raw, time.Time{}, "bob@corp.example", "carol@corp.example")

			msg, err := b.svc.GetArchiveMessage(b.ctx, &mm.GetArchiveMessageRequest{ArchivedMessageId: p(id)})
			require.NoError(t, err)
			require.Equal(t, "inp-test", *msg.Metadata.IngressPointId)
			require.Equal(t, "192.0.2.10", *msg.Metadata.SenderIpAddress)
			require.Equal(t, "mx.ext.example", *msg.Metadata.SenderHostname)
			require.Equal(t, "TLS1_3", *msg.Metadata.TlsProtocol)
			require.Equal(t, "TLS_AES_128_GCM_SHA256", *msg.Metadata.TlsCipherSuite)
			require.Equal(t, "arn:aws:ses:us-east-1:"+acct1+":mailmanager-ingress-point/inp-test", *msg.Metadata.SourceArn)
			require.True(t, msg.Metadata.Timestamp.Equal(b.clock.Now()))
			require.Equal(t, "sender@ext.example", *msg.Envelope.From)
			require.Equal(t, "mx.ext.example", *msg.Envelope.Helo)
			require.Equal(t, []string{"bob@corp.example", "carol@corp.example"}, msg.Envelope.To)

			// The link serves the message exactly as received.
			resp, err := http.Get(*msg.MessageDownloadLink)
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s", got)
			require.Equal(t, "message/rfc822", resp.Header.Get("Content-Type"))
			require.True(t, bytes.Equal(s.raw, got), "download differs from what was archived")

			c, err := b.svc.MessageContent(b.ctx, acct1, id)
			require.NoError(t, err)
			m := c.Message
			require.Equal(t, s.subject, m.Meta.Subject)
			require.Equal(t, s.from, m.Meta.From)
			require.Equal(t, s.to, m.Meta.To)
			require.Equal(t, s.malformed, m.Malformed, "problems: %v", m.Meta.Problems)
			require.Equal(t, s.malformed, len(m.Meta.Problems) > 0)
			require.Equal(t, len(s.attach) > 0, m.HasAttachments)
			var names []string
			for _, a := range s.attach {
				if a != "" {
					names = append(names, a)
				}
			}
			require.Equal(t, names, m.Meta.Attachments)
			require.EqualValues(t, len(s.raw), m.Size)
			if s.text != "" {
				require.Contains(t, c.Text, s.text)
			}
			if s.html != "" {
				require.Contains(t, c.HTML, s.html)
			}

			content, err := b.svc.GetArchiveMessageContent(b.ctx, &mm.GetArchiveMessageContentRequest{ArchivedMessageId: p(id)})
			require.NoError(t, err)
			if s.malformed {
				require.True(t, *content.Body.MessageMalformed)
			} else {
				require.Nil(t, content.Body.MessageMalformed)
			}
			if s.text != "" {
				require.Contains(t, *content.Body.Text, s.text)
			}

			for _, q := range s.words {
				res, err := b.svc.SearchNative(b.ctx, acct1, arc, q, 100, "")
				require.NoError(t, err, q)
				var found bool
				for _, r := range res.Messages {
					found = found || r.ID == id
				}
				require.True(t, found, "%q does not find %s", q, s.name)
			}
		})
	}
}

func TestStoreRowFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "rows", "")
	id := b.store(t, arc, corpus()[0].raw, time.Time{})
	m, err := b.db.Archive().GetMessage(context.Background(), acct1, id)
	require.NoError(t, err)
	require.Equal(t, "Mon, 2 Mar 2026 09:00:00 +0000", m.Meta.Date)
	require.Equal(t, "<plain-1@ext.example>", m.Meta.MessageID)
	require.Equal(t, "<earlier@corp.example>", m.Meta.InReplyTo)
	require.Equal(t, "TestMailer 2.0", m.Meta.XMailer)
	require.Equal(t, "Outlook 16", m.Meta.XOriginalMailer)
	require.Equal(t, "1 (Highest)", m.Meta.XPriority)
	require.Equal(t, "carol@corp.example", m.Meta.Cc)
	require.Len(t, m.Meta.Received, 2)
	require.True(t, strings.HasPrefix(m.Meta.Received[0], "from mx.ext.example"), m.Meta.Received[0])
	require.Equal(t, "PASS", m.Meta.SPF)
	require.Equal(t, archive.Compression, m.Compression)
	require.Less(t, m.StoredSize, int64(len(corpus()[0].raw))+64)
	require.Len(t, m.SHA256, 64)
	// Stored compressed under a key of its own.
	_, err = b.blobs.Stat(context.Background(), m.BlobKey)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(m.BlobKey, "archive/"+acct1+"/"+arc+"/2026/03/01/"), m.BlobKey)
	require.True(t, strings.HasSuffix(m.BlobKey, ".eml.zst"))
	require.Equal(t, 1, b.obs.archived)
}

func TestStoreErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	raw := corpus()[0].raw
	_, err := b.svc.Store(context.Background(), acct1, "a-nosucharchive", nil, message.Auth{}, bytes.NewReader(raw))
	requireFault(t, err, fault.NotFound)
	arc := b.archive(t, "errs", "")
	_, err = b.svc.Store(context.Background(), acct2, arc, nil, message.Auth{}, bytes.NewReader(raw))
	requireFault(t, err, fault.NotFound) // another account's archive

	// A reader failing midway archives nothing.
	boom := errors.New("connection lost")
	_, err = b.svc.Store(context.Background(), acct1, arc, nil, message.Auth{},
		io.MultiReader(bytes.NewReader(raw[:100]), iotest.ErrReader(boom)))
	require.ErrorIs(t, err, boom)
	hits, err := b.svc.SearchNative(b.ctx, acct1, arc, "", 10, "")
	require.NoError(t, err)
	require.Empty(t, hits.Messages)
	keys, err := b.blobs.List(context.Background(), "archive/", "", 0)
	require.NoError(t, err)
	require.Empty(t, keys, "the blob of a failed store is deleted")

	// A PENDING_DELETION archive takes no more mail.
	_, err = b.mm.DeleteArchive(b.ctx, &mm.DeleteArchiveRequest{ArchiveId: p(arc)})
	require.NoError(t, err)
	_, err = b.svc.Store(context.Background(), acct1, arc, nil, message.Auth{}, bytes.NewReader(raw))
	requireFault(t, err, fault.Conflict, "PENDING_DELETION")

	// No envelope (an import): fine, received now.
	arc2 := b.archive(t, "errs2", "")
	id, err := b.svc.Store(context.Background(), acct1, arc2, nil, message.Auth{}, bytes.NewReader(raw))
	require.NoError(t, err)
	msg, err := b.svc.GetArchiveMessage(b.ctx, &mm.GetArchiveMessageRequest{ArchivedMessageId: p(id)})
	require.NoError(t, err)
	require.Nil(t, msg.Envelope)
	require.Nil(t, msg.Metadata.IngressPointId)
}

func TestDownloadLinks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "dl", "")
	raw := corpus()[1].raw
	id := b.store(t, arc, raw, time.Time{})
	msg, err := b.svc.GetArchiveMessage(b.ctx, &mm.GetArchiveMessageRequest{ArchivedMessageId: p(id)})
	require.NoError(t, err)
	link := *msg.MessageDownloadLink
	require.True(t, strings.HasPrefix(link, b.dl+archive.DownloadPrefix), link)

	get := func(u string) (int, []byte) {
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, body
	}
	status, body := get(link)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, raw, body)

	// Tampered: another message, account or expiry.
	other := b.store(t, arc, corpus()[0].raw, time.Time{})
	status, _ = get(strings.Replace(link, id, other, 1))
	require.Equal(t, http.StatusForbidden, status)
	status, _ = get(strings.Replace(link, acct1, acct2, 1))
	require.Equal(t, http.StatusForbidden, status)
	status, _ = get(strings.Replace(link, "expires=", "expires=9", 1))
	require.Equal(t, http.StatusForbidden, status)
	status, _ = get(b.dl + archive.DownloadPrefix + acct1 + "/" + id + ".eml")
	require.Equal(t, http.StatusForbidden, status)

	// Expired.
	b.clock.Advance(16 * time.Minute)
	status, body = get(link)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, string(body), "expired")

	// A fresh link for a message deleted since: 404.
	link = b.svc.DownloadURL(acct1, id, time.Minute)
	require.NoError(t, b.svc.PurgeArchive(context.Background(), acct1, arc))
	status, _ = get(link)
	require.Equal(t, http.StatusNotFound, status)

	_, err = b.svc.GetArchiveMessage(b.ctx, &mm.GetArchiveMessageRequest{ArchivedMessageId: p(id)})
	requireFault(t, err, fault.NotFound)
	_, err = b.svc.GetArchiveMessage(b.ctx2, &mm.GetArchiveMessageRequest{ArchivedMessageId: p(other)})
	requireFault(t, err, fault.NotFound)
}

// TestLargeMessage: a message larger than every buffer streams through
// and comes back the same.
func TestLargeMessage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	arc := b.archive(t, "large", "")
	var buf bytes.Buffer
	buf.WriteString("From: big@ext.example\r\nSubject: big one\r\nContent-Type: text/plain\r\n\r\n")
	for i := range 200000 {
		buf.WriteString("line ")
		buf.WriteString(strings.Repeat("x", i%50))
		buf.WriteString(" needle\r\n")
	}
	raw := buf.Bytes()
	id := b.store(t, arc, raw, time.Time{})
	m, rc, err := b.svc.OpenMessage(context.Background(), acct1, id)
	require.NoError(t, err)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, raw, got)
	require.False(t, m.Malformed)
	require.Less(t, m.StoredSize, m.Size/4, "compressed")
	res, err := b.svc.SearchNative(b.ctx, acct1, arc, "needle", 10, "")
	require.NoError(t, err)
	require.Len(t, res.Messages, 1)
}
