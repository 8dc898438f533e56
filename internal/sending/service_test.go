package sending_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

const acct = "111122223333"

// memBlobs is an in-memory blob store.
type memBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (b *memBlobs) Put(_ context.Context, k string, r io.Reader) error {
	d, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.m[k] = d
	b.mu.Unlock()
	return nil
}

func (b *memBlobs) Get(_ context.Context, k string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[k]
	if !ok {
		return nil, fault.NotFoundf("no blob %s", k)
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

func (b *memBlobs) Delete(_ context.Context, k string) error {
	b.mu.Lock()
	delete(b.m, k)
	b.mu.Unlock()
	return nil
}

func (b *memBlobs) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// fakeDeliverer stands in for the SMTP client: recipients starting with
// "fail" get 550 5.1.1, "later" 451 4.3.0, the others 250.
type fakeDeliverer struct {
	mu   sync.Mutex
	msgs [][]byte
	envs []delivery.Envelope
	dest []delivery.Destination
}

func (f *fakeDeliverer) Deliver(_ context.Context, dest delivery.Destination, env delivery.Envelope, body func() (io.ReadCloser, error)) delivery.Result {
	rc, err := body()
	if err != nil {
		panic(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	f.mu.Lock()
	f.msgs, f.envs, f.dest = append(f.msgs, data), append(f.envs, env), append(f.dest, dest)
	f.mu.Unlock()
	res := delivery.Result{}
	for _, r := range env.Recipients {
		rr := delivery.RecipientResult{Recipient: r, Status: delivery.Delivered, Reply: delivery.Reply{Code: 250, Enhanced: "2.0.0", Text: "OK"}, RemoteMTA: "127.0.0.1:25"}
		switch {
		case strings.HasPrefix(r, "fail"):
			rr.Status, rr.Reply = delivery.Failed, delivery.Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"}
		case strings.HasPrefix(r, "later"):
			rr.Status, rr.Reply = delivery.Deferred, delivery.Reply{Code: 451, Enhanced: "4.3.0", Text: "try later"}
		}
		res.Recipients = append(res.Recipients, rr)
	}
	return res
}

func (f *fakeDeliverer) sent() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.msgs...)
}

type published struct {
	ARN   string
	Event map[string]any
}

type fakePublisher struct {
	mu  sync.Mutex
	evs []published
}

func (p *fakePublisher) Publish(_ context.Context, accountID, arn string, msg []byte) error {
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		return err
	}
	p.mu.Lock()
	p.evs = append(p.evs, published{ARN: arn, Event: m})
	p.mu.Unlock()
	return nil
}

func (p *fakePublisher) events() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.evs...)
}

// fakeResolver answers TXT and MX look-ups from maps.
type fakeResolver struct {
	mu  sync.Mutex
	txt map[string][]string
	mx  map[string]bool
}

func (r *fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.txt[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r *fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mx[name] {
		return []*net.MX{{Host: "mx." + name + ".", Pref: 10}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

type bundle struct {
	ctx   context.Context
	db    *store.DB
	svc   *sending.Service
	dl    *fakeDeliverer
	pub   *fakePublisher
	res   *fakeResolver
	blobs *memBlobs
}

func setup(t *testing.T, mod ...func(*sending.Config)) *bundle {
	t.Helper()
	return setupDB(t, storetest.OpenSQLite(t), mod...)
}

// eachDB runs fn on SQLite and on PostgreSQL (skipped without
// TIDINGS_TEST_DATABASE_URL, failed in CI without it).
func eachDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		fn(t, storetest.OpenSQLite(t))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		fn(t, storetest.OpenPostgres(t))
	})
}

func setupDB(t testing.TB, db *store.DB, mod ...func(*sending.Config)) *bundle {
	t.Helper()
	b := &bundle{db: db, dl: &fakeDeliverer{}, pub: &fakePublisher{}, res: &fakeResolver{txt: map[string][]string{}, mx: map[string]bool{}}, blobs: &memBlobs{m: map[string][]byte{}}}
	cfg := sending.Config{
		Store: db.Sending(), Blobs: b.blobs, Deliverer: b.dl, Resolver: b.res, Publisher: b.pub,
		Region: "us-east-1", Hostname: "tidings.test", BaseURL: "http://127.0.0.1:1",
		Retry: delivery.RetryPolicy{First: time.Hour},
	}
	for _, m := range mod {
		m(&cfg)
	}
	svc, err := sending.New(cfg)
	require.NoError(t, err)
	b.svc = svc
	require.NoError(t, svc.Register(db.Jobs()))
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, db.Jobs().Start(ctx))
	t.Cleanup(func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		// The deliveries in process first, as the app stops them: none
		// outlives the database.
		_ = svc.Close(sctx)
		_ = db.Jobs().Stop(sctx)
	})
	b.ctx = iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct, ARN: "arn:aws:iam::" + acct + ":root"})
	return b
}

func (b *bundle) verifiedDomain(t testing.TB, domain string) {
	t.Helper()
	_, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: &domain})
	require.NoError(t, err)
	require.NoError(t, sending.MarkVerified(b.ctx, b.db.Sending(), acct, domain, time.Now()))
}

