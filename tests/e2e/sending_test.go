package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

// The outbound email tests: the AWS CLI and boto3 send through a real
// tidings to an SMTP sink on loopback (TIDINGS_SMARTHOST); DKIM records
// are served by a DNS server on loopback (TIDINGS_DNS), and the delivered
// signature is verified by OpenDKIM (opendkim-testmsg), which reads the
// key from the same DNS server.

// ---------------------------------------------------------------------------
// An SMTP sink.

type sinkMessage struct {
	From string
	To   []string
	Data []byte
}

// smtpSink accepts every message, except for recipients whose local part
// starts with "reject", refused with 550 5.1.1.
type smtpSink struct {
	Addr string
	mu   sync.Mutex
	msgs []sinkMessage
	got  chan struct{}
}

func startSink(t testing.TB) *smtpSink {
	t.Helper()
	k := &smtpSink{got: make(chan struct{}, 1000)}
	srv := smtp.NewServer(k)
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return k
}

func (k *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{k: k}, nil }

type sinkSession struct {
	k    *smtpSink
	from string
	to   []string
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.from, s.to = from, nil
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(strings.ToLower(to), "reject") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.k.mu.Lock()
	s.k.msgs = append(s.k.msgs, sinkMessage{From: s.from, To: s.to, Data: b})
	s.k.mu.Unlock()
	s.k.got <- struct{}{}
	return nil
}

func (s *sinkSession) Reset()        { s.from, s.to = "", nil }
func (s *sinkSession) Logout() error { return nil }

// waitFor returns the first message whose data matches, waiting up to a
// minute for it.
func (k *smtpSink) waitFor(t testing.TB, what string, match func(m sinkMessage) bool) sinkMessage {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		k.mu.Lock()
		for _, m := range k.msgs {
			if match(m) {
				k.mu.Unlock()
				return m
			}
		}
		k.mu.Unlock()
		select {
		case <-k.got:
		case <-deadline:
			t.Fatalf("no message %s reached the sink within a minute", what)
		}
	}
}

func (k *smtpSink) count(match func(m sinkMessage) bool) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, m := range k.msgs {
		if match(m) {
			n++
		}
	}
	return n
}

func containing(s string) func(m sinkMessage) bool {
	return func(m sinkMessage) bool { return bytes.Contains(m.Data, []byte(s)) }
}

// ---------------------------------------------------------------------------
// A DNS server on loopback with the TXT records a test publishes.

type testDNS struct {
	Addr string // host:port
	// Port53 says the server listens on port 53 of its own loopback
	// address, where the system resolver library (OpenDKIM's) can be
	// pointed by a resolv.conf.
	Port53 bool
	mu     sync.Mutex
	txt    map[string][]string
	mx     map[string]string // name → exchange
}

// startTestDNS listens on port 53 of a random 127.53.x.y address when it
// may (as root), else on a free port of 127.0.0.1.
func startTestDNS(t testing.TB) *testDNS {
	t.Helper()
	z := &testDNS{txt: map[string][]string{}, mx: map[string]string{}}
	var pc net.PacketConn
	for i := 0; i < 5 && pc == nil; i++ {
		x, _ := rand.Int(rand.Reader, big.NewInt(250))
		y, _ := rand.Int(rand.Reader, big.NewInt(250))
		if c, err := net.ListenPacket("udp", fmt.Sprintf("127.53.%d.%d:53", x.Int64()+1, y.Int64()+1)); err == nil {
			pc, z.Port53 = c, true
		}
	}
	if pc == nil {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pc = c
	}
	z.Addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(z.serve)}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return z
}

func (z *testDNS) serve(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	q := r.Question[0]
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	z.mu.Lock()
	vals, ok := z.txt[name]
	mx, hasMX := z.mx[name]
	z.mu.Unlock()
	switch {
	case hasMX && q.Qtype == dns.TypeMX:
		m.Answer = append(m.Answer, &dns.MX{Hdr: dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 5, Rrtype: dns.TypeMX}, Preference: 10, Mx: dns.Fqdn(mx)})
	case hasMX:
	case ok && q.Qtype == dns.TypeTXT:
		for _, v := range vals {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 5, Rrtype: dns.TypeTXT}, Txt: splitTXT(v)})
		}
	case ok:
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func splitTXT(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}

