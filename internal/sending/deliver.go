package sending

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/lease"
)

// DeliverArgs delivers the due recipients of an accepted message.
type DeliverArgs struct {
	MessageID string    `json:"message_id"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func (DeliverArgs) Kind() string { return KindDeliver }

func (a DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{ScheduledAt: a.NotBefore, Queue: DeliverQueue}
}

// DeliverQueue is the job queue of deliveries, with DeliverWorkers
// workers of its own. River fetches a queue's jobs at most once per
// FetchCooldown (100 ms), as many as it has idle workers: in the default
// queue (60 workers, shared with other jobs) deliveries stopped near
// 600/s. A delivery mostly waits (on the destination's SMTP server, on the
// database's writer), so many overlap cheaply. Deliveries queued before
// this queue existed are still worked in the default one.
const (
	DeliverQueue   = "sending"
	DeliverWorkers = 150
)

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args)
}

// Timeout: the SMTP timeouts of one attempt add up to about 20 minutes.
func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return 30 * time.Minute }

// Register adds the workers of the sending jobs to the queue, and the
// periodic sweep; and it starts delivering accepted messages in process
// (dispatch.go) whenever q works.
func (s *Service) Register(q *jobs.Queue) error {
	s.startDispatch(q)
	q.AddQueue(DeliverQueue, DeliverWorkers)
	jobs.Register(q, &deliverWorker{s: s})
	jobs.Register(q, &checkWorker{s: s})
	jobs.Register(q, &confirmWorker{s: s})
	jobs.Register(q, &purgeWorker{s: s})
	return q.AddPeriodic(KindPurge, river.PeriodicInterval(SweepInterval),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil }, true)
}

// SweepInterval is how often the sweep (KindPurge) runs.
const SweepInterval = 10 * time.Minute

// KeepDone is how long a delivered message's row is kept: feedback (a
// late DSN, a complaint days later) is attributed through it.
const KeepDone = 30 * 24 * time.Hour

// KindPurge is the periodic sweep: it queues the delivery jobs of
// messages whose leases have ended (their process died, see Recover), and
// removes the rows of messages delivered more than KeepDone ago.
const KindPurge = "sending.purge"

// PurgeArgs is the periodic sweep.
type PurgeArgs struct{}

func (PurgeArgs) Kind() string { return KindPurge }

type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	s *Service
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	n, err := w.s.releaseLeases(ctx, nil, w.s.now())
	if n > 0 {
		w.s.log.Info("queued the delivery jobs of messages whose leases ended", "messages", n)
	}
	if err != nil {
		return err
	}
	var total int64
	for {
		var n int64
		err := w.s.st.InTx(ctx, func(tx Tx) error {
			var err error
			n, err = tx.PurgeMessages(ctx, w.s.now().Add(-KeepDone), 1000)
			return err
		})
		total += n
		if err != nil || n < 1000 {
			if total > 0 {
				w.s.log.Info("purged delivered messages", "messages", total)
			}
			return err
		}
	}
}

// commit inserts the message, its recipients and its delivery job (or its
// lease, for the dispatcher), durably, or reports why not. Sends that
// reach this point while a commit is in flight are committed together in
// the next transaction (group commit, as the gateway's spool does): on
// SQLite every commit is serialized on one writer and fsynced, and one per
// message would cap the rate at what the disk syncs per second. A lone
// message is committed at once; no send waits for another to arrive.
func (s *Service) commit(ctx context.Context, m *Message, rcpts []Recipient) error {
	return s.commits.Do(commitReq{m: m, rcpts: rcpts})
}

type commitReq struct {
	m     *Message
	rcpts []Recipient
}

// commitBatch is the transaction of s.commits.
func (s *Service) commitBatch(batch []commitReq) error {
	// The commit finishes even when the client goes away: a committed row
	// must keep its blob, and the blob is removed only when this fails.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var until time.Time // of the lease the batch is stored under
	if s.dispatching() {
		until = s.now().Add(lease.Duration)
	}
	return s.st.InTx(ctx, func(tx Tx) error {
		jobs := make([]Job, 0, len(batch))
		for _, r := range batch {
			r.m.LeaseOwner, r.m.LeaseUntil = "", time.Time{}
			if !until.IsZero() {
				r.m.LeaseOwner, r.m.LeaseUntil = s.leaseOwner, until
			}
			if err := tx.InsertMessage(ctx, r.m, r.rcpts); err != nil {
				return err
			}
			if until.IsZero() {
				jobs = append(jobs, DeliverArgs{MessageID: r.m.MessageID})
			}
		}
		if len(jobs) == 0 {
			return nil
		}
		return tx.Enqueue(ctx, jobs...)
	})
}

// destination is where mail to addr goes: the smarthost when one is
// configured, else the MX hosts of its domain; with the limits configured
// for that domain (or for "*", the smarthost's).
func (s *Service) destination(addr string) delivery.Destination {
	var d delivery.Destination
	domain := "*"
	if s.cfg.Smarthost != "" {
		host, port, _ := net.SplitHostPort(s.cfg.Smarthost)
		p, _ := strconv.Atoi(port)
		d = delivery.Relay(host, p)
		d.Username, d.Password = s.cfg.SmarthostUser, s.cfg.SmarthostPassword
	} else {
		domain = strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
		d = delivery.MX(domain)
	}
	if s.cfg.DestinationLimits != nil {
		d.MaxConns, d.Rate = s.cfg.DestinationLimits(domain)
	}
	return d
}

// deliver is the sending.deliver job. It publishes the Send event (and the
// Bounce events of suppressed recipients) on its first run, then makes one
// attempt for every due recipient — the simulator's without the network —
// records each outcome, publishes its event, and queues itself again for
// the deferred ones.
func (s *Service) deliver(ctx context.Context, a DeliverArgs) error {
	m, err := s.st.GetMessage(ctx, a.MessageID)
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.State == MessageDone {
		return nil
	}
	var meta messageMeta
	if err := json.Unmarshal(m.Meta, &meta); err != nil {
		s.log.Error("message metadata unreadable; not delivered", "message_id", m.MessageID, "err", err)
		return nil
	}
	rcpts, err := s.st.Recipients(ctx, m.MessageID)
	if err != nil {
		return err
	}
	return s.deliverMessage(ctx, m, &meta, rcpts)
}

// deliverMessage is deliver once m, its metadata and its recipients are
// read (or handed over by the accept, dispatch.go).
func (s *Service) deliverMessage(ctx context.Context, m *Message, meta *messageMeta, rcpts []Recipient) error {
	log := s.log.With("message_id", m.MessageID)
	now := s.now()
	out := s.outgoing(ctx, log, m, meta)
	if m.State == MessageQueued {
		if err := s.archiveSent(ctx, m, meta, rcpts, out); err != nil {
			return err
		}
		s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "Send", Mail: meta.Mail, Send: &struct{}{}})
		var bounced []bouncedRecipient
		for _, r := range rcpts {
			if r.State == RcptSuppressed {
				bounced = append(bounced, bouncedRecipient{EmailAddress: r.Recipient, Action: "failed", Status: "5.1.1",
					DiagnosticCode: "Amazon SES did not send the message to this address because it is on the suppression list for your account."})
			}
		}
		if len(bounced) > 0 {
			s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "Bounce", Mail: meta.Mail, Bounce: &bounceEvent{
				BounceType: "Permanent", BounceSubType: "OnAccountSuppressionList", BouncedRecipients: bounced,
				Timestamp: sesTime(now), FeedbackID: feedbackEventID(m.MessageID, now), ReportingMTA: "dns; " + s.cfg.Hostname,
			}})
			log.Info("not delivered: on the suppression list", "rcpts", len(bounced))
		}
	}

	var due, sim []*Recipient
	for i := range rcpts {
		r := &rcpts[i]
		if (r.State == RcptPending || r.State == RcptDeferred) && !r.NextAttemptAt.After(now) {
			if simulated(r.Recipient) != simNone {
				sim = append(sim, r)
			} else {
				due = append(due, r)
			}
		}
	}
	for _, r := range sim {
		s.simulate(ctx, m, meta, r, now)
	}
	// One delivery per destination (one for all with a smarthost).
	groups := map[delivery.Destination][]*Recipient{}
	var order []delivery.Destination
	for _, r := range due {
		d := s.destination(r.Recipient)
		if meta.RequireTLS {
			d.TLS.Require = true
		}
		if _, ok := groups[d]; !ok {
			order = append(order, d)
		}
		groups[d] = append(groups[d], r)
	}
	var toSuppress []Suppressed
	for _, d := range order {
		toSuppress = append(toSuppress, s.deliverGroup(ctx, log, m, meta, d, groups[d], out)...)
	}

	// Settle: record every recipient, queue the next attempt, finish.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var next time.Time
	open := false
	for _, r := range rcpts {
		if r.State == RcptPending || r.State == RcptDeferred {
			open = true
			if next.IsZero() || r.NextAttemptAt.Before(next) {
				next = r.NextAttemptAt
			}
		}
	}
	finished, blobKey := false, ""
	// Lazy: outcomes a power cut lost mean a delivery made again (a
	// duplicate), never a message lost; they survive a crash of the process.
	err := s.st.InTx(durable.Lazy(sctx), func(tx Tx) error {
		for i := range rcpts {
			r := &rcpts[i]
			if !r.UpdatedAt.Before(now) {
				if err := tx.UpdateRecipient(sctx, r); err != nil {
					return err
				}
			}
		}
		for i := range toSuppress {
			if err := tx.PutSuppressed(sctx, &toSuppress[i]); err != nil {
				return err
			}
		}
		m.UpdatedAt = s.now()
		if open {
			m.State = MessageActive
			if err := tx.Enqueue(sctx, DeliverArgs{MessageID: m.MessageID, NotBefore: next}); err != nil {
				return err
			}
		} else {
			// Done: the spooled copy is removed after the commit (a
			// failure to remove it leaves an orphan, never a message
			// without its copy).
			m.State, finished = MessageDone, true
			blobKey, m.BlobKey = m.BlobKey, ""
		}
		return tx.UpdateMessage(sctx, m)
	})
	if err != nil {
		return fmt.Errorf("recording deliveries of %s: %w", m.MessageID, err)
	}
	if finished && blobKey != "" && !meta.Inline {
		if err := s.cfg.Blobs.Delete(sctx, blobKey); err != nil {
			log.Warn("could not remove the delivered message", "key", blobKey, "err", err)
		}
	}
	return nil
}

// openSpooled opens the spooled copy of m: from the database when it is
// kept there (or from m.Content, when the accept handed it over), else
// from the blob store.
func (s *Service) openSpooled(ctx context.Context, m *Message, meta *messageMeta) (io.ReadCloser, error) {
	if !meta.Inline {
		return s.cfg.Blobs.Get(ctx, m.BlobKey)
	}
	if m.Content != nil { // handed over by the accept
		return io.NopCloser(bytes.NewReader(m.Content)), nil
	}
	b, err := s.st.SpooledContent(ctx, m.BlobKey)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// outgoing returns what opens the copy of m that goes out: the spooled
// copy, DKIM-signed when m is to be (messageMeta.SignDomain). A message is
// signed once per delivery run, for all its destinations and its archive.
func (s *Service) outgoing(ctx context.Context, log *slog.Logger, m *Message, meta *messageMeta) func() (io.ReadCloser, error) {
	if meta.SignDomain == "" {
		return func() (io.ReadCloser, error) { return s.openSpooled(ctx, m, meta) }
	}
	var signed []byte
	return func() (io.ReadCloser, error) {
		if signed == nil {
			b, err := s.signSpooled(ctx, log, m, meta)
			if err != nil {
				return nil, err
			}
			signed = b
		}
		return io.NopCloser(bytes.NewReader(signed)), nil
	}
}

// signSpooled reads the spooled copy of m and signs it with the DKIM key
// its domain identity has now. The identity may have stopped signing since
// the message was accepted (deleted, signing disabled): the message then
// goes out unsigned, as it would have been sent then.
func (s *Service) signSpooled(ctx context.Context, log *slog.Logger, m *Message, meta *messageMeta) ([]byte, error) {
	rc, err := s.openSpooled(ctx, m, meta)
	if err != nil {
		return nil, err
	}
	msg, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	res, err := s.st.Get(ctx, m.AccountID, KindIdentity, meta.SignDomain)
	if fault.Is(err, fault.NotFound) {
		log.Warn("not DKIM-signed: the identity was deleted after the message was accepted", "identity", meta.SignDomain)
		return msg, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := sharedIdentity(res)
	if err != nil {
		return nil, err
	}
	if !r.signs() {
		log.Warn("not DKIM-signed: the identity stopped signing after the message was accepted", "identity", meta.SignDomain)
		return msg, nil
	}
	return sign(msg, meta.SignDomain, r.DKIM)
}

// deliverGroup makes one attempt for the recipients of one destination
// and updates them in place; it returns the addresses to suppress. open
// opens the copy to send (outgoing).
func (s *Service) deliverGroup(ctx context.Context, log *slog.Logger, m *Message, meta *messageMeta, dest delivery.Destination, rs []*Recipient, open func() (io.ReadCloser, error)) []Suppressed {
	now := s.now()
	addrs := make([]string, len(rs))
	for i, r := range rs {
		addrs[i] = r.Recipient
	}
	var size int64
	env := delivery.Envelope{MailFrom: meta.MailFrom, Recipients: addrs, SMTPUTF8: !isASCII(meta.MailFrom) || !isASCII(strings.Join(addrs, "")), EightBit: true, Size: size}
	var res delivery.Result
	if s.cfg.Deliverer == nil || m.BlobKey == "" {
		res.Recipients = make([]delivery.RecipientResult, len(rs))
		for i := range rs {
			res.Recipients[i] = delivery.RecipientResult{Recipient: rs[i].Recipient, Status: delivery.Deferred, Reply: delivery.Reply{Enhanced: "4.3.0", Text: "no deliverer or no spooled copy"}}
		}
	} else {
		res = s.cfg.Deliverer.Deliver(ctx, dest, env, open)
	}
	var suppress []Suppressed
	retry := s.cfg.Retry
	if meta.GiveUp > 0 {
		retry.GiveUpAfter = time.Duration(meta.GiveUp) * time.Second
	}
	var delivered []string
	var bounced []bouncedRecipient
	var delayed []delayedRecipient
	smtpResp, remote := "", ""
	interrupted := ctx.Err() != nil
	for i, r := range rs {
		rr := res.Recipients[i]
		r.UpdatedAt = now
		if interrupted && rr.Status == delivery.Deferred {
			// Shutting down: not an attempt; try again at once on start.
			r.State, r.NextAttemptAt = RcptDeferred, now
			continue
		}
		r.Attempts++
		r.LastReply, r.RemoteMTA = oneLine(rr.Reply.String()), rr.RemoteMTA
		switch rr.Status {
		case delivery.Delivered:
			r.State = RcptDelivered
			delivered = append(delivered, r.Recipient)
			smtpResp, remote = r.LastReply, rr.RemoteMTA
		case delivery.Failed:
			r.State = RcptBounced
			bounced = append(bounced, bouncedRecipient{EmailAddress: r.Recipient, Action: "failed", Status: statusOf(rr.Reply, "5.0.0"), DiagnosticCode: "smtp; " + r.LastReply})
		default:
			when, giveUp := retry.NextAttempt(r.Attempts, m.CreatedAt, now)
			if giveUp {
				r.State = RcptBounced
				bounced = append(bounced, bouncedRecipient{EmailAddress: r.Recipient, Action: "failed", Status: statusOf(rr.Reply, "4.4.7"),
					DiagnosticCode: "smtp; gave up after " + strconv.Itoa(r.Attempts) + " attempts; last: " + r.LastReply})
			} else {
				r.State, r.NextAttemptAt = RcptDeferred, when
				delayed = append(delayed, delayedRecipient{EmailAddress: r.Recipient, Status: statusOf(rr.Reply, "4.0.0"), DiagnosticCode: "smtp; " + r.LastReply})
			}
		}
		log.Info("delivery", "rcpt", r.Recipient, "state", r.State, "attempt", r.Attempts, "reply", r.LastReply, "remote", r.RemoteMTA)
	}
	if len(delivered) > 0 {
		s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "Delivery", Mail: meta.Mail, Delivery: &deliveryEvent{
			Timestamp: sesTime(now), ProcessingTimeMillis: now.Sub(m.CreatedAt).Milliseconds(), Recipients: delivered,
			SMTPResponse: smtpResp, ReportingMTA: s.cfg.Hostname, RemoteMtaIP: remoteIP(remote),
		}})
	}
	if len(bounced) > 0 {
		permanent := false
		for _, b := range bounced {
			permanent = permanent || strings.HasPrefix(b.Status, "5")
		}
		typ, sub := "Transient", "General"
		if permanent {
			typ = "Permanent"
			for _, b := range bounced {
				if b.Status == "5.1.1" || b.Status == "5.1.0" {
					sub = "NoEmail"
				}
			}
		}
		fid := feedbackEventID(m.MessageID, now)
		s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "Bounce", Mail: meta.Mail, Bounce: &bounceEvent{
			BounceType: typ, BounceSubType: sub, BouncedRecipients: bounced, Timestamp: sesTime(now),
			FeedbackID: fid, ReportingMTA: "dns; " + s.cfg.Hostname, RemoteMtaIP: remoteIP(remote),
		}})
		if permanent && containsFold(meta.Reasons, "BOUNCE") {
			for _, b := range bounced {
				if strings.HasPrefix(b.Status, "5") {
					suppress = append(suppress, Suppressed{AccountID: m.AccountID, Email: strings.ToLower(b.EmailAddress), Reason: "BOUNCE", MessageID: m.MessageID, FeedbackID: fid, UpdatedAt: now})
				}
			}
		}
	}
	if len(delayed) > 0 {
		exp := m.CreatedAt.Add(retryGiveUp(retry))
		s.publishFor(ctx, m.AccountID, meta, &Event{EventType: "DeliveryDelay", Mail: meta.Mail, DeliveryDelay: &delayEvent{
			Timestamp: sesTime(now), DelayType: delayType(res), ExpirationTime: sesTime(exp), DelayedRecipients: delayed,
			ProcessingTimeMillis: now.Sub(m.CreatedAt).Milliseconds(), ReportingMTA: s.cfg.Hostname,
		}})
	}
	return suppress
}

func retryGiveUp(p delivery.RetryPolicy) time.Duration {
	if p.GiveUpAfter > 0 {
		return p.GiveUpAfter
	}
	return 5 * 24 * time.Hour
}

// delayType is the SES delayType of a deferred attempt.
func delayType(res delivery.Result) string {
	for _, r := range res.Recipients {
		if r.Status == delivery.Deferred {
			switch {
			case strings.HasPrefix(r.Reply.Enhanced, "4.4.3"), strings.HasPrefix(r.Reply.Enhanced, "4.4.4"):
				return "MailboxFull"
			case r.Reply.Code == 0:
				return "TransientCommunicationFailure"
			case strings.HasPrefix(r.Reply.Enhanced, "4.2.2"):
				return "MailboxFull"
			case strings.HasPrefix(r.Reply.Enhanced, "4.7"):
				return "IPFailure"
			}
			return "TransientCommunicationFailure"
		}
	}
	return "Undetermined"
}

func statusOf(r delivery.Reply, def string) string {
	if r.Enhanced != "" {
		return r.Enhanced
	}
	if r.Code >= 500 {
		return "5.0.0"
	}
	if r.Code >= 400 {
		return "4.0.0"
	}
	return def
}

func remoteIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	if net.ParseIP(remote) != nil {
		return remote
	}
	return ""
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// feedbackEventID is the feedbackId of a Bounce or Complaint event.
func feedbackEventID(messageID string, now time.Time) string {
	return fmt.Sprintf("%s-%s-000000", messageID[:min(len(messageID), 20)], strconv.FormatInt(now.UnixMilli(), 36))
}
