package gateway_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/gateway"
)

// function is an HTTP stand-in for Lambda functions: each path answers
// its script of statuses in turn (then 200 {"ok":true}); a status 0 holds
// the call until the caller gives up (a timeout); "error" answers 200
// with a function error.
type function struct {
	srv    *httptest.Server
	mu     sync.Mutex
	script map[string][]int
	calls  map[string]int
}

func startFunction(t *testing.T, script map[string][]int) *function {
	f := &function{script: script, calls: map[string]int{}}
	stop := make(chan struct{})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n := f.calls[r.URL.Path]
		f.calls[r.URL.Path]++
		st := f.script[r.URL.Path]
		f.mu.Unlock()
		switch {
		case r.URL.Path == "/error":
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			fmt.Fprint(w, `{"errorType":"ValueError","errorMessage":"no such customer","stackTrace":[]}`)
		case n < len(st) && st[n] == 0:
			select { // until Tidings gives up, or the test ends
			case <-r.Context().Done():
			case <-stop:
			}
		case n < len(st):
			w.WriteHeader(st[n])
			fmt.Fprintf(w, "attempt %d fails", n+1)
		default:
			fmt.Fprint(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(stop) })
	return f
}

func (f *function) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

func (b *bundle) function(name, url string) string {
	b.t.Helper()
	info, err := b.stand.PutFunction(b.ctx, acct, name, url, "")
	require.NoError(b.t, err)
	return info.ARN
}

// TestInvokeLambdaRequestResponseRetries: a synchronous invocation that
// fails for a reason that may pass (HTTP 5xx, 429, a timeout, a refused
// connection) is tried again with backoff, the step pending meanwhile
// and the actions after it waiting; once the function answers, the step
// is done and the rest of the rule runs. One that cannot pass (HTTP 4xx,
// a function error) fails at once, and its ActionFailurePolicy applies.
func TestInvokeLambdaRequestResponseRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fn := startFunction(t, map[string][]int{
		"/flaky":     {503, 500},
		"/throttled": {429},
		"/slow":      {0},
		"/bad":       {400, 400},
	})
	role := "arn:aws:iam::111122223333:role/x"
	invoke := func(arn, policy string) string {
		return fmt.Sprintf(`{"InvokeLambda":{"FunctionArn":%q,"InvocationType":"REQUEST_RESPONSE","RetryTimeMinutes":5,"RoleArn":%q%s}}`,
			arn, role, policy)
	}
	write := `{"WriteToS3":{"S3Bucket":"after","RoleArn":"` + role + `"}}`
	rule := func(domain string, actions ...string) string {
		return fmt.Sprintf(`{"Name":%q,"Conditions":[{"StringExpression":{"Evaluate":{"Attribute":"RECIPIENT"},"Operator":"ENDS_WITH","Values":["@%s"]}}],"Actions":[%s]}`,
			domain, domain, strings.Join(actions, ","))
	}
	down := "http://" + closedAddr(t) + "/down"
	rs := b.ruleSet("rs", "["+strings.Join([]string{
		rule("flaky.test", invoke(b.function("flaky", fn.srv.URL+"/flaky"), ""), write),
		rule("throttled.test", invoke(b.function("throttled", fn.srv.URL+"/throttled"), ""), write),
		rule("slow.test", invoke(b.function("slow", fn.srv.URL+"/slow"), ""), write),
		rule("down.test", invoke(b.function("down", down), ""), write),
		rule("bad.test", invoke(b.function("bad", fn.srv.URL+"/bad"), `,"ActionFailurePolicy":"DROP"`), write),
		rule("error.test", invoke(b.function("error", fn.srv.URL+"/error"), `,"ActionFailurePolicy":"DROP"`), write),
	}, ",")+"]")
	_, addr := b.ingressPoint("in", "OPEN", rs, b.allowAll(), "")

	for _, tc := range []struct{ domain, path string }{{"flaky.test", "/flaky"}, {"throttled.test", "/throttled"}, {"slow.test", "/slow"}} {
		t.Run(tc.domain, func(t *testing.T) {
			t.Parallel()
			qid, err := send(t, addr, "alice@sender.test", []string{"ops@" + tc.domain}, body)
			require.NoError(t, err)
			d := b.waitState(qid, gateway.Done)
			require.Equal(t, gateway.StepDone, d.Steps[0].State, d.Steps[0].Error)
			require.Contains(t, d.Steps[0].Detail, `answered {"ok":true}`)
			require.Equal(t, len(fn.script[tc.path])+1, fn.count(tc.path))
			require.Equal(t, gateway.StepDone, d.Steps[1].State, "the action after the invocation ran once it answered")
			require.Empty(t, d.Error)
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		qid, err := send(t, addr, "alice@sender.test", []string{"ops@down.test"}, body)
		require.NoError(t, err)
		// Pending, retried: the attempts so far are recorded in the step,
		// the reason in the message; the WriteToS3 after it waits.
		var d *gateway.Details
		eventually(t, 30*time.Second, func() bool {
			d, err = b.gw.Queue().Show(b.ctx, qid)
			require.NoError(t, err)
			if len(d.Steps) == 0 {
				return false
			}
			var st struct{ Attempts int }
			_ = json.Unmarshal([]byte(d.Steps[0].Detail), &st)
			return st.Attempts >= 2
		}, "two failed attempts")
		require.Equal(t, gateway.Queued, d.State)
		require.Equal(t, gateway.StepPending, d.Steps[0].State)
		require.Equal(t, gateway.StepPending, d.Steps[1].State)
		require.Contains(t, d.Steps[0].Error, "connection refused")
		require.Contains(t, d.Error, "retry at")
		// The function is fixed (it is looked up at each attempt): the
		// next retry reaches it.
		b.function("down", fn.srv.URL+"/fixed")
		d = b.waitState(qid, gateway.Done)
		require.Equal(t, gateway.StepDone, d.Steps[0].State, d.Steps[0].Error)
		require.Equal(t, gateway.StepDone, d.Steps[1].State)
		require.Equal(t, 1, fn.count("/fixed"))
	})

	for _, tc := range []struct{ domain, path, want string }{
		{"bad.test", "/bad", "HTTP 400"},
		{"error.test", "/error", "function error: ValueError: no such customer"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			t.Parallel()
			qid, err := send(t, addr, "alice@sender.test", []string{"ops@" + tc.domain}, body)
			require.NoError(t, err)
			d := b.waitState(qid, gateway.Done)
			require.Equal(t, gateway.StepFailed, d.Steps[0].State)
			require.Contains(t, d.Steps[0].Error, tc.want)
			require.Equal(t, 1, fn.count(tc.path), "not retried")
			require.Equal(t, gateway.StepSkipped, d.Steps[1].State, "DROP dropped the recipient")
		})
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
