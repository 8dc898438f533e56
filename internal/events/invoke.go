package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/fault"
)

// InvokeMode is how InvokeURL calls: the InvocationType of Mail Manager's
// InvokeLambda action.
type InvokeMode string

const (
	// InvokeEvent queues the call and returns at once; the call is retried
	// with backoff until RetryFor has passed.
	InvokeEvent InvokeMode = "EVENT"
	// InvokeRequestResponse calls now and returns the answer's body.
	InvokeRequestResponse InvokeMode = "REQUEST_RESPONSE"
)

// Limits of InvokeURL.
const (
	// MaxInvokePayload bounds a payload (Lambda's limit for asynchronous
	// invocations).
	MaxInvokePayload = 256 << 10
	// MaxInvokeResponse bounds a REQUEST_RESPONSE answer (Lambda's limit
	// for synchronous responses).
	MaxInvokeResponse = 6 << 20
	// DefaultInvokeRetry is RetryFor when unset.
	DefaultInvokeRetry = time.Hour
	// MaxInvokeRetry bounds RetryFor: the largest RetryTimeMinutes of Mail
	// Manager's InvokeLambda action (LambdaRetryTimeMinutes: 0 to 2160).
	MaxInvokeRetry = 2160 * time.Minute
)

// InvokeRequest is an HTTP stand-in for a Lambda invocation: a POST of a
// JSON payload to a URL that does what the function would.
type InvokeRequest struct {
	AccountID string // for logs
	URL       string // http:// or https://
	// Payload is the JSON body (the event Lambda would get).
	Payload []byte
	Mode    InvokeMode
	// RetryFor is how long EVENT calls are retried (default 1h, at most
	// 36h; RetryTimeMinutes of the action). REQUEST_RESPONSE calls are
	// made once: the caller decides what a failure means, and retries.
	RetryFor time.Duration
	// Secret, when set, signs the call as webhook deliveries are signed
	// (X-Tidings-Timestamp and X-Tidings-Signature).
	Secret string
}

// InvokeError is a REQUEST_RESPONSE call answered with other than 2xx.
type InvokeError struct {
	Status int
	Body   []byte // the start of the answer
}

func (e *InvokeError) Error() string {
	return fmt.Sprintf("invocation answered HTTP %d: %s", e.Status, truncate(string(e.Body), 200))
}

// InvokeArgs is the job of an EVENT invocation. Build it with
// NewInvokeJob to enqueue it in a transaction of your own (any Tx whose
// Enqueue inserts River jobs): the call then commits with your rows.
type InvokeArgs struct {
	AccountID string    `json:"account_id,omitempty"`
	URL       string    `json:"url"`
	Payload   []byte    `json:"payload"`
	Secret    string    `json:"secret,omitempty"`
	Deadline  time.Time `json:"deadline"`
	Attempt   int       `json:"attempt,omitempty"`
	NotBefore time.Time `json:"not_before,omitzero"`
}

func (InvokeArgs) Kind() string { return KindInvoke }

func (a InvokeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, ScheduledAt: a.NotBefore}
}

// NewInvokeJob checks an EVENT request and returns its job, to enqueue.
func NewInvokeJob(req InvokeRequest, now time.Time) (InvokeArgs, error) {
	if err := checkInvoke(&req); err != nil {
		return InvokeArgs{}, err
	}
	return InvokeArgs{AccountID: req.AccountID, URL: req.URL, Payload: req.Payload, Secret: req.Secret,
		Deadline: now.Add(req.RetryFor)}, nil
}

