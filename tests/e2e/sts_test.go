package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestSTSCrossAccount runs the seed's cross-account IAM role example
// (py/cross_account_ses.py) with boto3: the caller's account assumes a
// role of another account, made with `tidings roles create --trust`, and
// sends with SES v1 as that account. Then py/sts.py checks the temporary
// credentials across the APIs, and the AWS CLI assumes the role too. The
// server runs in us-west-2, the region the example names; on SQLite, and
// on PostgreSQL when TIDINGS_TEST_DATABASE_URL is set.
func TestSTSCrossAccount(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testSTSCrossAccount(t, serverOpts{})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		testSTSCrossAccount(t, serverOpts{DatabaseURL: freshDatabase(t)})
	})
}

func testSTSCrossAccount(t *testing.T, opts serverOpts) {
	const (
		westRegion  = "us-west-2"
		roleAccount = "444455556666" // the seed's account "B", with SES
		otherAcct   = "777788889999" // trusts nobody
		roleName    = "SES_Role_for_account_A"
		domain      = "b.example.test"
	)
	opts.Env = append(opts.Env, "TIDINGS_REGION="+westRegion)
	s, sink, z := startSendingServer(t, opts)
	west := func(env []string) []string {
		// Later values win in exec's environment.
		return append(env, "AWS_DEFAULT_REGION="+westRegion, "AWS_REGION="+westRegion)
	}
	admin := func(args ...string) string {
		t.Helper()
		args = append(args, "--data-dir", s.DataDir)
		if opts.DatabaseURL != "" {
			args = append(args, "--database-url", opts.DatabaseURL)
		}
		out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, args...)
		if code != 0 {
			t.Fatalf("tidings %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	aws := func(env []string, args ...string) map[string]any {
		t.Helper()
		out, errOut, code := run(t, west(env), nil, awsBin, append([]string{"--output", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("aws %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return m
	}

	// Account B: a key, a domain verified by DNS, and the role trusting A.
	keyB, secretB := newKeyFor(t, admin, roleAccount)
	keyC, secretC := newKeyFor(t, admin, otherAcct)
	envB := s.clientEnv(keyB, secretB)
	aws(envB, "sesv2", "create-email-identity", "--email-identity", domain)
	sB := *s
	sB.Account = roleAccount
	publishDKIM(t, &sB, z, domain)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		if at(aws(envB, "sesv2", "get-email-identity", "--email-identity", domain), "VerificationStatus") == "SUCCESS" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of account %s not verified within 2 minutes", domain, roleAccount)
		}
	}
	roleARN := strings.TrimSpace(admin("roles", "create", roleName, "--account", roleAccount, "--trust", s.Account, "--max-session-duration", "7200"))
	eq(t, "role ARN", "arn:aws:iam::"+roleAccount+":role/"+roleName, roleARN)
	if list := admin("roles", "list"); !strings.Contains(list, roleARN) || !strings.Contains(list, roleAccount+","+s.Account) {
		t.Errorf("roles list:\n%s", list)
	}

	// The seed's script, as A (the harness's root key).
	env := append(west(s.clientEnv("", "")), "TIDINGS_E2E_ACCOUNT_ID="+s.Account, "TIDINGS_E2E_ROLE_ARN="+roleARN,
		"TIDINGS_E2E_SENDER=sender@"+domain, "TIDINGS_E2E_RCPT=recipient@dest.test")
	out, errOut, code := run(t, env, nil, pythonBin, scriptPath("e2e", "py", "cross_account_ses.py"))
	if code != 0 || !strings.HasPrefix(out, "Email sent! Message ID:\n") {
		t.Fatalf("the seed's cross-account example: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	got := sink.waitFor(t, "of the cross-account example", containing("Subject: Amazon SES Test (SDK for Python) using cross-account IAM Role"))
	if from := header(got.Data, "From"); !strings.Contains(from, "sender@"+domain) {
		t.Errorf("From %q", from)
	}

	env = append(env, "TIDINGS_E2E_ROLE_ACCOUNT="+roleAccount, "TIDINGS_E2E_DOMAIN="+domain,
		"TIDINGS_E2E_OTHER_KEY="+keyC, "TIDINGS_E2E_OTHER_SECRET="+secretC)
	runChecks(t, env, 8, pythonBin, scriptPath("e2e", "py", "sts.py"))

	t.Run("CLI", func(t *testing.T) {
		assumed := aws(s.clientEnv("", ""), "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "cli-session")
		eqAt(t, assumed, "AssumedRoleUser.Arn", "arn:aws:sts::"+roleAccount+":assumed-role/"+roleName+"/cli-session")
		temp := append(s.clientEnv(at(assumed, "Credentials.AccessKeyId").(string), at(assumed, "Credentials.SecretAccessKey").(string)),
			"AWS_SESSION_TOKEN="+at(assumed, "Credentials.SessionToken").(string))
		me := aws(temp, "sts", "get-caller-identity")
		eqAt(t, me, "Account", roleAccount)
		eqAt(t, me, "Arn", "arn:aws:sts::"+roleAccount+":assumed-role/"+roleName+"/cli-session")
		aws(temp, "sesv2", "get-email-identity", "--email-identity", domain)

		// Deleting the role ends its sessions.
		admin("roles", "delete", roleName, "--account", roleAccount)
		out, errOut, code := run(t, west(temp), nil, awsBin, "sts", "get-caller-identity")
		if code == 0 || !strings.Contains(errOut, "InvalidClientTokenId") {
			t.Errorf("after roles delete: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
		out, errOut, code = run(t, west(s.clientEnv("", "")), nil, awsBin, "sts", "assume-role", "--role-arn", roleARN, "--role-session-name", "again")
		if code == 0 || !strings.Contains(errOut, "AccessDenied") {
			t.Errorf("assume-role of a deleted role: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
		}
	})
}

// newKeyFor creates an access key of account with `tidings keys create`.
func newKeyFor(t *testing.T, admin func(...string) string, account string) (id, secret string) {
	t.Helper()
	for _, line := range strings.Split(admin("keys", "create", "--account-id", account), "\n") {
		if v, ok := strings.CutPrefix(line, "export AWS_ACCESS_KEY_ID="); ok {
			id = v
		} else if v, ok := strings.CutPrefix(line, "export AWS_SECRET_ACCESS_KEY="); ok {
			secret = v
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("no key in the output of tidings keys create")
	}
	return id, secret
}
