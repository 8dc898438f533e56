package events_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

const acct = "111122223333"

// bundle is a running events service over a real SQLite store and job
// queue, with a webhook receiver on loopback.
type bundle struct {
	ctx  context.Context
	db   *store.DB
	svc  *events.Service
	hook *receiver
}

type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int // answered in turn; the last one for ever
	got      chan *http.Request
	bodies   chan []byte
}

func setup(t *testing.T, cfg events.Config) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	db := storetest.OpenSQLite(t)
	rc := &receiver{got: make(chan *http.Request, 100), bodies: make(chan []byte, 100)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		status := 200
		if len(rc.statuses) > 0 {
			status = rc.statuses[0]
			if len(rc.statuses) > 1 {
				rc.statuses = rc.statuses[1:]
			}
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
		rc.got <- r
		rc.bodies <- b
	}))
	t.Cleanup(rc.Close)
	cfg.Retry = events.Backoff{First: 50 * time.Millisecond, Max: 200 * time.Millisecond}
	svc, err := events.New(db.Events(), cfg, nil)
	require.NoError(t, err)
	q := db.Jobs()
	require.NoError(t, svc.Register(q))
	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = q.Stop(sctx)
	})
	return &bundle{ctx: ctx, db: db, svc: svc, hook: rc}
}

func (rc *receiver) script(statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.statuses = statuses
}

func (rc *receiver) next(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	select {
	case r := <-rc.got:
		return r, <-rc.bodies
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook request")
		return nil, nil
	}
}

// waitDelivery polls a delivery until cond holds.
func (b *bundle) waitDelivery(t *testing.T, topic, eventID string, cond func(events.Delivery) bool) events.Delivery {
	t.Helper()
	end := time.Now().Add(30 * time.Second)
	for {
		d, err := b.svc.GetEvent(b.ctx, acct, topic, eventID)
		require.NoError(t, err)
		require.Len(t, d.Deliveries, 1)
		if cond(d.Deliveries[0]) {
			return d.Deliveries[0]
		}
		require.True(t, time.Now().Before(end), "delivery never reached the state: %+v", d.Deliveries[0])
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPublishDeliversSigned(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Config{})
	sub, err := b.svc.Subscribe(b.ctx, acct, events.SubscribeInput{Topic: "orders", URL: b.hook.URL + "/h"})
	require.True(t, fault.Is(err, fault.NotFound), "no topic yet: %v", err)
	_, err = b.svc.CreateTopic(b.ctx, acct, "orders")
	require.NoError(t, err)
	sub, err = b.svc.Subscribe(b.ctx, acct, events.SubscribeInput{Topic: "orders", URL: b.hook.URL + "/h"})
	require.NoError(t, err)
	require.Regexp(t, `^whsec_[0-9a-f]{48}$`, sub.Secret, "a secret is generated")

	// Through the interface the other domains hold, with an EventBridge ARN.
	var p events.Publisher = b.svc
	msg := []byte(`{"eventType":"Send"}`)
	require.NoError(t, p.Publish(b.ctx, acct, "arn:aws:events:us-east-1:"+acct+":event-bus/orders", msg))
	r, body := b.hook.next(t)
	require.Equal(t, msg, body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, "orders", r.Header.Get(events.HeaderTopic))
	require.NoError(t, events.Verify(sub.Secret, r.Header.Get(events.HeaderSignature), r.Header.Get(events.HeaderTimestamp), body, time.Now(), time.Minute))
	evs, err := b.svc.Events(b.ctx, acct, "orders", "", 0)
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, evs[0].ID, r.Header.Get(events.HeaderEventID))
	d := b.waitDelivery(t, "orders", evs[0].ID, func(d events.Delivery) bool { return d.State == events.Delivered })
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, 200, d.LastStatus)

	subs, err := b.svc.Subscriptions(b.ctx, acct, "orders")
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Empty(t, subs[0].Secret, "listing hides the secret")
	require.EqualValues(t, 1, subs[0].Deliveries[events.Delivered])
}

func TestPublishWithoutSubscribersCreatesTopic(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Config{})
	require.NoError(t, b.svc.Publish(b.ctx, acct, "arn:aws:sns:eu-west-1:"+acct+":audit", []byte("one")))
	require.NoError(t, b.svc.Publish(b.ctx, acct, "audit", []byte("two")))
	evs, err := b.svc.Events(b.ctx, acct, "audit", "", 0)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, "two", string(evs[0].Body))

	err = b.svc.Publish(b.ctx, acct, "arn:aws:sns:us-east-1:999999999999:audit", []byte("x"))
	require.True(t, fault.Is(err, fault.AccessDenied), "%v", err)
	err = b.svc.Publish(b.ctx, acct, "audit", make([]byte, events.MaxMessageBytes+1))
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	_, err = b.svc.PublishEvent(b.ctx, events.PublishInput{AccountID: acct, Destination: "nope", Message: []byte("x"), MustExist: true})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	// Dedup: the second publish returns the first event.
	e1, err := b.svc.PublishEvent(b.ctx, events.PublishInput{AccountID: acct, Destination: "audit", Message: []byte("x"), DedupKey: "k"})
	require.NoError(t, err)
	e2, err := b.svc.PublishEvent(b.ctx, events.PublishInput{AccountID: acct, Destination: "audit", Message: []byte("x"), DedupKey: "k"})
	require.NoError(t, err)
	require.Equal(t, e1.ID, e2.ID)
}

