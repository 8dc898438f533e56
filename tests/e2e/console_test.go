package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/smtp"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// consolePassword is set with `tidings console set-password`.
const consolePassword = "console e2e password 0123"

// TestConsole archives mail through a real ingress point (SMTP), sets a
// console password with the CLI, and drives the console in headless
// Chromium (tests/js/console.mjs, playwright-core): log in, search, open a
// message whose HTML refers to a remote image on a local HTTP server
// (which must see no request), download an attachment, export the search
// and follow its progress to the download. Screenshots are kept under
// tests/e2e/artifacts/TestConsole/<database>/. It runs on SQLite, and on
// PostgreSQL when TIDINGS_TEST_DATABASE_URL is set.
func TestConsole(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testConsole(t, serverOpts{})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testConsole(t, serverOpts{DatabaseURL: freshDatabase(t)})
	})
}

func testConsole(t *testing.T, opts serverOpts) {
	if _, err := os.Stat(scriptPath("js", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("tests/js/node_modules lacks playwright-core: run `npm ci --prefix tests/js` (scripts/test.sh does): %v", err)
	}
	chromium := os.Getenv("TIDINGS_E2E_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("no Chromium at %s (apt-get install -y chromium; scripts/test.sh does): %v", chromium, err)
	}
	s := startServer(t, opts)

	// A remote image server: the console must never fetch from it.
	var trackerMu sync.Mutex
	var trackerHits []string
	tracker := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trackerMu.Lock()
		trackerHits = append(trackerHits, r.Method+" "+r.URL.String())
		trackerMu.Unlock()
		w.Header().Set("Content-Type", "image/gif")
		_, _ = w.Write([]byte("GIF89a"))
	})}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = tracker.Serve(tl) }()
	t.Cleanup(func() { _ = tracker.Close() })
	trackerURL := "http://" + tl.Addr().String()

	// The gateway: everything from loopback is archived.
	created := s.BatchOK(t,
		call{Op: "create_archive", Params: map[string]any{"ArchiveName": "console-archive"}},
		call{Op: "create_traffic_policy", Params: map[string]any{"TrafficPolicyName": "console-policy", "DefaultAction": "ALLOW",
			"PolicyStatements": []any{map[string]any{"Action": "ALLOW", "Conditions": []any{
				map[string]any{"IpExpression": map[string]any{"Evaluate": map[string]any{"Attribute": "SENDER_IP"},
					"Operator": "CIDR_MATCHES", "Values": []any{"127.0.0.0/8"}}}}}}}},
		call{Op: "create_rule_set", Params: map[string]any{"RuleSetName": "console-rules", "Rules": []any{map[string]any{
			"Name": "keep", "Actions": []any{map[string]any{"Archive": map[string]any{"TargetArchive": "$0.ArchiveId"}}}}}}},
		call{Op: "create_ingress_point", Params: map[string]any{"IngressPointName": "console-inbound", "Type": "OPEN",
			"RuleSetId": "$2.RuleSetId", "TrafficPolicyId": "$1.TrafficPolicyId"}},
	)
	archiveID := created[0]["ArchiveId"].(string)
	ip := s.BatchOK(t, call{Op: "get_ingress_point", Params: map[string]any{"IngressPointId": created[3]["IngressPointId"]}})[0]
	smtpAddr := str(t, ip, "ARecord")

	html := fmt.Sprintf(`<html><body><p id="greeting">The <b>figures</b> are attached.</p>`+
		`<img id="tracker" src="%s/pixel.gif" alt="tracker"><img id="logo" src="cid:logo@ext.example" alt="logo">`+
		`<div style="background-image: url('%s/bg.gif')">styled</div>`+
		`<script>document.body.insertAdjacentHTML("beforeend", "<p id=pwned>script ran</p>")</script></body></html>`,
		trackerURL, trackerURL)
	messages := []string{
		mimeMessage("alice@ext.example", "Quarterly figures", "The figures are attached.", html,
			"figures.csv", "quarter,revenue\r\nQ1,100\r\nQ2,120\r\n"),
		mimeMessage("alice@ext.example", "Lunch on Friday", "Shall we meet at noon?", "", "", ""),
		mimeMessage("alice@ext.example", "Minutes of the board", "The minutes follow.", "", "", ""),
		mimeMessage("bob@ext.example", "Unrelated", "Nothing to see.", "", "", ""),
	}
	for i, m := range messages {
		sendSMTP(t, smtpAddr, "sender@ext.example", []string{"archive@corp.example"}, m, i)
	}

	// The console password, with the CLI (the server is running).
	cliEnv := append(cleanEnv("TIDINGS_"), "TIDINGS_DATA_DIR="+s.DataDir, "TIDINGS_DATABASE_URL="+opts.DatabaseURL, "TIDINGS_ACCOUNT_ID="+s.Account)
	out, errOut, code := run(t, cliEnv, []byte("short\n"), tidingsBin, "console", "set-password")
	if code == 0 || !strings.Contains(errOut, "at least 12 characters") {
		t.Errorf("set-password with a short password: exit %d, stderr %q; want a failure saying why", code, errOut)
	}
	out, errOut, code = run(t, cliEnv, []byte("pw\n"), tidingsBin, "console", "set-password", "--account", "12ab")
	if code == 0 || !strings.Contains(errOut, "12-digit") {
		t.Errorf("set-password --account 12ab: exit %d, stderr %q; want a failure", code, errOut)
	}
	out, errOut, code = run(t, cliEnv, []byte(consolePassword+"\n"), tidingsBin, "console", "set-password", "--account", s.Account)
	if code != 0 || !strings.Contains(out, "console password of account "+s.Account+" set") {
		t.Fatalf("tidings console set-password: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	// Over plain HTTP with the password: wait until the four messages are
	// archived (the rule action runs as a job).
	cc := newConsoleClient(t, s.URL)
	cc.login(s.Account, consolePassword)
	end := time.Now().Add(60 * time.Second)
	for {
		page := cc.get("/console/archives/" + archiveID)
		if n := strings.Count(page, `<tr>`) - 1; n >= len(messages) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the messages were not archived within 60s; the search page shows:\n%s", page)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if bad := newConsoleClient(t, s.URL); bad.tryLogin(s.Account, consolePassword+"x") != http.StatusUnauthorized {
		t.Errorf("a wrong console password logged in")
	}

	// The browser.
	artifacts := filepath.Join(repoRoot, "tests", "e2e", "artifacts", t.Name())
	if err := os.RemoveAll(artifacts); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(cleanEnv("TIDINGS_", "AWS_"),
		"CONSOLE_URL="+s.URL,
		"CONSOLE_KEY_ID="+s.KeyID,
		"CONSOLE_SECRET="+s.Secret,
		"CONSOLE_ARCHIVE_ID="+archiveID,
		"CONSOLE_ARCHIVE_NAME=console-archive",
		"CONSOLE_TRACKER_URL="+trackerURL,
		"CONSOLE_ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
	)
	runBrowserChecks(t, env, artifacts, 20, scriptPath("js", "console.mjs"))
	t.Logf("console screenshots and browser log: %s", artifacts)

	trackerMu.Lock()
	defer trackerMu.Unlock()
	if len(trackerHits) > 0 {
		t.Errorf("the console fetched remote content of a message: %v", trackerHits)
	}
}

// runBrowserChecks is runChecks for the browser script, with a longer
// limit than run's (Chromium is slow on a loaded machine) and its output
// kept in artifacts/browser.log even when it is killed.
func runBrowserChecks(t *testing.T, env []string, artifacts string, minChecks int, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, script)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if testing.Verbose() {
		cmd.Stderr = io.MultiWriter(&errb, os.Stderr) // progress, as it happens
	}
	err := cmd.Run()
	logFile := filepath.Join(artifacts, "browser.log")
	_ = os.WriteFile(logFile, append(append(out.Bytes(), "\n--- stderr\n"...), errb.Bytes()...), 0o644)
	var checks []scriptCheck
	for _, line := range strings.Split(out.String(), "\n") {
		var c scriptCheck
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &c) == nil && c.Check != "" {
			checks = append(checks, c)
		}
	}
	for _, c := range checks {
		t.Run(c.Check, func(t *testing.T) {
			if !c.OK {
				t.Error(c.Detail)
			}
		})
	}
	if err != nil {
		t.Errorf("node %s: %v (output in %s)\nstderr: %s", script, err, logFile, errb.String())
	}
	if len(checks) < minChecks {
		t.Errorf("node %s reported %d checks, want at least %d (output in %s)", script, len(checks), minChecks, logFile)
	}
}

