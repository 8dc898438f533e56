package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/standins"
)

// StandIns resolves the ARNs of services Tidings does not serve to what
// stands in for them here (internal/standins): the secrets of relays and
// AUTH ingress points, the URLs of InvokeLambda functions, the LMTP
// servers and Maildirs of DeliverToMailbox. Each returns fault.NotFound
// when the ARN names nothing.
type StandIns interface {
	Secret(ctx context.Context, accountID, arn string) (map[string]string, error)
	Function(ctx context.Context, accountID, arn string) (*standins.Function, error)
	Mailbox(ctx context.Context, accountID, arn string) (*standins.Mailbox, error)
}

// Invoker makes REQUEST_RESPONSE invocations (internal/events).
type Invoker interface {
	InvokeURL(ctx context.Context, req events.InvokeRequest) ([]byte, error)
}

// MaxLambdaContent bounds the message an invocation carries in its
// event (base64 in ses.content): an asynchronous Lambda payload is at
// most 256 KB. A larger message's event carries its headers only and says
// so (ses.contentOmitted).
const MaxLambdaContent = 150 << 10

// lambdaEvent is what an InvokeLambda action posts: the event SES sends
// its receipt rules' Lambda actions (Records[0].ses.mail and .receipt,
// documented in the SES developer guide), which code written for SES
// receiving already reads, with the message itself in ses.content
// (base64) since there is no S3 bucket to fetch it from.
type lambdaEvent struct {
	Records []lambdaRecord `json:"Records"`
}

type lambdaRecord struct {
	EventSource  string    `json:"eventSource"`
	EventVersion string    `json:"eventVersion"`
	SES          lambdaSES `json:"ses"`
}

type lambdaSES struct {
	Mail           snsMail    `json:"mail"`
	Receipt        snsReceipt `json:"receipt"`
	Content        string     `json:"content,omitempty"`
	ContentOmitted bool       `json:"contentOmitted,omitempty"`
}

// invokeLambda is the InvokeLambda action. EVENT: the call is queued in
// the transaction that records the step (exactly once) and retried for
// RetryTimeMinutes; the step is done once queued. REQUEST_RESPONSE: the
// call is made now. A failure that may pass (no connection, a timeout,
// HTTP 5xx or 429) leaves the step pending and is tried again with
// backoff (Config.Retry's First and Max) until RetryTimeMinutes after
// the first attempt, as Lambda retries a synchronous invocation that
// failed; then, or at once for a failure that cannot pass (another 4xx,
// or the function answering an error), the step fails and its
// ActionFailurePolicy applies.
func (g *Gateway) invokeLambda(ctx context.Context, q *queued, s *Step, a *mm.InvokeLambdaAction, added [][2]string) (outcome, error) {
	arn := deref(a.FunctionArn)
	if g.cfg.StandIns == nil {
		return failed("InvokeLambda: this server has no functions (internal error: no stand-ins)"), nil
	}
	fn, err := g.cfg.StandIns.Function(ctx, q.AccountID, arn)
	switch {
	case fault.Is(err, fault.NotFound):
		return failed("InvokeLambda: function %s does not exist (create it with `tidings functions put`)", arn), nil
	case err != nil && transient(err):
		return outcome{}, err
	case err != nil:
		return failed("InvokeLambda: %v", err), nil
	}
	mode := events.InvokeMode(deref(a.InvocationType))
	payload, err := g.lambdaPayload(ctx, q, s, fn.ARN, string(mode), added)
	if err != nil {
		return outcome{}, err
	}
	req := events.InvokeRequest{AccountID: q.AccountID, URL: fn.URL, Payload: payload, Mode: mode,
		RetryFor: time.Duration(deref(a.RetryTimeMinutes)) * time.Minute, Secret: fn.Secret}
	if mode == events.InvokeEvent {
		job, err := events.NewInvokeJob(req, g.cfg.Now())
		if err != nil {
			return failed("InvokeLambda: %v", err), nil
		}
		return outcome{state: StepDone, detail: fmt.Sprintf("invocation of %s queued (%d bytes)", fn.ARN, len(payload)),
			apply: func(ctx context.Context, tx Tx, _ string, _ time.Time) error { return tx.Enqueue(ctx, job) }}, nil
	}
	if g.cfg.Invoker == nil {
		return failed("InvokeLambda: this server cannot invoke (internal error: no invoker)"), nil
	}
	answer, err := g.cfg.Invoker.InvokeURL(ctx, req)
	var ie *events.InvokeError
	switch {
	case err == nil:
		if fe := functionError(answer); fe != "" {
			return failed("InvokeLambda: %s answered a function error: %s", fn.ARN, oneLine(truncated(fe, 200))), nil
		}
		return done(fmt.Sprintf("%s answered %s", fn.ARN, oneLine(truncated(string(answer), 200)))), nil
	case errors.Is(err, context.Canceled):
		return outcome{}, err // shutting down: not an answer
	case errors.As(err, &ie) && (ie.Status == http.StatusTooManyRequests || ie.Status >= 500),
		fault.Is(err, fault.Unavailable), errors.Is(err, context.DeadlineExceeded):
		return g.lambdaRetry(s, req.RetryFor, fmt.Sprintf("InvokeLambda: %s %v", fn.ARN, err)), nil
	case ie != nil:
		return failed("InvokeLambda: %s %v", fn.ARN, err), nil
	default:
		return failed("InvokeLambda: %s: %v", fn.ARN, err), nil
	}
}

