package archive

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/smithy"
)

// DownloadPrefix is the URL path under which DownloadHandler serves
// archived messages; mount the handler there.
const DownloadPrefix = "/_tidings/archive/"

func isNotFound(err error) bool {
	return fault.Is(err, fault.NotFound) || errors.Is(err, iofs.ErrNotExist)
}

// message returns a message of the account, NotFound with the AWS-like
// message when it has none.
func (s *Service) message(ctx context.Context, accountID, id string) (*Message, error) {
	if id == "" {
		return nil, fault.Invalidf("ArchivedMessageId is required")
	}
	m, err := s.store.GetMessage(ctx, accountID, id)
	if isNotFound(err) {
		e := fault.NotFoundf("Archived message %s does not exist", id)
		e.ResourceType, e.ResourceID = "archived-message", id
		return nil, e
	}
	return m, err
}

// OpenMessage returns an archived message of the account and a reader of
// its raw bytes, exactly as received. The caller closes the reader.
func (s *Service) OpenMessage(ctx context.Context, accountID, id string) (*Message, io.ReadCloser, error) {
	m, err := s.message(ctx, accountID, id)
	if err != nil {
		return nil, nil, err
	}
	rc, err := s.openBlob(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	return m, rc, nil
}

func (s *Service) openBlob(ctx context.Context, m *Message) (io.ReadCloser, error) {
	rc, err := s.openContent(ctx, m)
	if err != nil {
		return nil, err
	}
	if m.DataKeyID != "" {
		if rc, err = s.decrypt(ctx, m, rc); err != nil {
			return nil, err
		}
	}
	switch m.Compression {
	case "":
		return rc, nil
	case Compression:
		d, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			rc.Close()
			return nil, err
		}
		return &zstdReadCloser{d: d, c: rc}, nil
	}
	rc.Close()
	return nil, fmt.Errorf("archive: message %s has unknown compression %q", m.ID, m.Compression)
}

// decrypt returns a reader of the compressed bytes of an encrypted blob;
// closing it closes rc.
func (s *Service) decrypt(ctx context.Context, m *Message, rc io.ReadCloser) (io.ReadCloser, error) {
	if s.cfg.Keys == nil {
		rc.Close()
		return nil, fmt.Errorf("archive: message %s is encrypted but no key service is configured", m.ID)
	}
	key, err := s.cfg.Keys.OpenDataKey(ctx, m.AccountID, m.DataKeyID)
	if err == nil {
		var or *openReader
		if or, err = newOpenReader(rc, key, cryptAD(m.AccountID, m.ArchiveID, m.ID)); err == nil {
			return struct {
				io.Reader
				io.Closer
			}{or, rc}, nil
		}
	}
	rc.Close()
	return nil, fmt.Errorf("archive: decrypting message %s: %w", m.ID, err)
}

type zstdReadCloser struct {
	d *zstd.Decoder
	c io.Closer
}

func (z *zstdReadCloser) Read(p []byte) (int, error) { return z.d.Read(p) }
func (z *zstdReadCloser) Close() error {
	z.d.Close()
	return z.c.Close()
}

// GetArchiveMessage returns a message's metadata, envelope and a link to
// download it, valid for Config.LinkExpiry.
func (s *Service) GetArchiveMessage(ctx context.Context, in *mm.GetArchiveMessageRequest) (*mm.GetArchiveMessageResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.message(ctx, acct, str(in.ArchivedMessageId))
	if err != nil {
		return nil, err
	}
	return &mm.GetArchiveMessageResponse{
		MessageDownloadLink: ptr(s.DownloadURL(acct, m.ID, s.cfg.LinkExpiry)),
		Metadata:            metadata(m),
		Envelope:            envelope(m),
	}, nil
}

// GetArchiveMessageContent returns the text and HTML bodies of a message.
func (s *Service) GetArchiveMessageContent(ctx context.Context, in *mm.GetArchiveMessageContentRequest) (*mm.GetArchiveMessageContentResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.MessageContent(ctx, acct, str(in.ArchivedMessageId))
	if err != nil {
		return nil, err
	}
	body := &mm.MessageBody{Text: strp(c.Text), Html: strp(c.HTML)}
	if c.Malformed {
		body.MessageMalformed = ptr(true)
	}
	return &mm.GetArchiveMessageContentResponse{Body: body}, nil
}

// Content is the readable content of a message.
type Content struct {
	Message     *Message
	Text        string // the text/plain parts
	HTML        string // the text/html parts
	Attachments []string
	Malformed   bool
}

// MessageContent parses an archived message again for its bodies.
func (s *Service) MessageContent(ctx context.Context, accountID, id string) (*Content, error) {
	m, rc, err := s.OpenMessage(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	p := parseMessage(rc)
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, fmt.Errorf("archive: reading message %s: %w", id, err)
	}
	// A journal report reads as the message it carries.
	o := p.original()
	return &Content{
		Message:     m,
		Text:        o.text.String(),
		HTML:        o.html.String(),
		Attachments: m.Meta.Attachments,
		Malformed:   m.Malformed || p.malformed,
	}, nil
}

