package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var exportRe = regexp.MustCompile(`(?m)^\s*export AWS_ACCESS_KEY_ID=(\S+)\s*\n\s*export AWS_SECRET_ACCESS_KEY=(\S+)\s*$`)

// TestKeys: with no root key configured the first start generates one and
// prints it once; a restart keeps it; `tidings keys` creates, lists and
// deletes keys that the running server honours at once.
func TestKeys(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{NoRootKey: true})

	var m []string
	deadline := time.Now().Add(10 * time.Second)
	for m = exportRe.FindStringSubmatch(s.Log()); m == nil; m = exportRe.FindStringSubmatch(s.Log()) {
		if time.Now().After(deadline) {
			t.Fatalf("first start printed no generated root key (export AWS_ACCESS_KEY_ID=… / AWS_SECRET_ACCESS_KEY=…):\n%s", s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.KeyID, s.Secret = m[1], m[2]
	out := s.AWS(t, "sts", "get-caller-identity")
	eqAt(t, out, "Account", accountID)
	eqAt(t, out, "Arn", "arn:aws:iam::"+accountID+":root")

	s2 := s.Restart(t)
	s2.KeyID, s2.Secret = s.KeyID, s.Secret
	if strings.Contains(s2.Log(), s.Secret) {
		t.Errorf("the root secret was printed again on restart")
	}
	eqAt(t, s2.AWS(t, "sts", "get-caller-identity"), "Account", accountID)

	keys := func(args ...string) string {
		t.Helper()
		env := append(cleanEnv("TIDINGS_", "AWS_"), "TIDINGS_DATA_DIR="+s2.DataDir, "TIDINGS_ACCOUNT_ID="+accountID)
		out, errOut, code := run(t, env, nil, tidingsBin, append([]string{"keys"}, args...)...)
		if code != 0 {
			t.Fatalf("tidings keys %v: exit %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	m = exportRe.FindStringSubmatch(keys("create"))
	if m == nil {
		t.Fatalf("tidings keys create printed no key")
	}
	newID, newSecret := m[1], m[2]
	out2, errOut, code := run(t, s2.clientEnv(newID, newSecret), nil, awsBin, "--output", "json", "sts", "get-caller-identity")
	if code != 0 || !strings.Contains(out2, `"`+accountID+`"`) {
		t.Errorf("a key from `tidings keys create` does not work on the running server: exit %d %s %s", code, out2, errOut)
	}
	list := keys("list")
	for _, id := range []string{s.KeyID, newID} {
		if !strings.Contains(list, id) {
			t.Errorf("tidings keys list lacks %s:\n%s", id, list)
		}
	}
	if strings.Contains(list, newSecret) || strings.Contains(list, s.Secret) {
		t.Errorf("tidings keys list shows a secret:\n%s", list)
	}
	if got := keys("delete", newID); !strings.Contains(got, newID) {
		t.Errorf("tidings keys delete: %q", got)
	}
	s2.AWSFailAs(t, newID, newSecret, "UnrecognizedClientException", "mailmanager", "list-archives")
	s2.AWSFailAs(t, newID, newSecret, "InvalidClientTokenId", "sts", "get-caller-identity")
	if strings.Contains(keys("list"), newID) {
		t.Errorf("deleted key still listed")
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, errOut, code := run(t, cleanEnv("TIDINGS_"), nil, tidingsBin, "version")
	if code != 0 || !regexp.MustCompile(`^tidings \S+\n$`).MatchString(out) {
		t.Errorf("tidings version: exit %d, %q %q; want \"tidings <version>\"", code, out, errOut)
	}
}
