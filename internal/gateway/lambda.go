package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// call is made now; an error or a non-2xx answer fails the step (and its
// ActionFailurePolicy applies).
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
	if req.RetryFor > events.MaxInvokeRetry {
		req.RetryFor = events.MaxInvokeRetry
	}
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
		return done(fmt.Sprintf("%s answered %s", fn.ARN, oneLine(truncated(string(answer), 200)))), nil
	case errors.As(err, &ie):
		return failed("InvokeLambda: %s %v", fn.ARN, err), nil
	case errors.Is(err, context.Canceled):
		return outcome{}, err // shutting down: not an answer
	default:
		return failed("InvokeLambda: %s: %v", fn.ARN, err), nil
	}
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
