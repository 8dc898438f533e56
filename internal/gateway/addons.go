package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	"github.com/tidings/tidings/internal/rspamd"
	"github.com/tidings/tidings/internal/rules"
)

// Rspamd checks a message; *rspamd.Client implements it.
type Rspamd interface {
	Check(ctx context.Context, body io.Reader, size int64, m rspamd.Meta) (*rspamd.Result, error)
}

// addons answers the add-on (Analysis) conditions of one traffic policy or
// rule set: Analyzer names an add-on instance of the account (resolved
// maps the references to IDs, as the control plane recorded them), and
// RSPAMD instances are checked by rspamd, once per message whatever the
// number of conditions and recipients (rules.Message.Memo).
//
// Any other add-on (AWS's, which the control plane refuses in new
// conditions but older configurations may hold) is an error: the
// condition does not hold, the rules engine records a warning, and verdict
// conditions see PROCESSING_FAILED. Never a silent pass.
type addons struct {
	g        *Gateway
	account  string
	resolved map[string]string
}

func (g *Gateway) addonsFor(account string, resolved map[string]string) rules.Analyzer {
	return addons{g: g, account: account, resolved: resolved}
}

func (a addons) Analyze(ctx context.Context, in rules.AnalysisInput) (string, error) {
	id := resolveRef(a.resolved, in.Analyzer)
	r, err := a.g.lookups.get(ctx, a.account, mailmanager.KindAddonInstance, id)
	if fault.Is(err, fault.NotFound) {
		return "", fmt.Errorf("add-on instance %s does not exist", in.Analyzer)
	}
	if err != nil {
		return "", fmt.Errorf("reading add-on instance %s: %w", in.Analyzer, err)
	}
	rec, err := mailmanager.DecodeAddonInstance(r)
	if err != nil {
		return "", err
	}
	if rec.AddonName != rspamd.AddonName {
		return "", fmt.Errorf("add-on %s cannot run in Tidings (only %s)", rec.AddonName, rspamd.AddonName)
	}
	if a.g.cfg.Rspamd == nil {
		return "", errors.New("no rspamd is configured")
	}
	msg := in.Message
	if msg == nil || msg.Open == nil {
		return "", errors.New("the message is not available to the add-on")
	}
	v, err := msg.Memo(rspamd.AddonName, func() (any, error) { return a.g.checkRspamd(ctx, msg, in.Conn) })
	if err != nil {
		return "", err
	}
	return v.(*rspamd.Result).Field(in.ResultField)
}

// checkRspamd sends the message to rspamd with what the SMTP session knew.
func (g *Gateway) checkRspamd(ctx context.Context, msg *rules.Message, conn *message.Conn) (*rspamd.Result, error) {
	start := time.Now()
	rc, size, err := msg.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening the message: %w", err)
	}
	defer rc.Close()
	var m rspamd.Meta
	if conn != nil {
		m.IP, m.Helo, m.Hostname, m.User = conn.RemoteIP, conn.Helo, conn.ReverseName, conn.AuthUser
	}
	if env := msg.Envelope; env != nil {
		m.From, m.NullFrom, m.Rcpt, m.QueueID = env.MailFrom, true, env.Recipients, env.QueueID
	}
	res, err := g.cfg.Rspamd.Check(ctx, rc, size, m)
	if err != nil {
		g.log.WarnContext(ctx, "rspamd check failed; its conditions do not hold", "queue_id", m.QueueID, "err", err)
		return nil, err
	}
	g.log.InfoContext(ctx, "rspamd checked", "queue_id", m.QueueID, "action", res.Action, "score", res.Score,
		"required_score", res.RequiredScore, "took", time.Since(start).Round(time.Millisecond))
	return res, nil
}
