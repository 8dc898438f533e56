package smpp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/smpp/smsctest"
)

// The conformance tests run the client against an independent SMSC:
// tests/smsc/smsc.mjs, built on the npm smpp package, started by smsctest.
// It needs node and `npm ci --prefix tests/smsc`; without them the tests
// skip, unless CI is set.

type smsc struct {
	addr    string // SMPP host:port
	control string // base URL of the control port
}

// smscState is what the SMSC reports on GET /state.
type smscState struct {
	Connections  int `json:"connections"`
	Bound        int `json:"bound"`
	Unbinds      int `json:"unbinds"`
	EnquireLinks int `json:"enquireLinks"`
	InFlight     int `json:"inFlight"`
	MaxInFlight  int `json:"maxInFlight"`
	Held         int `json:"held"`
	Binds        []struct {
		Command          string `json:"command"`
		SystemID         string `json:"systemID"`
		InterfaceVersion int    `json:"interfaceVersion"`
		Status           int    `json:"status"`
	} `json:"binds"`
	Submits []struct {
		Source             string `json:"source"`
		Dest               string `json:"dest"`
		SourceTON          int    `json:"sourceTON"`
		DestTON            int    `json:"destTON"`
		DestNPI            int    `json:"destNPI"`
		DataCoding         int    `json:"dataCoding"`
		ESMClass           int    `json:"esmClass"`
		RegisteredDelivery int    `json:"registeredDelivery"`
		SMLength           int    `json:"smLength"`
		UDH                string `json:"udh"`
		Text               string `json:"text"`
		MessageID          string `json:"messageID"`
		Concat             *struct {
			Ref, Total, Seq int
			Via             string
		} `json:"concat"`
	} `json:"submits"`
	Messages []struct {
		Source     string   `json:"source"`
		Dest       string   `json:"dest"`
		DataCoding int      `json:"dataCoding"`
		Text       string   `json:"text"`
		Parts      int      `json:"parts"`
		Complete   *bool    `json:"complete"`
		IDs        []string `json:"ids"`
	} `json:"messages"`
}

func startSMSC(t *testing.T) *smsc {
	t.Helper()
	sc := smsctest.Start(t)
	return &smsc{addr: sc.Addr, control: sc.Control}
}

func (s *smsc) post(t *testing.T, path string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(s.control+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(data))
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

func (s *smsc) state(t *testing.T) smscState {
	t.Helper()
	resp, err := http.Get(s.control + "/state")
	require.NoError(t, err)
	defer resp.Body.Close()
	var st smscState
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

// waitFor polls the SMSC's state until cond holds.
func (s *smsc) waitFor(t *testing.T, what string, cond func(smscState) bool) smscState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.state(t)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; state: %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *smsc) config(overrides func(*Config)) Config {
	cfg := Config{
		Addr:     s.addr,
		SystemID: "tidings",
		Password: "secret",
		Timeouts: Timeouts{Connect: 5 * time.Second, Response: 5 * time.Second},
		Backoff:  Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond},
	}
	if overrides != nil {
		overrides(&cfg)
	}
	return cfg
}

