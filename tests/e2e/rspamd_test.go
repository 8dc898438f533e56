package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gtube is the Generic Test for Unsolicited Bulk Email: rspamd rejects any
// message that holds it.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// rspamdBin is Debian's rspamd (scripts/test.sh installs it).
var rspamdBin = lookTool("rspamd")

// startRspamd runs the real rspamd with Debian's configuration and a
// private directory for everything it writes: its normal worker on a free
// loopback port, no controller or proxy, no Redis (the modules that need
// it disable themselves when no server is configured), no hyperscan (whose
// compilation at each start costs more time than the test). It runs as the
// current user; as root (CI) it needs -i to keep its workers unprivileged
// users would be. It returns the worker's base URL, and ready, which
// waits until the worker answers (rspamd takes tens of seconds to start:
// the test sets up the rest meanwhile).
func startRspamd(t *testing.T) (base string, ready func()) {
	t.Helper()
	dir := t.TempDir()
	local := filepath.Join(dir, "local")
	for _, d := range []string{"local/override.d", "local/local.d", "db", "run", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	files := map[string]string{
		"worker-normal.inc":     fmt.Sprintf("bind_socket = %q;\ncount = 1;\n", addr),
		"worker-controller.inc": "enabled = false;\n",
		"worker-proxy.inc":      "enabled = false;\n",
		"worker-fuzzy.inc":      "enabled = false;\n",
		"logging.inc":           fmt.Sprintf("type = \"file\";\nfilename = %q;\nlevel = \"info\";\n", filepath.Join(dir, "log", "rspamd.log")),
		"options.inc":           "disable_hyperscan = true;\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(local, "override.d", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"-f", "-c", "/etc/rspamd/rspamd.conf",
		"--var", "LOCAL_CONFDIR=" + local,
		"--var", "DBDIR=" + filepath.Join(dir, "db"),
		"--var", "RUNDIR=" + filepath.Join(dir, "run"),
		"--var", "LOGDIR=" + filepath.Join(dir, "log"),
	}
	if os.Geteuid() == 0 {
		args = append(args, "-i")
	}
	var out logBuffer
	cmd := exec.Command(rspamdBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting rspamd: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	logTail := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "log", "rspamd.log"))
		s := string(b)
		if len(s) > 6000 {
			s = s[len(s)-6000:]
		}
		return out.Tail(2000) + "\n" + s
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("rspamd log, last part:\n%s", logTail())
		}
	})

	// rspamd compiles its rules and the public suffix list before its
	// worker listens: tens of seconds on a busy machine.
	base = "http://" + addr
	started := time.Now()
	ready = func() {
		t.Helper()
		deadline := started.Add(4 * time.Minute)
		for {
			resp, err := http.Get(base + "/ping")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && strings.Contains(string(b), "pong") {
					break
				}
			}
			select {
			case <-done:
				t.Fatalf("rspamd exited before it was ready:\n%s", logTail())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("rspamd not answering /ping after %s:\n%s", time.Since(started).Round(time.Second), logTail())
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("rspamd ready on %s in %s", base, time.Since(started).Round(time.Millisecond))
	}
	return base, ready
}

