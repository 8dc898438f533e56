package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gatewayFixture is an inbound gateway set up as a user would with the
// AWS CLI: a traffic policy that lets in only mail for corp.test, a relay
// to the organisation's mail server (a sink on loopback), an archive, a
// rule set that adds a header, archives and relays, and an OPEN ingress
// point.
type gatewayFixture struct {
	s         *Server
	sink      *gwSink
	relayID   string
	archiveID string
	ingressID string
	addr      string // host:port of the ingress point (its ARecord)
}

func setupGateway(t *testing.T, s *Server, name string) *gatewayFixture {
	t.Helper()
	f := &gatewayFixture{s: s, sink: startGatewaySink(t)}
	tp := s.AWS(t, "mailmanager", "create-traffic-policy",
		"--traffic-policy-name", name+"-corp-only",
		"--default-action", "DENY",
		"--policy-statements", jsonArg([]any{map[string]any{
			"Action": "ALLOW",
			"Conditions": []any{map[string]any{"StringExpression": map[string]any{
				"Evaluate": map[string]any{"Attribute": "RECIPIENT"},
				"Operator": "ENDS_WITH",
				"Values":   []any{"@corp.test"},
			}}},
		}}))
	f.relayID = str(t, s.AWS(t, "mailmanager", "create-relay",
		"--relay-name", name+"-sink",
		"--server-name", "127.0.0.1",
		"--server-port", f.sink.Port,
		"--authentication", `{"NoAuthentication":{}}`), "RelayId")
	f.archiveID = str(t, s.AWS(t, "mailmanager", "create-archive", "--archive-name", name+"-archive"), "ArchiveId")
	rs := s.AWS(t, "mailmanager", "create-rule-set",
		"--rule-set-name", name+"-rules",
		"--rules", jsonArg([]any{map[string]any{
			"Name": "screen-archive-relay",
			"Actions": []any{
				map[string]any{"AddHeader": map[string]any{"HeaderName": "X-Screened-By", "HeaderValue": "tidings"}},
				map[string]any{"Archive": map[string]any{"TargetArchive": f.archiveID}},
				map[string]any{"Relay": map[string]any{"Relay": f.relayID, "MailFrom": "PRESERVE"}},
			},
		}}))
	f.ingressID = str(t, s.AWS(t, "mailmanager", "create-ingress-point",
		"--ingress-point-name", name+"-mx",
		"--type", "OPEN",
		"--rule-set-id", str(t, rs, "RuleSetId"),
		"--traffic-policy-id", str(t, tp, "TrafficPolicyId")), "IngressPointId")
	f.addr = f.waitListening(t)
	return f
}

