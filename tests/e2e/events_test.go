package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// webhookSecret is the secret the test's subscriptions are made with.
const webhookSecret = "whsec_e2e-0123456789abcdef"

// hook is one request a receiver got, with its signature checked by the
// test's own HMAC (not Tidings' code).
type hook struct {
	path, topic, eventID, timestamp string
	body                            []byte
	sigOK                           bool
}

// receiver is a webhook endpoint on loopback. Each path answers with the
// statuses its script gives, one per request, then its last one for ever.
type receiver struct {
	url string
	mu  sync.Mutex
	got []hook
	// script maps a path to the statuses it answers in turn.
	script map[string][]int
	seen   map[string]int
	ch     chan hook
}

func startReceiver(t *testing.T, script map[string][]int) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{url: "http://" + ln.Addr().String(), script: script, seen: map[string]int{}, ch: make(chan hook, 100)}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := hook{
		path: r.URL.Path, topic: r.Header.Get("X-Tidings-Topic"), eventID: r.Header.Get("X-Tidings-Event-Id"),
		timestamp: r.Header.Get("X-Tidings-Timestamp"), body: body,
	}
	// Stripe's scheme: v1 = hex HMAC-SHA256(secret, "<timestamp>.<body>").
	m := hmac.New(sha256.New, []byte(webhookSecret))
	m.Write([]byte(h.timestamp + "." + string(body)))
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	ts, err := strconv.ParseInt(h.timestamp, 10, 64)
	h.sigOK = r.Method == http.MethodPost && err == nil && hmac.Equal([]byte(r.Header.Get("X-Tidings-Signature")), []byte(want)) &&
		time.Since(time.Unix(ts, 0)).Abs() < 5*time.Minute
	rc.mu.Lock()
	statuses := rc.script[r.URL.Path]
	n := rc.seen[r.URL.Path]
	rc.seen[r.URL.Path]++
	rc.got = append(rc.got, h)
	rc.mu.Unlock()
	status := http.StatusOK
	if len(statuses) > 0 {
		status = statuses[min(n, len(statuses)-1)]
	}
	if status == http.StatusTemporaryRedirect {
		// To another host: Tidings must not follow.
		http.Redirect(w, r, "http://localhost:1"+r.URL.Path, status)
	} else {
		w.WriteHeader(status)
		fmt.Fprintf(w, "status %d from the test receiver", status)
	}
	rc.ch <- h
}

// setScript replaces the statuses of a path and restarts its count.
func (rc *receiver) setScript(path string, statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.script[path] = statuses
	rc.seen[path] = 0
}

// wait returns the next request to path, failing after a minute.
func (rc *receiver) wait(t *testing.T, path string) hook {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case h := <-rc.ch:
			if h.path == path {
				return h
			}
			rc.ch <- h // another subtest's; put it back
			time.Sleep(10 * time.Millisecond)
		case <-deadline:
			t.Fatalf("no webhook request to %s within a minute", path)
		}
	}
}

// TestEvents drives topics and webhooks end to end with the tidings CLI:
// signed deliveries, retries, filters, the event log, dead letters and
// their redrive, and the errors a user meets.
func TestEvents(t *testing.T) {
	t.Parallel()
	testEvents(t, serverOpts{})
}

func TestEventsPostgres(t *testing.T) {
	t.Parallel()
	testEvents(t, serverOpts{DatabaseURL: freshDatabase(t)})
}