// TestRspamdAddon: the RSPAMD add-on with Debian's rspamd, set up with the
// AWS CLI as a Mail Manager add-on. Through an ingress point whose traffic
// policy denies what rspamd rejects, swaks's GTUBE message is refused with
// 550 5.7.1 at the end of DATA and a plain one is relayed; through one
// whose rule set tags rspamd's FAIL verdict, the GTUBE message arrives
// tagged and the plain one untagged. AWS's add-ons, which Tidings cannot
// run, are refused in conditions.
func TestRspamdAddon(t *testing.T) {
	t.Parallel()
	base, rspamdReady := startRspamd(t)
	s := startServer(t, serverOpts{Env: []string{"TIDINGS_RSPAMD_URL=" + base}})
	sink := startGatewaySink(t)

	sub := str(t, s.AWS(t, "mailmanager", "create-addon-subscription", "--addon-name", "RSPAMD"), "AddonSubscriptionId")
	inst := str(t, s.AWS(t, "mailmanager", "create-addon-instance", "--addon-subscription-id", sub), "AddonInstanceId")
	addon := str(t, s.AWS(t, "mailmanager", "get-addon-instance", "--addon-instance-id", inst), "AddonInstanceArn")
	relay := str(t, s.AWS(t, "mailmanager", "create-relay", "--relay-name", "rspamd-sink",
		"--server-name", "127.0.0.1", "--server-port", sink.Port,
		"--authentication", `{"NoAuthentication":{}}`), "RelayId")
	relayAction := map[string]any{"Relay": map[string]any{"Relay": relay, "MailFrom": "PRESERVE"}}

	// AWS's add-ons: subscriptions and instances are kept, conditions on
	// them refused.
	trendSub := str(t, s.AWS(t, "mailmanager", "create-addon-subscription", "--addon-name", "TRENDMICRO_VSAPI"), "AddonSubscriptionId")
	trend := str(t, s.AWS(t, "mailmanager", "create-addon-instance", "--addon-subscription-id", trendSub), "AddonInstanceId")
	msg := s.AWSFail(t, "ValidationException", "mailmanager", "create-rule-set", "--rule-set-name", "trend",
		"--rules", jsonArg([]any{map[string]any{
			"Conditions": []any{map[string]any{"BooleanExpression": map[string]any{
				"Evaluate": map[string]any{"Analysis": map[string]any{"Analyzer": trend, "ResultField": "addon.is_virus"}},
				"Operator": "IS_TRUE",
			}}},
			"Actions": []any{map[string]any{"Drop": map[string]any{}}},
		}}))
	if !strings.Contains(msg, "TRENDMICRO_VSAPI, which Tidings cannot run") {
		t.Errorf("the refusal does not say why: %s", msg)
	}

	ingress := func(name string, policy, rules any) *gatewayFixture {
		tp := str(t, s.AWS(t, "mailmanager", "create-traffic-policy", "--traffic-policy-name", name,
			"--default-action", "ALLOW", "--policy-statements", jsonArg(policy)), "TrafficPolicyId")
		rs := str(t, s.AWS(t, "mailmanager", "create-rule-set", "--rule-set-name", name, "--rules", jsonArg(rules)), "RuleSetId")
		f := &gatewayFixture{s: s, sink: sink}
		f.ingressID = str(t, s.AWS(t, "mailmanager", "create-ingress-point", "--ingress-point-name", name,
			"--type", "OPEN", "--rule-set-id", rs, "--traffic-policy-id", tp), "IngressPointId")
		f.addr = f.waitListening(t)
		return f
	}
	deny := ingress("rspamd-deny", []any{map[string]any{
		"Action": "DENY",
		"Conditions": []any{map[string]any{"StringExpression": map[string]any{
			"Evaluate": map[string]any{"Analysis": map[string]any{"Analyzer": addon, "ResultField": "action"}},
			"Operator": "EQUALS",
			"Values":   []any{"reject"},
		}}},
	}}, []any{map[string]any{"Name": "relay", "Actions": []any{relayAction}}})
	tag := ingress("rspamd-tag", []any{}, []any{
		map[string]any{
			"Name": "tag-spam",
			"Conditions": []any{map[string]any{"VerdictExpression": map[string]any{
				"Evaluate": map[string]any{"Analysis": map[string]any{"Analyzer": addon, "ResultField": "verdict"}},
				"Operator": "EQUALS",
				"Values":   []any{"FAIL"},
			}}},
			"Actions": []any{map[string]any{"AddHeader": map[string]any{"HeaderName": "X-Spam", "HeaderValue": "yes"}}},
		},
		map[string]any{"Name": "relay", "Actions": []any{relayAction}},
	})

	rspamdReady()
	sendSwaks := func(f *gatewayFixture, subject, body string) (string, int) {
		host, port := f.hostPort()
		return swaks(t, "--server", host, "--port", port,
			"--from", "alice@sender.test", "--to", "bob@corp.test",
			"--header", "Subject: "+subject, "--body", body)
	}

	t.Run("PolicyDeniesGTUBE", func(t *testing.T) {
		token := "gtube-" + randomSuffix()
		out, code := sendSwaks(deny, token, "Buy now! "+gtube)
		if code == 0 || !strings.Contains(out, "<** 550 5.7.1") {
			t.Fatalf("the GTUBE message was not refused with 550 5.7.1 (exit %d):\n%s", code, out)
		}
		if strings.Contains(out, "queued as") {
			t.Errorf("a 250 came before the refusal:\n%s", out)
		}
		clean := "clean-" + randomSuffix()
		out, code = sendSwaks(deny, clean, "Shall we meet for lunch on Thursday? "+clean)
		if code != 0 {
			t.Fatalf("the clean message was refused (exit %d):\n%s", code, out)
		}
		waitFor(t, sink, clean, 1)
		if got := sink.Containing(token); len(got) != 0 {
			t.Errorf("the GTUBE message reached the relay target")
		}
	})

	t.Run("RuleTagsGTUBE", func(t *testing.T) {
		token := "gtube-" + randomSuffix()
		out, code := sendSwaks(tag, token, "Buy now! "+gtube)
		if code != 0 {
			t.Fatalf("swaks exit %d:\n%s", code, out)
		}
		m := waitFor(t, sink, token, 1)[0]
		if got := headerValues(headerBlock(m.Data), "X-Spam"); len(got) != 1 || got[0] != "yes" {
			t.Errorf("X-Spam = %q on the GTUBE message, want [yes]", got)
		}
		clean := "clean-" + randomSuffix()
		out, code = sendSwaks(tag, clean, "Shall we meet for lunch on Thursday? "+clean)
		if code != 0 {
			t.Fatalf("swaks exit %d:\n%s", code, out)
		}
		m = waitFor(t, sink, clean, 1)[0]
		if got := headerValues(headerBlock(m.Data), "X-Spam"); len(got) != 0 {
			t.Errorf("X-Spam = %q on the clean message, want none", got)
		}
	})

	if log := s.Log(); !strings.Contains(log, `msg="rspamd checked"`) || !strings.Contains(log, "action=reject") {
		t.Errorf("the server log has no rspamd check with action=reject")
	}
	if c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://")); err != nil {
		t.Errorf("rspamd went away during the test: %v", err)
	} else {
		c.Close()
	}
}
