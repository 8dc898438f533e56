package smpp

import (
	"bufio"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawPeer is the SMSC side of one connection, driven PDU by PDU, for the
// protocol details the node SMSC does not exercise.
type rawPeer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (p *rawPeer) read() *PDU {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	pdu, err := ReadPDU(p.r)
	require.NoError(p.t, err)
	return pdu
}

func (p *rawPeer) write(pdu *PDU) {
	p.t.Helper()
	b, err := pdu.Encode()
	require.NoError(p.t, err)
	p.writeRaw(b)
}

func (p *rawPeer) writeRaw(b []byte) {
	p.t.Helper()
	_, err := p.conn.Write(b)
	require.NoError(p.t, err)
}

// rawSMSC accepts connections and hands each, once bound, to the test.
func rawSMSC(t *testing.T) (addr string, peers <-chan *rawPeer) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	ch := make(chan *rawPeer, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
			ch <- &rawPeer{t: t, conn: conn, r: bufio.NewReader(conn)}
		}
	}()
	return ln.Addr().String(), ch
}

func acceptBind(t *testing.T, peers <-chan *rawPeer) *rawPeer {
	t.Helper()
	var p *rawPeer
	select {
	case p = <-peers:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	bind := p.read()
	require.Equal(t, BindTransceiver, bind.Command)
	p.write(&PDU{Command: BindTransceiverResp, Sequence: bind.Sequence, Body: &BindResp{SystemID: "raw"}})
	return p
}

func rawClient(t *testing.T, addr string, cfg func(*Config)) *Client {
	t.Helper()
	conf := Config{Addr: addr, SystemID: "t", Password: "p", EnquireLink: -1,
		Timeouts: Timeouts{Response: 2 * time.Second}, Backoff: Backoff{Min: 20 * time.Millisecond}}
	if cfg != nil {
		cfg(&conf)
	}
	c, err := New(conf)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestClientAnswersTheSMSC(t *testing.T) {
	t.Parallel()
	addr, peers := rawSMSC(t)
	receipts := make(chan Receipt, 1)
	rawClient(t, addr, func(c *Config) {
		c.OnReceipt = func(_ context.Context, r Receipt) error { receipts <- r; return nil }
	})
	p := acceptBind(t, peers)

	p.write(&PDU{Command: EnquireLink, Sequence: 10})
	resp := p.read()
	require.Equal(t, &PDU{Command: EnquireLinkResp, Sequence: 10}, resp)

	// An unknown command and a malformed PDU get a generic_nack (4.3).
	p.writeRaw(mustHex(t, "00000010 00000099 00000000 0000000B"))
	require.Equal(t, &PDU{Command: GenericNack, Status: StatusInvCmdID, Sequence: 11}, p.read())
	p.writeRaw(mustHex(t, "00000012 00000015 00000000 0000000C 0000"))
	require.Equal(t, &PDU{Command: GenericNack, Status: StatusInvCmdLen, Sequence: 12}, p.read())

	// A receipt carried only in TLVs, answered with deliver_sm_resp.
	dlr := &ShortMessage{Source: "447700900123", Dest: "Tidings", ESMClass: ESMClassDeliveryReceipt}
	dlr.TLVs.SetCString(TagReceiptedMessageID, "X1")
	dlr.TLVs.SetUint(TagMessageState, 1, uint32(StateExpired))
	p.write(&PDU{Command: DeliverSM, Sequence: 13, Body: dlr})
	require.Equal(t, &PDU{Command: DeliverSMResp, Sequence: 13, Body: &MessageResp{}}, p.read())
	r := <-receipts
	require.Equal(t, "X1", r.MessageID)
	require.Equal(t, StateExpired, r.State)

	// data_sm is answered with data_sm_resp.
	data := &Data{Source: "1", Dest: "2"}
	data.TLVs.Set(TagMessagePayload, []byte("hi"))
	p.write(&PDU{Command: DataSM, Sequence: 14, Body: data})
	require.Equal(t, &PDU{Command: DataSMResp, Sequence: 14, Body: &MessageResp{}}, p.read())

	// An SMSC unbind is answered, and the client binds again.
	p.write(&PDU{Command: Unbind, Sequence: 15})
	require.Equal(t, &PDU{Command: UnbindResp, Sequence: 15}, p.read())
	acceptBind(t, peers)
}

func TestClientSubmitPackedGSM(t *testing.T) {
	t.Parallel()
	addr, peers := rawSMSC(t)
	msgs := make(chan Incoming, 1)
	c := rawClient(t, addr, func(c *Config) {
		c.GSMPacked = true
		c.OnMessage = func(_ context.Context, in Incoming) error { msgs <- in; return nil }
	})
	p := acceptBind(t, peers)
	text := "hellohello€"
	type result struct {
		res SubmitResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := c.Submit(context.Background(), Message{Dest: "1", Text: text})
		done <- result{res, err}
	}()
	sub := p.read()
	sm := sub.Body.(*ShortMessage)
	septets, _ := EncodeGSM7(text)
	require.Equal(t, PackSeptets(septets, 0), sm.ShortMessage)
	require.Equal(t, byte(0), sm.DataCoding)
	p.write(&PDU{Command: SubmitSMResp, Sequence: sub.Sequence, Body: &MessageResp{MessageID: "P1"}})
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, []string{"P1"}, r.res.MessageIDs)

	// A packed concatenated MO: header, one fill bit, septets.
	for i, part := range []string{"first half ", "second half"} {
		s, _ := EncodeGSM7(part)
		udh := concatUDH(9, 2, i+1)
		packed := PackSeptets(append(make([]byte, 7), s...), 0) // 7 septets = 6 octets of header + 1 fill bit
		copy(packed, udh)
		p.write(&PDU{Command: DeliverSM, Sequence: uint32(20 + i), Body: &ShortMessage{Source: "9", Dest: "1", ESMClass: ESMClassUDHI, ShortMessage: packed}})
		require.Equal(t, StatusOK, p.read().Status)
	}
	require.Equal(t, "first half second half", (<-msgs).Text)
}

func TestClientBackoffGrows(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var mu sync.Mutex
	var at []time.Time
	enough := make(chan struct{})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			at = append(at, time.Now())
			if len(at) == 5 {
				close(enough)
			}
			mu.Unlock()
			_ = conn.Close() // refuse every bind by hanging up
		}
	}()
	const minBackoff = 20 * time.Millisecond
	c, err := New(Config{Addr: ln.Addr().String(), SystemID: "t", Backoff: Backoff{Min: minBackoff, Max: time.Second}})
	require.NoError(t, err)
	defer c.Close()
	select {
	case <-enough:
	case <-time.After(10 * time.Second):
		t.Fatal("the client stopped reconnecting")
	}
	mu.Lock()
	defer mu.Unlock()
	// Timers never fire early, so each gap is at least its backoff: 20, 40,
	// 80, 160 ms.
	for i := 1; i < 5; i++ {
		require.GreaterOrEqual(t, at[i].Sub(at[i-1]), minBackoff<<(i-1), "gap %d", i)
	}
	require.False(t, c.Bound())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = c.Submit(ctx, Message{Dest: "1", Text: "x"})
	require.ErrorIs(t, err, ErrNotBound)
	require.True(t, IsRetryable(err))
}

