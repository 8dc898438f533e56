package submission

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/sending"
)

const (
	region   = "us-east-1"
	keyID    = "AKIASUBMISSIONTEST01"
	secret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	inactive = "AKIASUBMISSIONOFF001"
	account  = "111122223333"
)

// fakeKeys holds access keys; deleting one takes effect at once.
type fakeKeys struct {
	mu   sync.Mutex
	keys map[string]string // id -> secret; "" is inactive
	err  error
}

func (k *fakeKeys) LookupAccessKey(_ context.Context, id string) (string, iam.Principal, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.err != nil {
		return "", iam.Principal{}, k.err
	}
	s, ok := k.keys[id]
	switch {
	case !ok:
		return "", iam.Principal{}, fault.NotFoundf("no key %s", id)
	case s == "":
		return "", iam.Principal{}, fault.AccessDeniedf("The access key %s is inactive", id)
	}
	return s, iam.Principal{AccountID: account, AccessKeyID: id, ARN: "arn:aws:iam::" + account + ":root"}, nil
}

func (k *fakeKeys) delete(id string) {
	k.mu.Lock()
	delete(k.keys, id)
	k.mu.Unlock()
}

type sent struct {
	p        iam.Principal
	mailFrom string
	rcpts    []string
	raw      string
}

// fakeSender records what it is given and answers err when set.
type fakeSender struct {
	mu   sync.Mutex
	msgs []sent
	err  error
}

func (f *fakeSender) SendSMTP(ctx context.Context, mailFrom string, rcpts []string, raw []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	p, _ := iam.PrincipalFrom(ctx)
	f.msgs = append(f.msgs, sent{p, mailFrom, rcpts, string(raw)})
	return fmt.Sprintf("0100019abcdef012-7d8a2c4e-1f3b-4a5c-9d6e-%012d-000000", len(f.msgs)), nil
}

func (f *fakeSender) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeSender) all() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.msgs...)
}

// recObserver counts what the listeners report.
type recObserver struct {
	mu                   sync.Mutex
	accepted, authFailed int
	rejected             map[string]int
}

func (o *recObserver) Accepted(int64) { o.mu.Lock(); o.accepted++; o.mu.Unlock() }
func (o *recObserver) AuthFailed()    { o.mu.Lock(); o.authFailed++; o.mu.Unlock() }
func (o *recObserver) Rejected(reason string) {
	o.mu.Lock()
	o.rejected[reason]++
	o.mu.Unlock()
}

func (o *recObserver) counts() (accepted, authFailed int, rejected map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := map[string]int{}
	for k, v := range o.rejected {
		r[k] = v
	}
	return o.accepted, o.authFailed, r
}

type bundle struct {
	srv      *Server
	keys     *fakeKeys
	sender   *fakeSender
	obs      *recObserver
	startTLS string
	implicit string
}

func setup(t *testing.T) *bundle {
	t.Helper()
	cert, _, err := gateway.Certificate("", "", t.TempDir(), "smtp.test")
	require.NoError(t, err)
	b := &bundle{
		keys:   &fakeKeys{keys: map[string]string{keyID: secret, inactive: ""}},
		sender: &fakeSender{},
		obs:    &recObserver{rejected: map[string]int{}},
	}
	b.srv, err = New(Config{
		Observer: b.obs,
		Addr:     "127.0.0.1:0", ImplicitAddr: "127.0.0.1:0", Hostname: "smtp.test",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Region:    region, Keys: b.keys, Sender: b.sender,
		AuthFailureDelay: time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, b.srv.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, b.srv.Shutdown(ctx))
	})
	b.startTLS, b.implicit = b.srv.Addrs()
	return b
}

var clientTLS = &tls.Config{InsecureSkipVerify: true} // the self-signed certificate

// dialSTARTTLS connects to the STARTTLS port and runs STARTTLS.
func (b *bundle) dialSTARTTLS(t *testing.T) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(b.startTLS)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Hello("client.test"))
	require.NoError(t, c.StartTLS(clientTLS))
	return c
}

func (b *bundle) dialImplicit(t *testing.T) *smtp.Client {
	t.Helper()
	nc, err := tls.Dial("tcp", b.implicit, clientTLS)
	require.NoError(t, err)
	c, err := smtp.NewClient(nc, "smtp.test")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Hello("client.test"))
	return c
}

// plainAuth is AUTH PLAIN without net/smtp's own check for TLS.
type plainAuth struct{ user, pass string }

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}
func (plainAuth) Next([]byte, bool) ([]byte, error) { return nil, nil }

// loginAuth is AUTH LOGIN, which net/smtp does not have.
type loginAuth struct{ user, pass string }