func (s *smsc) dial(t *testing.T, overrides func(*Config)) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, s.config(overrides))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSMSCSubmitShortAndLong(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	c := s.dial(t, nil)
	ctx := testCtx(t)

	texts := map[string]struct {
		text  string
		enc   Encoding
		parts int
	}{
		"447700900001": {"Your code is 123456. Price: 5€ [promo] {ok} ~^|\\", EncodingGSM7, 1},
		// 152 septets, then a euro that must not be split from its escape.
		"447700900002": {strings.Repeat("a", 152) + "€" + strings.Repeat("long GSM text. ", 20), EncodingGSM7, 3},
		"447700900003": {"Привет, мир! 👋", EncodingUCS2, 1},
		"447700900004": {strings.Repeat("ж", 66) + "👋" + strings.Repeat("Ünïcödé text ", 10), EncodingUCS2, 3},
	}
	ids := map[string][]string{}
	for dest, tc := range texts {
		res, err := c.Submit(ctx, Message{Source: "Tidings", SourceTON: 5, Dest: dest, DestTON: 1, DestNPI: 1, Text: tc.text})
		require.NoError(t, err)
		require.Equal(t, tc.enc, res.Encoding)
		require.Len(t, res.MessageIDs, tc.parts, dest)
		enc, parts := Segments(tc.text)
		require.Equal(t, tc.enc, enc)
		require.Len(t, parts, tc.parts)
		ids[dest] = res.MessageIDs
	}

	st := s.state(t)
	require.Len(t, st.Binds, 1)
	require.Equal(t, "bind_transceiver", st.Binds[0].Command)
	require.Equal(t, 0x34, st.Binds[0].InterfaceVersion)
	require.Len(t, st.Messages, 4)
	for _, m := range st.Messages {
		tc := texts[m.Dest]
		require.Equal(t, tc.text, m.Text, "as the SMSC decoded it")
		require.Equal(t, tc.parts, m.Parts)
		require.Equal(t, ids[m.Dest], m.IDs)
		wantDC := 0
		if tc.enc == EncodingUCS2 {
			wantDC = 8
		}
		require.Equal(t, wantDC, m.DataCoding)
	}
	refs := map[string]int{}
	for _, sub := range st.Submits {
		require.Equal(t, "Tidings", sub.Source)
		require.Equal(t, 5, sub.SourceTON)
		require.Equal(t, 1, sub.DestTON)
		require.LessOrEqual(t, sub.SMLength, 140, "one SMS is 140 octets")
		if texts[sub.Dest].parts == 1 {
			require.Nil(t, sub.Concat)
			require.Equal(t, 0, sub.ESMClass)
			continue
		}
		require.NotNil(t, sub.Concat)
		require.Equal(t, "udh", sub.Concat.Via)
		require.Equal(t, ESMClassUDHI, sub.ESMClass)
		require.True(t, strings.HasPrefix(sub.UDH, "050003"), sub.UDH)
		if r, ok := refs[sub.Dest]; ok {
			require.Equal(t, r, sub.Concat.Ref, "one reference per message")
		}
		refs[sub.Dest] = sub.Concat.Ref
	}
	require.NotEqual(t, refs["447700900002"], refs["447700900004"], "a new reference per message")
}

func TestSMSCSubmitWithSAR(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	c := s.dial(t, func(cfg *Config) { cfg.Concat = ConcatSAR })
	text := strings.Repeat("SAR concatenation. ", 12)
	res, err := c.Submit(testCtx(t), Message{Source: "Tidings", Dest: "447700900010", Text: text})
	require.NoError(t, err)
	require.Len(t, res.MessageIDs, 2)
	st := s.state(t)
	require.Len(t, st.Messages, 1)
	require.Equal(t, text, st.Messages[0].Text)
	for _, sub := range st.Submits {
		require.Equal(t, "sar", sub.Concat.Via)
		require.Equal(t, 0, sub.ESMClass)
	}
}

func TestSMSCWindow(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	c := s.dial(t, func(cfg *Config) { cfg.Window = 5 })
	ctx := testCtx(t)
	s.post(t, "/hold", nil)

	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := c.Submit(ctx, Message{Source: "Tidings", Dest: fmt.Sprintf("4477009%05d", i), Text: "windowed"})
			errs <- err
		}()
	}
	// The SMSC answers nothing: the client stops at its window.
	s.waitFor(t, "a full window", func(st smscState) bool { return st.Held == 5 })
	s.post(t, "/release", nil)
	for range n {
		require.NoError(t, <-errs)
	}
	st := s.state(t)
	require.Len(t, st.Submits, n)
	require.Equal(t, 5, st.MaxInFlight, "never more than the window outstanding")
}