// lambdaRetry is the Detail of an InvokeLambda step waiting to be retried.
type lambdaRetry struct {
	Attempts int       `json:"attempts"`
	First    time.Time `json:"first"` // of the failed attempts
	Next     time.Time `json:"next"`
}

// retryAttempts is how many attempts a pending step waiting to be
// retried has made (0 for any other step).
func retryAttempts(s *Step) int {
	if s.State != StepPending || s.Action != "InvokeLambda" || s.Detail == "" {
		return 0
	}
	var r lambdaRetry
	if json.Unmarshal([]byte(s.Detail), &r) != nil {
		return 0
	}
	return r.Attempts
}

// lambdaRetry is the outcome of a REQUEST_RESPONSE attempt that failed for
// a reason that may pass: the step stays pending until the next attempt,
// or fails once retryFor (0: events.DefaultInvokeRetry) has passed since
// the first.
func (g *Gateway) lambdaRetry(s *Step, retryFor time.Duration, why string) outcome {
	if retryFor <= 0 {
		retryFor = events.DefaultInvokeRetry
	}
	var st lambdaRetry
	if retryAttempts(s) > 0 {
		_ = json.Unmarshal([]byte(s.Detail), &st)
	}
	now := ms(g.cfg.Now())
	if st.Attempts == 0 {
		st.First = now
	}
	st.Attempts++
	p := g.cfg.Retry
	p.GiveUpAfter = retryFor
	next, giveUp := p.NextAttempt(st.Attempts, st.First, now)
	if giveUp {
		return failed("%s (gave up after %d attempts over %s, RetryTimeMinutes %d)", why, st.Attempts,
			now.Sub(st.First).Round(time.Second), int(retryFor/time.Minute))
	}
	st.Next = next
	detail, _ := json.Marshal(st)
	return outcome{state: StepPending, detail: string(detail), err: why, retryAt: next}
}

// functionError is the message of a Lambda function error answer: the
// object a runtime returns for an error the function raised (errorType
// and errorMessage, in the Node.js, Python, Java and Go runtimes alike),
// or "".
func functionError(answer []byte) string {
	var e struct {
		ErrorType    *string `json:"errorType"`
		ErrorMessage *string `json:"errorMessage"`
	}
	if len(bytes.TrimSpace(answer)) == 0 || bytes.TrimSpace(answer)[0] != '{' || json.Unmarshal(answer, &e) != nil ||
		e.ErrorType == nil || e.ErrorMessage == nil {
		return ""
	}
	return *e.ErrorType + ": " + *e.ErrorMessage
}

func truncated(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// lambdaPayload builds the event of an invocation.
func (g *Gateway) lambdaPayload(ctx context.Context, q *queued, s *Step, functionARN, mode string, added [][2]string) ([]byte, error) {
	rc, _, err := g.openMessage(ctx, q, added, "")
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, MaxLambdaContent+1))
	if err != nil {
		return nil, err
	}
	omitted := len(raw) > MaxLambdaContent
	block, err := readHeaderBlock(bytes.NewReader(raw), 64<<10)
	if err != nil {
		return nil, err
	}
	hdr, trunc := parseHeaders(block)
	ses := lambdaSES{
		Mail: snsMail{
			Timestamp:        q.ReceivedAt.UTC().Format(time.RFC3339Nano),
			Source:           q.env.MailFrom,
			MessageID:        q.QueueID,
			Destination:      q.env.Recipients,
			HeadersTruncated: trunc,
			Headers:          hdr,
			CommonHeaders:    commonHeaders(hdr),
			Tidings: map[string]string{"ingressPointId": q.IngressPointID, "ruleSetId": q.RuleSetID, "queueId": q.QueueID,
				"step": strconv.Itoa(s.Index)},
		},
		Receipt: snsReceipt{
			Timestamp:  g.cfg.Now().UTC().Format(time.RFC3339Nano),
			Recipients: s.Recipients,
			Action:     map[string]string{"type": "Lambda", "functionArn": functionARN, "invocationType": mode},
		},
		ContentOmitted: omitted,
	}
	if q.auth != nil {
		ses.Receipt.SpfVerdict = map[string]string{"status": string(q.auth.SPF)}
		ses.Receipt.DkimVerdict = map[string]string{"status": string(q.auth.DKIM)}
		ses.Receipt.DmarcVerdict = map[string]string{"status": string(q.auth.DMARC)}
		ses.Receipt.DmarcPolicy = q.auth.DMARCPolicy
	}
	if !omitted {
		ses.Content = base64.StdEncoding.EncodeToString(raw)
	}
	b, err := json.Marshal(lambdaEvent{Records: []lambdaRecord{{EventSource: "aws:ses", EventVersion: "1.0", SES: ses}}})
	if err == nil && len(b) > events.MaxInvokePayload && !omitted {
		// Large headers: the content goes, the metadata stays.
		ses.Content, ses.ContentOmitted = "", true
		b, err = json.Marshal(lambdaEvent{Records: []lambdaRecord{{EventSource: "aws:ses", EventVersion: "1.0", SES: ses}}})
	}
	return b, err
}