func (a loginAuth) Start(*smtp.ServerInfo) (string, []byte, error) { return "LOGIN", nil, nil }
func (a loginAuth) Next(challenge []byte, more bool) ([]byte, error) {
	switch {
	case !more:
		return nil, nil
	case string(challenge) == "Username:":
		return []byte(a.user), nil
	case string(challenge) == "Password:":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected challenge %q", challenge)
}

// send runs one transaction and returns the code and text of the reply
// to the message.
func send(t *testing.T, c *smtp.Client, from string, to []string, msg string) (int, string) {
	t.Helper()
	require.NoError(t, c.Mail(from))
	for _, r := range to {
		require.NoError(t, c.Rcpt(r))
	}
	id, err := c.Text.Cmd("DATA")
	require.NoError(t, err)
	c.Text.StartResponse(id)
	_, _, err = c.Text.ReadResponse(354)
	c.Text.EndResponse(id)
	require.NoError(t, err)
	w := c.Text.DotWriter()
	_, err = w.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	code, text, err := c.Text.ReadResponse(0)
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code, tpe.Msg
	}
	require.NoError(t, err)
	return code, text
}

func smtpCode(err error) int {
	var tpe *textproto.Error
	if errors.As(err, &tpe) {
		return tpe.Code
	}
	return 0
}

const msg = "From: app@example.com\r\nTo: user@dest.test\r\nSubject: hi\r\n\r\nhello\r\n"

func TestSubmitSTARTTLS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dialSTARTTLS(t)
	ok, mechs := c.Extension("AUTH")
	require.True(t, ok)
	require.Equal(t, "PLAIN LOGIN", mechs)
	require.NoError(t, c.Auth(plainAuth{keyID, iam.SMTPPassword(secret, region)}))
	code, text := send(t, c, "app@example.com", []string{"user@dest.test", "bcc@dest.test"}, msg)
	require.Equal(t, 250, code)
	require.Equal(t, "2.0.0 Ok 0100019abcdef012-7d8a2c4e-1f3b-4a5c-9d6e-000000000001-000000", text)

	got := b.sender.all()
	require.Len(t, got, 1)
	require.Equal(t, account, got[0].p.AccountID)
	require.Equal(t, keyID, got[0].p.AccessKeyID)
	require.Equal(t, "app@example.com", got[0].mailFrom)
	require.Equal(t, []string{"user@dest.test", "bcc@dest.test"}, got[0].rcpts)
	require.True(t, strings.HasPrefix(got[0].raw, "Received: from client.test"), got[0].raw)
	require.Regexp(t, `with (ESMTP|UTF8SMTP)SA\r\n\t\(TLS1_[23] `, got[0].raw)
	require.True(t, strings.HasSuffix(got[0].raw, msg))

	// A second message in the same session.
	code, _ = send(t, c, "app@example.com", []string{"user@dest.test"}, msg)
	require.Equal(t, 250, code)
	require.NoError(t, c.Quit())
	accepted, _, _ := b.obs.counts()
	require.Equal(t, 2, accepted)
}

func TestSubmitImplicitTLS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dialImplicit(t)
	ok, _ := c.Extension("STARTTLS")
	require.False(t, ok, "STARTTLS offered inside TLS")
	require.NoError(t, c.Auth(loginAuth{keyID, iam.SMTPPassword(secret, region)}))
	code, text := send(t, c, "app@example.com", []string{"user@dest.test"}, msg)
	require.Equal(t, 250, code)
	require.Contains(t, text, "Ok 0100019abcdef012-")
}

func TestAuthRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []struct {
		name, user, pass string
	}{
		{"wrong password", keyID, iam.SMTPPassword("another secret", region)},
		{"a region SES does not serve", keyID, iam.SMTPPassword(secret, "xx-nowhere-9")},
		{"the secret itself", keyID, secret},
		{"unknown key", "AKIANOSUCHKEY0000001", iam.SMTPPassword(secret, region)},
		{"inactive key", inactive, iam.SMTPPassword("", region)},
	} {
		cl := b.dialImplicit(t)
		err := cl.Auth(plainAuth{c.user, c.pass})
		require.Equal(t, 535, smtpCode(err), "%s: %v", c.name, err)
		require.ErrorContains(t, err, "5.7.8 Authentication Credentials Invalid", c.name)
	}
	require.Empty(t, b.sender.all())
	_, failed, _ := b.obs.counts()
	require.Equal(t, 5, failed)

	// The key store failing is a temporary failure, not a wrong password.
	b.keys.mu.Lock()
	b.keys.err = errors.New("database is down")
	b.keys.mu.Unlock()
	cl := b.dialImplicit(t)
	err := cl.Auth(plainAuth{keyID, iam.SMTPPassword(secret, region)})
	require.Equal(t, 454, smtpCode(err), "%v", err)
}