func TestSMSCReceipts(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	receipts := make(chan Receipt, 4)
	c := s.dial(t, func(cfg *Config) {
		cfg.OnReceipt = func(_ context.Context, r Receipt) error {
			receipts <- r
			return nil
		}
	})
	s.post(t, "/config", map[string]any{"receipts": map[string]any{"447700900099": map[string]string{"stat": "UNDELIV", "err": "034"}}})
	ctx := testCtx(t)
	ok, err := c.Submit(ctx, Message{Source: "Tidings", Dest: "447700900001", Text: "receipt please", RegisteredDelivery: RegisteredDeliveryAlways})
	require.NoError(t, err)
	failed, err := c.Submit(ctx, Message{Source: "Tidings", Dest: "447700900099", Text: "this one fails", RegisteredDelivery: RegisteredDeliveryAlways})
	require.NoError(t, err)

	got := map[string]Receipt{}
	for range 2 {
		select {
		case r := <-receipts:
			got[r.MessageID] = r
		case <-ctx.Done():
			t.Fatal("no receipt")
		}
	}
	r := got[ok.MessageIDs[0]]
	require.Equal(t, StateDelivered, r.State)
	require.Equal(t, "DELIVRD", r.Stat)
	require.True(t, r.Final())
	require.Equal(t, 1, r.Delivered)
	require.False(t, r.DoneDate.IsZero())
	require.Equal(t, "receipt please", r.Text)
	require.Equal(t, "447700900001", r.Source)
	require.Nil(t, r.NetworkError)

	r = got[failed.MessageIDs[0]]
	require.Equal(t, StateUndeliverable, r.State)
	require.Equal(t, "UNDELIV", r.Stat)
	require.Equal(t, "034", r.Err)
	require.Equal(t, &NetworkError{Type: 3, Code: 34}, r.NetworkError)
	require.True(t, r.Final())
}

func TestSMSCMobileOriginated(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	msgs := make(chan Incoming, 4)
	var reject sync.Once
	c := s.dial(t, func(cfg *Config) {
		cfg.OnMessage = func(_ context.Context, in Incoming) error {
			if in.Text == "reject me" {
				var err error
				reject.Do(func() { err = errors.New("storage down") })
				if err != nil {
					return err
				}
			}
			msgs <- in
			return nil
		}
	})
	_ = c
	ctx := testCtx(t)
	next := func() Incoming {
		t.Helper()
		select {
		case in := <-msgs:
			return in
		case <-ctx.Done():
			t.Fatal("no message")
			return Incoming{}
		}
	}

	out := s.post(t, "/mo", map[string]any{"source": "447700900123", "dest": "Tidings", "parts": []string{"STOP €"}})
	require.Equal(t, []any{0.0}, out["statuses"])
	in := next()
	require.Equal(t, "STOP €", in.Text)
	require.Equal(t, "447700900123", in.Source)
	require.Equal(t, byte(1), in.SourceTON)
	require.Equal(t, "Tidings", in.Dest)
	require.Equal(t, 1, in.Parts)

	parts := []string{"Привет, это длинное ", "сообщение 👋 ", "в трёх частях"}
	out = s.post(t, "/mo", map[string]any{"source": "447700900123", "dest": "Tidings", "parts": parts, "encoding": "ucs2", "ref": 7})
	require.Equal(t, []any{0.0, 0.0, 0.0}, out["statuses"])
	in = next()
	require.Equal(t, strings.Join(parts, ""), in.Text)
	require.Equal(t, 3, in.Parts)
	require.Equal(t, byte(DataCodingUCS2), in.DataCoding)

	parts = []string{"SAR part one, ", "and part two"}
	s.post(t, "/mo", map[string]any{"source": "447700900124", "dest": "Tidings", "parts": parts, "concat": "sar", "ref": 300})
	in = next()
	require.Equal(t, strings.Join(parts, ""), in.Text)
	require.Equal(t, 2, in.Parts)

	// A callback error asks the SMSC to deliver again later.
	out = s.post(t, "/mo", map[string]any{"source": "447700900125", "dest": "Tidings", "parts": []string{"reject me"}})
	require.Equal(t, []any{float64(StatusXTAppn)}, out["statuses"])
	out = s.post(t, "/mo", map[string]any{"source": "447700900125", "dest": "Tidings", "parts": []string{"reject me"}})
	require.Equal(t, []any{0.0}, out["statuses"])
	require.Equal(t, "reject me", next().Text)
}