func (b *bundle) configSetWithEvents(t *testing.T, name string) {
	t.Helper()
	_, err := b.svc.CreateConfigurationSet(b.ctx, &sesv2.CreateConfigurationSetRequest{ConfigurationSetName: &name})
	require.NoError(t, err)
	_, err = b.svc.CreateConfigurationSetEventDestination(b.ctx, &sesv2.CreateConfigurationSetEventDestinationRequest{
		ConfigurationSetName: &name, EventDestinationName: ptr("hook"),
		EventDestination: &sesv2.EventDestinationDefinition{
			Enabled:            ptr(true),
			MatchingEventTypes: []sesv2.EventType{"SEND", "DELIVERY", "BOUNCE", "COMPLAINT", "DELIVERY_DELAY", "REJECT", "RENDERING_FAILURE"},
			SnsDestination:     &sesv2.SnsDestination{TopicArn: ptr("arn:aws:sns:us-east-1:" + acct + ":ses-events")},
		},
	})
	require.NoError(t, err)
}

func ptr[T any](v T) *T { return &v }

func simple(from string, to ...string) *sesv2.SendEmailRequest {
	return &sesv2.SendEmailRequest{
		FromEmailAddress: &from,
		Destination:      &sesv2.Destination{ToAddresses: to},
		Content: &sesv2.EmailContent{Simple: &sesv2.Message{
			Subject: &sesv2.Content{Data: ptr("Your code")},
			Body:    &sesv2.Body{Text: &sesv2.Content{Data: ptr("Your one-time password is 123456")}, Html: &sesv2.Content{Data: ptr("<p>Your one-time password is <b>123456</b></p>")}},
		}},
	}
}

// waitEvents waits until n events were published.
func (b *bundle) waitEvents(t *testing.T, n int) []published {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := b.pub.events()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("want %d events, got %d: %v", n, len(evs), evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func byType(evs []published, typ string) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e.Event["eventType"] == typ {
			out = append(out, e.Event)
		}
	}
	return out
}

func TestSendSimpleSignedAndDelivered(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, db *store.DB) {
		b := setupDB(t, db)
		b.verifiedDomain(t, "example.com")
		b.configSetWithEvents(t, "otp")
		in := simple("OTP <otp@example.com>", "user@dest.example")
		in.ConfigurationSetName = ptr("otp")
		in.EmailTags = []sesv2.MessageTag{{Name: ptr("ses:feedback-id-a"), Value: ptr("campaign1")}, {Name: ptr("user_id"), Value: ptr("u-42")}}
		out, err := b.svc.SendEmail(b.ctx, in)
		require.NoError(t, err)
		id := *out.MessageId
		require.Regexp(t, `^0100[0-9a-f]{12}-[0-9a-f-]{36}-000000$`, id)

		evs := b.waitEvents(t, 2)
		send, deliv := byType(evs, "Send"), byType(evs, "Delivery")
		require.Len(t, send, 1)
		require.Len(t, deliv, 1)
		require.Equal(t, "arn:aws:sns:us-east-1:"+acct+":ses-events", evs[0].ARN)
		mail := send[0]["mail"].(map[string]any)
		require.Equal(t, id, mail["messageId"])
		require.Equal(t, acct, mail["sendingAccountId"])
		require.Equal(t, `"OTP" <otp@example.com>`, mail["source"])
		require.Equal(t, "arn:aws:ses:us-east-1:"+acct+":identity/example.com", mail["sourceArn"])
		require.Equal(t, []any{"user@dest.example"}, mail["destination"])
		require.Equal(t, false, mail["headersTruncated"])
		tags := mail["tags"].(map[string]any)
		require.Equal(t, []any{"otp"}, tags["ses:configuration-set"])
		require.Equal(t, []any{"u-42"}, tags["user_id"])
		require.Equal(t, []any{"example.com"}, tags["ses:from-domain"])
		ch := mail["commonHeaders"].(map[string]any)
		require.Equal(t, "Your code", ch["subject"])
		require.Equal(t, "<"+id+"@tidings.test>", ch["messageId"])
		require.Equal(t, map[string]any{}, send[0]["send"])
		d := deliv[0]["delivery"].(map[string]any)
		require.Equal(t, []any{"user@dest.example"}, d["recipients"])
		require.Equal(t, "250 2.0.0 OK", d["smtpResponse"])
		require.Equal(t, "127.0.0.1", d["remoteMtaIp"])

		msgs := b.dl.sent()
		require.Len(t, msgs, 1)
		msg := msgs[0]
		require.Contains(t, string(msg), "Feedback-ID: campaign1::us-east-1.")
		require.Contains(t, string(msg), "Content-Type: multipart/alternative")
		// The signature verifies with the identity's public key.
		verifyDKIM(t, b, "example.com", msg)
		// Delivered everywhere: the spooled copy is gone.
		require.Eventually(t, func() bool { return b.blobs.len() == 0 }, 10*time.Second, 20*time.Millisecond)
	})
}

