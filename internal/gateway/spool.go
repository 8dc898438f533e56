package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/message"
)

// blobKey is where the spooled copy of a message lives:
// spool/<yyyy>/<mm>/<dd>/<queueid>, by day of arrival (UTC), so that no
// directory of the file store grows without bound.
func blobKey(receivedAt time.Time, queueID string) string {
	return "spool/" + receivedAt.UTC().Format("2006/01/02") + "/" + queueID
}

// Spooler makes the messages of one ingress point durable; it implements
// smtpd.Spooler.
type Spooler struct {
	g         *Gateway
	ruleSetID func() string
}

// Spooler returns the spooler of an ingress point whose rule set ruleSetID
// returns at the time a message is spooled.
func (g *Gateway) Spooler(ruleSetID func() string) *Spooler {
	return &Spooler{g: g, ruleSetID: ruleSetID}
}

// Spool keeps the message in the database with its row when it is small
// (blob.InlineMax), else streams it to the blob store (Put fsyncs the file
// and its directory); it inserts the message row, the small message's
// copy and its gateway.process job in one transaction (shared with the messages of other sessions that are at
// the same point: groupCommit), and only then returns the queue id: smtpd
// answers "250" after that. A failure leaves nothing behind (the blob is removed) and is
// answered 451 4.3.0.
//
// SPF, DKIM and DMARC are not checked here but by the process job, from
// the spooled copy: DNS lookups do not hold the client, and a DNS outage
// does not refuse mail. The Authentication-Results header is added to the
// message every action is handed (archive, relay, S3, mailbox).
func (s *Spooler) Spool(ctx context.Context, env *message.Envelope, body io.Reader) (string, error) {
	g := s.g
	start := time.Now()
	received := env.ReceivedAt
	if received.IsZero() {
		received = g.cfg.Now()
	}
	received = ms(received)
	qid := NewQueueID(received)
	key := blobKey(received, qid)

	// A message up to blob.InlineMax goes into the database with its row;
	// a larger one is streamed to the blob store (what was read so far,
	// then the rest).
	sc := &scanner{r: body}
	var head bytes.Buffer
	if _, err := io.CopyN(&head, sc, blob.InlineMax+1); err != nil && err != io.EOF {
		return "", fmt.Errorf("gateway: spool %s: %w", qid, err)
	}
	var content []byte
	if head.Len() <= blob.InlineMax {
		content = head.Bytes()
	} else {
		rest := io.MultiReader(&head, sc)
		for attempt := 1; ; attempt++ {
			_, err := g.cfg.Blobs.Put(ctx, key, rest)
			if err == nil {
				break
			}
			// A failure before the first read (making the directory, which
			// a Delete of the last message of the day may be pruning at that
			// moment) can be tried again with the same stream: head is
			// then unread.
			if head.Len() <= blob.InlineMax || attempt == 3 || ctx.Err() != nil {
				return "", fmt.Errorf("gateway: spool %s: %w", qid, err)
			}
			g.log.Warn("spool: storing failed before reading the message; trying again", "queue_id", qid, "err", err)
		}
	}
	utf8 := sc.utf8 || !isASCII(env.MailFrom)
	for _, r := range env.Recipients {
		utf8 = utf8 || !isASCII(r)
	}
	now := ms(g.cfg.Now())
	m := &Message{
		QueueID:        qid,
		AccountID:      env.AccountID,
		IngressPointID: env.IngressPointID,
		RuleSetID:      s.ruleSetID(),
		State:          Queued,
		Envelope:       encodeEnvelope(env, sc.eightBit, utf8),
		BlobKey:        key,
		Content:        content,
		Size:           sc.n,
		ReceivedAt:     received,
		UpdatedAt:      now,
	}
	err := g.commits.Do(m)
	if err != nil {
		// Not committed: no job will ever read the blob.
		if content != nil {
			return "", fmt.Errorf("gateway: spool %s: %w", qid, err)
		}
		if derr := g.cfg.Blobs.Delete(context.WithoutCancel(ctx), key); derr != nil {
			g.log.Warn("could not remove the blob of a message not spooled", "queue_id", qid, "key", key, "err", derr)
		}
		return "", fmt.Errorf("gateway: spool %s: %w", qid, err)
	}
	took := time.Since(start)
	env.QueueID, env.Size = qid, sc.n
	g.log.Info("spooled", "queue_id", qid, "ingress_point", env.IngressPointID, "from", env.MailFrom,
		"rcpts", len(env.Recipients), "size", sc.n, "took", took.Round(time.Microsecond))
	g.obs.Accepted(env, took)
	return qid, nil
}

// scanner passes the message through, counting its octets and noting
// 8-bit content and UTF-8 in its header section.
type scanner struct {
	r        io.Reader
	n        int64
	eightBit bool
	utf8     bool
	body     bool    // past the header section
	tail     [3]byte // the last octets seen, to find the empty line
}

func (s *scanner) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.body && s.eightBit {
		return n, err
	}
	for _, c := range p[:n] {
		if c >= 0x80 {
			s.eightBit = true
			if !s.body {
				s.utf8 = true // RFC 6532 header: needs SMTPUTF8
			}
		}
		if !s.body && c == '\n' && (s.tail[2] == '\n' || s.tail[2] == '\r' && s.tail[1] == '\n') {
			s.body = true
		}
		s.tail[0], s.tail[1], s.tail[2] = s.tail[1], s.tail[2], c
	}
	return n, err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// commitBatch is the transaction of g.commits: the rows and process jobs
// of spooled messages. Sessions that finish DATA while a commit is in
// flight are committed together in the next transaction, so that one
// fsync of the database serves many messages: on the embedded store every
// commit is serialized on one writer, and one per message would cap the
// rate at what the disk fsyncs per second. No message waits for another
// to arrive: a lone message is committed at once.
func (g *Gateway) commitBatch(batch []*Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return g.cfg.Store.InTx(ctx, func(tx Tx) error {
		for _, m := range batch {
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			if err := tx.Enqueue(ctx, ProcessArgs{QueueID: m.QueueID}); err != nil {
				return err
			}
		}
		return nil
	})
}

// openSpooled opens the spooled copy of m: from the database when it is
// small enough to be kept there, else (or when a message spooled before
// copies were kept there is read) from the blob store. fault.NotFound
// when it is gone.
func (g *Gateway) openSpooled(ctx context.Context, m *Message) (io.ReadCloser, error) {
	if m.BlobKey == "" {
		return nil, &fault.Error{Kind: fault.NotFound, Message: "the spooled copy of " + m.QueueID + " is deleted"}
	}
	if m.Size <= blob.InlineMax {
		b, err := g.cfg.Store.SpooledContent(ctx, m.BlobKey)
		if err == nil {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
		if !fault.Is(err, fault.NotFound) {
			return nil, err
		}
	}
	rc, _, err := g.cfg.Blobs.Get(ctx, m.BlobKey)
	return rc, err
}