func metadata(m *Message) *mm.Metadata {
	return &mm.Metadata{
		Timestamp:       smithy.NewTime(m.ReceivedAt),
		IngressPointId:  strp(m.Meta.IngressPointID),
		TrafficPolicyId: strp(m.Meta.TrafficPolicyID),
		RuleSetId:       strp(m.Meta.RuleSetID),
		SenderHostname:  strp(m.Meta.SenderHostname),
		SenderIpAddress: strp(m.Meta.SenderIP),
		TlsCipherSuite:  strp(m.Meta.TLSCipherSuite),
		TlsProtocol:     strp(m.Meta.TLSProtocol),
		SourceArn:       strp(m.Meta.SourceARN),
	}
}

func envelope(m *Message) *mm.Envelope {
	e := &mm.Envelope{From: strp(m.Meta.EnvelopeFrom), Helo: strp(m.Meta.Helo), To: m.Meta.EnvelopeTo}
	if e.From == nil && e.Helo == nil && len(e.To) == 0 {
		return nil
	}
	return e
}

// row is a message as GetArchiveSearchResults shows it.
func row(m *Message) mm.Row {
	r := mm.Row{
		ArchivedMessageId: ptr(m.ID),
		ReceivedTimestamp: smithy.NewTime(m.ReceivedAt),
		Date:              strp(m.Meta.Date),
		To:                strp(m.Meta.To),
		From:              strp(m.Meta.From),
		Cc:                strp(m.Meta.Cc),
		Subject:           strp(m.Meta.Subject),
		MessageId:         strp(m.Meta.MessageID),
		HasAttachments:    ptr(m.HasAttachments),
		ReceivedHeaders:   m.Meta.Received,
		InReplyTo:         strp(m.Meta.InReplyTo),
		XMailer:           strp(m.Meta.XMailer),
		XOriginalMailer:   strp(m.Meta.XOriginalMailer),
		XPriority:         strp(m.Meta.XPriority),
		IngressPointId:    strp(m.Meta.IngressPointID),
		SenderHostname:    strp(m.Meta.SenderHostname),
		SenderIpAddress:   strp(m.Meta.SenderIP),
		SourceArn:         strp(m.Meta.SourceARN),
		Envelope:          envelope(m),
	}
	return r
}

// Download links. A link names the account and the message and carries an
// expiry and an HMAC-SHA256 over the three, so that any node can check it
// without state (as internal/uploads does for upload URLs).

func (s *Service) linkMAC(accountID, id string, expires int64) string {
	h := hmac.New(sha256.New, s.cfg.SigningKey)
	fmt.Fprintf(h, "archive-download\n%s\n%s\n%d", accountID, id, expires)
	return hex.EncodeToString(h.Sum(nil))
}

// DownloadURL returns a URL that serves the raw message id of accountID
// for ttl.
func (s *Service) DownloadURL(accountID, id string, ttl time.Duration) string {
	exp := s.cfg.Now().Add(ttl).Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "signature": {s.linkMAC(accountID, id, exp)}}
	return strings.TrimRight(s.cfg.BaseURL, "/") + DownloadPrefix +
		url.PathEscape(accountID) + "/" + url.PathEscape(id) + ".eml?" + q.Encode()
}

// DownloadHandler serves the links of DownloadURL: GET (or HEAD)
// DownloadPrefix<account>/<message>.eml?expires=…&signature=…, answering
// the message exactly as received, as message/rfc822.
func (s *Service) DownloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "download links take GET", http.StatusMethodNotAllowed)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, DownloadPrefix)
		acct, file, ok2 := strings.Cut(rest, "/")
		id, ok3 := strings.CutSuffix(file, ".eml")
		if !ok || !ok2 || !ok3 || acct == "" || id == "" || strings.Contains(id, "/") {
			http.NotFound(w, r)
			return
		}
		exp, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
		if err != nil {
			http.Error(w, "missing or bad expires parameter", http.StatusForbidden)
			return
		}
		want := s.linkMAC(acct, id, exp)
		if subtle.ConstantTimeCompare([]byte(want), []byte(r.URL.Query().Get("signature"))) != 1 {
			http.Error(w, "signature does not match", http.StatusForbidden)
			return
		}
		if s.cfg.Now().Unix() > exp {
			http.Error(w, "download link expired", http.StatusForbidden)
			return
		}
		m, rc, err := s.OpenMessage(r.Context(), acct, id)
		if fault.Is(err, fault.NotFound) {
			http.Error(w, "no such message (deleted by retention?)", http.StatusNotFound)
			return
		}
		if err != nil {
			s.log.Error("archive download failed", "account", acct, "message", id, "err", err)
			http.Error(w, "could not read the message", http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		h := w.Header()
		h.Set("Content-Type", "message/rfc822")
		h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
		h.Set("Content-Disposition", `attachment; filename="`+id+`.eml"`)
		h.Set("Cache-Control", "private, no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+m.SHA256+`"`)
		if r.Method == http.MethodHead {
			return
		}
		if _, err := io.Copy(w, rc); err != nil {
			s.log.Warn("archive download interrupted", "account", acct, "message", id, "err", err)
		}
	})
}