func checkInvoke(req *InvokeRequest) error {
	if err := ValidateWebhookURL(req.URL); err != nil {
		return err
	}
	if len(req.Payload) > MaxInvokePayload {
		return fault.Invalidf("invocation payload of %d bytes is over the limit of %d", len(req.Payload), MaxInvokePayload)
	}
	if !json.Valid(req.Payload) {
		return fault.Invalidf("invocation payload is not JSON")
	}
	switch {
	case req.RetryFor < 0 || req.RetryFor > MaxInvokeRetry:
		return fault.Invalidf("invocation retry time must be between 0 and %s", MaxInvokeRetry)
	case req.RetryFor == 0:
		req.RetryFor = DefaultInvokeRetry
	}
	switch req.Mode {
	case InvokeEvent, InvokeRequestResponse:
	case "":
		req.Mode = InvokeEvent
	default:
		return fault.Invalidf("invocation mode %q: want EVENT or REQUEST_RESPONSE", req.Mode)
	}
	return nil
}

// InvokeURL makes an invocation. EVENT: the call is queued durably (its
// job committed) and InvokeURL returns nil, nil; the job retries with
// backoff until RetryFor has passed, then logs that it gave up.
// REQUEST_RESPONSE: the call is made now, bounded by the service's
// timeout, and the answer's body (at most MaxInvokeResponse bytes) is
// returned; a non-2xx answer is an *InvokeError, a failed connection a
// fault.Unavailable. As Publish, call it outside a transaction of yours.
func (s *Service) InvokeURL(ctx context.Context, req InvokeRequest) ([]byte, error) {
	if err := checkInvoke(&req); err != nil {
		return nil, err
	}
	if req.Mode == InvokeEvent {
		job, err := NewInvokeJob(req, s.cfg.Now())
		if err != nil {
			return nil, err
		}
		return nil, s.store.InTx(ctx, func(tx Tx) error { return tx.Enqueue(ctx, job) })
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res := s.post(actx, req.URL, req.Payload, s.invokeHeader(req.Secret, req.Payload), MaxInvokeResponse+1)
	switch {
	case res.status == 0 && res.err != nil:
		return nil, &fault.Error{Kind: fault.Unavailable, Message: "invocation failed: " + res.err.Error(), Err: res.err}
	case res.err != nil:
		return nil, &InvokeError{Status: res.status, Body: res.body}
	case len(res.body) > MaxInvokeResponse:
		return nil, fault.Invalidf("invocation answer larger than %d bytes", MaxInvokeResponse)
	}
	return res.body, nil
}

func (s *Service) invokeHeader(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if secret != "" {
		ts := s.cfg.Now().Unix()
		h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(HeaderSignature, Sign(secret, ts, body))
	}
	return h
}

type invokeWorker struct {
	river.WorkerDefaults[InvokeArgs]
	s *Service
}

func (w *invokeWorker) Timeout(*river.Job[InvokeArgs]) time.Duration {
	return w.s.cfg.Timeout + time.Minute
}

func (w *invokeWorker) Work(ctx context.Context, job *river.Job[InvokeArgs]) error {
	s, a := w.s, job.Args
	start := s.cfg.Now()
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	res := s.post(actx, a.URL, a.Payload, s.invokeHeader(a.Secret, a.Payload), maxAnswerBytes)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	now := s.cfg.Now()
	log := s.log.With("account", a.AccountID, "url", a.URL, "attempt", a.Attempt+1)
	switch {
	case res.err == nil:
		s.obs.Attempted("delivered", now.Sub(start))
		log.Debug("invocation delivered", "status", res.status)
		return nil
	case !now.Before(a.Deadline):
		s.obs.Attempted("dead_lettered", now.Sub(start))
		log.Warn("invocation given up", "err", res.err, "deadline", a.Deadline)
		return nil
	}
	s.obs.Attempted("failed", now.Sub(start))
	a.Attempt++
	a.NotBefore = now.Add(s.cfg.Retry.Delay(a.Attempt))
	if a.NotBefore.After(a.Deadline) {
		a.NotBefore = a.Deadline
	}
	log.Info("invocation failed; will retry", "err", res.err, "next", a.NotBefore)
	return s.store.InTx(ctx, func(tx Tx) error { return tx.Enqueue(ctx, a) })
}
