package sending_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/delivery"
	sesv2 "github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
)

// heldDeliverer hangs in its first delivery until released or cancelled
// (a process that dies while delivering); the others deliver at once.
type heldDeliverer struct {
	fakeDeliverer
	mu      sync.Mutex
	calls   int
	started chan struct{}
	release chan struct{}
}

func (h *heldDeliverer) Deliver(ctx context.Context, dest delivery.Destination, env delivery.Envelope, body func() (io.ReadCloser, error)) delivery.Result {
	h.mu.Lock()
	h.calls++
	first := h.calls == 1
	h.mu.Unlock()
	if !first {
		return h.fakeDeliverer.Deliver(ctx, dest, env, body)
	}
	close(h.started)
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	res := delivery.Result{}
	for _, r := range env.Recipients {
		res.Recipients = append(res.Recipients, delivery.RecipientResult{Recipient: r, Status: delivery.Deferred,
			Reply: delivery.Reply{Enhanced: "4.4.2", Text: "the process died"}})
	}
	return res
}

func deliverJobs(t *testing.T, db *store.DB) int {
	t.Helper()
	jobs, err := db.Jobs().List(context.Background(), river.NewJobListParams().Kinds(sending.KindDeliver).
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateCompleted, rivertype.JobStateRetryable, rivertype.JobStateScheduled))
	require.NoError(t, err)
	return len(jobs)
}

func sendOne(t *testing.T, b *bundle) string {
	t.Helper()
	out, err := b.svc.SendEmail(b.ctx, &sesv2.SendEmailRequest{FromEmailAddress: ptr("a@example.com"),
		Destination: &sesv2.Destination{ToAddresses: []string{"user@dest.example"}},
		Content:     &sesv2.EmailContent{Simple: &sesv2.Message{Subject: &sesv2.Content{Data: ptr("s")}, Body: &sesv2.Body{Text: &sesv2.Content{Data: ptr("hello")}}}}})
	require.NoError(t, err)
	return *out.MessageId
}

func waitDone(t *testing.T, db *store.DB, id string) *sending.Message {
	t.Helper()
	var m *sending.Message
	require.Eventually(t, func() bool {
		var err error
		m, err = db.Sending().GetMessage(context.Background(), id)
		require.NoError(t, err)
		return m.State == sending.MessageDone
	}, 30*time.Second, 10*time.Millisecond)
	return m
}

// While the job queue works, an accepted message is delivered in process,
// without a delivery job, and its lease ends with the delivery.
func TestDispatchDeliversInProcess(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		b := setupDB(t, db)
		b.verifiedDomain(t, "example.com")
		id := sendOne(t, b)
		m := waitDone(t, db, id)
		require.Empty(t, m.LeaseOwner)
		require.Len(t, b.dl.sent(), 1)
		require.Zero(t, deliverJobs(t, db))
	})
}

// A delivery in process works from what the accept handed over, and
// from the database when the copies held in memory are at their bound:
// either way every recipient gets its own message and its outcome is
// recorded, and no bytes stay counted as held.
func TestDispatchHandoverOrReadBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int64
	}{{"handed over", 32 << 20}, {"read back", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *store.DB) {
				b := setupDB(t, db)
				b.svc.SetHeldMax(tc.max)
				b.verifiedDomain(t, "example.com")
				var ids []string
				for i := range 6 {
					rcpt := fmt.Sprintf("user%d@dest.example", i)
					out, err := b.svc.SendEmail(b.ctx, &sesv2.SendEmailRequest{FromEmailAddress: ptr("a@example.com"),
						Destination: &sesv2.Destination{ToAddresses: []string{rcpt}},
						Content: &sesv2.EmailContent{Simple: &sesv2.Message{Subject: &sesv2.Content{Data: ptr("s")},
							Body: &sesv2.Body{Text: &sesv2.Content{Data: ptr("body of " + rcpt)}}}}})
					require.NoError(t, err)
					ids = append(ids, *out.MessageId)
				}
				for _, id := range ids {
					waitDone(t, db, id)
					rs, err := db.Sending().Recipients(context.Background(), id)
					require.NoError(t, err)
					require.Len(t, rs, 1)
					require.Equal(t, sending.RcptDelivered, rs[0].State, "outcome recorded")
					require.Equal(t, 1, rs[0].Attempts)
				}
				sent := b.dl.sent()
				require.Equal(t, 6, len(sent), "deliveries")
				b.dl.mu.Lock()
				envs := b.dl.envs
				b.dl.mu.Unlock()
				for i, env := range envs {
					require.Contains(t, string(sent[i]), "body of "+env.Recipients[0])
					require.Contains(t, string(sent[i]), "DKIM-Signature:")
				}
				require.Zero(t, b.svc.Held())
				require.Zero(t, deliverJobs(t, db))
			})
		})
	}
}