// setMX publishes an MX record (a custom MAIL FROM domain's).
func (z *testDNS) setMX(name, exchange string) {
	z.mu.Lock()
	z.mx[strings.ToLower(strings.TrimSuffix(name, "."))] = exchange
	z.mu.Unlock()
}

func (z *testDNS) setTXT(name, value string) {
	z.mu.Lock()
	z.txt[strings.ToLower(strings.TrimSuffix(name, "."))] = []string{value}
	z.mu.Unlock()
}

// zoneLineRe reads the lines GET /_tidings/dkim/… serves.
var zoneLineRe = regexp.MustCompile(`^(\S+)\s+\d+\s+IN\s+TXT\s+(.*)$`)

// publishDKIM reads the DKIM records tidings gives for a domain and serves
// them.
func publishDKIM(t testing.TB, s *Server, z *testDNS, domain string) int {
	t.Helper()
	resp, err := http.Get(s.URL + "/_tidings/dkim/" + s.Account + "/" + domain)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET DKIM records of %s: %d %s", domain, resp.StatusCode, body)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		m := zoneLineRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("unexpected DKIM record line %q", line)
		}
		var val strings.Builder
		for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[2], -1) {
			val.WriteString(q[1])
		}
		z.setTXT(m[1], val.String())
		n++
	}
	return n
}