// TestAuthBeforeTLS: AUTH is neither offered nor taken in clear text.
func TestAuthBeforeTLS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c, err := smtp.Dial(b.startTLS)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("client.test"))
	ok, _ := c.Extension("AUTH")
	require.False(t, ok, "AUTH offered before STARTTLS")
	ok, _ = c.Extension("STARTTLS")
	require.True(t, ok)
	id, err := c.Text.Cmd("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+keyID+"\x00"+iam.SMTPPassword(secret, region))))
	require.NoError(t, err)
	c.Text.StartResponse(id)
	rc, msg, rerr := c.Text.ReadResponse(235)
	c.Text.EndResponse(id)
	require.Equal(t, 530, smtpCode(rerr), "%d %s %v", rc, msg, rerr)
	require.ErrorContains(t, rerr, "5.7.0 Must issue a STARTTLS command first")
	require.Equal(t, 530, smtpCode(c.Mail("app@example.com")))
}

// TestRefusedSends: the pipeline's refusals reach the client as SES
// answers them over SMTP.
func TestRefusedSends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.dialSTARTTLS(t)
	require.NoError(t, c.Auth(plainAuth{keyID, iam.SMTPPassword(secret, region)}))
	for _, tc := range []struct {
		err  error
		code int
		text string
	}{
		{&sending.Rejection{Reason: sending.ReasonMessageRejected, Message: "Email address is not verified. The following identities failed the check in region US-EAST-1: app@example.com"},
			554, "5.7.1 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: app@example.com"},
		{&fault.Error{Kind: fault.Throttled, Message: "Maximum sending rate exceeded."}, 454, "4.7.0 Throttling failure: Maximum sending rate exceeded."},
		{&sending.Rejection{Reason: sending.ReasonMessageRejected, Message: "Daily message quota exceeded."}, 454, "4.7.0 Throttling failure: Daily message quota exceeded."},
		{&sending.Rejection{Reason: sending.ReasonAccountPaused, Message: "Sending is paused for this account."}, 554, "5.7.1 Sending paused: Sending is paused for this account."},
		{&sending.Rejection{Reason: sending.ReasonBadRequest, Message: "Recipient count exceeds 50."}, 554, "5.6.0 Transaction failed: Recipient count exceeds 50."},
		{&fault.Error{Kind: fault.NotFound, Message: "Configuration set <x> does not exist.", ResourceType: "configuration-set", ResourceID: "x"}, 554, "5.7.1 Configuration set does not exist: Configuration set <x> does not exist."},
		{errors.New("disk full"), 451, "4.3.0"},
	} {
		b.sender.setErr(tc.err)
		code, text := send(t, c, "app@example.com", []string{"user@dest.test"}, msg)
		require.Equal(t, tc.code, code, "%v: %s", tc.err, text)
		require.Contains(t, text, tc.text)
	}
	_, _, rejected := b.obs.counts()
	require.Equal(t, 6, rejected["policy"], "the pipeline's refusals")
	require.Equal(t, 1, rejected["spool"], "the failure of its own")
	b.sender.setErr(nil)
	code, _ := send(t, c, "app@example.com", []string{"user@dest.test"}, msg)
	require.Equal(t, 250, code, "the session goes on after refusals")

	// A key deleted after AUTH sends nothing more.
	b.keys.delete(keyID)
	code, text := send(t, c, "app@example.com", []string{"user@dest.test"}, msg)
	require.Equal(t, 554, code)
	require.Contains(t, text, "Access denied")
	require.Len(t, b.sender.all(), 1)
}

// TestStartFailsOnBusyAddress: an address in use is an error naming it,
// and nothing is left listening.
func TestStartFailsOnBusyAddress(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	cert, _, err := gateway.Certificate("", "", t.TempDir(), "smtp.test")
	require.NoError(t, err)
	s, err := New(Config{
		Addr: "127.0.0.1:0", ImplicitAddr: busy.Addr().String(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		Region:    region, Keys: &fakeKeys{}, Sender: &fakeSender{},
	})
	require.NoError(t, err)
	err = s.Start()
	require.ErrorContains(t, err, "SMTP submissions listener on "+busy.Addr().String())
	require.ErrorContains(t, err, "address already in use")
	require.NoError(t, s.Shutdown(context.Background()))

	_, err = New(Config{Region: region, Keys: &fakeKeys{}, Sender: &fakeSender{}})
	require.ErrorContains(t, err, "TLS configuration is required")
}