// verifyDKIM checks msg's signature against the key the identity's DKIM
// record holds (go-msgauth, with the record handed to it).
func verifyDKIM(t *testing.T, b *bundle, domain string, msg []byte) {
	t.Helper()
	got, err := b.svc.GetEmailIdentity(b.ctx, &sesv2.GetEmailIdentityRequest{EmailIdentity: &domain})
	require.NoError(t, err)
	rec := dkimRecord(t, b, domain)
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if name != got.DkimAttributes.Tokens[0]+"._domainkey."+domain {
			return nil, fmt.Errorf("unexpected look-up %s", name)
		}
		return []string{rec}, nil
	}})
	require.NoError(t, err)
	require.Len(t, vs, 1)
	require.NoError(t, vs[0].Err)
	require.Equal(t, domain, vs[0].Domain)
}

func dkimRecord(t *testing.T, b *bundle, domain string) string {
	t.Helper()
	rr := httptestGet(t, b.svc.DKIMHandler(), sending.DKIMPrefix+acct+"/"+domain)
	line := strings.SplitN(rr, "\n", 2)[0]
	i := strings.Index(line, "TXT ")
	require.Positive(t, i, rr)
	var v strings.Builder
	for _, part := range strings.Split(line[i+4:], `" "`) {
		v.WriteString(strings.Trim(part, `"`))
	}
	return v.String()
}

// The DKIM signature is added when a message goes out, with the key its
// identity has then: the spooled copy is unsigned, and a message whose
// identity stopped signing meanwhile goes out unsigned.
func TestSignedWhenSent(t *testing.T) {
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	data := "From: a@example.com\r\nTo: later@dest.example\r\nSubject: s\r\n\r\nhello\r\n"
	out, err := b.svc.SendEmail(b.ctx, &sesv2.SendEmailRequest{Content: &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: []byte(data)}}})
	require.NoError(t, err)
	id := *out.MessageId
	st := b.db.Sending()
	m, err := st.GetMessage(b.ctx, id)
	require.NoError(t, err)
	spooled, err := st.SpooledContent(b.ctx, m.BlobKey)
	require.NoError(t, err)
	require.NotContains(t, string(spooled), "DKIM-Signature")

	// The first attempt (deferred: "later") went out signed.
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 1 }, 10*time.Second, 20*time.Millisecond)
	verifyDKIM(t, b, "example.com", b.dl.sent()[0])
	again, err := b.svc.OutgoingCopy(b.ctx, id)
	require.NoError(t, err)
	verifyDKIM(t, b, "example.com", again)

	// Signing disabled, then the identity deleted: unsigned.
	_, err = b.svc.PutEmailIdentityDkimAttributes(b.ctx, &sesv2.PutEmailIdentityDkimAttributesRequest{EmailIdentity: ptr("example.com"), SigningEnabled: ptr(false)})
	require.NoError(t, err)
	unsigned, err := b.svc.OutgoingCopy(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, string(spooled), string(unsigned))
	_, err = b.svc.DeleteEmailIdentity(b.ctx, &sesv2.DeleteEmailIdentityRequest{EmailIdentity: ptr("example.com")})
	require.NoError(t, err)
	unsigned, err = b.svc.OutgoingCopy(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, string(spooled), string(unsigned))
}

func TestUnverifiedSenderRejectedNothingQueued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.SendEmail(b.ctx, simple("a@nowhere.example", "b@dest.example"))
	var rej *sending.Rejection
	require.True(t, errors.As(err, &rej), "%v", err)
	require.Equal(t, sending.ReasonMessageRejected, rej.Reason)
	require.Contains(t, rej.Message, "a@nowhere.example")
	require.Equal(t, 0, b.blobs.len())
	n, err := b.db.Sending().CountRecipientsSince(b.ctx, acct, time.Time{})
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("u%d@dest.example", i)
	}
	injected := simple("a@example.com", "b@dest.example")
	injected.Content.Simple.Headers = []sesv2.MessageHeader{{Name: ptr("X-Campaign"), Value: ptr("x\r\nBcc: victim@evil.example")}}
	badName := simple("a@example.com", "b@dest.example")
	badName.Content.Simple.Headers = []sesv2.MessageHeader{{Name: ptr("X-Bad\r\nBcc"), Value: ptr("x")}}
	subject := simple("a@example.com", "b@dest.example")
	subject.Content.Simple.Subject.Data = ptr("hi\nBcc: victim@evil.example")
	raw := func(data string) *sesv2.SendEmailRequest {
		return &sesv2.SendEmailRequest{Content: &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: []byte(data)}}}
	}
	for _, tc := range []struct {
		name   string
		in     *sesv2.SendEmailRequest
		reason sending.Reason
		msg    string
	}{
		{"TooManyRecipients", simple("a@example.com", many...), sending.ReasonBadRequest, "exceeds 50"},
		{"HeaderValueInjection", injected, sending.ReasonMessageRejected, "line break"},
		{"HeaderNameInjection", badName, sending.ReasonBadRequest, "Invalid header name"},
		{"SubjectInjection", subject, sending.ReasonMessageRejected, "line break"},
		{"RawNoSeparator", raw("From: a@example.com\r\nTo: b@dest.example\r\nthis is not a header\r\n"), sending.ReasonMessageRejected, "Malformed MIME"},
		{"RawUnterminatedMultipart", raw("From: a@example.com\r\nTo: b@dest.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhi\r\n"), sending.ReasonMessageRejected, "Malformed MIME"},
		{"RawNoFrom", raw("To: b@dest.example\r\nSubject: x\r\n\r\nbody\r\n"), sending.ReasonMessageRejected, "From"},
		{"RawTooBig", raw("From: a@example.com\r\nTo: b@dest.example\r\n\r\n" + strings.Repeat("x", sending.MaxMessageBytes)), sending.ReasonMessageRejected, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.svc.SendEmail(b.ctx, tc.in)
			var rej *sending.Rejection
			require.True(t, errors.As(err, &rej), "%v", err)
			require.Equal(t, tc.reason, rej.Reason, rej.Message)
			require.Contains(t, rej.Message, tc.msg)
		})
	}
	require.Equal(t, 0, b.blobs.len(), "nothing is spooled for a rejected send")
}

func TestRawHonoursAndStripsSESHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	b.configSetWithEvents(t, "raw-set")
	data := "From: Sender <s@example.com>\r\nTo: r@dest.example\r\nBcc: hidden@dest.example\r\nSubject: raw\r\n" +
		"X-SES-CONFIGURATION-SET: raw-set\r\nX-SES-MESSAGE-TAGS: campaign=spring, ses:feedback-id-b=lob\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	_, err := b.svc.SendEmail(b.ctx, &sesv2.SendEmailRequest{Content: &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: []byte(data)}}})
	require.NoError(t, err)
	evs := b.waitEvents(t, 2)
	send := byType(evs, "Send")
	require.Len(t, send, 1)
	mail := send[0]["mail"].(map[string]any)
	require.Equal(t, []any{"r@dest.example", "hidden@dest.example"}, mail["destination"])
	tags := mail["tags"].(map[string]any)
	require.Equal(t, []any{"spring"}, tags["campaign"])
	require.Equal(t, []any{"raw-set"}, tags["ses:configuration-set"])
	msg := string(b.dl.sent()[0])
	require.NotContains(t, msg, "X-SES-")
	require.NotContains(t, msg, "hidden@")
	require.Contains(t, msg, "Feedback-ID: :lob:")
	require.Contains(t, msg, "Message-ID: <")
	require.ElementsMatch(t, []string{"r@dest.example", "hidden@dest.example"}, b.dl.envs[0].Recipients)
	verifyDKIM(t, b, "example.com", b.dl.sent()[0])
}

func TestSimulatorAndSuppression(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, db *store.DB) {
		b := setupDB(t, db)
		b.verifiedDomain(t, "example.com")
		b.configSetWithEvents(t, "sim")
		send := func(to ...string) string {
			in := simple("a@example.com", to...)
			in.ConfigurationSetName = ptr("sim")
			out, err := b.svc.SendEmail(b.ctx, in)
			require.NoError(t, err)
			return *out.MessageId
		}
		send("success+x@simulator.amazonses.com", "bounce@simulator.amazonses.com", "ooto@simulator.amazonses.com",
			"complaint@simulator.amazonses.com", "suppressionlist@simulator.amazonses.com")
		// Send, Bounce (suppression list), Delivery ×3, Bounce, Complaint.
		evs := b.waitEvents(t, 7)
		require.Empty(t, b.dl.sent(), "the simulator does not touch the network")
		bounces := byType(evs, "Bounce")
		require.Len(t, bounces, 2)
		subtypes := map[string]string{}
		for _, e := range bounces {
			bo := e["bounce"].(map[string]any)
			r := bo["bouncedRecipients"].([]any)[0].(map[string]any)["emailAddress"].(string)
			subtypes[r] = bo["bounceType"].(string) + "/" + bo["bounceSubType"].(string)
		}
		require.Equal(t, map[string]string{
			"bounce@simulator.amazonses.com":          "Permanent/General",
			"suppressionlist@simulator.amazonses.com": "Permanent/OnAccountSuppressionList",
		}, subtypes)
		c := byType(evs, "Complaint")
		require.Len(t, c, 1)
		require.Equal(t, "abuse", c[0]["complaint"].(map[string]any)["complaintFeedbackType"])
		require.Len(t, byType(evs, "Delivery"), 3)
		// The simulator does not feed the suppression list.
		_, err := b.db.Sending().GetSuppressed(b.ctx, acct, "bounce@simulator.amazonses.com")
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)

		// A 5xx from the MX: a permanent bounce, and the address is suppressed.
		send("fail@dest.example")
		evs = b.waitEvents(t, 9)
		bo := byType(evs[7:], "Bounce")
		require.Len(t, bo, 1)
		require.Equal(t, "smtp; 550 5.1.1 no such user", bo[0]["bounce"].(map[string]any)["bouncedRecipients"].([]any)[0].(map[string]any)["diagnosticCode"])
		require.Eventually(t, func() bool {
			_, err := b.svc.GetSuppressedDestination(b.ctx, &sesv2.GetSuppressedDestinationRequest{EmailAddress: ptr("fail@dest.example")})
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
		got, err := b.svc.GetSuppressedDestination(b.ctx, &sesv2.GetSuppressedDestinationRequest{EmailAddress: ptr("FAIL@dest.example")})
		require.NoError(t, err)
		require.Equal(t, "BOUNCE", string(*got.SuppressedDestination.Reason))
		require.NotNil(t, got.SuppressedDestination.Attributes.MessageId)

		// The next send to it delivers nothing and bounces OnAccountSuppressionList.
		before := len(b.dl.sent())
		send("fail@dest.example")
		evs = b.waitEvents(t, 11)
		bo = byType(evs[9:], "Bounce")
		require.Len(t, bo, 1)
		require.Equal(t, "OnAccountSuppressionList", bo[0]["bounce"].(map[string]any)["bounceSubType"])
		require.Equal(t, before, len(b.dl.sent()))

		// A deferral: DeliveryDelay.
		send("later@dest.example")
		evs = b.waitEvents(t, 13)
		dd := byType(evs[11:], "DeliveryDelay")
		require.Len(t, dd, 1)
		require.Equal(t, "TransientCommunicationFailure", dd[0]["deliveryDelay"].(map[string]any)["delayType"])
	})
}

func TestSuppressionListAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, e := range []string{"a@x.example", "b@x.example", "c@x.example"} {
		reason := sesv2.SuppressionListReason("BOUNCE")
		if i == 1 {
			reason = "COMPLAINT"
		}
		_, err := b.svc.PutSuppressedDestination(b.ctx, &sesv2.PutSuppressedDestinationRequest{EmailAddress: ptr(e), Reason: &reason})
		require.NoError(t, err)
	}
	_, err := b.svc.PutSuppressedDestination(b.ctx, &sesv2.PutSuppressedDestinationRequest{EmailAddress: ptr("not an address"), Reason: ptr(sesv2.SuppressionListReason("BOUNCE"))})
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	page, err := b.svc.ListSuppressedDestinations(b.ctx, &sesv2.ListSuppressedDestinationsRequest{PageSize: ptr(int64(2))})
	require.NoError(t, err)
	require.Len(t, page.SuppressedDestinationSummaries, 2)
	require.NotNil(t, page.NextToken)
	page2, err := b.svc.ListSuppressedDestinations(b.ctx, &sesv2.ListSuppressedDestinationsRequest{PageSize: ptr(int64(2)), NextToken: page.NextToken})
	require.NoError(t, err)
	require.Len(t, page2.SuppressedDestinationSummaries, 1)
	require.Nil(t, page2.NextToken)
	onlyC, err := b.svc.ListSuppressedDestinations(b.ctx, &sesv2.ListSuppressedDestinationsRequest{Reasons: []sesv2.SuppressionListReason{"COMPLAINT"}})
	require.NoError(t, err)
	require.Len(t, onlyC.SuppressedDestinationSummaries, 1)
	require.Equal(t, "b@x.example", *onlyC.SuppressedDestinationSummaries[0].EmailAddress)
	_, err = b.svc.DeleteSuppressedDestination(b.ctx, &sesv2.DeleteSuppressedDestinationRequest{EmailAddress: ptr("b@x.example")})
	require.NoError(t, err)
	_, err = b.svc.DeleteSuppressedDestination(b.ctx, &sesv2.DeleteSuppressedDestinationRequest{EmailAddress: ptr("b@x.example")})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func TestDomainVerificationByDNS(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, db *store.DB) {
		b := setupDB(t, db)
		out, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("Example.ORG")})
		require.NoError(t, err)
		require.Len(t, out.DkimAttributes.Tokens, 3)
		require.Equal(t, "PENDING", string(*out.DkimAttributes.Status))
		_, err = b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("example.org")})
		require.True(t, fault.Is(err, fault.Conflict), "%v", err)

		rec := dkimRecord(t, b, "example.org")
		b.res.mu.Lock()
		b.res.txt[out.DkimAttributes.Tokens[0]+"._domainkey.example.org"] = []string{rec}
		b.res.mu.Unlock()
		require.Eventually(t, func() bool {
			g, err := b.svc.GetEmailIdentity(b.ctx, &sesv2.GetEmailIdentityRequest{EmailIdentity: ptr("example.org")})
			require.NoError(t, err)
			return *g.VerificationStatus == "SUCCESS" && *g.DkimAttributes.Status == "SUCCESS"
		}, 30*time.Second, 100*time.Millisecond)

		l, err := b.svc.ListEmailIdentities(b.ctx, &sesv2.ListEmailIdentitiesRequest{})
		require.NoError(t, err)
		require.Len(t, l.EmailIdentities, 1)
		require.Equal(t, true, *l.EmailIdentities[0].SendingEnabled)
	})
}

