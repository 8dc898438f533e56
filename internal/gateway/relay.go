package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// ReplacedMailFrom is the MAIL FROM of relays whose action says MailFrom
// REPLACE: AWS replaces the sender with an address of its own, so that
// bounces come back to the gateway rather than to the original sender.
// Tidings uses mailer-daemon@<TIDINGS_HOSTNAME>.
func (g *Gateway) ReplacedMailFrom() string { return "mailer-daemon@" + g.cfg.Hostname }

// relay is the gateway.relay job: it leases the due recipients of one
// Relay step, delivers the message to the relay once for all of them, and
// records each recipient's outcome: DELIVERED; DEFERRED with the next
// attempt per the retry policy (a job is queued for then); FAILED, with a
// delivery status notification queued for the sender.
func (g *Gateway) relay(ctx context.Context, args RelayArgs) error {
	log := g.log.With("queue_id", args.QueueID)
	st := g.cfg.Store
	m, err := st.GetMessage(ctx, args.QueueID)
	if fault.Is(err, fault.NotFound) {
		return nil // deleted (tidings queue delete)
	}
	if err != nil {
		return err
	}
	q, err := load(m)
	if err != nil {
		log.Error("cannot relay", "err", err)
		return nil
	}
	steps, err := st.Steps(ctx, args.QueueID)
	if err != nil {
		return err
	}
	if args.Step < 0 || args.Step >= len(steps) || steps[args.Step].Action != "Relay" {
		log.Error("relay job for a step that is not a Relay")
		return nil
	}
	var det relayDetail
	if err := json.Unmarshal([]byte(steps[args.Step].Detail), &det); err != nil {
		log.Error("relay step has no usable detail", "err", err)
		return nil
	}

	owner, now := g.newOwner(), g.cfg.Now()
	var rows []Delivery
	// Lazy, as the settling below: lost in a power cut, the claim is
	// made again and the delivery attempted again.
	err = st.InTx(durable.Lazy(ctx), func(tx Tx) error {
		var err error
		rows, err = tx.ClaimDeliveries(ctx, args.QueueID, args.Step, owner, ms(now), ms(now.Add(g.cfg.Lease)))
		return err
	})
	if err != nil || len(rows) == 0 {
		return err
	}
	return g.deliverAndSettle(ctx, log, q, args.Step, det, owner, rows)
}