// waitListening waits until the ingress point is ACTIVE and its ARecord
// accepts connections, and returns the ARecord.
func (f *gatewayFixture) waitListening(t *testing.T) string {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	for {
		out := f.s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", f.ingressID)
		a, _ := at(out, "ARecord").(string)
		if at(out, "Status") == "ACTIVE" && a != "" {
			if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				c.Close()
				return a
			}
		}
		if time.Now().After(end) {
			t.Fatalf("ingress point %s not listening after 30s: %s", f.ingressID, js(out))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *gatewayFixture) hostPort() (string, string) {
	h, p, _ := net.SplitHostPort(f.addr)
	return h, p
}

// TestGateway is scenario 1 with the tools a mail administrator uses:
// swaks and Postfix's smtp-source send through an ingress point set up
// with the AWS CLI, and the mail arrives at the organisation's server with
// the added header and the originator header (which no sender can forge).
// Then the attacks of recent years are tried against the same ingress
// point: SMTP smuggling, STARTTLS command injection, open-relay address
// tricks, header injection and overlong lines.
func TestGateway(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	f := setupGateway(t, s, "gw")
	host, port := f.hostPort()

	t.Run("Swaks", func(t *testing.T) {
		token := "swaks-" + randomSuffix()
		out, code := swaks(t, "--server", host, "--port", port,
			"--from", "alice@sender.test", "--to", "bob@corp.test",
			"--header", "Subject: "+token,
			// A sender trying to pass for relayed, trusted mail (EchoSpoofing).
			"--header", "X-Mail-Manager-Originator-Org: forged-by-sender",
			"--body", "hello from swaks "+token)
		if code != 0 {
			t.Fatalf("swaks exit %d:\n%s", code, out)
		}
		if !regexp.MustCompile(`(?m)^ *<-  250 .*queued as`).MatchString(out) {
			t.Errorf("swaks did not see a 250 to DATA:\n%s", out)
		}
		m := waitFor(t, f.sink, token, 1)[0]
		if m.From != "alice@sender.test" || strings.Join(m.To, ",") != "bob@corp.test" {
			t.Errorf("envelope at the sink: from %q to %v", m.From, m.To)
		}
		hdr := headerBlock(m.Data)
		if !strings.Contains(hdr, "X-Screened-By: tidings\r\n") {
			t.Errorf("the AddHeader action's header is missing:\n%s", hdr)
		}
		if got := headerValues(hdr, "X-Mail-Manager-Originator-Org"); len(got) != 1 || got[0] != f.relayID {
			t.Errorf("X-Mail-Manager-Originator-Org = %q, want exactly [%s] (the sender's forged one removed)", got, f.relayID)
		}
		if !strings.Contains(hdr, "Authentication-Results:") {
			t.Errorf("no Authentication-Results header:\n%s", hdr)
		}
	})

	t.Run("SmtpSource", func(t *testing.T) {
		before := len(f.sink.Messages())
		const n = 40
		out, _, code := run(t, nil, nil, smtpSourceBin, "-s", "4", "-m", strconv.Itoa(n), "-l", "2048",
			"-f", "bulk@sender.test", "-t", "bob@corp.test", f.addr)
		if code != 0 {
			t.Fatalf("smtp-source exit %d: %s", code, out)
		}
		f.sink.Wait(t, before+n, 60*time.Second)
	})

	t.Run("Denied", func(t *testing.T) {
		out, code := swaks(t, "--server", host, "--port", port,
			"--from", "alice@sender.test", "--to", "victim@outside.test", "--body", "relay me")
		if code == 0 || !strings.Contains(out, "<** 550 5.7.1") {
			t.Errorf("a recipient outside corp.test was not refused with 550 5.7.1 (exit %d):\n%s", code, out)
		}
	})

	t.Run("Smuggling", func(t *testing.T) {
		// Each payload hides a second message behind an end-of-data that
		// some servers accept. The whole message must be refused.
		ends := map[string]string{
			"LF.LF":    "\n.\n",
			"LF.CRLF":  "\n.\r\n",
			"CR.CR":    "\r.\r",
			"CRLF.LF":  "\r\n.\n",
			"CRLF.CR":  "\r\n.\r",
			"bare LF":  "\n",
			"bare CR":  "\r",
			"LF.CR LF": "\n.\r\r\n",
		}
		for name, end := range ends {
			token := "smuggled-" + randomSuffix()
			c := dialProbe(t, f.addr)
			c.cmd(t, "EHLO probe.test", 250)
			c.cmd(t, "MAIL FROM:<alice@sender.test>", 250)
			c.cmd(t, "RCPT TO:<bob@corp.test>", 250)
			c.cmd(t, "DATA", 354)
			payload := "Subject: first\r\n\r\nfirst part" + end +
				"MAIL FROM:<ceo@corp.test>\r\nRCPT TO:<bob@corp.test>\r\nDATA\r\nSubject: " + token + "\r\n\r\nsmuggled\r\n.\r\n"
			c.write(t, payload)
			code, text := c.reply(t)
			if code != 550 || !strings.HasPrefix(text, "5.5.2") {
				t.Errorf("%s: answer %d %s, want 550 5.5.2", name, code, text)
			}
			c.close()
			if got := f.sink.Containing(token); len(got) > 0 {
				t.Errorf("%s: a smuggled message reached the sink: %q", name, got[0].Data)
			}
		}
		// The session answered every probe; wait a moment for anything
		// that would have been queued, then look again.
		time.Sleep(time.Second)
		for _, m := range f.sink.Messages() {
			if strings.Contains(m.Data, "smuggled-") {
				t.Errorf("a smuggled message reached the sink: %q", m.Data)
			}
		}
	})

	t.Run("StartTLSInjection", func(t *testing.T) {
		c := dialProbe(t, f.addr)
		c.cmd(t, "EHLO probe.test", 250)
		// MAIL pipelined in the same packet as STARTTLS: it must be thrown
		// away, not run inside the TLS session.
		c.write(t, "STARTTLS\r\nMAIL FROM:<injected@sender.test>\r\n")
		if code, text := c.reply(t); code != 220 {
			t.Fatalf("STARTTLS: %d %s", code, text)
		}
		c.startTLS(t)
		c.cmd(t, "EHLO probe.test", 250)
		// Had the injected MAIL run, RCPT would be accepted now.
		code, text := c.send(t, "RCPT TO:<bob@corp.test>")
		if code != 503 {
			t.Errorf("RCPT after STARTTLS answered %d %s: the injected MAIL ran inside TLS", code, text)
		}
		c.close()
	})

	t.Run("OpenRelayTricks", func(t *testing.T) {
		refused := []string{
			"<victim@outside.test>",
			"<@corp.test:victim@outside.test>", // source route: dropped, leaves outside.test
			"<@corp.test,@a.test:victim@outside.test>",
			"<victim@outside.test.>",
			"<victim@corp.test.outside.test>",
			"<victim@[192.0.2.1]>",
			"<\"victim@outside.test\">",
		}
		c := dialProbe(t, f.addr)
		c.cmd(t, "EHLO probe.test", 250)
		c.cmd(t, "MAIL FROM:<alice@sender.test>", 250)
		for _, rcpt := range refused {
			if code, text := c.send(t, "RCPT TO:"+rcpt); code/100 != 5 {
				t.Errorf("RCPT TO:%s answered %d %s, want a refusal", rcpt, code, text)
			}
		}
		// Addresses that end in corp.test but route elsewhere by old
		// conventions are accepted as the literal address they are and go
		// to the organisation's server (the only relay) unchanged: nothing
		// is sent to outside.test.
		literal := []string{"victim%outside.test@corp.test", "outside.test!victim@corp.test", "\"victim@outside.test\"@corp.test"}
		for _, rcpt := range literal {
			c.cmd(t, "RCPT TO:<"+rcpt+">", 250)
		}
		token := "literal-" + randomSuffix()
		c.cmd(t, "DATA", 354)
		c.write(t, "Subject: "+token+"\r\n\r\nbody\r\n.\r\n")
		if code, text := c.reply(t); code != 250 {
			t.Fatalf("DATA: %d %s", code, text)
		}
		c.close()
		m := waitFor(t, f.sink, token, 1)[0]
		// The sink's SMTP library (go-smtp) reports a quoted local part
		// without its quotes; the gateway sent it quoted (its log says so).
		want := []string{"victim%outside.test@corp.test", "outside.test!victim@corp.test", "victim@outside.test@corp.test"}
		if strings.Join(m.To, "|") != strings.Join(want, "|") {
			t.Errorf("recipients at the sink %q, want the literal %q", m.To, want)
		}
		if !s.LogContains(`rcpt="\"victim@outside.test\"@corp.test" state=DELIVERED`) {
			t.Errorf("the gateway did not relay the quoted local part quoted")
		}
	})

	t.Run("HeaderInjection", func(t *testing.T) {
		// AddHeader values are validated by the API: no CR/LF gets in.
		s.AWSFail(t, "ValidationException", "mailmanager", "create-rule-set",
			"--rule-set-name", "inject",
			"--rules", jsonArg([]any{map[string]any{"Name": "r", "Actions": []any{
				map[string]any{"AddHeader": map[string]any{"HeaderName": "X-Ok", "HeaderValue": "a\r\nBcc: victim@outside.test"}},
			}}}))
		s.AWSFail(t, "ValidationException", "mailmanager", "create-rule-set",
			"--rule-set-name", "inject2",
			"--rules", jsonArg([]any{map[string]any{"Name": "r", "Actions": []any{
				map[string]any{"ReplaceRecipient": map[string]any{"ReplaceWith": []any{"a@corp.test\r\nRCPT TO:<victim@outside.test>"}}},
			}}}))
		// An address with a CR or LF is a bare line ending in a command.
		c := dialProbe(t, f.addr)
		c.cmd(t, "EHLO probe.test", 250)
		c.write(t, "MAIL FROM:<a@sender.test>\nRCPT TO:<victim@outside.test>\r\n")
		if code, _ := c.reply(t); code != 500 {
			t.Errorf("a command with a bare LF answered %d, want 500", code)
		}
		c.close()
	})

	t.Run("OverlongLines", func(t *testing.T) {
		c := dialProbe(t, f.addr)
		c.cmd(t, "EHLO probe.test", 250)
		c.cmd(t, "NOOP "+strings.Repeat("x", 600), 500)
		c.cmd(t, "MAIL FROM:<alice@sender.test>", 250)
		c.cmd(t, "RCPT TO:<bob@corp.test>", 250)
		c.cmd(t, "DATA", 354)
		c.write(t, "Subject: long\r\n\r\n"+strings.Repeat("y", 5000)+"\r\n.\r\n")
		if code, text := c.reply(t); code != 550 || !strings.HasPrefix(text, "5.5.2") {
			t.Errorf("a 5000-octet line answered %d %s, want 550 5.5.2", code, text)
		}
		c.cmd(t, "QUIT", 221)
		c.close()
	})
}

// waitFor waits for n messages containing token at the sink.
func waitFor(t *testing.T, s *gwSink, token string, n int) []sunkMessage {
	t.Helper()
	end := time.Now().Add(60 * time.Second)
	for {
		if got := s.Containing(token); len(got) >= n {
			return got
		}
		if time.Now().After(end) {
			t.Fatalf("no message with %q at the sink after 60s", token)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func headerBlock(data string) string {
	if i := strings.Index(data, "\r\n\r\n"); i >= 0 {
		return data[:i+2]
	}
	return data
}

func headerValues(block, name string) []string {
	var out []string
	for _, line := range strings.Split(block, "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(k, name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// swaks runs swaks and returns its transcript and exit code.
func swaks(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, errOut, code := run(t, nil, nil, swaksBin, append([]string{"--timeout", "30"}, args...)...)
	return out + errOut, code
}

// smtpProbe is a raw SMTP conversation, for the byte sequences no well-
// behaved client sends.
type smtpProbe struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialProbe(t *testing.T, addr string) *smtpProbe {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	p := &smtpProbe{conn: conn, r: bufio.NewReader(conn)}
	if code, text := p.reply(t); code != 220 {
		t.Fatalf("greeting: %d %s", code, text)
	}
	return p
}

func (p *smtpProbe) write(t *testing.T, s string) {
	t.Helper()
	if _, err := p.conn.Write([]byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply: its code and the text of
// its last line.
func (p *smtpProbe) reply(t *testing.T) (int, string) {
	t.Helper()
	for {
		line, err := p.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a reply: %v (got %q)", err, line)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 3 {
			t.Fatalf("malformed reply %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			t.Fatalf("malformed reply %q", line)
		}
		if len(line) == 3 || line[3] == ' ' {
			return code, strings.TrimSpace(line[3:])
		}
	}
}

func (p *smtpProbe) send(t *testing.T, cmd string) (int, string) {
	t.Helper()
	p.write(t, cmd+"\r\n")
	return p.reply(t)
}

func (p *smtpProbe) cmd(t *testing.T, cmd string, want int) {
	t.Helper()
	if code, text := p.send(t, cmd); code != want {
		c := cmd
		if len(c) > 60 {
			c = c[:60] + "…"
		}
		t.Fatalf("%s: %d %s, want %d", c, code, text, want)
	}
}

func (p *smtpProbe) startTLS(t *testing.T) {
	t.Helper()
	tc := tls.Client(p.conn, &tls.Config{InsecureSkipVerify: true}) // the gateway's self-signed certificate
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	p.conn, p.r = tc, bufio.NewReader(tc)
}

func (p *smtpProbe) close() { _ = p.conn.Close() }

var (
	swaksBin      = lookTool("swaks")
	smtpSourceBin = lookTool("smtp-source")
)

// lookTool finds a tool also in the sbin directories a non-root PATH lacks
// (Debian puts smtp-source in /usr/sbin).
func lookTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := dir + "/" + name
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	return fmt.Sprintf("%s-not-installed", name)
}
