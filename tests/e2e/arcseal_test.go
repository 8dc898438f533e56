package e2e

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tidings/tidings/internal/mailauth/dkimpy"
)

// TestARCSeal: an operator makes an ARC key with `tidings arc keygen`,
// publishes the record it prints and starts tidings with the
// TIDINGS_ARC_* settings; mail relayed by a rule set up with the AWS CLI
// and sent with swaks arrives sealed, and dkimpy (an ARC implementation
// independent of Tidings') validates the chain with the published key.
// A partial set of settings stops the start with a message naming the
// missing one.
func TestARCSeal(t *testing.T) {
	t.Parallel()
	z := startTestDNS(t)
	key := filepath.Join(t.TempDir(), "arc.pem")
	out, errOut, code := run(t, cleanEnv("TIDINGS_", "AWS_"), nil, tidingsBin, "arc", "keygen",
		"--domain", "seal.test", "--selector", "e2e", "--out", key)
	if code != 0 {
		t.Fatalf("tidings arc keygen: exit %d\n%s%s", code, out, errOut)
	}
	m := regexp.MustCompile(`(?m)^e2e\._domainkey\.seal\.test\. IN TXT \( (.*) \)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("tidings arc keygen printed no TXT record for e2e._domainkey.seal.test:\n%s", out)
	}
	var record strings.Builder
	for _, q := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
		record.WriteString(q[1])
	}
	z.setTXT("e2e._domainkey.seal.test", record.String())
	if !strings.Contains(out, "export TIDINGS_ARC_KEY="+key) {
		t.Errorf("tidings arc keygen did not print the settings:\n%s", out)
	}

	// All three settings or none.
	_, errOut, code = run(t, append(cleanEnv("TIDINGS_", "AWS_"), "TIDINGS_ARC_DOMAIN=seal.test", "TIDINGS_ARC_KEY="+key), nil,
		tidingsBin, "serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "TIDINGS_ARC_SELECTOR") {
		t.Errorf("serve with TIDINGS_ARC_SELECTOR missing: exit %d, stderr:\n%s", code, errOut)
	}

	s := startServer(t, serverOpts{Env: []string{"TIDINGS_DNS=" + z.Addr,
		"TIDINGS_ARC_DOMAIN=seal.test", "TIDINGS_ARC_SELECTOR=e2e", "TIDINGS_ARC_KEY=" + key}})
	f := setupGateway(t, s, "arc")
	host, port := f.hostPort()
	token := "arc-" + randomSuffix()
	out, code = swaks(t, "--server", host, "--port", port,
		"--from", "alice@sender.test", "--to", "bob@corp.test",
		"--header", "Subject: "+token, "--body", "sealed on the way "+token)
	if code != 0 {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	got := waitFor(t, f.sink, token, 1)[0].Data
	hdr := headerBlock(got)
	if !strings.HasPrefix(got, "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=seal.test; s=e2e;") {
		t.Errorf("the relayed message does not start with our ARC-Seal:\n%s", hdr)
	}
	if aar := headerValues(hdr, "ARC-Authentication-Results"); len(aar) != 1 || !strings.HasPrefix(aar[0], "i=1; ") {
		t.Errorf("ARC-Authentication-Results = %q, want one with i=1", aar)
	}

	verdict := dkimpyARC(t, z.Addr, []byte(got))
	if verdict.CV != "pass" || len(verdict.Sets) != 1 || !verdict.Sets[0].AMSValid || !verdict.Sets[0].ASValid {
		t.Errorf("dkimpy: %+v\n%s", verdict, got)
	}
	// The fields Tidings added are covered: one changed, the chain fails.
	forged := strings.Replace(got, "X-Screened-By: tidings", "X-Screened-By: someone-else", 1)
	if forged == got {
		t.Fatalf("no X-Screened-By field in the relayed message:\n%s", hdr)
	}
	if v := dkimpyARC(t, z.Addr, []byte(forged)); v.CV != "fail" {
		t.Errorf("dkimpy on a message changed after the seal: %+v", v)
	}
}

// dkimpyARC validates msg's ARC chain with dkimpy (Debian's
// python3-dkim), which looks the keys up at dnsAddr.
func dkimpyARC(t *testing.T, dnsAddr string, msg []byte) dkimpy.Verdict {
	t.Helper()
	if err := dkimpy.Available(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := dkimpy.ARC(ctx, dnsAddr, msg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