// deliverAndSettle makes one delivery attempt for rows (leased to owner)
// of a Relay step and records each recipient's outcome: DELIVERED;
// DEFERRED with the next attempt per the retry policy (a gateway.relay job
// is queued for then); FAILED, with a notification queued for the sender.
func (g *Gateway) deliverAndSettle(ctx context.Context, log *slog.Logger, q *queued, step int, det relayDetail, owner string, rows []Delivery) error {
	log = log.With("step", step, "relay", det.RelayID)
	res, interrupted := g.deliverRelay(ctx, log, q, det, rows)

	// Record what happened even when the job's context ended.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	now := g.cfg.Now()
	var next time.Time
	notify := false
	for i := range rows {
		d := &rows[i]
		rr := res[i]
		d.LeaseOwner, d.LeaseUntil, d.UpdatedAt = "", time.Time{}, ms(now)
		if interrupted && rr.Status == delivery.Deferred {
			// Shutting down: not an attempt; try again at once on start.
			d.NextAttemptAt = ms(now)
			next = minTime(next, d.NextAttemptAt)
			continue
		}
		d.Attempts++
		d.LastAttemptAt = ms(now)
		d.LastReply = oneLine(rr.Reply.String())
		d.RemoteMTA = rr.RemoteMTA
		switch rr.Status {
		case delivery.Delivered:
			d.State = DeliveryDelivered
			g.obs.Delivered(DeliveryDelivered, now.Sub(q.ReceivedAt))
		case delivery.Failed:
			d.State = DeliveryFailed
			g.obs.Delivered(DeliveryFailed, 0)
		default:
			when, giveUp := g.cfg.Retry.NextAttempt(d.Attempts, q.ReceivedAt, now)
			if giveUp {
				d.State = DeliveryFailed
				d.LastReply = oneLine(fmt.Sprintf("gave up after %d attempts over %s; last: %s", d.Attempts, now.Sub(q.ReceivedAt).Round(time.Minute), rr.Reply.String()))
				g.obs.Delivered(DeliveryFailed, 0)
			} else {
				d.State, d.NextAttemptAt = DeliveryDeferred, ms(when)
				next = minTime(next, d.NextAttemptAt)
				g.obs.Delivered(DeliveryDeferred, 0)
			}
		}
		if d.State == DeliveryFailed {
			if q.env.MailFrom == "" {
				d.DSN = "not sent: the message has the null sender (RFC 5321 6.1)"
			} else {
				d.DSN, notify = DSNPending, true
			}
		}
		attrs := []any{"rcpt", d.Recipient, "state", d.State, "attempt", d.Attempts, "reply", d.LastReply, "remote", d.RemoteMTA}
		if d.State == DeliveryDeferred {
			attrs = append(attrs, "next", d.NextAttemptAt)
		}
		log.Log(ctx, levelOf(d.State), "delivery", attrs...)
	}
	var finished bool
	// Lazy: an outcome a power cut lost means a delivery made again (a
	// duplicate), never a message lost; it survives a crash of the process.
	err := g.cfg.Store.InTx(durable.Lazy(sctx), func(tx Tx) error {
		if err := lockFirst(sctx, tx, q.QueueID); err != nil {
			return err
		}
		for i := range rows {
			if _, err := tx.UpdateDelivery(sctx, &rows[i], owner); err != nil {
				return err
			}
		}
		if !next.IsZero() {
			if err := tx.Enqueue(sctx, RelayArgs{QueueID: q.QueueID, Step: step, NotBefore: next}); err != nil {
				return err
			}
		}
		if notify {
			if err := tx.Enqueue(sctx, NotifyArgs{QueueID: q.QueueID, Step: step}); err != nil {
				return err
			}
		}
		var err error
		finished, err = g.finishTx(sctx, tx, q.QueueID)
		return err
	})
	if err != nil {
		// The leases keep the rows from others until they end; then the
		// sweeper queues them again.
		return fmt.Errorf("recording deliveries: %w", err)
	}
	if finished {
		g.removeSpooled(ctx, q.Message)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func levelOf(s DeliveryState) slog.Level {
	switch s {
	case DeliveryDelivered:
		return slog.LevelInfo
	case DeliveryFailed:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// deliverRelay delivers the message to the relay for the leased rows and
// returns one result per row, in order; interrupted reports that the
// job's context ended.
func (g *Gateway) deliverRelay(ctx context.Context, log *slog.Logger, q *queued, det relayDetail, rows []Delivery) ([]delivery.RecipientResult, bool) {
	all := func(st delivery.Status, enhanced, text string) []delivery.RecipientResult {
		out := make([]delivery.RecipientResult, len(rows))
		for i := range rows {
			out[i] = delivery.RecipientResult{Recipient: rows[i].Recipient, Status: st, Reply: delivery.Reply{Enhanced: enhanced, Text: text}}
		}
		return out
	}
	r, err := g.lookups.get(ctx, q.AccountID, mailmanager.KindRelay, det.RelayID)
	switch {
	case fault.Is(err, fault.NotFound):
		return all(delivery.Failed, "5.4.4", "relay "+det.RelayID+" no longer exists"), false
	case err != nil:
		return all(delivery.Deferred, "4.3.0", "reading relay "+det.RelayID+": "+err.Error()), ctx.Err() != nil
	}
	rec, err := mailmanager.DecodeRelay(r)
	if err != nil {
		return all(delivery.Deferred, "4.3.5", "relay "+det.RelayID+": "+err.Error()), false
	}
	dest := delivery.Relay(rec.ServerName, rec.ServerPort)
	if arn := deref(rec.Authentication.SecretArn); arn != "" {
		user, pass, err := g.relayCredentials(ctx, q.AccountID, arn)
		if err != nil {
			// A configuration problem an operator can fix (or a database
			// hiccup): defer, as the delivery package does for
			// authentication failures.
			return all(delivery.Deferred, "4.7.0", "relay "+det.RelayID+": "+err.Error()), ctx.Err() != nil
		}
		dest.Username, dest.Password = user, pass
	}
	mailFrom := q.env.MailFrom
	if det.MailFrom == mm.MailFromReplace {
		mailFrom = g.ReplacedMailFrom()
	}
	rcpts := make([]string, len(rows))
	for i := range rows {
		rcpts[i] = rows[i].Recipient
	}
	// The size declared (RFC 1870) is an upper bound: fields may be removed.
	env := delivery.Envelope{MailFrom: mailFrom, Recipients: rcpts, SMTPUTF8: q.utf8, EightBit: q.eightBit, Size: g.relaySize(q, det)}
	var openErr error
	open := g.relayOpener(ctx, log, q, det)
	res := g.cfg.Deliverer.Deliver(ctx, dest, env, func() (io.ReadCloser, error) {
		rc, err := open()
		if err != nil {
			openErr = err
		}
		return rc, err
	})
	if openErr != nil {
		log.Error("cannot read the spooled copy", "err", openErr)
	}
	return res.Recipients, ctx.Err() != nil
}

// relayCredentials reads the SMTP credentials of a relay from its secret:
// the keys "username" and "password", as Mail Manager wants them.
func (g *Gateway) relayCredentials(ctx context.Context, accountID, arn string) (user, pass string, err error) {
	if g.cfg.StandIns == nil {
		return "", "", fmt.Errorf("secret %s cannot be read: this server has no secrets (internal error)", arn)
	}
	v, err := g.cfg.StandIns.Secret(ctx, accountID, arn)
	if fault.Is(err, fault.NotFound) {
		return "", "", fmt.Errorf("secret %s does not exist (create it with `tidings secrets put`)", arn)
	}
	if err != nil {
		return "", "", fmt.Errorf("reading secret %s: %v", arn, err)
	}
	if v["username"] == "" || v["password"] == "" {
		return "", "", fmt.Errorf("secret %s lacks the keys \"username\" and \"password\" a relay authenticates with", arn)
	}
	return v["username"], v["password"], nil
}

// relaySize is the size of the relayed message, an upper bound.
func (g *Gateway) relaySize(q *queued, det relayDetail) int64 {
	fields := append([][2]string{{OriginatorHeader, det.RelayID}}, det.Headers...)
	n := int64(len(headerLines(fields)))
	if q.auth != nil && q.auth.ResultsHeader != "" {
		n += int64(len(headerLines([][2]string{{"Authentication-Results", q.auth.ResultsHeader}})))
		if g.cfg.Sealer != nil {
			n += int64(len(q.auth.ResultsHeader))
		}
	}
	if g.cfg.Sealer != nil {
		n += arcSetMax
	}
	return n + q.Size
}

// lockFirst locks the message row before a transaction writes its
// delivery rows. Every transaction that writes both takes the message
// first (finishTx, Retry, Delete, whose cascade reaches the deliveries):
// one that took a delivery row and then waited for the message could
// deadlock against one holding the message (PostgreSQL aborts one of
// them, seen as a failed Delete while a relay settled). A message deleted
// meanwhile is not an error: the updates then touch nothing.
func lockFirst(ctx context.Context, tx Tx, queueID string) error {
	if _, err := tx.LockMessage(ctx, queueID); err != nil && !fault.Is(err, fault.NotFound) {
		return err
	}
	return nil
}

// finishTx marks a message DONE when nothing is left to do for it (its
// steps all ran and no delivery or notification is outstanding). It locks
// the message row first, so that two jobs finishing at once see each
// other's rows.
func (g *Gateway) finishTx(ctx context.Context, tx Tx, queueID string) (bool, error) {
	m, err := tx.LockMessage(ctx, queueID)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return false, nil
		}
		return false, err
	}
	if m.State != Active {
		return false, nil // QUEUED: the process job finishes it
	}
	open, err := tx.CountOpen(ctx, queueID)
	if err != nil || open > 0 {
		return false, err
	}
	m.State, m.BlobKey, m.UpdatedAt = Done, "", ms(g.cfg.Now())
	return true, tx.UpdateMessage(ctx, m)
}

// notify is the gateway.dsn job: it sends one delivery status notification
// (RFC 3464) for the failed recipients of a step to the envelope sender,
// by the sender domain's MX hosts. A notification that cannot be delivered
// now is retried on the relay schedule; one that fails for good is
// recorded on the rows ("not sent: ...") and dropped, never returned.
func (g *Gateway) notify(ctx context.Context, args NotifyArgs) error {
	log := g.log.With("queue_id", args.QueueID, "step", args.Step)
	st := g.cfg.Store
	m, err := st.GetMessage(ctx, args.QueueID)
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	q, err := load(m)
	if err != nil {
		log.Error("cannot notify", "err", err)
		return nil
	}
	owner, now := g.newOwner(), g.cfg.Now()
	var rows []Delivery
	err = st.InTx(ctx, func(tx Tx) error {
		var err error
		rows, err = tx.ClaimNotifications(ctx, args.QueueID, args.Step, owner, ms(now), ms(now.Add(g.cfg.Lease)))
		return err
	})
	if err != nil || len(rows) == 0 {
		return err
	}
	first := args.First
	if first.IsZero() {
		first = now
	}

	outcome, retryAt, err := g.sendNotification(ctx, log, q, args.Step, rows)
	if err != nil {
		return err // transient (reading the spool): the rows' lease delays the retry
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	now = g.cfg.Now()
	var again *NotifyArgs
	switch {
	case outcome != "":
		g.obs.Notified(notifyLabel(outcome))
		log.Log(ctx, levelOfDSN(outcome), "delivery status notification", "to", q.env.MailFrom, "rcpts", len(rows), "outcome", outcome)
	case ctx.Err() != nil:
		again = &NotifyArgs{QueueID: args.QueueID, Step: args.Step, Attempt: args.Attempt, First: first, NotBefore: now}
	default:
		when, giveUp := g.cfg.Retry.NextAttempt(args.Attempt+1, first, now)
		if giveUp {
			outcome = "not sent: gave up: " + retryAt
			g.obs.Notified("failed")
		} else {
			again = &NotifyArgs{QueueID: args.QueueID, Step: args.Step, Attempt: args.Attempt + 1, First: first, NotBefore: when}
			g.obs.Notified("deferred")
			log.Info("delivery status notification deferred", "to", q.env.MailFrom, "reply", retryAt, "next", when)
		}
	}
	var finished bool
	err = st.InTx(sctx, func(tx Tx) error {
		if err := lockFirst(sctx, tx, args.QueueID); err != nil {
			return err
		}
		for i := range rows {
			d := &rows[i]
			d.LeaseOwner, d.LeaseUntil, d.UpdatedAt = "", time.Time{}, ms(now)
			if outcome != "" {
				d.DSN = outcome
			}
			if _, err := tx.UpdateDelivery(sctx, d, owner); err != nil {
				return err
			}
		}
		if again != nil {
			if err := tx.Enqueue(sctx, *again); err != nil {
				return err
			}
		}
		var err error
		finished, err = g.finishTx(sctx, tx, args.QueueID)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording notification: %w", err)
	}
	if finished {
		g.removeSpooled(ctx, m)
	}
	return nil
}

func notifyLabel(outcome string) string {
	if strings.HasPrefix(outcome, "sent") {
		return "sent"
	}
	return "failed"
}

func levelOfDSN(outcome string) slog.Level {
	if strings.HasPrefix(outcome, "sent") {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// sendNotification builds and delivers the DSN. It returns the final
// outcome to record ("sent ..." or "not sent: ..."), or "" and the reply
// when the delivery was deferred.
func (g *Gateway) sendNotification(ctx context.Context, log *slog.Logger, q *queued, step int, rows []Delivery) (outcome, deferReply string, err error) {
	sender := q.env.MailFrom
	if sender == "" {
		return "not sent: the message has the null sender (RFC 5321 6.1)", "", nil
	}
	at := strings.LastIndexByte(sender, '@')
	if at < 0 || at == len(sender)-1 {
		return "not sent: the sender <" + sender + "> has no domain", "", nil
	}
	var header []byte
	if q.BlobKey != "" {
		rc, err := g.openSpooled(ctx, q.Message)
		switch {
		case err == nil:
			header, err = delivery.ReadHeader(rc, 64<<10)
			rc.Close()
			if err != nil {
				return "", "", err
			}
		case !fault.Is(err, fault.NotFound):
			return "", "", err
		}
	}
	rcpts := make([]delivery.RecipientResult, len(rows))
	for i, d := range rows {
		rcpts[i] = delivery.RecipientResult{Recipient: d.Recipient, Status: delivery.Failed, Reply: parseReply(d.LastReply), RemoteMTA: d.RemoteMTA}
	}
	dsn, err := delivery.BuildDSN(g.cfg.Hostname, delivery.Original{
		Envelope:    delivery.Envelope{MailFrom: sender, Recipients: q.env.Recipients},
		Header:      header,
		ArrivalDate: q.ReceivedAt,
	}, rcpts, g.cfg.Now())
	if err != nil {
		return "not sent: " + err.Error(), "", nil
	}
	msg := dsn.Message
	if steps, err := g.cfg.Store.Steps(ctx, q.QueueID); err == nil && step < len(steps) && steps[step].Action == "Bounce" {
		var a mm.RuleAction
		if json.Unmarshal(steps[step].Spec, &a) == nil && a.Bounce != nil {
			msg = bounceMessage(msg, a.Bounce)
		}
	}
	res := g.cfg.Deliverer.Deliver(ctx, delivery.MX(sender[at+1:]), dsn.Envelope, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(msg)), nil
	})
	rr := res.Recipients[0]
	switch rr.Status {
	case delivery.Delivered:
		return "sent " + g.cfg.Now().UTC().Format(time.RFC3339) + " to <" + sender + "> via " + rr.RemoteMTA, "", nil
	case delivery.Failed:
		return "not sent: " + oneLine(rr.Reply.String()), "", nil
	}
	return "", oneLine(rr.Reply.String()), nil
}

// bounceMessage applies a Bounce action's Sender (the From of the
// notification) and Message (its human-readable text, added to the first
// part) to a DSN built by delivery.BuildDSN.
func bounceMessage(msg []byte, a *mm.BounceAction) []byte {
	if s := oneLine(deref(a.Sender)); s != "" && !strings.ContainsAny(s, "<>\"") && strings.Contains(s, "@") {
		if i := bytes.Index(msg, []byte("\r\n")); i > 0 && bytes.HasPrefix(msg, []byte("From: ")) {
			msg = append([]byte("From: <"+s+">"), msg[i:]...)
		}
	}
	if text := deref(a.Message); text != "" {
		// The first part is quoted-printable; a soft line of plain text is
		// valid QP as long as it has no "=" and stays short, so encode.
		marker := []byte("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
		if i := bytes.Index(msg, marker); i > 0 {
			j := i + len(marker)
			enc := qpEncode(text + "\r\n\r\n")
			msg = append(msg[:j:j], append(enc, msg[j:]...)...)
		}
	}
	return msg
}

func qpEncode(s string) []byte {
	var b bytes.Buffer
	lineLen := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteString("\r\n")
			i++
			lineLen = 0
			continue
		case c == '\t' || (c >= 0x20 && c < 0x7f && c != '='):
			if lineLen >= 72 {
				b.WriteString("=\r\n")
				lineLen = 0
			}
			b.WriteByte(c)
			lineLen++
		default:
			if lineLen >= 70 {
				b.WriteString("=\r\n")
				lineLen = 0
			}
			fmt.Fprintf(&b, "=%02X", c)
			lineLen += 3
		}
	}
	return b.Bytes()
}

// parseReply reads back a reply recorded as delivery.Reply.String().
func parseReply(s string) delivery.Reply {
	var r delivery.Reply
	rest := s
	if len(rest) >= 4 && rest[3] == ' ' {
		if n, err := strconv.Atoi(rest[:3]); err == nil && n >= 200 && n < 600 {
			r.Code, rest = n, rest[4:]
		}
	}
	if tok, after, ok := strings.Cut(rest, " "); ok && isEnhanced(tok) {
		r.Enhanced, rest = tok, after
	} else if isEnhanced(rest) {
		r.Enhanced, rest = rest, ""
	}
	r.Text = rest
	return r
}

func isEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}