// sendHeld sends a message whose first delivery hangs (held) and returns
// once it has begun: the message is leased and not delivered.
func sendHeld(t *testing.T, db *store.DB) (*bundle, *heldDeliverer, string) {
	t.Helper()
	h := &heldDeliverer{started: make(chan struct{}), release: make(chan struct{})}
	b := setupDB(t, db, func(c *sending.Config) { c.Deliverer = h })
	t.Cleanup(func() { close(h.release) })
	b.verifiedDomain(t, "example.com")
	id := sendOne(t, b)
	<-h.started
	return b, h, id
}

// A message whose delivery died with its process is delivered once the
// node restarts (Recover), by a job; the process's own leases are left
// alone.
func TestDispatchLeaseRecovered(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		b, h, id := sendHeld(t, db)
		m, err := db.Sending().GetMessage(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, b.svc.DispatchOwner(), m.LeaseOwner)
		require.Equal(t, sending.MessageQueued, m.State)

		n, err := b.svc.Recover(context.Background(), true)
		require.NoError(t, err)
		require.Zero(t, n, "this process's lease")
		require.Zero(t, deliverJobs(t, db))

		b.svc.RestartDispatch("node/restarted")
		n, err = b.svc.Recover(context.Background(), true)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		m = waitDone(t, db, id)
		require.Empty(t, m.LeaseOwner)
		require.Len(t, h.sent(), 1, "delivered by the job")
		require.Equal(t, 1, deliverJobs(t, db))
		n, err = b.svc.Recover(context.Background(), true)
		require.NoError(t, err)
		require.Zero(t, n, "released once")
	})
}

// The sweep queues the delivery jobs of leases that have ended, whoever
// held them.
func TestDispatchSweepEndsExpiredLeases(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		b, h, id := sendHeld(t, db)
		n, err := b.svc.ReleaseLeasesBefore(context.Background(), time.Now())
		require.NoError(t, err)
		require.Zero(t, n, "the lease has not ended")
		n, err = b.svc.ReleaseLeasesBefore(context.Background(), time.Now().Add(31*time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		waitDone(t, db, id)
		require.Len(t, h.sent(), 1)
	})
}

// The limits configured for a recipient domain travel with its
// destination to the deliverer.
func TestDestinationLimits(t *testing.T) {
	eachDB(t, func(t *testing.T, db *store.DB) {
		b := setupDB(t, db, func(c *sending.Config) {
			c.DestinationLimits = func(domain string) (int, float64) {
				if domain == "dest.example" {
					return 3, 7.5
				}
				return 0, 0
			}
		})
		b.verifiedDomain(t, "example.com")
		waitDone(t, db, sendOne(t, b))
		b.dl.mu.Lock()
		defer b.dl.mu.Unlock()
		require.Len(t, b.dl.dest, 1)
		d := b.dl.dest[0]
		require.Equal(t, "dest.example", d.Domain)
		require.Equal(t, 3, d.MaxConns)
		require.Equal(t, 7.5, d.Rate)
	})
}
