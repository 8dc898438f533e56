package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/message"
)

// Compression is how archived messages are stored: zstd (RFC 8878) at its
// default level, about 4× smaller than mail as received, and fast enough
// that it is not the bottleneck of ingest.
const Compression = "zstd"

var encoders = sync.Pool{New: func() any {
	// One goroutine per encoder: messages are compressed concurrently
	// already, one per SMTP session.
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		panic(err) // only for bad options
	}
	return e
}}

// BlobKey is where the message id of an archive is stored.
func BlobKey(accountID, archiveID string, received time.Time, id string) string {
	return fmt.Sprintf("archive/%s/%s/%s/%s.eml.zst", accountID, archiveID, received.UTC().Format("2006/01/02"), id)
}

// Store archives one message, read from raw, in archiveID of accountID,
// and returns its ArchivedMessageId. It reads raw once: the bytes are
// compressed into the blob store (durable when Put returns) while the
// header and body are parsed for the metadata row and the index, which are
// inserted in one transaction after. A message whose MIME structure is
// broken or cut short is archived as received and flagged malformed,
// never refused. env may be nil for messages that did not come over SMTP.
// The content is durable when Store returns; the row too, unless ctx is
// lazy (package durable), for callers that record lazily that they
// archived and so archive again after a power cut lost both.
//
// Errors: fault.NotFound when the archive does not exist, fault.Conflict
// when it is PENDING_DELETION, and the errors of raw, the blob store and
// the database; after an error nothing is archived.
func (s *Service) Store(ctx context.Context, accountID, archiveID string, env *message.Envelope, auth message.Auth, raw io.Reader) (messageID string, err error) {
	start := time.Now()
	arch, err := s.archive(ctx, accountID, archiveID, true)
	if err != nil {
		return "", err
	}
	if env == nil {
		env = &message.Envelope{}
	}
	received := env.ReceivedAt
	if received.IsZero() {
		received = s.now()
	}
	received = received.UTC().Truncate(time.Millisecond)
	id := newMessageID(received)
	key := BlobKey(accountID, archiveID, received, id)
	var dataKeyID string
	var dataKey []byte
	if arch.KmsKeyArn != "" {
		// Envelope encryption: the archive's data key, wrapped by its KMS
		// key, encrypts the compressed message.
		if s.cfg.Keys == nil {
			return "", fmt.Errorf("archive: archive %s has KmsKeyArn %s but no key service is configured", archiveID, arch.KmsKeyArn)
		}
		if dataKeyID, dataKey, err = s.cfg.Keys.DataKey(ctx, accountID, arch.KmsKeyArn, dataKeyOwner(archiveID)); err != nil {
			return "", fmt.Errorf("archive: the data key of archive %s: %w", archiveID, err)
		}
		key += ".enc"
	}

	// raw ─tee─► zstd ─► sink (a pack, or a blob Put in another goroutine)
	//      └──► sha256, byte count, MIME parser
	out := s.newSink(ctx, key)
	zw := encoders.Get().(*zstd.Encoder)
	var sw *sealWriter
	if dataKey != nil {
		// raw ─► zstd ─► AES-256-GCM ─► sink
		if sw, err = newSealWriter(out, dataKey, cryptAD(accountID, archiveID, id)); err != nil {
			encoders.Put(zw)
			out.close(err)
			return "", err
		}
		zw.Reset(sw)
	} else {
		zw.Reset(out)
	}
	sum := sha256.New()
	var size countWriter
	tee := io.TeeReader(raw, io.MultiWriter(zw, sum, &size))
	p := parseMessage(tee)
	_, err = io.Copy(io.Discard, tee) // what the parser left
	if err == nil {
		err = zw.Close()
	}
	if err == nil && sw != nil {
		err = sw.Close()
	}
	encoders.Put(zw)
	where, stored, err := out.close(err)
	if err != nil {
		return "", fmt.Errorf("archive: storing message: %w", err)
	}

	m := &Message{
		AccountID:      accountID,
		ArchiveID:      archiveID,
		ID:             id,
		ReceivedAt:     received,
		BlobKey:        where,
		Size:           int64(size),
		StoredSize:     stored,
		SHA256:         hex.EncodeToString(sum.Sum(nil)),
		Compression:    Compression,
		DataKeyID:      dataKeyID,
		Malformed:      p.malformed,
		HasAttachments: p.original().hasAttach,
		Meta:           s.meta(accountID, p, env, auth),
	}
	// A journal report is indexed by the message it carries and the
	// report's sender and recipients (see journal.go).
	o := p.original()
	body := o.text.String()
	if body == "" && o.html.Len() > 0 {
		body = htmlToText(o.html.String())
	}
	doc := NewDocument(m.Meta.Subject,
		append([]string{m.Meta.From}, m.Meta.SearchEnvelopeFrom()...),
		append([]string{m.Meta.To, m.Meta.Cc}, m.Meta.SearchEnvelopeTo()...),
		m.Meta.Attachments, body)
	ins := Insert{Message: m, Doc: doc}
	if durable.IsLazy(ctx) {
		// The caller records that the message is archived lazily after
		// this (the gateway's steps): a power cut that lost this row
		// loses that record too, and the message is archived again. The
		// row joins the other lazy writes instead of an fsync of its own.
		err = s.store.InsertMessages(ctx, []Insert{ins})
	} else {
		err = s.inserts.Do(ins)
	}
	if err != nil {
		s.dropContent(ctx, where)
		return "", err
	}
	s.cfg.Observer.MessageArchived(m.Size, m.Malformed, time.Since(start))
	if m.Malformed {
		s.log.Warn("archived a malformed message", "account", accountID, "archive", archiveID,
			"message", id, "problems", m.Meta.Problems)
	}
	return id, nil
}

