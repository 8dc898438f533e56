package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The SMTP submission tests: mail submitted over SMTP like Amazon SES's
// SMTP interface, with swaks and Python's smtplib, through a real tidings
// to the SMTP sink, DKIM signed by the verified domain.

// smtpCredentials runs `tidings smtp-credentials` on s's database and
// returns the user name and password it prints.
func smtpCredentials(t *testing.T, s *Server, args ...string) (user, pass string) {
	t.Helper()
	env := append(cleanEnv("TIDINGS_", "AWS_"), "TIDINGS_DATA_DIR="+s.DataDir, "TIDINGS_DATABASE_URL="+s.Opts.DatabaseURL,
		"TIDINGS_REGION="+region, "TIDINGS_ROOT_ACCESS_KEY_ID="+s.KeyID)
	out, errOut, code := run(t, env, nil, tidingsBin, append([]string{"smtp-credentials"}, args...)...)
	if code != 0 {
		t.Fatalf("tidings smtp-credentials: exit %d: %s", code, errOut)
	}
	m := regexp.MustCompile(`(?m)^SMTP username: (\S+)\nSMTP password: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tidings smtp-credentials printed %q", out)
	}
	return m[1], m[2]
}

var acceptedRe = regexp.MustCompile(`<~ +250 2\.0\.0 Ok (0100[0-9a-f]{12}-[0-9a-f-]{36}-000000)\r?\n`)

func TestSubmissionSwaks(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{})
	domain := "smtp.example.test"
	tokens := verifyDomainByDNS(t, s, z, domain)
	user, pass := smtpCredentials(t, s)
	if user != s.KeyID {
		t.Fatalf("the SMTP user name is %q, want the access key id %s", user, s.KeyID)
	}
	s.AWS(t, "sesv2", "create-configuration-set", "--configuration-set-name", "swaks-set")

	send := func(t *testing.T, args ...string) string {
		t.Helper()
		out, code := swaks(t, append([]string{"--from", "sender@" + domain, "--to", "recipient@dest.test",
			"--auth-user", user, "--auth-password", pass}, args...)...)
		m := acceptedRe.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("swaks %s: exit %d, no \"250 2.0.0 Ok <message id>\":\n%s", strings.Join(args, " "), code, out)
		}
		return m[1]
	}

	t.Run("STARTTLS LOGIN", func(t *testing.T) {
		id := send(t, "--server", s.Submission, "--tls", "--auth", "LOGIN", "--header", "Subject: swaks over STARTTLS",
			"--add-header", "X-SES-CONFIGURATION-SET: swaks-set", "--add-header", "X-SES-MESSAGE-TAGS: campaign=swaks",
			"--body", "Sent with swaks through the SMTP interface.")
		if id == "" {
			t.Fatal("no message id")
		}
		m := sink.waitFor(t, "submitted with swaks --tls", containing("Subject: swaks over STARTTLS"))
		if m.From != "sender@"+domain || len(m.To) != 1 || m.To[0] != "recipient@dest.test" {
			t.Errorf("envelope: from %q to %v", m.From, m.To)
		}
		for _, h := range []string{"X-SES-CONFIGURATION-SET", "X-SES-MESSAGE-TAGS"} {
			if v := header(m.Data, h); v != "" {
				t.Errorf("%s was not stripped: %q", h, v)
			}
		}
		if r := header(m.Data, "Received"); !strings.Contains(r, "with ESMTPSA") {
			t.Errorf("Received %q: want ESMTPSA (RFC 3848: TLS and AUTH)", r)
		}
		sig := header(m.Data, "DKIM-Signature")
		if !strings.Contains(sig, "d="+domain) || !strings.Contains(sig, "s="+tokens[0]) {
			t.Fatalf("DKIM-Signature %q, want d=%s s=%s", sig, domain, tokens[0])
		}
		t.Run("OpenDKIM", func(t *testing.T) {
			if out, err := opendkimVerify(t, z, m.Data); err != nil {
				t.Fatalf("opendkim-testmsg: %v\n%s\nmessage:\n%s", err, out, m.Data)
			}
		})
	})

	t.Run("implicit TLS PLAIN", func(t *testing.T) {
		send(t, "--server", s.Submissions, "--tlsc", "--auth", "PLAIN", "--header", "Subject: swaks over implicit TLS")
		m := sink.waitFor(t, "submitted with swaks --tlsc", containing("Subject: swaks over implicit TLS"))
		if !strings.Contains(header(m.Data, "DKIM-Signature"), "d="+domain) {
			t.Errorf("not signed by %s:\n%s", domain, m.Data)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		out, code := swaks(t, "--server", s.Submission, "--tls", "--auth", "PLAIN", "--from", "sender@"+domain, "--to", "recipient@dest.test",
			"--auth-user", user, "--auth-password", "B"+pass[1:len(pass)-2]+"AA")
		if code == 0 || !strings.Contains(out, "<~* 535 5.7.8 Authentication Credentials Invalid") {
			t.Fatalf("swaks with a wrong password: exit %d\n%s", code, out)
		}
		if !s.LogContains("authentication failed") || !s.LogContains("user="+user) {
			t.Errorf("the failed attempt is not logged with its user name")
		}
	})

	t.Run("AUTH before STARTTLS", func(t *testing.T) {
		// swaks will not send AUTH to a server that does not offer it.
		out, code := swaks(t, "--server", s.Submission, "--auth", "PLAIN", "--from", "sender@"+domain, "--to", "recipient@dest.test",
			"--auth-user", user, "--auth-password", pass)
		if code == 0 || strings.Contains(out, "250-AUTH") || strings.Contains(out, "235 ") {
			t.Fatalf("AUTH offered or accepted in clear text: exit %d\n%s", code, out)
		}
		// And a client that sends nothing but MAIL is told to STARTTLS.
		out, code = swaks(t, "--server", s.Submission, "--from", "sender@"+domain, "--to", "recipient@dest.test")
		if code == 0 || !strings.Contains(out, "<** 530 5.7.0 Must issue a STARTTLS command first") {
			t.Fatalf("MAIL in clear text: exit %d\n%s", code, out)
		}
	})

	t.Run("unverified From", func(t *testing.T) {
		out, code := swaks(t, "--server", s.Submission, "--tls", "--auth", "LOGIN", "--from", "sender@unverified.test", "--to", "recipient@dest.test",
			"--auth-user", user, "--auth-password", pass)
		want := "<~* 554 5.7.1 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1: sender@unverified.test"
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("swaks from an unverified address: exit %d, want %q\n%s", code, want, out)
		}
	})
	if n := sink.count(containing("unverified.test")); n != 0 {
		t.Errorf("%d messages from the unverified sender reached the sink", n)
	}

	// What happened is counted on /metrics.
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		"tidings_submission_accepted_total 2",
		"tidings_submission_auth_failures_total 1",
		`tidings_submission_rejected_total{reason="policy"} 1`,
		`tidings_submission_rejected_total{reason="tls_required"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestSubmissionSmtplib runs py/smtp_submission.py: the SES documentation's
// smtplib examples and the refusals, then checks what reached the sink.
func TestSubmissionSmtplib(t *testing.T) {
	t.Parallel()
	testSubmissionSmtplib(t, serverOpts{})
}

// TestSubmissionSmtplibPostgres is TestSubmissionSmtplib on PostgreSQL.
func TestSubmissionSmtplibPostgres(t *testing.T) {
	t.Parallel()
	testSubmissionSmtplib(t, serverOpts{DatabaseURL: freshDatabase(t)})
}

func testSubmissionSmtplib(t *testing.T, opts serverOpts) {
	s, sink, z := startSendingServer(t, opts)
	domain := "py.example.test"
	verifyDomainByDNS(t, s, z, domain)
	user, pass := smtpCredentials(t, s, s.KeyID)
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account,
		"TIDINGS_E2E_SUBMISSION="+s.Submission, "TIDINGS_E2E_SUBMISSIONS="+s.Submissions,
		"TIDINGS_E2E_SMTP_USER="+user, "TIDINGS_E2E_SMTP_PASSWORD="+pass,
		"TIDINGS_E2E_DOMAIN="+domain, "TIDINGS_E2E_RCPT=recipient@dest.test",
		"TIDINGS_E2E_CA="+filepath.Join(s.DataDir, "tls", "cert.pem"))
	runChecks(t, env, 8, pythonBin, scriptPath("e2e", "py", "smtp_submission.py"))

	for _, subj := range []string{"SES SMTP smtplib STARTTLS", "SES SMTP smtplib reply", "SES SMTP smtplib SMTP_SSL"} {
		m := sink.waitFor(t, subj, containing("Subject: "+subj))
		if !strings.Contains(header(m.Data, "DKIM-Signature"), "d="+domain) {
			t.Errorf("%s: not signed by %s", subj, domain)
		}
		if header(m.Data, "X-SES-CONFIGURATION-SET") != "" || header(m.Data, "X-SES-MESSAGE-TAGS") != "" {
			t.Errorf("%s: the X-SES-* headers were not stripped", subj)
		}
		if !strings.Contains(string(m.Data), "multipart/alternative") {
			t.Errorf("%s: the MIME structure was lost", subj)
		}
		// smtplib sets no Message-ID: the message has the one whose id
		// the "250 Ok <id>" gave.
		if mid := header(m.Data, "Message-ID"); !regexp.MustCompile(`^<0100[0-9a-f]{12}-[0-9a-f-]{36}-000000@tidings\.test>$`).MatchString(mid) {
			t.Errorf("%s: Message-ID %q", subj, mid)
		}
	}
	if n := sink.count(containing("never sent")); n != 0 {
		t.Errorf("the message of the unverified sender reached the sink %d times", n)
	}
}
