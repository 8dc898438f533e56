package smppcarrier

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/smpp"
	"github.com/tidings/tidings/internal/smpp/smsctest"
	"github.com/tidings/tidings/internal/sms"
	"github.com/tidings/tidings/internal/sms/providertest"
)

// These tests run the carrier against the independent SMSC of
// tests/smsc/smsc.mjs (npm smpp), started by smsctest.

type smsc struct{ *smsctest.SMSC }

func startSMSC(t *testing.T) smsc { return smsc{smsctest.Start(t)} }

func (s smsc) post(t *testing.T, path string, body any) map[string]any {
	t.Helper()
	var out map[string]any
	s.Post(t, path, body, &out)
	return out
}

type smscSubmit struct {
	Source             string `json:"source"`
	Dest               string `json:"dest"`
	SourceTON          int    `json:"sourceTON"`
	DestTON            int    `json:"destTON"`
	DestNPI            int    `json:"destNPI"`
	RegisteredDelivery int    `json:"registeredDelivery"`
	Text               string `json:"text"`
	MessageID          string `json:"messageID"`
}

type smscState struct {
	Bound    int          `json:"bound"`
	Submits  []smscSubmit `json:"submits"`
	Messages []struct {
		Source, Dest, Text string
		IDs                []string `json:"ids"`
	} `json:"messages"`
}

func (s smsc) state(t *testing.T) smscState {
	t.Helper()
	var st smscState
	s.State(t, &st)
	return st
}

func (s smsc) config() smpp.Config {
	return smpp.Config{
		Addr: s.Addr, SystemID: smsctest.SystemID, Password: smsctest.Password,
		Timeouts: smpp.Timeouts{Connect: 5 * time.Second, Response: 5 * time.Second},
		Backoff:  smpp.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}
}

// sink is a fake sms.Sink: it records, and answers NotFound for receipts
// naming unknown provider ids when known is set.
type sink struct {
	mu       sync.Mutex
	known    map[string]bool
	receipts []sms.Receipt
	inbound  []sms.Inbound
}

func (s *sink) Receipt(_ context.Context, r sms.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.known != nil && !s.known[r.ProviderID] {
		return fault.NotFoundf("no message with provider id %s", r.ProviderID)
	}
	s.receipts = append(s.receipts, r)
	return nil
}

