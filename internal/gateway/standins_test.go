package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/gateway"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// lmtpServer is go-smtp in LMTP mode (RFC 2033) on loopback: it refuses
// RCPT for refused-at-rcpt@, takes the message, then answers 552 after
// DATA for full@ and 250 for the others.
type lmtpServer struct {
	addr string
	mu   sync.Mutex
	got  map[string]string // recipient -> message
}

func startLMTP(t *testing.T) *lmtpServer {
	t.Helper()
	ls := &lmtpServer{got: map[string]string{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &lmtpSession{s: ls}, nil }))
	srv.LMTP = true
	srv.Domain = "lmtp.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ls.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ls
}

type lmtpSession struct {
	s  *lmtpServer
	to []string
}

func (ss *lmtpSession) Reset()                               { ss.to = nil }
func (ss *lmtpSession) Logout() error                        { return nil }
func (ss *lmtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *lmtpSession) Data(io.Reader) error                 { return nil }
func (ss *lmtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "refused-at-rcpt@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *lmtpSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, to := range ss.to {
		if strings.HasPrefix(to, "full@") {
			status.SetStatus(to, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"})
			continue
		}
		ss.s.mu.Lock()
		ss.s.got[to] = string(b)
		ss.s.mu.Unlock()
		status.SetStatus(to, nil)
	}
	return nil
}

func (ls *lmtpServer) message(rcpt string) (string, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	m, ok := ls.got[rcpt]
	return m, ok
}

// TestDeliverToMailboxLMTP: a mailbox set up with an LMTP server gets the
// message over LMTP; the step records the server's reply for each
// recipient, and a refusal fails it with them.
func TestDeliverToMailboxLMTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ls := startLMTP(t)
	info, err := b.stand.PutMailbox(b.ctx, acct, "corp-box", ls.addr, "")
	require.NoError(t, err)
	rs := b.ruleSet("rs", fmt.Sprintf(`[{"Actions":[
		{"DeliverToMailbox":{"MailboxArn":%q,"RoleArn":"arn:aws:iam::111122223333:role/x"}}]}]`, info.ARN))
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")

	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test", "carol@corp.test"}, body)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.StepDone, d.Steps[0].State, d.Steps[0].Error)
	var det struct {
		LMTP    string
		Replies []struct {
			Recipient string
			Reply     string
			Delivered bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(d.Steps[0].Detail), &det), d.Steps[0].Detail)
	require.Equal(t, ls.addr, det.LMTP)
	require.Len(t, det.Replies, 2)
	for _, r := range det.Replies {
		require.True(t, r.Delivered, "%+v", r)
		require.True(t, strings.HasPrefix(r.Reply, "250"), r.Reply)
	}
	for _, rcpt := range []string{"bob@corp.test", "carol@corp.test"} {
		m, ok := ls.message(rcpt)
		require.True(t, ok, rcpt)
		require.Contains(t, m, "Authentication-Results:")
	}

	// One refused at RCPT, one after DATA, one delivered: the step fails
	// with each recipient's reply.
	qid, err = send(t, addr, "alice@sender.test", []string{"refused-at-rcpt@corp.test", "full@corp.test", "dave@corp.test"}, body)
	require.NoError(t, err)
	d = b.waitState(qid, gateway.Done)
	s := d.Steps[0]
	require.Equal(t, gateway.StepFailed, s.State)
	require.Contains(t, s.Error, "2 of 3")
	require.Contains(t, s.Detail, `"reply":"550 5.1.1 no such user"`)
	require.Contains(t, s.Detail, `"reply":"552 5.2.2 <full@corp.test> mailbox full"`)
	_, ok := ls.message("dave@corp.test")
	require.True(t, ok)
}

// TestMailboxMaildirStandIn: a mailbox set up with a Maildir path is
// written there.
func TestMailboxMaildirStandIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dir := t.TempDir()
	_, err := b.stand.PutMailbox(b.ctx, acct, "archive-box", "", dir)
	require.NoError(t, err)
	rs := b.ruleSet("rs", `[{"Actions":[
		{"DeliverToMailbox":{"MailboxArn":"arn:aws:workmail:us-east-1:111122223333:organization/archive-box","RoleArn":"arn:aws:iam::111122223333:role/x"}}]}]`)
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.StepDone, d.Steps[0].State, d.Steps[0].Error)
	require.Contains(t, d.Steps[0].Detail, dir+"/new/")
}

// TestUnknownStandIns: a relay or ingress point naming a secret that does
// not exist, and a rule set naming an unknown function, are validation
// errors naming the ARN.
func TestUnknownStandIns(t *testing.T) {
	t.Parallel()
	b := setup(t)
	secret := "arn:aws:secretsmanager:us-east-1:111122223333:secret:nope"
	_, err := b.mail.CreateRelay(b.ctx, decode[mm.CreateRelayRequest](t, fmt.Sprintf(
		`{"RelayName":"r","ServerName":"127.0.0.1","ServerPort":25,"Authentication":{"SecretArn":%q}}`, secret)))
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	require.ErrorContains(t, err, secret)

	fn := "arn:aws:lambda:us-east-1:111122223333:function:nope"
	_, err = b.mail.CreateRuleSet(b.ctx, decode[mm.CreateRuleSetRequest](t, fmt.Sprintf(
		`{"RuleSetName":"rs","Rules":[{"Name":"r","Actions":[{"InvokeLambda":{"FunctionArn":%q,"InvocationType":"EVENT","RoleArn":"arn:aws:iam::111122223333:role/x"}}]}]}`, fn)))
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	require.ErrorContains(t, err, fn)

	_, err = b.stand.PutSecret(b.ctx, acct, "nope", map[string]string{"username": "u", "password": "p"})
	require.NoError(t, err)
	_, err = b.mail.CreateRelay(b.ctx, decode[mm.CreateRelayRequest](t, fmt.Sprintf(
		`{"RelayName":"r","ServerName":"127.0.0.1","ServerPort":25,"Authentication":{"SecretArn":%q}}`, secret)))
	require.NoError(t, err)
}

// TestDeliverToQBusiness: the action cannot run here; the step fails
// visibly, and the rest of the rule runs.
func TestDeliverToQBusiness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rs := b.ruleSet("rs", `[{"Actions":[
		{"DeliverToQBusiness":{"ApplicationId":"a1b2c3d4-0000-0000-0000-000000000000","IndexId":"a1b2c3d4-0000-0000-0000-000000000000","RoleArn":"arn:aws:iam::111122223333:role/x"}},
		{"WriteToS3":{"S3Bucket":"b","RoleArn":"arn:aws:iam::111122223333:role/x"}}]}]`)
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")
	qid, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, body)
	require.NoError(t, err)
	d := b.waitState(qid, gateway.Done)
	require.Equal(t, gateway.StepFailed, d.Steps[0].State)
	require.Contains(t, d.Steps[0].Error, "Amazon Q Business")
	require.Equal(t, gateway.StepDone, d.Steps[1].State)
}