func TestRetryThenDeliver(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Config{})
	b.hook.script(500, 502, 200)
	_, err := b.svc.CreateTopic(b.ctx, acct, "t")
	require.NoError(t, err)
	_, err = b.svc.Subscribe(b.ctx, acct, events.SubscribeInput{Topic: "t", URL: b.hook.URL})
	require.NoError(t, err)
	ev, err := b.svc.PublishEvent(b.ctx, events.PublishInput{AccountID: acct, Destination: "t", Message: []byte("m")})
	require.NoError(t, err)
	for range 3 {
		b.hook.next(t)
	}
	d := b.waitDelivery(t, "t", ev.ID, func(d events.Delivery) bool { return d.State == events.Delivered })
	require.Equal(t, 3, d.Attempts)
}

func TestGiveUpAndRedrive(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Config{GiveUp: 3 * time.Second})
	b.hook.script(503)
	_, err := b.svc.CreateTopic(b.ctx, acct, "t")
	require.NoError(t, err)
	sub, err := b.svc.Subscribe(b.ctx, acct, events.SubscribeInput{Topic: "t", URL: b.hook.URL, Secret: "a-secret-of-16-chars"})
	require.NoError(t, err)
	ev, err := b.svc.PublishEvent(b.ctx, events.PublishInput{AccountID: acct, Destination: "t", Message: []byte("m")})
	require.NoError(t, err)
	d := b.waitDelivery(t, "t", ev.ID, func(d events.Delivery) bool { return d.State == events.Dead })
	require.GreaterOrEqual(t, d.Attempts, 2)
	require.Equal(t, 503, d.LastStatus)
	require.Contains(t, d.LastError, "HTTP 503")
	require.False(t, d.LastAttemptAt.Before(d.DeadlineAt), "the last attempt is at or after the deadline")
	dl, err := b.svc.DeadLetters(b.ctx, acct, "t", "", "", 0)
	require.NoError(t, err)
	require.Len(t, dl, 1)
	require.Equal(t, sub.ID, dl[0].SubscriptionID)

	for len(b.hook.got) > 0 {
		b.hook.next(t)
	}
	b.hook.script(204)
	n, err := b.svc.Redrive(b.ctx, acct, "t", "", "")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	b.waitDelivery(t, "t", ev.ID, func(d events.Delivery) bool { return d.State == events.Delivered })
	dl, err = b.svc.DeadLetters(b.ctx, acct, "t", "", "", 0)
	require.NoError(t, err)
	require.Empty(t, dl)
}

func TestPublishJobIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Config{})
	job, err := events.NewPublishJob(acct, "arn:aws:sns:us-east-1:"+acct+":jobs", []byte(`{"a":1}`))
	require.NoError(t, err)
	job.DedupKey = "msg-1"
	// As another domain would: in its own transaction (here, ours), twice.
	for range 2 {
		require.NoError(t, b.db.Events().InTx(b.ctx, func(tx events.Tx) error { return tx.Enqueue(b.ctx, job) }))
	}
	end := time.Now().Add(30 * time.Second)
	for {
		evs, err := b.svc.Events(b.ctx, acct, "jobs", "", 0)
		if err == nil && len(evs) == 1 {
			break
		}
		require.True(t, time.Now().Before(end), "the job did not publish: %v %v", evs, err)
		time.Sleep(20 * time.Millisecond)
	}
	_, err = events.NewPublishJob(acct, "arn:aws:sqs:us-east-1:"+acct+":q", nil)
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
}

func TestInvokeURL(t *testing.T) {
	t.Parallel()
	b := setup(t, events.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if in["fail"] == true {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("function error"))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"echo": in["x"]})
	}))
	t.Cleanup(srv.Close)

	out, err := b.svc.InvokeURL(b.ctx, events.InvokeRequest{URL: srv.URL, Payload: []byte(`{"x":42}`), Mode: events.InvokeRequestResponse})
	require.NoError(t, err)
	require.JSONEq(t, `{"echo":42}`, string(out))
	_, err = b.svc.InvokeURL(b.ctx, events.InvokeRequest{URL: srv.URL, Payload: []byte(`{"fail":true}`), Mode: events.InvokeRequestResponse})
	var ie *events.InvokeError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, 500, ie.Status)
	require.Equal(t, "function error", string(ie.Body))
	_, err = b.svc.InvokeURL(b.ctx, events.InvokeRequest{URL: "http://127.0.0.1:1/", Payload: []byte(`{}`), Mode: events.InvokeRequestResponse})
	require.True(t, fault.Is(err, fault.Unavailable), "%v", err)
	for _, bad := range []events.InvokeRequest{
		{URL: "ftp://x", Payload: []byte(`{}`)},
		{URL: srv.URL, Payload: []byte(`not json`)},
		{URL: srv.URL, Payload: []byte(`{}`), Mode: "SOMETIMES"},
		{URL: srv.URL, Payload: []byte(`{}`), RetryFor: events.MaxInvokeRetry + time.Minute}, // over 2160 minutes
	} {
		_, err := b.svc.InvokeURL(b.ctx, bad)
		require.True(t, fault.Is(err, fault.Invalid), "%+v: %v", bad, err)
	}

	// EVENT: queued, retried until the receiver takes it.
	b.hook.script(500, 200)
	out, err = b.svc.InvokeURL(b.ctx, events.InvokeRequest{URL: b.hook.URL + "/fn", Payload: []byte(`{"y":1}`), Mode: events.InvokeEvent, Secret: "a-secret-of-16-chars"})
	require.NoError(t, err)
	require.Nil(t, out)
	for i := range 2 {
		r, body := b.hook.next(t)
		require.Equal(t, "/fn", r.URL.Path, "attempt %d", i)
		require.JSONEq(t, `{"y":1}`, string(body))
		require.NoError(t, events.Verify("a-secret-of-16-chars", r.Header.Get(events.HeaderSignature), r.Header.Get(events.HeaderTimestamp), body, time.Now(), time.Minute))
	}
}