func (s *sink) Inbound(_ context.Context, m sms.Inbound) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbound = append(s.inbound, m)
	return nil
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCarrierAgainstSMSC(t *testing.T) {
	t.Parallel()
	sc := startSMSC(t)
	sc.post(t, "/config", map[string]any{"receipts": map[string]any{"12065550199": map[string]string{"stat": "UNDELIV", "err": "034"}}})
	snk := &sink{known: map[string]bool{}}
	c := New(sc.config(), nil)
	require.NoError(t, c.Start(context.Background(), snk))
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()

	// A text from a long code reaches the SMSC with international addresses.
	snk.mu.Lock() // the receipt may come before Submit returns
	pid, err := c.Submit(ctx, &sms.Outbound{MessageID: "m1", Channel: sms.ChannelText, Origination: "+12065550100",
		Destination: "+12065550123", Body: "Your code is 123456", Encoding: sms.GSM7, Segments: 1, ExpiresAt: time.Now().Add(time.Hour)})
	if err == nil {
		snk.known[pid] = true
	}
	snk.mu.Unlock()
	require.NoError(t, err)
	require.NotEmpty(t, pid)
	st := sc.state(t)
	require.Len(t, st.Submits, 1)
	sub := st.Submits[0]
	require.Equal(t, smscSubmit{Source: "12065550100", Dest: "12065550123", SourceTON: 1, DestTON: 1, DestNPI: 1,
		RegisteredDelivery: 1, Text: "Your code is 123456", MessageID: pid}, sub)

	// Its receipt comes back as DELIVERED naming the provider id.
	eventually(t, "the DELIVRD receipt", func() bool { snk.mu.Lock(); defer snk.mu.Unlock(); return len(snk.receipts) == 1 })
	snk.mu.Lock()
	r := snk.receipts[0]
	snk.mu.Unlock()
	require.Equal(t, pid, r.ProviderID)
	require.Equal(t, sms.StatusDelivered, r.Status)
	require.Contains(t, r.Description, "stat:DELIVRD")

	// An alphanumeric sender to an undeliverable number: TON 5, UNREACHABLE.
	snk.mu.Lock()
	pid2, err := c.Submit(ctx, &sms.Outbound{MessageID: "m2", Channel: sms.ChannelText, Origination: "Tidings",
		Destination: "+12065550199", Body: "Héllo ✓", Encoding: sms.UCS2, Segments: 1})
	if err == nil {
		snk.known[pid2] = true
	}
	snk.mu.Unlock()
	require.NoError(t, err)
	st = sc.state(t)
	require.Len(t, st.Submits, 2)
	require.Equal(t, "Tidings", st.Submits[1].Source)
	require.Equal(t, 5, st.Submits[1].SourceTON)
	require.Equal(t, "Héllo ✓", st.Submits[1].Text)
	eventually(t, "the UNDELIV receipt", func() bool { snk.mu.Lock(); defer snk.mu.Unlock(); return len(snk.receipts) == 2 })
	snk.mu.Lock()
	r = snk.receipts[1]
	snk.mu.Unlock()
	require.Equal(t, pid2, r.ProviderID)
	require.Equal(t, sms.StatusUnreachable, r.Status)
	require.Contains(t, r.Description, "err:034")

	// A long message goes in parts, each with its id and its receipt.
	body := ""
	for range 40 {
		body += "ten chars "
	}
	split := sms.Segment(body)
	snk.mu.Lock()
	parts, err := c.SubmitParts(ctx, &sms.Outbound{MessageID: "m3", Channel: sms.ChannelText, Origination: "+12065550100",
		Destination: "+12065550123", Body: body, Encoding: split.Encoding, Segments: split.Segments})
	for _, p := range parts {
		snk.known[p] = true
	}
	snk.mu.Unlock()
	require.NoError(t, err)
	require.Len(t, parts, split.Segments)
	eventually(t, "every part's receipt", func() bool { snk.mu.Lock(); defer snk.mu.Unlock(); return len(snk.receipts) == 2+split.Segments })
	st = sc.state(t)
	last := st.Messages[len(st.Messages)-1]
	require.Equal(t, body, last.Text)
	require.Equal(t, parts, last.IDs)
	snk.mu.Lock()
	var got []string
	for _, r := range snk.receipts[2:] {
		require.Equal(t, sms.StatusDelivered, r.Status)
		got = append(got, r.ProviderID)
	}
	snk.mu.Unlock()
	require.ElementsMatch(t, parts, got)

	// A mobile-originated message reaches the sink in E.164.
	out := sc.post(t, "/mo", map[string]any{"source": "12065550123", "dest": "12065550100", "parts": []string{"STOP"}})
	require.Equal(t, []any{float64(0)}, out["statuses"])
	snk.mu.Lock()
	require.Len(t, snk.inbound, 1)
	in := snk.inbound[0]
	snk.mu.Unlock()
	require.Equal(t, "+12065550123", in.Origination)
	require.Equal(t, "+12065550100", in.Destination)
	require.Equal(t, "STOP", in.Body)
	require.NotEmpty(t, in.ID)

	// Non-text channels are refused before the SMSC sees them.
	_, err = c.Submit(ctx, &sms.Outbound{MessageID: "m4", Channel: sms.ChannelVoice, Origination: "+12065550100", Destination: "+12065550123"})
	require.ErrorIs(t, err, sms.ErrRejected)
	require.Len(t, sc.state(t).Submits, 2+split.Segments)
}

func TestCarrierSMSCRefusal(t *testing.T) {
	t.Parallel()
	sc := startSMSC(t)
	c := New(sc.config(), nil)
	require.NoError(t, c.Start(context.Background(), &sink{}))
	t.Cleanup(func() { _ = c.Close() })
	m := &sms.Outbound{MessageID: "m1", Channel: sms.ChannelText, Origination: "+12065550100", Destination: "+12065550123", Body: "hi"}

	sc.post(t, "/config", map[string]any{"submitStatus": 0x0B}) // ESME_RINVDSTADR: final
	_, err := c.Submit(context.Background(), m)
	require.ErrorIs(t, err, sms.ErrRejected)
	require.ErrorContains(t, err, "refused")

	sc.post(t, "/config", map[string]any{"submitStatus": 0x58}) // ESME_RTHROTTLED: retry
	_, err = c.Submit(context.Background(), m)
	require.Error(t, err)
	require.NotErrorIs(t, err, sms.ErrRejected)
	require.True(t, smpp.IsRetryable(err))

	// After Close, submits fail without being final.
	require.NoError(t, c.Close())
	_, err = c.Submit(context.Background(), m)
	require.Error(t, err)
	require.NotErrorIs(t, err, sms.ErrRejected)
}

func TestProviderConformance(t *testing.T) {
	t.Parallel()
	sc := startSMSC(t)
	sc.post(t, "/config", map[string]any{"receipts": map[string]any{"12065550199": map[string]string{"stat": "UNDELIV", "err": "001"}}})
	providertest.Run(t, providertest.Harness{
		New:           func(*testing.T) sms.Provider { return New(sc.config(), nil) },
		Deliverable:   "+12065550123",
		Undeliverable: "+12065550199",
		Origination:   "+12065550100",
	})
}