func TestBYODKIM(t *testing.T) {
	t.Parallel()
	b := setup(t)
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	priv := base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(key))
	out, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("byo.example"),
		DkimSigningAttributes: &sesv2.DkimSigningAttributes{DomainSigningSelector: ptr("sel1"), DomainSigningPrivateKey: &priv}})
	require.NoError(t, err)
	require.Equal(t, []string{"sel1"}, out.DkimAttributes.Tokens)
	require.Equal(t, "EXTERNAL", string(*out.DkimAttributes.SigningAttributesOrigin))

	big, err := rsa.GenerateKey(rand.Reader, 3072)
	require.NoError(t, err)
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("junk")), base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(big))} {
		_, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("bad.example"),
			DkimSigningAttributes: &sesv2.DkimSigningAttributes{DomainSigningSelector: ptr("s"), DomainSigningPrivateKey: &bad}})
		require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	b.res.mu.Lock()
	b.res.txt["sel1._domainkey.byo.example"] = []string{"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)}
	b.res.mu.Unlock()
	require.Eventually(t, func() bool {
		g, err := b.svc.GetEmailIdentity(b.ctx, &sesv2.GetEmailIdentityRequest{EmailIdentity: ptr("byo.example")})
		require.NoError(t, err)
		return *g.VerificationStatus == "SUCCESS"
	}, 30*time.Second, 100*time.Millisecond)
	_, err = b.svc.SendEmail(b.ctx, simple("x@byo.example", "y@dest.example"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, string(b.dl.sent()[0]), "s=sel1")
}

func TestAccountPauseQuotaAndRate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sending.Config) { c.MaxSendRate = 2 })
	b.verifiedDomain(t, "example.com")
	acc, err := b.svc.GetAccount(b.ctx, &sesv2.GetAccountRequest{})
	require.NoError(t, err)
	require.True(t, *acc.ProductionAccessEnabled)
	require.True(t, *acc.SendingEnabled)
	require.Equal(t, 2.0, *acc.SendQuota.MaxSendRate)
	require.Zero(t, *acc.SendQuota.SentLast24Hours)

	_, err = b.svc.SendEmail(b.ctx, simple("a@example.com", "b@dest.example", "c@dest.example"))
	require.NoError(t, err)
	_, err = b.svc.SendEmail(b.ctx, simple("a@example.com", "d@dest.example"))
	require.True(t, fault.Is(err, fault.Throttled), "%v", err)
	acc, err = b.svc.GetAccount(b.ctx, &sesv2.GetAccountRequest{})
	require.NoError(t, err)
	require.Equal(t, 2.0, *acc.SendQuota.SentLast24Hours)

	_, err = b.svc.PutAccountSendingAttributes(b.ctx, &sesv2.PutAccountSendingAttributesRequest{SendingEnabled: ptr(false)})
	require.NoError(t, err)
	_, err = b.svc.SendEmail(b.ctx, simple("a@example.com", "b@dest.example"))
	var rej *sending.Rejection
	require.True(t, errors.As(err, &rej), "%v", err)
	require.Equal(t, sending.ReasonAccountPaused, rej.Reason)
}

func TestSandbox(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	_, err := b.svc.PutAccountDetails(b.ctx, &sesv2.PutAccountDetailsRequest{MailType: ptr(sesv2.MailType("TRANSACTIONAL")), WebsiteURL: ptr("https://example.com"), ProductionAccessEnabled: ptr(false)})
	require.NoError(t, err)
	_, err = b.svc.SendEmail(b.ctx, simple("a@example.com", "b@unverified.example"))
	var rej *sending.Rejection
	require.True(t, errors.As(err, &rej), "%v", err)
	require.Contains(t, rej.Message, "b@unverified.example")
	_, err = b.svc.SendEmail(b.ctx, simple("a@example.com", "success@simulator.amazonses.com", "someone@example.com"))
	require.NoError(t, err)
}

func TestConfigurationSets(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	b.configSetWithEvents(t, "cs1")
	_, err := b.svc.CreateConfigurationSet(b.ctx, &sesv2.CreateConfigurationSetRequest{ConfigurationSetName: ptr("cs1")})
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)
	_, err = b.svc.CreateConfigurationSetEventDestination(b.ctx, &sesv2.CreateConfigurationSetEventDestinationRequest{
		ConfigurationSetName: ptr("cs1"), EventDestinationName: ptr("hook"),
		EventDestination: &sesv2.EventDestinationDefinition{MatchingEventTypes: []sesv2.EventType{"SEND"}, SnsDestination: &sesv2.SnsDestination{TopicArn: ptr("arn")}}})
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)
	_, err = b.svc.UpdateConfigurationSetEventDestination(b.ctx, &sesv2.UpdateConfigurationSetEventDestinationRequest{
		ConfigurationSetName: ptr("cs1"), EventDestinationName: ptr("hook"),
		EventDestination: &sesv2.EventDestinationDefinition{Enabled: ptr(true), MatchingEventTypes: []sesv2.EventType{"BOUNCE"}, EventBridgeDestination: &sesv2.EventBridgeDestination{EventBusArn: ptr("arn:aws:events:us-east-1:" + acct + ":event-bus/default")}}})
	require.NoError(t, err)
	ds, err := b.svc.GetConfigurationSetEventDestinations(b.ctx, &sesv2.GetConfigurationSetEventDestinationsRequest{ConfigurationSetName: ptr("cs1")})
	require.NoError(t, err)
	require.Len(t, ds.EventDestinations, 1)
	require.NotNil(t, ds.EventDestinations[0].EventBridgeDestination)

	// Only BOUNCE matches now: a delivered message publishes nothing.
	in := simple("a@example.com", "ok@dest.example", "fail@dest.example")
	in.ConfigurationSetName = ptr("cs1")
	_, err = b.svc.SendEmail(b.ctx, in)
	require.NoError(t, err)
	evs := b.waitEvents(t, 1)
	require.Len(t, evs, 1)
	require.Equal(t, "Bounce", evs[0].Event["eventType"])

	_, err = b.svc.PutConfigurationSetSendingOptions(b.ctx, &sesv2.PutConfigurationSetSendingOptionsRequest{ConfigurationSetName: ptr("cs1"), SendingEnabled: ptr(false)})
	require.NoError(t, err)
	_, err = b.svc.SendEmail(b.ctx, in)
	var rej *sending.Rejection
	require.True(t, errors.As(err, &rej), "%v", err)
	require.Equal(t, sending.ReasonConfigSetPaused, rej.Reason)

	in.ConfigurationSetName = ptr("nope")
	_, err = b.svc.SendEmail(b.ctx, in)
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	_, err = b.svc.DeleteConfigurationSetEventDestination(b.ctx, &sesv2.DeleteConfigurationSetEventDestinationRequest{ConfigurationSetName: ptr("cs1"), EventDestinationName: ptr("hook")})
	require.NoError(t, err)
	l, err := b.svc.ListConfigurationSets(b.ctx, &sesv2.ListConfigurationSetsRequest{})
	require.NoError(t, err)
	require.Equal(t, []string{"cs1"}, l.ConfigurationSets)
	_, err = b.svc.DeleteConfigurationSet(b.ctx, &sesv2.DeleteConfigurationSetRequest{ConfigurationSetName: ptr("cs1")})
	require.NoError(t, err)
	_, err = b.svc.GetConfigurationSet(b.ctx, &sesv2.GetConfigurationSetRequest{ConfigurationSetName: ptr("cs1")})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

