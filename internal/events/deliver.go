package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/fault"
)

// Headers of a delivery.
const (
	HeaderTopic     = "X-Tidings-Topic"
	HeaderEventID   = "X-Tidings-Event-Id"
	HeaderTimestamp = "X-Tidings-Timestamp"
	HeaderSignature = "X-Tidings-Signature"
)

// Sign returns the X-Tidings-Signature value of a delivery: "v1=" and the
// hex HMAC-SHA256, keyed with the subscription secret, of the timestamp
// (decimal unix seconds, the X-Tidings-Timestamp header), a '.', and the
// body as sent. This is Stripe's scheme: a receiver recomputes the HMAC
// over the timestamp header and the raw body, compares in constant time,
// and refuses timestamps too far from its clock (say 5 minutes) against
// replays. The "v1" names the scheme, so that a future one can be sent
// beside it ("v1=…,v2=…"); receivers look for the one they know.
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against secret, timestamp header and
// body, refusing timestamps more than tolerance from now (0: no check).
// It is what a Go receiver runs; the tests use it as one.
func Verify(secret, signatureHeader, timestampHeader string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestampHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("bad %s %q", HeaderTimestamp, timestampHeader)
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("timestamp %d is %s from now, beyond %s", ts, d.Round(time.Second), tolerance)
		}
	}
	want := Sign(secret, ts, body)
	for _, part := range strings.Split(signatureHeader, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(part)), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid v1 signature")
}

// Backoff is a retry schedule: the wait before attempt n+1 after n failed
// attempts is First·2^(n-1), at most Max, of which a random part (the
// upper half) is jitter, so that the deliveries failing together do not
// come back together.
type Backoff struct {
	First, Max time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.First <= 0 {
		b.First = 5 * time.Second
	}
	if b.Max <= 0 {
		b.Max = time.Hour
	}
	if b.Max < b.First {
		b.Max = b.First
	}
	return b
}

// Delay returns the wait after the failed attempt n (1 for the first),
// between half of and the full exponential step.
func (b Backoff) Delay(n int) time.Duration {
	b = b.withDefaults()
	d := b.First
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + rand.N(d-half+1)
}

// maxAnswerBytes bounds what is read of a webhook's answer.
const maxAnswerBytes = 64 << 10

// NewHTTPClient returns the client deliveries use: timeout bounds a whole
// attempt; redirects are followed only to the same scheme and host, at
// most 3, and only when they keep the POST (307, 308): a 301/302/303 would
// turn it into a GET without the body, which is not a delivery.
func NewHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	tr.ResponseHeaderTimeout = timeout
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: checkRedirect,
	}
}

// ErrRedirect is the cause of an attempt whose answer was a redirect the
// client refused to follow.
var ErrRedirect = errors.New("redirect refused")

func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0]
	switch {
	case len(via) > 3:
		return fmt.Errorf("%w: more than 3 redirects", ErrRedirect)
	case req.URL.Scheme != first.URL.Scheme || !strings.EqualFold(req.URL.Host, first.URL.Host):
		return fmt.Errorf("%w: to another host (%s://%s)", ErrRedirect, req.URL.Scheme, req.URL.Host)
	case req.Method != first.Method:
		return fmt.Errorf("%w: a %d would turn the POST into a %s", ErrRedirect, req.Response.StatusCode, req.Method)
	}
	return nil
}

// attemptResult is the outcome of one POST.
type attemptResult struct {
	status int
	body   []byte // the start of the answer
	err    error  // nil for a 2xx
}

// post sends body to url with the given headers and reads the answer,
// bounded.
func (s *Service) post(ctx context.Context, url string, body []byte, header http.Header, limit int64) attemptResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return attemptResult{err: err}
	}
	req.Header = header
	if req.Header.Get("Content-Type") == "" {
		ct := "application/octet-stream"
		switch {
		case json.Valid(body):
			ct = "application/json"
		case utf8.Valid(body):
			ct = "text/plain; charset=utf-8"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("User-Agent", "Tidings-Webhook/1")
	resp, err := s.http.Do(req)
	if err != nil {
		return attemptResult{err: err}
	}
	defer resp.Body.Close()
	answer, rerr := io.ReadAll(io.LimitReader(resp.Body, limit))
	if resp.StatusCode/100 == 2 {
		// The answer was taken; an error reading its body changes nothing.
		return attemptResult{status: resp.StatusCode, body: answer}
	}
	msg := strings.TrimSpace(string(answer))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	err = fmt.Errorf("HTTP %d", resp.StatusCode)
	if msg != "" {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.ToValidUTF8(msg, "?"))
	}
	if rerr != nil {
		err = fmt.Errorf("%w (reading the answer: %v)", err, rerr)
	}
	return attemptResult{status: resp.StatusCode, body: answer, err: err}
}

// Queue is the River queue of deliveries and invocations: their own
// workers (Config.Workers), so that receivers that answer slowly hold up
// other receivers at worst, never the mail.
const Queue = "events"

