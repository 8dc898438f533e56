package smpp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"sync"
	"time"
)

// session is one connection to the SMSC, from dial to close. Requests are
// matched with their responses by sequence number.
type session struct {
	c    *Client
	conn net.Conn

	wmu sync.Mutex // serializes writes of whole PDUs
	bw  *bufio.Writer

	mu      sync.Mutex
	seq     uint32
	pending map[uint32]*call
	err     error // why the session ended; set once

	done chan struct{} // closed when the session has ended
	// inbound holds the deliver_sm and data_sm for the inbound loops, one
	// channel per loop; a PDU goes to the loop of its source address.
	inbound []chan *PDU
}

// call is one outstanding request.
type call struct {
	seq     uint32
	result  chan callResult // buffered: completing never blocks
	timer   *time.Timer
	release func() // frees the window slot, if the call holds one
}

type callResult struct {
	pdu *PDU
	err error
}

func newSession(c *Client, conn net.Conn) *session {
	s := &session{
		c:       c,
		conn:    conn,
		bw:      bufio.NewWriter(conn),
		pending: map[uint32]*call{},
		done:    make(chan struct{}),
		inbound: make([]chan *PDU, c.cfg.InboundWorkers),
	}
	for i := range s.inbound {
		s.inbound[i] = make(chan *PDU, inboundQueue)
		go s.inboundLoop(s.inbound[i])
	}
	go s.readLoop()
	return s
}

// inboundQueue is how many deliver_sm and data_sm each inbound loop holds
// read but not yet handled; beyond that, reading waits.
const inboundQueue = 16

// close ends the session with err, failing every outstanding request with
// it. Only the first call has an effect.
func (s *session) close(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	pending := s.pending
	s.pending = map[uint32]*call{}
	s.mu.Unlock()
	_ = s.conn.Close()
	close(s.done)
	for _, cl := range pending {
		s.finish(cl, callResult{err: fmt.Errorf("%w: %v", ErrConnectionLost, err)})
	}
}

// ended returns why the session ended, or nil while it is up.
func (s *session) ended() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *session) finish(cl *call, r callResult) {
	if cl.timer != nil {
		cl.timer.Stop()
	}
	cl.result <- r
	if cl.release != nil {
		cl.release()
	}
}

// complete hands a response to the request it answers.
func (s *session) complete(seq uint32, r callResult) bool {
	s.mu.Lock()
	cl, ok := s.pending[seq]
	delete(s.pending, seq)
	s.mu.Unlock()
	if ok {
		s.finish(cl, r)
	}
	return ok
}

// start sends request p with the next sequence number and returns the call
// its response completes. release, if not nil, runs once the call is over
// (answered, timed out, or failed with the session).
func (s *session) start(p *PDU, release func()) (*call, error) {
	cl := &call{result: make(chan callResult, 1), release: release}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		if release != nil {
			release()
		}
		return nil, fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	// 3.2: sequence numbers run from 1 to 0x7FFFFFFF.
	s.seq++
	if s.seq > 0x7FFFFFFF {
		s.seq = 1
	}
	cl.seq = s.seq
	p.Sequence = cl.seq
	s.pending[cl.seq] = cl
	cl.timer = time.AfterFunc(s.c.cfg.Timeouts.Response, func() {
		s.complete(cl.seq, callResult{err: fmt.Errorf("%w: %s after %s", ErrResponseTimeout, p.Command, s.c.cfg.Timeouts.Response)})
	})
	s.mu.Unlock()
	if err := s.write(p); err != nil {
		s.complete(cl.seq, callResult{err: fmt.Errorf("%w: %v", ErrConnectionLost, err)})
		return cl, nil // the error reaches the caller through the call
	}
	return cl, nil
}

// wait returns the call's response, or ctx's error if ctx ends first (the
// call then stays outstanding, holding its window slot until it completes).
func (cl *call) wait(ctx context.Context) (*PDU, error) {
	select {
	case r := <-cl.result:
		return r.pdu, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// roundTrip sends a request outside the window and waits for its response.
func (s *session) roundTrip(ctx context.Context, p *PDU) (*PDU, error) {
	cl, err := s.start(p, nil)
	if err != nil {
		return nil, err
	}
	return cl.wait(ctx)
}

// write sends one PDU; a write error ends the session.
func (s *session) write(p *PDU) error {
	b, err := p.Encode()
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.c.cfg.Timeouts.Response))
	if _, err = s.bw.Write(b); err == nil {
		err = s.bw.Flush()
	}
	if err != nil {
		s.close(fmt.Errorf("writing %s: %w", p.Command, err))
	}
	return err
}