func TestSMSCReconnect(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	c := s.dial(t, nil)
	ctx := testCtx(t)
	_, err := c.Submit(ctx, Message{Source: "Tidings", Dest: "447700900001", Text: "before"})
	require.NoError(t, err)

	// A submit in flight when the connection drops fails, retryably.
	s.post(t, "/hold", nil)
	errs := make(chan error, 1)
	go func() {
		_, err := c.Submit(ctx, Message{Source: "Tidings", Dest: "447700900002", Text: "in flight"})
		errs <- err
	}()
	s.waitFor(t, "the held submit", func(st smscState) bool { return st.Held == 1 })
	s.post(t, "/drop", nil)
	err = <-errs
	require.ErrorIs(t, err, ErrConnectionLost)
	require.True(t, IsRetryable(err))
	s.post(t, "/release", nil) // answer again

	// The client binds again by itself and goes on.
	s.waitFor(t, "a second bind", func(st smscState) bool { return len(st.Binds) == 2 && st.Bound == 1 })
	res, err := c.Submit(ctx, Message{Source: "Tidings", Dest: "447700900003", Text: "after"})
	require.NoError(t, err)
	require.Len(t, res.MessageIDs, 1)

	// An unbind from the SMSC ends the session too; the client binds again.
	s.post(t, "/unbind", nil)
	s.waitFor(t, "a third bind", func(st smscState) bool { return len(st.Binds) == 3 && st.Bound == 1 })
	_, err = c.Submit(ctx, Message{Source: "Tidings", Dest: "447700900004", Text: "after unbind"})
	require.NoError(t, err)
	require.Equal(t, 3, s.state(t).Connections)
}

func TestSMSCBindErrors(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	ctx := testCtx(t)
	_, err := Dial(ctx, s.config(func(cfg *Config) { cfg.Password = "wrong" }))
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, StatusInvPaswd, se.Status)
	require.EqualError(t, err, "smpp: bind_transceiver rejected with ESME_RINVPASWD")

	_, err = Dial(ctx, s.config(func(cfg *Config) { cfg.SystemID = "nobody"; cfg.BindMode = Transmitter }))
	require.EqualError(t, err, "smpp: bind_transmitter rejected with ESME_RINVSYSID")
}

func TestSMSCCloseUnbinds(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	c := s.dial(t, func(cfg *Config) { cfg.EnquireLink = 20 * time.Millisecond })
	// The keepalive reaches the SMSC.
	s.waitFor(t, "enquire_links", func(st smscState) bool { return st.EnquireLinks >= 2 })
	require.NoError(t, c.Close())
	st := s.waitFor(t, "the unbind", func(st smscState) bool { return st.Unbinds == 1 })
	require.Equal(t, 0, st.Bound)
	_, err := c.Submit(testCtx(t), Message{Dest: "1", Text: "late"})
	require.ErrorIs(t, err, ErrClosed)
}

func TestSMSCThrottledAndRate(t *testing.T) {
	t.Parallel()
	s := startSMSC(t)
	const rate = 40
	c := s.dial(t, func(cfg *Config) { cfg.Rate = rate })
	ctx := testCtx(t)
	start := time.Now()
	const n = 9
	for i := range n {
		_, err := c.Submit(ctx, Message{Source: "Tidings", Dest: fmt.Sprint(447700900000 + i), Text: "paced"})
		require.NoError(t, err)
	}
	// n submits at rate/s cannot take less than (n-1)/rate.
	require.GreaterOrEqual(t, time.Since(start), time.Duration(n-1)*time.Second/rate)

	s.post(t, "/config", map[string]any{"submitStatus": int(StatusThrottled)})
	_, err := c.Submit(ctx, Message{Source: "Tidings", Dest: "447700900001", Text: "throttled"})
	var se *StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, StatusThrottled, se.Status)
	require.True(t, IsRetryable(err))
}