// TestAddressConfirmationLink: an address identity is mailed a signed
// link; following it verifies the address; a tampered link does not.
func TestAddressConfirmationLink(t *testing.T) {
	t.Parallel()
	b := setup(t)
	out, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("Person@Example.NET")})
	require.NoError(t, err)
	require.Equal(t, "EMAIL_ADDRESS", string(*out.IdentityType))
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, []string{"Person@example.net"}, b.dl.envs[0].Recipients)
	require.Equal(t, "", b.dl.envs[0].MailFrom, "a confirmation has the null sender")
	body := string(b.dl.sent()[0])
	i := strings.Index(body, "http://127.0.0.1:1"+sending.VerifyPrefix)
	require.Positive(t, i, body)
	link := strings.Fields(body[i:])[0]
	path := strings.TrimPrefix(link, "http://127.0.0.1:1")

	rec := httptestDo(b.svc.VerifyHandler(), path[:len(path)-2]+"xx")
	require.Equal(t, 400, rec)
	g, err := b.svc.GetEmailIdentity(b.ctx, &sesv2.GetEmailIdentityRequest{EmailIdentity: ptr("Person@example.net")})
	require.NoError(t, err)
	require.Equal(t, "PENDING", string(*g.VerificationStatus))

	httptestGet(t, b.svc.VerifyHandler(), path)
	g, err = b.svc.GetEmailIdentity(b.ctx, &sesv2.GetEmailIdentityRequest{EmailIdentity: ptr("Person@example.net")})
	require.NoError(t, err)
	require.Equal(t, "SUCCESS", string(*g.VerificationStatus))
	_, err = b.svc.SendEmail(b.ctx, simple("Person@example.net", "x@dest.example"))
	require.NoError(t, err)
}

// TestCustomMailFromVERP: with a verified custom MAIL FROM domain, the
// return path names the message (VERP); unverified with REJECT_MESSAGE,
// the send is refused.
func TestCustomMailFromVERP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.CreateEmailIdentity(b.ctx, &sesv2.CreateEmailIdentityRequest{EmailIdentity: ptr("example.com")})
	require.NoError(t, err)
	_, err = b.svc.PutEmailIdentityMailFromAttributes(b.ctx, &sesv2.PutEmailIdentityMailFromAttributesRequest{
		EmailIdentity: ptr("example.com"), MailFromDomain: ptr("bounce.example.com"), BehaviorOnMxFailure: ptr(sesv2.BehaviorOnMxFailureRejectMessage)})
	require.NoError(t, err)
	require.NoError(t, sending.MarkVerified(b.ctx, b.db.Sending(), acct, "example.com", time.Now()))
	out, err := b.svc.SendEmail(b.ctx, simple("a@example.com", "x@dest.example"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "bounce-"+*out.MessageId+"@bounce.example.com", b.dl.envs[0].MailFrom)

	_, err = b.svc.PutEmailIdentityMailFromAttributes(b.ctx, &sesv2.PutEmailIdentityMailFromAttributesRequest{
		EmailIdentity: ptr("example.com"), MailFromDomain: ptr("other.example.com"), BehaviorOnMxFailure: ptr(sesv2.BehaviorOnMxFailureRejectMessage)})
	require.NoError(t, err)
	_, err = b.svc.SendEmail(b.ctx, simple("a@example.com", "x@dest.example"))
	var rej *sending.Rejection
	require.True(t, errors.As(err, &rej), "%v", err)
	require.Equal(t, sending.ReasonMailFromNotVerify, rej.Reason)
	// The check job finds the MX record and the domain becomes usable.
	b.res.mu.Lock()
	b.res.mx["other.example.com"] = true
	b.res.mu.Unlock()
	require.Eventually(t, func() bool {
		g, err := b.svc.GetEmailIdentity(b.ctx, &sesv2.GetEmailIdentityRequest{EmailIdentity: ptr("example.com")})
		require.NoError(t, err)
		return *g.MailFromAttributes.MailFromDomainStatus == "SUCCESS"
	}, 30*time.Second, 100*time.Millisecond)
	_, err = b.svc.SendEmail(b.ctx, simple("a@example.com", "x@dest.example"))
	require.NoError(t, err)
}