// mimeMessage builds a message: text, optionally an HTML alternative and a
// CSV attachment.
func mimeMessage(from, subject, text, html, attName, attBody string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: archive@corp.example\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@ext.example>\r\nMIME-Version: 1.0\r\n",
		from, subject, time.Now().UTC().Format(time.RFC1123Z), randomSuffix())
	if html == "" && attName == "" {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", text)
		return b.String()
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n")
	b.WriteString("Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n")
	fmt.Fprintf(&b, "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", text)
	if html != "" {
		fmt.Fprintf(&b, "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n", html)
	}
	b.WriteString("--alt--\r\n")
	if html != "" {
		// An inline image (RFC 2392 cid:) the HTML shows: a 1×1 GIF.
		b.WriteString("--outer\r\nContent-Type: image/gif\r\nContent-ID: <logo@ext.example>\r\nContent-Disposition: inline\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\nR0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7\r\n")
	}
	if attName != "" {
		fmt.Fprintf(&b, "--outer\r\nContent-Type: text/csv; name=%q\r\nContent-Disposition: attachment; filename=%q\r\n\r\n%s", attName, attName, attBody)
	}
	b.WriteString("\r\n--outer--\r\n")
	return b.String()
}

// sendSMTP sends one message with net/smtp (in clear: the ingress
// point's certificate is self-signed), retrying the connection while the
// listener comes up.
func sendSMTP(t *testing.T, addr, from string, to []string, msg string, n int) {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	var c *smtp.Client
	for {
		var err error
		if c, err = smtp.Dial(addr); err == nil {
			break
		}
		if time.Now().After(end) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("connecting to %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer c.Close()
	step := func(what string, err error) {
		if err != nil {
			t.Fatalf("message %d: %s: %v", n, what, err)
		}
	}
	step("EHLO", c.Hello("client.ext.example"))
	step("MAIL", c.Mail(from))
	for _, r := range to {
		step("RCPT", c.Rcpt(r))
	}
	w, err := c.Data()
	step("DATA", err)
	_, err = io.WriteString(w, msg)
	step("writing the message", err)
	step("end of DATA", w.Close())
	step("QUIT", c.Quit())
}

// consoleClient is the console over HTTP, without a browser.
type consoleClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (c *consoleClient) get(path string) string {
	c.t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %s\n%s", path, resp.Status, b)
	}
	return string(b)
}

var consoleCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *consoleClient) tryLogin(identity, secret string) int {
	c.t.Helper()
	m := consoleCSRF.FindStringSubmatch(c.get("/console/login"))
	if m == nil {
		c.t.Fatal("the login page has no CSRF token")
	}
	resp, err := c.hc.PostForm(c.base+"/console/login", url.Values{"csrf": {m[1]}, "identity": {identity}, "secret": {secret}})
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (c *consoleClient) login(identity, secret string) {
	c.t.Helper()
	if code := c.tryLogin(identity, secret); code != http.StatusOK {
		c.t.Fatalf("console login as %s: status %d after redirects, want 200", identity, code)
	}
}