// Job kinds of the events service.
const (
	KindDeliver = "events.deliver"
	KindInvoke  = "events.invoke"
	KindPurge   = "events.purge"
	KindPublish = "events.publish"
)

// DeliverArgs makes one attempt at one delivery. Attempt is the number of
// attempts the row had when the job was queued: a job whose row has moved
// on (another job took it) does nothing.
type DeliverArgs struct {
	AccountID      string    `json:"account_id"`
	EventID        string    `json:"event_id"`
	SubscriptionID string    `json:"subscription_id"`
	Attempt        int       `json:"attempt,omitempty"`
	NotBefore      time.Time `json:"not_before,omitzero"`
}

func (DeliverArgs) Kind() string { return KindDeliver }

// InsertOpts schedules a retry for its time, on the webhooks' queue.
func (a DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, ScheduledAt: a.NotBefore}
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args)
}

// Timeout bounds a job: one attempt and its bookkeeping.
func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.s.cfg.Timeout + time.Minute
}

// deliver makes one attempt and records it: delivered, retried later (a
// new job, in the transaction that records the failure), or dead.
func (s *Service) deliver(ctx context.Context, a DeliverArgs) error {
	var (
		ev  *Event
		sub *Subscription
	)
	d, err := s.store.GetDelivery(ctx, a.AccountID, a.EventID, a.SubscriptionID)
	if fault.Is(err, fault.NotFound) {
		return nil // the topic, event or subscription was deleted
	}
	if err != nil {
		return err
	}
	if d.State != Pending || d.Attempts != a.Attempt {
		return nil // done, dead, or worked by another job
	}
	if ev, err = s.store.GetEvent(ctx, a.AccountID, a.EventID); err != nil {
		return ignoreNotFound(err)
	}
	if sub, err = s.store.GetSubscription(ctx, a.AccountID, a.SubscriptionID); err != nil {
		return ignoreNotFound(err)
	}

	start := s.cfg.Now()
	h := http.Header{}
	h.Set(HeaderTopic, ev.Topic)
	h.Set(HeaderEventID, ev.ID)
	ts := start.Unix()
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(sub.Secret, ts, ev.Body))
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	res := s.post(actx, sub.URL, ev.Body, h, maxAnswerBytes)
	cancel()
	if ctx.Err() != nil {
		// Shutting down: River runs the job again; the row is unchanged.
		return ctx.Err()
	}
	now := s.cfg.Now()
	took := now.Sub(start)

	next := *d
	next.Attempts++
	next.LastAttemptAt, next.LastStatus, next.UpdatedAt = now, res.status, now
	outcome := "delivered"
	switch {
	case res.err == nil:
		next.State, next.LastError, next.NextAttemptAt = Delivered, "", time.Time{}
	case !now.Before(d.DeadlineAt):
		next.State, next.LastError, next.NextAttemptAt = Dead, truncate(res.err.Error(), 500), time.Time{}
		outcome = "dead_lettered"
	default:
		next.LastError = truncate(res.err.Error(), 500)
		at := now.Add(s.cfg.Retry.Delay(next.Attempts))
		if at.After(d.DeadlineAt) {
			at = d.DeadlineAt // one last attempt at the deadline
		}
		next.NextAttemptAt = at
		outcome = "failed"
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		ok, err := tx.UpdateDelivery(ctx, &next, Pending, d.Attempts)
		if err != nil || !ok {
			return err
		}
		if next.State == Pending {
			return tx.Enqueue(ctx, DeliverArgs{AccountID: a.AccountID, EventID: a.EventID, SubscriptionID: a.SubscriptionID,
				Attempt: next.Attempts, NotBefore: next.NextAttemptAt})
		}
		return nil
	})
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.obs.Attempted(outcome, took)
	log := s.log.With("topic", ev.Topic, "event", ev.ID, "subscription", sub.ID, "attempt", next.Attempts)
	switch outcome {
	case "delivered":
		log.Debug("webhook delivered", "status", res.status, "took", took)
	case "failed":
		log.Info("webhook delivery failed; will retry", "err", next.LastError, "next", next.NextAttemptAt)
	default:
		log.Warn("webhook delivery given up: dead-lettered", "err", next.LastError, "first", d.CreatedAt)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// PurgeArgs trims the event logs (retention and bound per topic).
type PurgeArgs struct{}

func (PurgeArgs) Kind() string { return KindPurge }

type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	s *Service
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	n, err := w.s.Purge(ctx)
	if n > 0 {
		w.s.log.Info("event log trimmed", "events", n)
	}
	return err
}

// Purge deletes the events past retention or beyond the bound of their
// topic's log (not those still being delivered) and returns how many.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	return s.store.PurgeEvents(ctx, s.cfg.Now().Add(-s.cfg.Retention), s.cfg.KeepPerTopic)
}
