// Package providertest is the conformance suite every sms.Provider passes
// (the simulator, SMPP, HTTP gateways, WhatsApp): a message submitted to a
// destination the carrier delivers gets a final DELIVERED receipt naming
// it, one to a destination the carrier cannot reach a final failure, and
// receipts stop after Close.
package providertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/sms"
)

// Harness describes a provider under test.
type Harness struct {
	// New returns a provider, not started.
	New func(t *testing.T) sms.Provider
	// Deliverable and Undeliverable are destinations the carrier behind
	// the provider delivers to and fails on.
	Deliverable, Undeliverable string
	// Origination is the number messages come from.
	Origination string
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		p, sink := start(t, h)
		pid, err := p.Submit(context.Background(), outbound("m-ok", h.Origination, h.Deliverable, "hello"))
		require.NoError(t, err)
		require.NotEmpty(t, pid)
		r := sink.final(t, "m-ok", pid)
		require.Equal(t, sms.StatusDelivered, r.Status)
	})
	t.Run("Undeliverable", func(t *testing.T) {
		t.Parallel()
		p, sink := start(t, h)
		pid, err := p.Submit(context.Background(), outbound("m-fail", h.Origination, h.Undeliverable, "hello"))
		require.NoError(t, err)
		r := sink.final(t, "m-fail", pid)
		require.NotEqual(t, sms.StatusDelivered, r.Status)
		require.True(t, r.Status.Final())
	})
	t.Run("Concatenated", func(t *testing.T) {
		t.Parallel()
		p, sink := start(t, h)
		body := ""
		for range 40 {
			body += "ten chars "
		}
		pid, err := p.Submit(context.Background(), outbound("m-long", h.Origination, h.Deliverable, body))
		require.NoError(t, err)
		require.Equal(t, sms.StatusDelivered, sink.final(t, "m-long", pid).Status)
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		p, sink := start(t, h)
		var wg sync.WaitGroup
		pids, errs := make([]string, 20), make([]error, 20)
		for i := range pids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pids[i], errs[i] = p.Submit(context.Background(), outbound(msgID(i), h.Origination, h.Deliverable, "hi"))
			}()
		}
		wg.Wait()
		for i, pid := range pids {
			require.NoError(t, errs[i])
			require.Equal(t, sms.StatusDelivered, sink.final(t, msgID(i), pid).Status)
		}
	})
	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		p, sink := start(t, h)
		require.NoError(t, p.Close())
		sink.mu.Lock()
		n := len(sink.receipts)
		sink.mu.Unlock()
		_, err := p.Submit(context.Background(), outbound("m-late", h.Origination, h.Deliverable, "hi"))
		require.Error(t, err, "Submit after Close")
		sink.mu.Lock()
		defer sink.mu.Unlock()
		require.Equal(t, n, len(sink.receipts), "no receipt after Close")
	})
}

func msgID(i int) string { return "m-" + string(rune('a'+i)) }

func outbound(id, from, to, body string) *sms.Outbound {
	sp := sms.Segment(body)
	return &sms.Outbound{MessageID: id, Channel: sms.ChannelText, Origination: from, Destination: to, IsoCountryCode: "US",
		MessageType: "TRANSACTIONAL", Body: body, Encoding: sp.Encoding, Segments: sp.Segments, ExpiresAt: time.Now().Add(time.Hour)}
}

func start(t *testing.T, h Harness) (sms.Provider, *recorder) {
	p := h.New(t)
	sink := &recorder{changed: make(chan struct{}, 1)}
	require.NoError(t, p.Start(context.Background(), sink))
	t.Cleanup(func() { _ = p.Close() })
	return p, sink
}

// recorder is a Sink that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	receipts []sms.Receipt
	inbound  []sms.Inbound
	changed  chan struct{}
}

func (r *recorder) Receipt(_ context.Context, rc sms.Receipt) error {
	r.mu.Lock()
	r.receipts = append(r.receipts, rc)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) Inbound(_ context.Context, m sms.Inbound) error {
	r.mu.Lock()
	r.inbound = append(r.inbound, m)
	r.mu.Unlock()
	return nil
}

// final waits for the final receipt of a message, named by its ID or its
// provider ID.
func (r *recorder) final(t *testing.T, id, pid string) sms.Receipt {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		r.mu.Lock()
		for _, rc := range r.receipts {
			if (rc.MessageID == id || (pid != "" && rc.ProviderID == pid)) && rc.Status.Final() {
				r.mu.Unlock()
				return rc
			}
		}
		r.mu.Unlock()
		select {
		case <-r.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no final receipt for %s", id)
		}
	}
}