// opendkimVerify verifies msg's DKIM signature with OpenDKIM, looking the
// key up through the test DNS server: opendkim-testmsg uses the system
// resolver, so it runs in a mount namespace whose /etc/resolv.conf names
// that server.
func opendkimVerify(t testing.TB, z *testDNS, msg []byte) (string, error) {
	t.Helper()
	if !z.Port53 {
		t.Skip("opendkim-testmsg needs the DNS server on port 53 of a loopback address (run as root)")
	}
	if _, err := exec.LookPath("opendkim-testmsg"); err != nil {
		t.Fatal("opendkim-testmsg is missing: apt-get install opendkim-tools")
	}
	host, _, _ := net.SplitHostPort(z.Addr)
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(rc, []byte("nameserver "+host+"\noptions attempts:2 timeout:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "sh", "-c", `mount --bind "$1" /etc/resolv.conf && exec opendkim-testmsg`, "sh", rc)
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func header(msg []byte, name string) string {
	hdr, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	lines := strings.Split(string(hdr), "\r\n")
	for i := 0; i < len(lines); i++ {
		k, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(k, name) {
			continue
		}
		for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
			i++
			v += " " + strings.TrimSpace(lines[i])
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// startSendingServer starts tidings delivering to a sink, resolving
// through a test DNS server.
func startSendingServer(t *testing.T, opts serverOpts) (*Server, *smtpSink, *testDNS) {
	sink := startSink(t)
	z := startTestDNS(t)
	opts.Env = append(opts.Env, sendingEnv(sink.Addr, z.Addr)...)
	return startServer(t, opts), sink, z
}

// sendingEnv is the environment that points a server's outbound mail at
// a sink and its DNS at a test server.
func sendingEnv(smarthost, dnsAddr string) []string {
	return []string{"TIDINGS_SMARTHOST=" + smarthost, "TIDINGS_DNS=" + dnsAddr, "TIDINGS_HOSTNAME=tidings.test"}
}

// waitVerified polls GetEmailIdentity until the identity is verified.
func waitVerified(t *testing.T, s *Server, identity string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out := s.AWS(t, "sesv2", "get-email-identity", "--email-identity", identity)
		if at(out, "VerificationStatus") == "SUCCESS" {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not verified within 2 minutes: %s", identity, js(out))
		}
		time.Sleep(time.Second)
	}
}

// ---------------------------------------------------------------------------

// TestSendingDKIM: a domain identity made with the AWS CLI is verified by
// its DNS records; a message sent with `aws sesv2 send-email` (the
// Postmaster Tools example) reaches the sink with the Feedback-ID built
// from its tags, its List-Unsubscribe headers, and a DKIM signature that
// OpenDKIM verifies.
func TestSendingDKIM(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{})
	domain := "example.test"
	created := s.AWS(t, "sesv2", "create-email-identity", "--email-identity", domain)
	eqAt(t, created, "IdentityType", "DOMAIN")
	eqAt(t, created, "VerifiedForSendingStatus", false)
	tokens, _ := at(created, "DkimAttributes.Tokens").([]any)
	if len(tokens) != 3 {
		t.Fatalf("want 3 DKIM tokens, got %v", js(created))
	}
	// Unverified: the send is refused, naming the identity.
	msg := s.AWSFail(t, "MessageRejected", "sesv2", "send-email", "--from-email-address", "sender@"+domain,
		"--destination", `{"ToAddresses":["recipient@dest.test"]}`,
		"--content", `{"Simple":{"Subject":{"Data":"x"},"Body":{"Text":{"Data":"y"}}}}`)
	if !strings.Contains(msg, "sender@"+domain) {
		t.Errorf("MessageRejected should name the identity: %q", msg)
	}

	if n := publishDKIM(t, s, z, domain); n != 4 {
		t.Fatalf("want 3 DKIM records and the v1 token, got %d", n)
	}
	got := waitVerified(t, s, domain)
	eqAt(t, got, "DkimAttributes.Status", "SUCCESS")
	eqAt(t, got, "VerifiedForSendingStatus", true)

	out := s.AWS(t, "sesv2", "send-email", "--from-email-address", "Sender Name <sender@"+domain+">",
		"--destination", `{"ToAddresses":["recipient@dest.test"]}`,
		"--content", `{"Simple":{"Subject":{"Data":"Test Subject ✓","Charset":"UTF-8"},"Body":{"Text":{"Data":"Test Data","Charset":"UTF-8"}},`+
			`"Headers":[{"Name":"List-Unsubscribe","Value":"<https://unsubscribe.example.test/?address=x&topic=topic1>"},{"Name":"List-Unsubscribe-Post","Value":"List-Unsubscribe=One-Click"}]}}`,
		"--email-tags", `[{"Name": "ses:feedback-id-a","Value":"feedback-id-part-a-value"},{"Name":"ses:feedback-id-b","Value":"line-of-business"}]`)
	id := str(t, out, "MessageId")
	m := sink.waitFor(t, "with the message id", containing(id))
	if len(m.To) != 1 || m.To[0] != "recipient@dest.test" || m.From != "sender@"+domain {
		t.Errorf("envelope: from %q to %v", m.From, m.To)
	}
	fid := header(m.Data, "Feedback-ID")
	if !regexp.MustCompile(`^feedback-id-part-a-value:line-of-business:[^:]+:tidings$`).MatchString(fid) {
		t.Errorf("Feedback-ID %q", fid)
	}
	eq(t, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click", header(m.Data, "List-Unsubscribe-Post"))
	if !strings.Contains(header(m.Data, "List-Unsubscribe"), "unsubscribe.example.test") {
		t.Errorf("List-Unsubscribe: %q", header(m.Data, "List-Unsubscribe"))
	}
	if sub := header(m.Data, "Subject"); !strings.HasPrefix(sub, "=?") {
		t.Errorf("a non-ASCII Subject must be RFC 2047 encoded, got %q", sub)
	}
	sig := header(m.Data, "DKIM-Signature")
	for _, want := range []string{"d=" + domain, "s=" + tokens[0].(string), "c=relaxed/relaxed", "a=rsa-sha256"} {
		if !strings.Contains(sig, want) {
			t.Errorf("DKIM-Signature lacks %s: %q", want, sig)
		}
	}
	hTag := strings.ToLower(regexp.MustCompile(`(?:^|;)\s*h=([^;]+)`).FindStringSubmatch(sig)[1])
	for _, f := range []string{"from", "to", "subject", "date", "message-id", "feedback-id", "list-unsubscribe", "list-unsubscribe-post"} {
		if !regexp.MustCompile(`(^|[:\s])` + f + `($|[:\s])`).MatchString(hTag) {
			t.Errorf("the signature does not cover %s: h=%s", f, hTag)
		}
	}
	t.Run("OpenDKIM", func(t *testing.T) {
		if out, err := opendkimVerify(t, z, m.Data); err != nil {
			t.Fatalf("opendkim-testmsg: %v\n%s\nmessage:\n%s", err, out, m.Data)
		}
		// And it does fail a message altered after signing.
		bad := bytes.Replace(m.Data, []byte("Test Data"), []byte("Test Dat4"), 1)
		if out, err := opendkimVerify(t, z, bad); err == nil {
			t.Fatalf("opendkim-testmsg accepted an altered message: %s", out)
		}
	})
}

// verifyDomainByDNS creates a domain identity, serves its DKIM records and
// waits until the check job verified it.
func verifyDomainByDNS(t *testing.T, s *Server, z *testDNS, domain string) []string {
	t.Helper()
	created := s.AWS(t, "sesv2", "create-email-identity", "--email-identity", domain)
	var tokens []string
	for _, v := range at(created, "DkimAttributes.Tokens").([]any) {
		tokens = append(tokens, v.(string))
	}
	publishDKIM(t, s, z, domain)
	waitVerified(t, s, domain)
	return tokens
}

// TestSendingBoto3 runs py/sending_boto3.py (the seed's OTP, Postmaster
// Tools and IAM-role examples, and the rest of the API with boto3), then
// checks what reached the sink.
func TestSendingBoto3(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{})
	domain := "boto.example.test"
	verifyDomainByDNS(t, s, z, domain)
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account, "TIDINGS_E2E_DOMAIN="+domain, "TIDINGS_E2E_RCPT=recipient@dest.test")
	runChecks(t, env, 16, pythonBin, scriptPath("e2e", "py", "sending_boto3.py"))

	otp := sink.waitFor(t, "of the OTP example", containing("Subject: Your AWS OTP code"))
	if !bytes.Contains(otp.Data, []byte("Your one-time password is")) {
		t.Errorf("OTP body missing:\n%s", otp.Data)
	}
	pm := sink.waitFor(t, "of the Postmaster Tools example", containing("Subject: Amazon SES Test (SDK for Python)"))
	if fid := header(pm.Data, "Feedback-ID"); !strings.HasPrefix(fid, "campaign1:line-of-business:") || !strings.HasSuffix(fid, ":tidings") {
		t.Errorf("Feedback-ID %q", fid)
	}
	eq(t, "List-Unsubscribe-Post", "One-Click", header(pm.Data, "List-Unsubscribe-Post"))
	if !strings.Contains(header(pm.Data, "From"), "Sender Name") {
		t.Errorf("From %q", header(pm.Data, "From"))
	}
	sink.waitFor(t, "of the IAM-role example (SES v1)", containing("Subject: Amazon SES Test Email (SDK for Python) using IAM Role"))
	raw := sink.waitFor(t, "sent raw", containing("Subject: Raw with attachment"))
	for _, h := range []string{"X-SES-CONFIGURATION-SET", "X-SES-MESSAGE-TAGS"} {
		if header(raw.Data, h) != "" {
			t.Errorf("%s was not stripped", h)
		}
	}
	if header(raw.Data, "DKIM-Signature") == "" {
		t.Error("the raw message is not signed")
	}
	for _, m := range []sinkMessage{otp, pm, raw} {
		if out, err := opendkimVerifyOrSkip(t, z, m.Data); err != nil {
			t.Errorf("opendkim-testmsg: %v\n%s\n%s", err, out, m.Data)
		}
	}
	if n := sink.count(containing("simulator.amazonses.com")); n != 0 {
		t.Errorf("%d simulator messages reached the network", n)
	}
	if n := sink.count(containing("Subject: to a suppressed address")); n != 0 {
		t.Errorf("a message to a suppressed address was delivered")
	}
}

// opendkimVerifyOrSkip is opendkimVerify that reports no error when
// OpenDKIM cannot be pointed at the test DNS server (not root).
func opendkimVerifyOrSkip(t *testing.T, z *testDNS, msg []byte) (string, error) {
	if !z.Port53 {
		t.Log("opendkim-testmsg skipped: the DNS server could not listen on port 53 (not root)")
		return "", nil
	}
	return opendkimVerify(t, z, msg)
}

// TestSendingVerifyCLI: `tidings identities verify` marks an address
// identity verified beside a running server; it can then send.
func TestSendingVerifyCLI(t *testing.T) {
	t.Parallel()
	s, sink, _ := startSendingServer(t, serverOpts{})
	s.AWS(t, "sesv2", "create-email-identity", "--email-identity", "ops@cli.test")
	// The confirmation link is mailed to the address (through the sink).
	conf := sink.waitFor(t, "with the confirmation link", containing("/_tidings/verify/"))
	eq(t, "confirmation recipient", []string{"ops@cli.test"}, conf.To)
	out, errOut, code := run(t, append(cleanEnv("TIDINGS_", "AWS_"), "TIDINGS_DATA_DIR="+s.DataDir, "TIDINGS_ACCOUNT_ID="+s.Account),
		nil, tidingsBin, "identities", "verify", "ops@cli.test")
	if code != 0 {
		t.Fatalf("tidings identities verify: exit %d\n%s%s", code, out, errOut)
	}
	eqAt(t, s.AWS(t, "sesv2", "get-email-identity", "--email-identity", "ops@cli.test"), "VerificationStatus", "SUCCESS")
	id := str(t, s.AWS(t, "ses", "send-email", "--from", "ops@cli.test", "--to", "someone@dest.test",
		"--subject", "from the CLI", "--text", "hello"), "MessageId")
	sink.waitFor(t, "sent by the v1 CLI", containing(id))
}

// TestSendingConfirmationLink: following the mailed link verifies the
// address.
func TestSendingConfirmationLink(t *testing.T) {
	t.Parallel()
	s, sink, _ := startSendingServer(t, serverOpts{})
	s.AWS(t, "ses", "verify-email-identity", "--email-address", "me@link.test")
	conf := sink.waitFor(t, "with the confirmation link", containing("/_tidings/verify/"))
	link := regexp.MustCompile(`http://\S+/_tidings/verify/\S+`).FindString(string(conf.Data))
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eq(t, "link status", 200, resp.StatusCode)
	got := s.AWS(t, "ses", "get-identity-verification-attributes", "--identities", "me@link.test")
	attrs, _ := at(got, "VerificationAttributes").(map[string]any)
	eq(t, "status", "Success", at(attrs["me@link.test"], "VerificationStatus"))
}

// TestSendingPostgres: the same send on PostgreSQL, with a 550 from the
// sink turning into a suppressed address.
func TestSendingPostgres(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{DatabaseURL: freshDatabase(t)})
	domain := "pg.example.test"
	verifyDomainByDNS(t, s, z, domain)
	id := str(t, s.AWS(t, "sesv2", "send-email", "--from-email-address", "app@"+domain,
		"--destination", `{"ToAddresses":["someone@dest.test","reject-me@dest.test"]}`,
		"--content", `{"Simple":{"Subject":{"Data":"on PostgreSQL"},"Body":{"Text":{"Data":"hello"}}}}`), "MessageId")
	m := sink.waitFor(t, "sent on PostgreSQL", containing(id))
	eq(t, "recipients", []string{"someone@dest.test"}, m.To)
	if out, err := opendkimVerifyOrSkip(t, z, m.Data); err != nil {
		t.Errorf("opendkim-testmsg: %v\n%s", err, out)
	}
	// The 550 for reject-me puts it on the suppression list.
	deadline := time.Now().Add(time.Minute)
	for {
		out, errOut, code := run(t, s.clientEnv("", ""), nil, awsBin, "--output", "json", "sesv2", "get-suppressed-destination", "--email-address", "reject-me@dest.test")
		if code == 0 {
			if !strings.Contains(out, `"BOUNCE"`) || !strings.Contains(out, id) {
				t.Errorf("suppressed destination: %s", out)
			}
			break
		}
		if !strings.Contains(errOut, "NotFoundException") || time.Now().After(deadline) {
			t.Fatalf("get-suppressed-destination: %s", errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