// TestRecordFeedback: a complaint and a hard bounce parsed from inbound
// mail are published and suppress per the reasons that apply.
func TestRecordFeedback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	b.configSetWithEvents(t, "fb")
	in := simple("a@example.com", "x@dest.example", "y@dest.example")
	in.ConfigurationSetName = ptr("fb")
	out, err := b.svc.SendEmail(b.ctx, in)
	require.NoError(t, err)
	id := *out.MessageId
	b.waitEvents(t, 2) // Send, Delivery

	got, ok := sending.MessageIDFromReturnPath("bounce-" + id + "@bounce.example.com")
	require.True(t, ok)
	require.Equal(t, id, got)
	got, ok = sending.MessageIDFromHeader("<" + id + "@tidings.test>")
	require.True(t, ok)
	require.Equal(t, id, got)
	_, ok = sending.MessageIDFromReturnPath("someone@example.com")
	require.False(t, ok)

	require.NoError(t, b.svc.RecordFeedback(b.ctx, sending.Feedback{MessageID: id, Complaint: true, ComplaintFeedbackType: "abuse", UserAgent: "Yahoo!-Mail-Feedback/2.0",
		Recipients: []sending.FeedbackRecipient{{Email: "x@dest.example"}}}))
	require.NoError(t, b.svc.RecordFeedback(b.ctx, sending.Feedback{MessageID: id, BounceType: "Permanent", BounceSubType: "General",
		Recipients: []sending.FeedbackRecipient{{Email: "Y@dest.example", Status: "5.1.1", DiagnosticCode: "smtp; 550 5.1.1 unknown"}}}))
	evs := b.waitEvents(t, 4)
	require.Len(t, byType(evs, "Complaint"), 1)
	bo := byType(evs, "Bounce")
	require.Len(t, bo, 1)
	require.Equal(t, id, bo[0]["mail"].(map[string]any)["messageId"])
	for addr, reason := range map[string]string{"x@dest.example": "COMPLAINT", "y@dest.example": "BOUNCE"} {
		sp, err := b.db.Sending().GetSuppressed(b.ctx, acct, addr)
		require.NoError(t, err, addr)
		require.Equal(t, reason, sp.Reason)
		require.Equal(t, id, sp.MessageID)
	}
	err = b.svc.RecordFeedback(b.ctx, sending.Feedback{MessageID: "0100nope", Recipients: []sending.FeedbackRecipient{{Email: "z@x"}}})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

// TestSpoolInlineOrBlob: a message up to blob.InlineMax is queued in the
// database with its row (no blob), a larger one in the blob store; both
// reach the deliverer whole, and neither copy outlives delivery.
func TestSpoolInlineOrBlob(t *testing.T) {
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	raw := func(to, body string) *sesv2.SendEmailRequest {
		data := "From: a@example.com\r\nTo: " + to + "\r\nSubject: s\r\n\r\n" + body
		return &sesv2.SendEmailRequest{Content: &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: []byte(data)}}}
	}
	large := strings.Repeat(line, blob.InlineMax/len(line)+10)
	for _, body := range []string{line, large} {
		out, err := b.svc.SendEmail(b.ctx, raw("later@dest.example", body))
		require.NoError(t, err)
		st := b.db.Sending()
		m, err := st.GetMessage(b.ctx, *out.MessageId)
		require.NoError(t, err)
		_, inDB := st.SpooledContent(b.ctx, m.BlobKey)
		_, err = b.blobs.Get(b.ctx, m.BlobKey)
		inBlobs := err == nil
		if len(body) < blob.InlineMax {
			require.NoError(t, inDB, "small: in the database")
			require.False(t, inBlobs, "small: no blob")
		} else {
			require.True(t, fault.Is(inDB, fault.NotFound), "large: not in the database: %v", inDB)
			require.True(t, inBlobs, "large: a blob")
		}
	}
	require.Eventually(t, func() bool { return len(b.dl.sent()) >= 2 }, 10*time.Second, 20*time.Millisecond)
	var bodies []string
	for _, m := range b.dl.sent() {
		_, bd, _ := strings.Cut(string(m), "\r\n\r\n")
		bodies = append(bodies, bd)
	}
	require.ElementsMatch(t, []string{line, large}, bodies)

	// Delivered: both copies go.
	for _, body := range []string{line, large} {
		out, err := b.svc.SendEmail(b.ctx, raw("user@dest.example", body))
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			m, err := b.db.Sending().GetMessage(b.ctx, *out.MessageId)
			return err == nil && m.State == sending.MessageDone
		}, 10*time.Second, 20*time.Millisecond)
		_, err = b.db.Sending().SpooledContent(b.ctx, "sending/"+time.Now().UTC().Format("2006/01/02")+"/"+*out.MessageId)
		require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	}
	require.Eventually(t, func() bool { return b.blobs.len() == 1 }, 10*time.Second, 20*time.Millisecond, "only the deferred large message keeps its blob")
}
