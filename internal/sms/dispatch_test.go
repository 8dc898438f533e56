package sms_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	sv "github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/sms"
)

// held is a carrier whose first submit hangs until released (a process
// that dies while sending); the others answer at once.
type held struct {
	mu      sync.Mutex
	calls   int
	started chan struct{}
	release chan struct{}
}

func newHeld() *held { return &held{started: make(chan struct{}), release: make(chan struct{})} }

func (*held) Start(context.Context, sms.Sink) error { return nil }
func (*held) Close() error                          { return nil }
func (h *held) Submit(ctx context.Context, m *sms.Outbound) (string, error) {
	h.mu.Lock()
	h.calls++
	first := h.calls == 1
	h.mu.Unlock()
	if first {
		close(h.started)
		select {
		case <-h.release:
		case <-ctx.Done():
		}
		return "", errors.New("the process died")
	}
	return "carrier-" + m.MessageID, nil
}

func record(t *testing.T, b *bundle, id string) *sms.MessageRecord {
	t.Helper()
	var rec *sms.MessageRecord
	require.NoError(t, b.db.SMS().InTx(context.Background(), func(tx sms.Tx) error {
		var err error
		rec, err = tx.GetMessage(context.Background(), id)
		return err
	}))
	return rec
}

func waitSubmitted(t *testing.T, b *bundle, id string) *sms.MessageRecord {
	t.Helper()
	var rec *sms.MessageRecord
	require.Eventually(t, func() bool {
		rec = record(t, b, id)
		return rec.ProviderID != ""
	}, 30*time.Second, 10*time.Millisecond)
	return rec
}

func sendJobs(t *testing.T, b *bundle) int {
	t.Helper()
	jobs, err := b.db.Jobs().List(context.Background(), river.NewJobListParams().Kinds(sms.KindSend).
		States(rivertype.JobStateAvailable, rivertype.JobStateRunning, rivertype.JobStateCompleted, rivertype.JobStateRetryable, rivertype.JobStateScheduled))
	require.NoError(t, err)
	return len(jobs)
}

// While the job queue works, an accepted message is sent in process,
// without a send job, and its lease ends with the send.
func TestDispatchSendsInProcess(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{carrier: silent{}})
	longCode(t, b)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr("+12065550123"), MessageBody: ptr("x")})
	require.NoError(t, err)
	rec := waitSubmitted(t, b, *out.MessageId)
	require.Equal(t, "carrier-"+*out.MessageId, rec.ProviderID)
	require.Empty(t, rec.LeaseOwner)
	require.Zero(t, sendJobs(t, b))
}

// sendHeld sends a message whose first submit hangs (held), and returns
// once that submit has begun: the message is leased and not sent.
func sendHeld(t *testing.T) (*bundle, string) {
	t.Helper()
	carrier := newHeld()
	b := setup(t, setupOpts{carrier: carrier})
	t.Cleanup(func() { close(carrier.release) })
	longCode(t, b)
	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr("+12065550123"), MessageBody: ptr("x")})
	require.NoError(t, err)
	<-carrier.started
	return b, *out.MessageId
}

// A message whose sender died with its process is sent once the node
// restarts (Recover), by a job; the process's own leases are left alone.
func TestDispatchLeaseRecovered(t *testing.T) {
	t.Parallel()
	b, id := sendHeld(t)
	rec := record(t, b, id)
	require.Equal(t, b.svc.DispatchOwner(), rec.LeaseOwner)
	require.Empty(t, rec.ProviderID)

	n, err := b.svc.Recover(context.Background(), true)
	require.NoError(t, err)
	require.Zero(t, n, "this process's lease")
	require.Zero(t, sendJobs(t, b))

	b.svc.RestartDispatch("node/restarted")
	n, err = b.svc.Recover(context.Background(), true)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	rec = waitSubmitted(t, b, id)
	require.Equal(t, "carrier-"+id, rec.ProviderID)
	require.Empty(t, rec.LeaseOwner)
	require.Equal(t, 1, sendJobs(t, b))
	n, err = b.svc.Recover(context.Background(), true)
	require.NoError(t, err)
	require.Zero(t, n, "released once")
}

// The sweep queues the jobs of leases that have ended, whoever held them.
func TestDispatchSweepEndsExpiredLeases(t *testing.T) {
	t.Parallel()
	b, id := sendHeld(t)
	n, err := b.svc.ReleaseExpiredLeases(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "the lease has not ended")
	b.clock.Advance(31 * time.Minute)
	n, err = b.svc.ReleaseExpiredLeases(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	rec := waitSubmitted(t, b, id)
	require.Equal(t, "carrier-"+id, rec.ProviderID)
}
