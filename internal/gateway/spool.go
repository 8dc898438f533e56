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
	"github.com/tidings/tidings/internal/rules"
	"github.com/tidings/tidings/internal/smtpd"
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
	policy    func() *rules.Policy // nil: no judgment after DATA
}

// Spooler returns the spooler of an ingress point whose rule set ruleSetID
// returns at the time a message is spooled.
func (g *Gateway) Spooler(ruleSetID func() string) *Spooler {
	return &Spooler{g: g, ruleSetID: ruleSetID}
}

// WithPolicy makes the spooler judge the add-on conditions of the traffic
// policy that policy returns when a message is spooled (see judge).
func (s *Spooler) WithPolicy(policy func() *rules.Policy) *Spooler {
	s.policy = policy
	return s
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
	if s.policy != nil {
		if p := s.policy(); p != nil && p.NeedsMessage() {
			kept, rej := s.judge(ctx, p, env, qid, key, content, sc.n)
			if rej != nil {
				if content != nil {
					return "", rej
				}
				if derr := g.cfg.Blobs.Delete(context.WithoutCancel(ctx), key); derr != nil {
					g.log.Warn("could not remove the blob of a message not spooled", "queue_id", qid, "key", key, "err", derr)
				}
				return "", rej
			}
			env.Recipients = kept
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
	if g.dispatch != nil && g.jobs.Working() {
		// Processed here once committed (see dispatcher), under this
		// lease instead of by a job; on a node that works no jobs (or
		// not yet), by a job.
		m.LeaseOwner, m.LeaseUntil = g.newOwner(), g.cfg.Now().Add(g.cfg.Lease)
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
	if m.LeaseOwner != "" {
		c := *m // the run reads m.Content into its own copy
		if !g.dispatch.add(&c) {
			// Stopping, or too much waiting: leave it to a job.
			if err := g.dispatch.requeue(context.WithoutCancel(ctx), []*Message{&c}, 0); err != nil {
				g.log.Warn("could not queue the job of a message the dispatcher did not take; processing resumes when the lease ends or at the next start", "queue_id", qid, "err", err)
			}
		}
	}
	took := time.Since(start)
	env.QueueID, env.Size = qid, sc.n
	g.log.Info("spooled", "queue_id", qid, "ingress_point", env.IngressPointID, "from", env.MailFrom,
		"rcpts", len(env.Recipients), "size", sc.n, "took", took.Round(time.Microsecond))
	g.obs.Accepted(env, took)
	return qid, nil
}

// judge applies the traffic policy's add-on conditions, which need the
// message (rules.Policy.EvaluateMessage), once it is stored and before it
// is committed: a DENY there is answered at the end of DATA, before any
// "250", so no message is accepted and then lost. Each recipient accepted
// at RCPT is judged again, with one analysis of the message for all.
//
// SMTP has one reply per message after DATA (RFC 5321 3.3), so:
//   - every recipient denied: 550 5.7.1, nothing is kept;
//   - a lookup failed (address list), or a deny may be an add-on outage's
//     doing (the analysis was unavailable, so an ALLOW statement on it could
//     not hold): 451 4.3.0, the client retries the whole message later;
//   - some denied, some allowed: the message is accepted for the allowed
//     ones only, and each recipient left out is logged, as a filter
//     discarding for that recipient.
//
// An add-on outage with a DENY statement on the add-on lets mail through
// (the condition does not hold, with a logged warning), as AWS documents
// for conditions it cannot evaluate: traffic is not stopped by a failing
// filter. A policy that must fail closed writes ALLOW statements on the
// add-on and a default DENY: an outage then answers 451.
func (s *Spooler) judge(ctx context.Context, p *rules.Policy, env *message.Envelope, qid, key string, content []byte, size int64) ([]string, *smtpd.Reject) {
	g := s.g
	e := *env
	e.QueueID = qid
	msg := &rules.Message{Envelope: &e, Open: func(ctx context.Context) (io.ReadCloser, int64, error) {
		if content != nil {
			return io.NopCloser(bytes.NewReader(content)), size, nil
		}
		rc, _, err := g.cfg.Blobs.Get(ctx, key)
		return rc, size, err
	}}
	var kept, denied []string
	retry := false
	for _, r := range env.Recipients {
		res, err := p.EvaluateMessage(ctx, &env.Conn, r, msg)
		switch {
		case err != nil:
			g.log.Warn("traffic policy: lookup failed after DATA; the message is refused with 451", "queue_id", qid, "rcpt", r, "err", err)
			retry = true
		case res.Allow:
			kept = append(kept, r)
		case res.Unavailable:
			g.log.Warn("traffic policy: denied while an add-on analysis was unavailable; the message is refused with 451", "queue_id", qid, "rcpt", r, "warnings", res.Warnings)
			retry = true
		default:
			denied = append(denied, r)
		}
	}
	switch {
	case retry:
		return nil, rejectPolicyTemp
	case len(kept) == 0:
		g.log.Info("traffic policy denied the message after DATA", "queue_id", qid, "ingress_point", env.IngressPointID, "from", env.MailFrom, "rcpts", len(denied))
		return nil, rejectPolicy
	}
	for _, r := range denied {
		g.log.Warn("traffic policy denied a recipient after DATA; the message is kept for the others", "queue_id", qid, "rcpt", r)
	}
	return kept, nil
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
		jobs := make([]Job, 0, len(batch))
		for _, m := range batch {
			if err := tx.InsertMessage(ctx, m); err != nil {
				return err
			}
			if m.LeaseOwner == "" { // else the dispatcher processes it
				jobs = append(jobs, ProcessArgs{QueueID: m.QueueID})
			}
		}
		if len(jobs) == 0 {
			return nil
		}
		return tx.Enqueue(ctx, jobs...)
	})
}

// openSpooled opens the spooled copy of m: from the database when it is
// small enough to be kept there, else (or when a message spooled before
// copies were kept there is read) from the blob store. fault.NotFound
// when it is gone. A copy read from the database is kept in m.Content for
// the next call (a job reads the message several times: verification,
// rules, each action), so m must not be shared between goroutines.
func (g *Gateway) openSpooled(ctx context.Context, m *Message) (io.ReadCloser, error) {
	if m.BlobKey == "" {
		return nil, &fault.Error{Kind: fault.NotFound, Message: "the spooled copy of " + m.QueueID + " is deleted"}
	}
	if m.Content != nil {
		return io.NopCloser(bytes.NewReader(m.Content)), nil
	}
	if m.Size <= blob.InlineMax {
		b, err := g.cfg.Store.SpooledContent(ctx, m.BlobKey)
		if err == nil {
			m.Content = b
			return io.NopCloser(bytes.NewReader(b)), nil
		}
		if !fault.Is(err, fault.NotFound) {
			return nil, err
		}
	}
	rc, _, err := g.cfg.Blobs.Get(ctx, m.BlobKey)
	return rc, err
}