// TestClientInboundWorkers: a receipt whose callback is slow (a commit
// waiting for the database) holds up neither the receipts of other
// handsets nor the responses to submits, while those of its own handset
// stay in arrival order.
func TestClientInboundWorkers(t *testing.T) {
	t.Parallel()
	addr, peers := rawSMSC(t)
	const slow, other = "447700900001", "447700900002" // different loops of the default 8
	release := make(chan struct{})
	var (
		mu    sync.Mutex
		order []string
	)
	c := rawClient(t, addr, func(c *Config) {
		c.OnReceipt = func(_ context.Context, r Receipt) error {
			if r.Source == slow {
				<-release
			}
			mu.Lock()
			order = append(order, r.MessageID)
			mu.Unlock()
			return nil
		}
	})
	p := acceptBind(t, peers)
	receipt := func(seq uint32, source, id string) {
		dlr := &ShortMessage{Source: source, Dest: "Tidings", ESMClass: ESMClassDeliveryReceipt}
		dlr.TLVs.SetCString(TagReceiptedMessageID, id)
		dlr.TLVs.SetUint(TagMessageState, 1, uint32(StateDelivered))
		p.write(&PDU{Command: DeliverSM, Sequence: seq, Body: dlr})
	}
	receipt(20, slow, "S1")
	receipt(21, slow, "S2")
	receipt(22, other, "O1")
	require.Equal(t, &PDU{Command: DeliverSMResp, Sequence: 22, Body: &MessageResp{}}, p.read())

	// A submit is answered while the slow receipts wait.
	done := make(chan error, 1)
	go func() {
		_, err := c.Submit(context.Background(), Message{Source: "Tidings", Dest: other, Text: "hi"})
		done <- err
	}()
	sub := p.read()
	require.Equal(t, SubmitSM, sub.Command)
	p.write(&PDU{Command: SubmitSMResp, Sequence: sub.Sequence, Body: &MessageResp{MessageID: "M1"}})
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the submit_sm_resp waited behind a slow receipt")
	}

	close(release)
	require.Equal(t, &PDU{Command: DeliverSMResp, Sequence: 20, Body: &MessageResp{}}, p.read())
	require.Equal(t, &PDU{Command: DeliverSMResp, Sequence: 21, Body: &MessageResp{}}, p.read())
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"O1", "S1", "S2"}, order)
}