// respond answers request req; errors end the session and are logged there.
func (s *session) respond(req *PDU, st Status, body any) {
	_ = s.write(&PDU{Command: req.Command.Response(), Status: st, Sequence: req.Sequence, Body: body})
}

func (s *session) readLoop() {
	r := bufio.NewReader(s.conn)
	for {
		p, err := ReadPDU(r)
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) && p != nil {
				s.c.log.Warn("smpp: invalid PDU", "command", de.Command, "sequence", de.Sequence, "reason", de.Reason)
				if de.Command.IsResponse() {
					s.complete(de.Sequence, callResult{err: err})
				} else {
					// 4.3: generic_nack answers a PDU that cannot be decoded.
					_ = s.write(&PDU{Command: GenericNack, Status: de.Status, Sequence: de.Sequence})
				}
				continue
			}
			s.close(fmt.Errorf("reading: %w", err))
			return
		}
		s.dispatch(p)
	}
}

func (s *session) dispatch(p *PDU) {
	if p.Command.IsResponse() {
		if !s.complete(p.Sequence, callResult{pdu: p}) {
			s.c.log.Debug("smpp: response to no outstanding request", "command", p.Command, "sequence", p.Sequence)
		}
		return
	}
	switch p.Command {
	case EnquireLink:
		s.respond(p, StatusOK, nil)
	case Unbind:
		s.respond(p, StatusOK, nil)
		s.close(ErrUnboundBySMSC)
	case DeliverSM, DataSM:
		select {
		case s.inbound[s.inboundIndex(p)] <- p:
		case <-s.done:
		}
	default:
		// Binds and submits are for the SMSC to receive, not to send.
		_ = s.write(&PDU{Command: GenericNack, Status: StatusInvCmdID, Sequence: p.Sequence})
	}
}

// inboundIndex picks the inbound loop of a deliver_sm or data_sm by its
// source address: the handset's, for its messages and for the receipts of
// the messages sent to it, which so stay in arrival order.
func (s *session) inboundIndex(p *PDU) int {
	if len(s.inbound) == 1 {
		return 0
	}
	var src string
	switch b := p.Body.(type) {
	case *ShortMessage:
		src = b.Source
	case *Data:
		src = b.Source
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(src))
	return int(h.Sum32() % uint32(len(s.inbound)))
}

// inboundLoop hands the deliver_sm and data_sm of its channel to the
// client's callbacks one at a time, in arrival order, and answers each once
// its callback has returned, so a message is acknowledged only after the
// application took it. Several loops run at once (Config.InboundWorkers):
// a callback that commits to a database does not hold up the others, nor,
// once its queue is full, the reading of submit_sm_resp.
func (s *session) inboundLoop(inbound <-chan *PDU) {
	for {
		select {
		case p := <-inbound:
			st := s.c.handleInbound(p)
			var body any = &MessageResp{}
			if p.Command == DataSM && st != StatusOK {
				body = nil
			}
			s.respond(p, st, body)
		case <-s.done:
			return
		}
	}
}

// enquireLoop sends enquire_link every interval; a missing answer ends the
// session, which makes the client reconnect (2.8).
func (s *session) enquireLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.c.cfg.Timeouts.Response)
			// Any answer, even a generic_nack from an SMSC that does not
			// implement enquire_link, shows the link is up.
			_, err := s.roundTrip(ctx, &PDU{Command: EnquireLink})
			cancel()
			if err != nil {
				s.close(fmt.Errorf("enquire_link: %w", err))
				return
			}
		case <-s.done:
			return
		}
	}
}

// unbind ends the session politely: unbind, wait for unbind_resp, close.
func (s *session) unbind(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := s.roundTrip(ctx, &PDU{Command: Unbind})
	if err != nil {
		s.c.log.Warn("smpp: unbind", "err", err)
	}
	s.close(ErrClosed)
}