func testEvents(t *testing.T, opts serverOpts) {
	// A short give-up time, so that a failing webhook reaches the dead
	// letters within the test.
	opts.Env = append(opts.Env, "TIDINGS_WEBHOOK_GIVE_UP=8s")
	s := startServer(t, opts)
	// One receiver per subtest: waits cannot see each other's requests.
	tidings := func(t *testing.T, args ...string) string {
		t.Helper()
		out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, append([]string{"topics"}, args...)...)
		if code != 0 {
			t.Fatalf("tidings topics %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	tidingsJSON := func(t *testing.T, args ...string) any {
		t.Helper()
		var v any
		out := tidings(t, append(args, "--json")...)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("tidings topics %s --json: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	tidingsFails := func(t *testing.T, args ...string) string {
		t.Helper()
		out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, append([]string{"topics"}, args...)...)
		if code == 0 {
			t.Fatalf("tidings topics %s succeeded, want an error: %s", strings.Join(args, " "), out)
		}
		return errOut
	}
	// pollJSON runs a command until cond holds for its JSON answer.
	pollJSON := func(t *testing.T, cond func(any) bool, args ...string) any {
		t.Helper()
		end := time.Now().Add(time.Minute)
		for {
			v := tidingsJSON(t, args...)
			if cond(v) {
				return v
			}
			if time.Now().After(end) {
				t.Fatalf("tidings topics %s: condition not met within a minute; last: %s", strings.Join(args, " "), js(v))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	t.Run("SignedDelivery", func(t *testing.T) {
		t.Parallel()
		rc := startReceiver(t, map[string][]int{})
		out := tidings(t, "create", "orders")
		if !strings.Contains(out, "arn:aws:sns:"+region+":"+accountID+":orders") ||
			!strings.Contains(out, "arn:aws:events:"+region+":"+accountID+":event-bus/orders") {
			t.Errorf("create does not show the topic's ARNs: %s", out)
		}
		sub := tidingsJSON(t, "subscribe", "orders", rc.url+"/ok", "--secret", webhookSecret)
		subID := str(t, sub, "id")
		eqAt(t, sub, "secret", webhookSecret)
		// A filtered subscription that this event does not match.
		tidings(t, "subscribe", "orders", rc.url+"/complaints", "--secret", webhookSecret, "--filter", `{"eventType": ["Complaint"]}`)

		msg := `{"eventType":"Bounce","mail":{"messageId":"m-1"}}`
		eventID := strings.TrimSpace(tidings(t, "publish", "orders", msg))
		h := rc.wait(t, "/ok")
		if !h.sigOK {
			t.Errorf("the delivery's signature does not verify: %+v", h)
		}
		eq(t, "topic header", "orders", h.topic)
		eq(t, "event id header", eventID, h.eventID)
		eq(t, "body", msg, string(h.body))

		// The event is in the log; its one delivery (the filter kept the
		// other subscription out) is DELIVERED after one attempt.
		log := tidingsJSON(t, "events", "orders")
		eqAt(t, log, "events.0.id", eventID)
		eqAt(t, log, "events.0.message", msg)
		ev := pollJSON(t, func(v any) bool { return at(v, "deliveries.0.state") == "DELIVERED" }, "events", "orders", eventID)
		if n := len(at(ev, "deliveries").([]any)); n != 1 {
			t.Errorf("want 1 delivery (the filter excludes the other subscription), got %d: %s", n, js(ev))
		}
		eqAt(t, ev, "deliveries.0.subscription_id", subID)
		eqAt(t, ev, "deliveries.0.attempts", 1)
		eqAt(t, ev, "deliveries.0.last_status", 200)

		subs := tidingsJSON(t, "subscriptions", "orders")
		for _, s := range at(subs, "subscriptions").([]any) {
			if at(s, "secret") != nil {
				t.Errorf("a listed subscription shows its secret: %s", js(s))
			}
		}
		// A matching event reaches the filtered subscription.
		tidings(t, "publish", "orders", `{"eventType":"Complaint"}`)
		if h := rc.wait(t, "/complaints"); !h.sigOK || string(h.body) != `{"eventType":"Complaint"}` {
			t.Errorf("filtered delivery: %+v", h)
		}
	})

	t.Run("RetryThenSuccess", func(t *testing.T) {
		t.Parallel()
		rc := startReceiver(t, map[string][]int{"/flaky": {500, 200}})
		tidings(t, "create", "flaky")
		tidings(t, "subscribe", "flaky", rc.url+"/flaky", "--secret", webhookSecret)
		eventID := strings.TrimSpace(tidings(t, "publish", "flaky", "plain text event"))
		first := rc.wait(t, "/flaky")
		second := rc.wait(t, "/flaky")
		for _, h := range []hook{first, second} {
			if !h.sigOK || h.eventID != eventID {
				t.Errorf("attempt: %+v", h)
			}
		}
		ev := pollJSON(t, func(v any) bool { return at(v, "deliveries.0.state") == "DELIVERED" }, "events", "flaky", eventID)
		eqAt(t, ev, "deliveries.0.attempts", 2)
	})

	t.Run("DeadLettersAndRedrive", func(t *testing.T) {
		t.Parallel()
		rc := startReceiver(t, map[string][]int{"/down": {503}, "/moved": {307}})
		tidings(t, "create", "audit")
		tidings(t, "subscribe", "audit", rc.url+"/down", "--secret", webhookSecret)
		moved := str(t, tidingsJSON(t, "subscribe", "audit", rc.url+"/moved", "--secret", webhookSecret), "id")
		eventID := strings.TrimSpace(tidings(t, "publish", "audit", `{"n":1}`))
		rc.wait(t, "/down")
		// Given up after TIDINGS_WEBHOOK_GIVE_UP (8s): both on the list.
		dl := pollJSON(t, func(v any) bool {
			l, _ := at(v, "dead_letters").([]any)
			return len(l) == 2
		}, "dead-letters", "audit")
		for _, d := range at(dl, "dead_letters").([]any) {
			eqAt(t, d, "event_id", eventID)
			eqAt(t, d, "state", "DEAD")
			if n, _ := at(d, "attempts").(float64); n < 2 {
				t.Errorf("a dead letter after %v attempts, want retries: %s", n, js(d))
			}
			if at(d, "subscription_id") == moved && !strings.Contains(fmt.Sprint(at(d, "last_error")), "redirect refused") {
				t.Errorf("a redirect to another host was not refused as such: %s", js(d))
			}
		}
		if !strings.Contains(tidings(t, "dead-letters", "audit"), "DEAD") {
			t.Error("dead-letters does not print the dead letters")
		}
		// The receiver is back: a redrive delivers.
		rc.setScript("/down", 200)
		out := tidings(t, "dead-letters", "audit", "--redrive", "--event", eventID, "--subscription", str(t, at(dl, "dead_letters.0"), "subscription_id"))
		if !strings.Contains(out, "1 delivery(ies) queued again") {
			t.Errorf("redrive: %s", out)
		}
		for {
			h := rc.wait(t, "/down")
			if h.eventID == eventID && h.sigOK {
				break
			}
		}
		pollJSON(t, func(v any) bool {
			l, _ := at(v, "dead_letters").([]any)
			return len(l) == 1
		}, "dead-letters", "audit")
	})

	t.Run("EventLogWithoutSubscribers", func(t *testing.T) {
		t.Parallel()
		tidings(t, "create", "quiet")
		var ids []string
		for i := range 3 {
			ids = append(ids, strings.TrimSpace(tidings(t, "publish", "quiet", fmt.Sprintf(`{"i":%d}`, i))))
		}
		log := tidingsJSON(t, "events", "quiet", "--limit", "2")
		eqAt(t, log, "events.0.id", ids[2])
		eqAt(t, log, "events.1.id", ids[1])
		eqAt(t, log, "next_before", ids[1])
		rest := tidingsJSON(t, "events", "quiet", "--before", ids[1])
		eqAt(t, rest, "events.0.id", ids[0])
		if !strings.Contains(tidings(t, "list"), "quiet") {
			t.Error("topics list does not show the topic")
		}
		tidings(t, "delete", "quiet")
		if e := tidingsFails(t, "events", "quiet"); !strings.Contains(e, "NotFound") {
			t.Errorf("events of a deleted topic: %s", e)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		tidings(t, "create", "errs")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"create", "errs"}, "Conflict"},
			{[]string{"create", "bad name!"}, "ValidationError"},
			{[]string{"subscribe", "errs", "ftp://example.com/x"}, "ValidationError"},
			{[]string{"subscribe", "errs", "http://127.0.0.1:1/x", "--secret", "short"}, "ValidationError"},
			{[]string{"subscribe", "errs", "http://127.0.0.1:1/x", "--filter", `{"eventType": "Bounce"}`}, "ValidationError"},
			{[]string{"subscribe", "nope", "http://127.0.0.1:1/x"}, "NotFound"},
			{[]string{"publish", "nope", "x"}, "NotFound"},
			{[]string{"unsubscribe", "errs", "sub-nope"}, "NotFound"},
			{[]string{"events", "errs", "--limit", "5000"}, "ValidationError"},
		} {
			if e := tidingsFails(t, c.args...); !strings.Contains(e, c.want) {
				t.Errorf("tidings topics %s: want %s, got %s", strings.Join(c.args, " "), c.want, e)
			}
		}
		// Unsigned requests are refused, as JSON.
		resp, err := http.Get(s.URL + "/v1/topics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"code":"AccessDenied"`) {
			t.Errorf("unsigned GET /v1/topics: %d %s", resp.StatusCode, body)
		}
	})
}

// TestEventsCrashResume: a delivery in flight when the server is killed
// (SIGKILL) is made after the restart at once, not when River would
// rescue its job an hour later.
func TestEventsCrashResume(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	release := make(chan struct{})
	inFlight := make(chan string, 10)
	delivered := make(chan string, 10)
	var once sync.Once
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hookSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Tidings-Event-Id")
		first := false
		once.Do(func() { first = true })
		if first {
			inFlight <- id
			<-release // the server dies while this request waits
			return
		}
		w.WriteHeader(http.StatusNoContent)
		delivered <- id
	})}
	go hookSrv.Serve(ln)
	t.Cleanup(func() { close(release); hookSrv.Close() })

	tidings := func(s *Server, args ...string) string {
		t.Helper()
		out, errOut, code := run(t, s.clientEnv("", ""), nil, tidingsBin, append([]string{"topics"}, args...)...)
		if code != 0 {
			t.Fatalf("tidings topics %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	tidings(s, "create", "crash")
	tidings(s, "subscribe", "crash", "http://"+ln.Addr().String()+"/hook")
	eventID := strings.TrimSpace(tidings(s, "publish", "crash", `{"k":"v"}`))
	select {
	case id := <-inFlight:
		if id != eventID {
			t.Fatalf("in flight: %s, want %s", id, eventID)
		}
	case <-time.After(time.Minute):
		t.Fatal("the delivery never started")
	}
	// SIGKILL: no drain, the job stays "running" in the database.
	s.stopped = true
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
	s2 := startServer(t, s.Opts)
	select {
	case id := <-delivered:
		if id != eventID {
			t.Fatalf("delivered %s, want %s", id, eventID)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the interrupted delivery was not resumed after the restart; log:\n%s", s2.log.Tail(4000))
	}
	if !strings.Contains(s2.Log(), "resumed deliveries interrupted by a crash") {
		t.Errorf("the restart did not report the recovery")
	}
}
