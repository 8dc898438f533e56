package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ---------------------------------------------------------------------------
// The AWS CLI.

// AWS runs `aws --output json ARGS…` against s with the root key and returns
// the decoded answer; the test fails when the command fails.
func (s *Server) AWS(t testing.TB, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := run(t, s.clientEnv("", ""), nil, awsBin, append([]string{"--output", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("aws %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errOut)
	}
	if strings.TrimSpace(out) == "" {
		return map[string]any{}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("aws %s: output is not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

var cliErrRe = regexp.MustCompile(`An error occurred \(([A-Za-z0-9_.:#-]+)\)(?: when calling the (\w+) operation)?[^:]*: ?(.*)`)

// AWSFail runs the CLI expecting the server to answer the error code
// wantCode; it returns the error's message.
func (s *Server) AWSFail(t testing.TB, wantCode string, args ...string) string {
	t.Helper()
	return s.AWSFailAs(t, "", "", wantCode, args...)
}

// AWSFailAs is AWSFail with another key.
func (s *Server) AWSFailAs(t testing.TB, keyID, secret, wantCode string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, s.clientEnv(keyID, secret), nil, awsBin, append([]string{"--output", "json"}, args...)...)
	if code == 0 {
		t.Fatalf("aws %s: succeeded, want %s\nstdout: %s", strings.Join(args, " "), wantCode, out)
	}
	m := cliErrRe.FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("aws %s: exit %d without a service error, want %s\nstderr: %s", strings.Join(args, " "), code, wantCode, errOut)
	}
	if m[1] != wantCode {
		t.Fatalf("aws %s: error %s (%s), want %s", strings.Join(args, " "), m[1], m[3], wantCode)
	}
	return strings.TrimSpace(m[3])
}

// ---------------------------------------------------------------------------
// Scripts (boto3, the JavaScript SDK) that report checks as JSON lines:
// {"check": "name", "ok": true|false, "detail": "…"}.

type scriptCheck struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// runChecks runs a script and turns each check it reports into a subtest.
// The script must exit 0 and report at least minChecks checks.
func runChecks(t *testing.T, env []string, minChecks int, name string, args ...string) {
	t.Helper()
	out, errOut, code := run(t, env, nil, name, args...)
	var checks []scriptCheck
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var c scriptCheck
		if err := json.Unmarshal([]byte(line), &c); err == nil && c.Check != "" {
			checks = append(checks, c)
		}
	}
	for _, c := range checks {
		c := c
		t.Run(c.Check, func(t *testing.T) {
			if !c.OK {
				t.Error(c.Detail)
			}
		})
	}
	if code != 0 {
		failed := 0
		for _, c := range checks {
			if !c.OK {
				failed++
			}
		}
		if failed == 0 {
			t.Errorf("%s %s exited %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), code, out, errOut)
		}
	}
	if len(checks) < minChecks {
		t.Errorf("%s %s reported %d checks, want at least %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), len(checks), minChecks, out, errOut)
	}
}

// ---------------------------------------------------------------------------
// PostgreSQL.

// freshDatabase creates an empty database from TIDINGS_TEST_DATABASE_URL
// (dropped when the test ends) and returns its URL. Without the variable
// the test is skipped, except under CI=true where it fails.
func freshDatabase(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TIDINGS_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TIDINGS_TEST_DATABASE_URL is not set (CI=true: PostgreSQL tests must run; scripts/test.sh sets it)")
		}
		t.Skip("TIDINGS_TEST_DATABASE_URL is not set; run scripts/test.sh to test on PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to %s: %v", redactURL(base), err)
	}
	defer conn.Close(context.Background())
	name := "tidings_e2e_" + randomSuffix() + randomSuffix()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		// A database left behind costs disk, not correctness: a slow drop
		// on a loaded machine is reported, not failed.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("not dropped: %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("not dropped: DROP DATABASE %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TIDINGS_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// ---------------------------------------------------------------------------
// JSON values.

// at returns the value at a dotted path ("Rules.0.Actions.0.Archive") of a
// decoded JSON value, or nil.
func at(v any, path string) any {
	if path == "" {
		return v
	}
	for _, p := range strings.Split(path, ".") {
		switch c := v.(type) {
		case map[string]any:
			v = c[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// str returns the string at path, failing the test when there is none.
func str(t testing.TB, v any, path string) string {
	t.Helper()
	s, ok := at(v, path).(string)
	if !ok || s == "" {
		t.Fatalf("%s: want a non-empty string, got %s in %s", path, js(at(v, path)), js(v))
	}
	return s
}

// eq asserts that got equals want once both are normalised through JSON
// (so that numbers, maps and slices compare by value).
func eq(t testing.TB, what string, want, got any) {
	t.Helper()
	if !reflect.DeepEqual(norm(want), norm(got)) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, js(got), js(want))
	}
}

// eqAt asserts the value at path of v.
func eqAt(t testing.TB, v any, path string, want any) {
	t.Helper()
	if !reflect.DeepEqual(norm(want), norm(at(v, path))) {
		t.Errorf("%s:\n got: %s\nwant: %s\n  in: %s", path, js(at(v, path)), js(want), js(v))
	}
}

func norm(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// jsonArg is v as a JSON string for a CLI argument.
func jsonArg(v any) string { return js(v) }

// findBy returns the element of the list at path whose field equals value.
func findBy(v any, path, field, value string) map[string]any {
	list, _ := at(v, path).([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m[field] == value {
			return m
		}
	}
	return nil
}

// arnOf is the ARN Tidings should give a Mail Manager resource: the shape of
// AWS's, in the server's region and account, ending in the resource id.
var arnRe = regexp.MustCompile(`^arn:aws:ses:` + region + `:` + accountID + `:mailmanager-[a-z-]+/[A-Za-z0-9-]+$`)

func checkARN(t testing.TB, what, arn, id string) {
	t.Helper()
	if !arnRe.MatchString(arn) || !strings.HasSuffix(arn, "/"+id) {
		t.Errorf("%s ARN %q: want arn:aws:ses:%s:%s:mailmanager-<type>/%s", what, arn, region, accountID, id)
	}
}

// checkTimestamp asserts that the value at path is a time within a few
// minutes of now. AWS CLI v1 prints timestamps as they came on the wire
// (epoch seconds for awsJson1_0); ISO-8601 strings are accepted too.
func checkTimestamp(t testing.TB, v any, path string) time.Time {
	t.Helper()
	var ts time.Time
	switch x := at(v, path).(type) {
	case float64:
		sec := int64(x)
		ts = time.Unix(sec, int64((x-float64(sec))*1e9))
	case string:
		var err error
		if ts, err = time.Parse(time.RFC3339Nano, x); err != nil {
			t.Errorf("%s: want a timestamp, got %q", path, x)
			return time.Time{}
		}
	default:
		t.Errorf("%s: want a timestamp, got %s in %s", path, js(x), js(v))
		return time.Time{}
	}
	if d := time.Since(ts); d < -5*time.Minute || d > 30*time.Minute {
		t.Errorf("%s = %s: not near now (%s)", path, ts.UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339))
	}
	return ts
}

// scriptPath is the path of a script under tests/.
func scriptPath(parts ...string) string {
	return filepath.Join(append([]string{repoRoot, "tests"}, parts...)...)
}

// ---------------------------------------------------------------------------
// boto3 in one process for many calls (py/batch.py).

type call struct {
	Service string `json:"service,omitempty"`
	Op      string `json:"op"`
	Params  any    `json:"params,omitempty"`
}

type callResult struct {
	OK      bool           `json:"ok"`
	Result  map[string]any `json:"result"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Status  int            `json:"status"`
}

// Batch runs boto3 calls in one Python process. A string parameter
// "$N.Field" takes that field of the answer to call N.
func (s *Server) Batch(t testing.TB, calls ...call) []callResult {
	t.Helper()
	in, err := json.Marshal(calls)
	if err != nil {
		t.Fatal(err)
	}
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account)
	out, errOut, code := run(t, env, in, pythonBin, scriptPath("e2e", "py", "batch.py"))
	if code != 0 {
		t.Fatalf("py/batch.py: exit %d\n%s", code, errOut)
	}
	var res []callResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != len(calls) {
		t.Fatalf("py/batch.py: %d answers for %d calls (%v)\n%s\n%s", len(res), len(calls), err, out, errOut)
	}
	return res
}

// BatchOK is Batch where every call must succeed.
func (s *Server) BatchOK(t testing.TB, calls ...call) []map[string]any {
	t.Helper()
	res := s.Batch(t, calls...)
	out := make([]map[string]any, len(res))
	for i, r := range res {
		if !r.OK {
			t.Fatalf("%s %s: %s (%d): %s", calls[i].Op, js(calls[i].Params), r.Code, r.Status, r.Message)
		}
		out[i] = r.Result
	}
	return out
}