// insertBatch is the transaction of s.inserts: messages stored while
// another transaction was committing are inserted together, so that one
// fsync of the database serves many (group commit; see
// internal/groupcommit). It finishes even when the caller goes away: the
// blob is removed only when this fails.
func (s *Service) insertBatch(batch []Insert) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.store.InsertMessages(ctx, batch)
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// meta gathers the metadata of a parsed message.
// The header fields are the original's for a journal report.
func (s *Service) meta(accountID string, p *parsed, env *message.Envelope, auth message.Auth) Meta {
	o := p.original()
	m := Meta{
		Subject:         clean(o.textField("Subject")),
		From:            clean(o.textField("From")),
		To:              clean(o.textField("To")),
		Cc:              clean(o.textField("Cc")),
		Date:            clean(o.get("Date")),
		MessageID:       clean(o.get("Message-Id")),
		InReplyTo:       clean(o.get("In-Reply-To")),
		XMailer:         clean(o.textField("X-Mailer")),
		XOriginalMailer: clean(o.textField("X-Original-Mailer")),
		XPriority:       clean(o.get("X-Priority")),
		EnvelopeFrom:    clean(env.MailFrom),
		Helo:            clean(env.Conn.Helo),
		IngressPointID:  env.IngressPointID,
		SenderHostname:  clean(env.Conn.ReverseName),
		TLSProtocol:     env.Conn.TLS,
		TLSCipherSuite:  env.Conn.TLSCipher,
		SPF:             string(auth.SPF),
		DKIM:            string(auth.DKIM),
		DMARC:           string(auth.DMARC),
		Problems:        p.problems,
		Journal:         p.journal,
	}
	if m.From == "" && p.journal != nil {
		m.From = p.journal.Sender
	}
	received := o.all("Received")
	if len(received) == 0 {
		received = p.all("Received")
	}
	for _, r := range received {
		m.Received = append(m.Received, clean(r))
	}
	for _, a := range o.attachments {
		if a != "" {
			m.Attachments = append(m.Attachments, clean(a))
		}
	}
	for _, r := range env.Recipients {
		m.EnvelopeTo = append(m.EnvelopeTo, clean(r))
	}
	if env.Conn.RemoteIP.IsValid() {
		m.SenderIP = env.Conn.RemoteIP.Unmap().String()
	}
	if env.IngressPointID != "" {
		m.SourceARN = "arn:aws:ses:" + s.cfg.Region + ":" + accountID + ":mailmanager-ingress-point/" + env.IngressPointID
	}
	return m
}
