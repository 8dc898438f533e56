package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/internal/pace"
)

// BindMode is how the client binds (2.2).
type BindMode int

const (
	// Transceiver submits and receives on one connection (bind_transceiver).
	Transceiver BindMode = iota
	// Transmitter only submits (bind_transmitter).
	Transmitter
	// Receiver only receives receipts and messages (bind_receiver).
	Receiver
)

func (m BindMode) command() CommandID {
	switch m {
	case Transmitter:
		return BindTransmitter
	case Receiver:
		return BindReceiver
	}
	return BindTransceiver
}

// Concat is how the parts of a long message are tied together.
type Concat int

const (
	// ConcatUDH puts a user data header with an 8-bit reference in each part
	// (TS 23.040 9.2.3.24.1), the form handsets and most SMSCs expect.
	ConcatUDH Concat = iota
	// ConcatSAR uses the sar_msg_ref_num, sar_total_segments and
	// sar_segment_seqnum parameters (5.3.2.22-24) and lets the SMSC build the
	// header.
	ConcatSAR
)

// Timeouts bound the waits of the client.
type Timeouts struct {
	Connect  time.Duration // dialing and binding; default 10s
	Response time.Duration // any request's response, and a write; default 10s
}

// Backoff spaces reconnection attempts: Min after a lost connection, then
// doubling up to Max while attempts fail.
type Backoff struct {
	Min time.Duration // default 1s
	Max time.Duration // default 1m
}

// Config configures a Client.
type Config struct {
	Addr       string // host:port of the SMSC
	SystemID   string
	Password   string
	SystemType string
	BindMode   BindMode
	// AddrTON, AddrNPI and AddressRange go in the bind (5.2.7-9); receivers
	// use them to select the messages they get.
	AddrTON, AddrNPI byte
	AddressRange     string

	// Window is how many requests may await their response at once; default 10.
	Window int
	// InboundWorkers is how many deliver_sm and data_sm (receipts and
	// mobile-originated messages) are handed to OnReceipt and OnMessage at
	// once; default 64. Those from one source address (one handset) are
	// handled one at a time, in arrival order; the others may be answered
	// out of order, which SMPP allows (responses carry the sequence number).
	// A callback that waits for a durable commit holds its loop for the
	// commit's fsync; with too few loops the receipts back up, the read
	// loop waits for room and the submit_sm_resp behind them wait too, so
	// the window stays full (8 loops: 882–957 submit_sm/s end to end in
	// bench/sms with a window of 50, 1,050–1,065 with 64).
	InboundWorkers int
	// Rate limits submit_sm PDUs (one per part) per second; 0 is no limit.
	Rate float64
	// EnquireLink is the keepalive interval; default 30s, negative disables.
	EnquireLink time.Duration
	Timeouts    Timeouts
	Backoff     Backoff

	// GSMPacked sends and reads GSM-7 packed seven bits per septet. The
	// default, one septet per octet, is what SMPP SMSCs usually expect.
	GSMPacked bool
	Concat    Concat
	// Reassembly bounds how long the parts of a concatenated inbound message
	// are kept waiting for the rest; default 10 minutes.
	Reassembly time.Duration

	// OnReceipt receives delivery receipts. An error answers the SMSC with
	// ESME_RX_T_APPN so that it delivers the receipt again later.
	OnReceipt func(context.Context, Receipt) error
	// OnMessage receives mobile-originated messages, concatenated ones once
	// complete. An error answers with ESME_RX_T_APPN.
	OnMessage func(context.Context, Incoming) error

	Logger *slog.Logger
	// Dial opens the connection; default a net.Dialer. Set it for TLS.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Errors of the client. ErrConnectionLost, ErrNotBound and
// ErrResponseTimeout are retryable (see IsRetryable); for the first and last
// the SMSC may have accepted the message, so a retry can send it twice.
var (
	ErrClosed          = errors.New("smpp: client closed")
	ErrNotBound        = errors.New("smpp: not bound to the SMSC")
	ErrConnectionLost  = errors.New("smpp: connection lost before the response")
	ErrResponseTimeout = errors.New("smpp: no response in time")
	ErrUnboundBySMSC   = errors.New("smpp: the SMSC unbound")
)

// IsRetryable reports whether a failed Submit may succeed if tried again:
// the connection was lost or not up, the response did not come, or the SMSC
// answered with a temporary status (throttled, queue full, system error).
func IsRetryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Temporary()
	}
	return errors.Is(err, ErrConnectionLost) || errors.Is(err, ErrNotBound) || errors.Is(err, ErrResponseTimeout)
}

// Client is an ESME bound to one SMSC. It keeps the bind up, reconnecting
// with exponential backoff when the connection is lost. It is safe for
// concurrent use.
type Client struct {
	cfg     Config
	log     *slog.Logger
	window  chan struct{} // one token per outstanding windowed request
	limiter *pace.Pacer
	ref     atomic.Uint32 // concatenation references
	mo      *reassembler

	ctx    context.Context // cancelled by Close; given to the callbacks
	cancel context.CancelFunc
	// dialCtx bounds dialing and binding; Close cancels it at once so that
	// it does not wait out a connect timeout.
	dialCtx    context.Context
	cancelDial context.CancelFunc
	closed     chan struct{} // closed by Close
	done       chan struct{} // closed when the connection loop has stopped
	first      chan error    // the outcome of the first bind

	mu      sync.Mutex
	sess    *session      // the bound session; nil while not bound
	bound   chan struct{} // closed when sess is set
	lastErr error         // why the last bind failed or session ended
}

// New checks cfg and returns a client that connects and binds in the
// background; Submit waits for the bind. Use Dial to wait for the first bind
// and see its error.
func New(cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("smpp: no SMSC address")
	}
	if len(cfg.SystemID) > maxSystemID-1 || len(cfg.Password) > maxPassword-1 || len(cfg.SystemType) > maxSystemType-1 {
		return nil, fmt.Errorf("smpp: system_id, password or system_type over its limit (%d, %d, %d octets)", maxSystemID-1, maxPassword-1, maxSystemType-1)
	}
	if cfg.Window <= 0 {
		cfg.Window = 10
	}
	if cfg.InboundWorkers <= 0 {
		cfg.InboundWorkers = 64
	}
	if cfg.EnquireLink == 0 {
		cfg.EnquireLink = 30 * time.Second
	}
	if cfg.Timeouts.Connect <= 0 {
		cfg.Timeouts.Connect = 10 * time.Second
	}
	if cfg.Timeouts.Response <= 0 {
		cfg.Timeouts.Response = 10 * time.Second
	}
	if cfg.Backoff.Min <= 0 {
		cfg.Backoff.Min = time.Second
	}
	if cfg.Backoff.Max < cfg.Backoff.Min {
		cfg.Backoff.Max = max(time.Minute, cfg.Backoff.Min)
	}
	if cfg.Reassembly <= 0 {
		cfg.Reassembly = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	c := &Client{
		cfg:     cfg,
		log:     cfg.Logger.With("smsc", cfg.Addr, "system_id", cfg.SystemID),
		window:  make(chan struct{}, cfg.Window),
		limiter: pace.New(cfg.Rate),
		mo:      newReassembler(cfg.Reassembly),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
		first:   make(chan error, 1),
		bound:   make(chan struct{}),
	}
	// A random first reference keeps a restarted client from reusing the
	// references of the messages it sent just before (handsets join parts
	// by sender and reference).
	c.ref.Store(rand.Uint32())
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.dialCtx, c.cancelDial = context.WithCancel(context.Background())
	go c.run()
	return c, nil
}

// Dial is New followed by a wait for the first bind: it returns the bind's
// error (a *StatusError such as ESME_RINVPASWD, or the dial error) and no
// client if that bind fails.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case err = <-c.first:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// run keeps a session bound until Close.
func (c *Client) run() {
	defer close(c.done)
	backoff := c.cfg.Backoff.Min
	first := true
	for {
		s, err := c.connect()
		if first {
			c.first <- err
			first = false
		}
		if err != nil {
			c.log.Warn("smpp: bind failed", "err", err, "retry_in", backoff)
			c.setLost(err)
		} else {
			c.log.Info("smpp: bound", "mode", c.cfg.BindMode.command())
			backoff = c.cfg.Backoff.Min
			c.setSession(s)
			select {
			case <-s.done:
				err = s.ended()
				c.setLost(err)
				c.log.Warn("smpp: connection lost", "err", err, "retry_in", backoff)
			case <-c.closed:
				c.setLost(ErrClosed)
				c.drain()
				s.unbind(c.cfg.Timeouts.Response)
				return
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-c.closed:
			t.Stop()
			return
		}
		if err != nil && s == nil {
			backoff = min(2*backoff, c.cfg.Backoff.Max)
		}
	}
}

// connect dials and binds.
func (c *Client) connect() (*session, error) {
	ctx, cancel := context.WithTimeout(c.dialCtx, c.cfg.Timeouts.Connect)
	defer cancel()
	conn, err := c.cfg.Dial(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smpp: dialing %s: %w", c.cfg.Addr, err)
	}
	s := newSession(c, conn)
	cmd := c.cfg.BindMode.command()
	resp, err := s.roundTrip(ctx, &PDU{Command: cmd, Body: &Bind{
		SystemID:         c.cfg.SystemID,
		Password:         c.cfg.Password,
		SystemType:       c.cfg.SystemType,
		InterfaceVersion: InterfaceVersion,
		AddrTON:          c.cfg.AddrTON,
		AddrNPI:          c.cfg.AddrNPI,
		AddressRange:     c.cfg.AddressRange,
	}})
	if err == nil && resp.Status != StatusOK {
		err = &StatusError{Command: cmd, Status: resp.Status}
	} else if err == nil && resp.Command != cmd.Response() {
		err = fmt.Errorf("smpp: %s answered with %s", cmd, resp.Command)
	}
	if err != nil {
		s.close(err)
		return nil, err
	}
	if c.cfg.EnquireLink > 0 {
		go s.enquireLoop(c.cfg.EnquireLink)
	}
	return s, nil
}

func (c *Client) setSession(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sess = s
	c.lastErr = nil
	close(c.bound)
}

func (c *Client) setLost(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		c.sess = nil
		c.bound = make(chan struct{})
	}
	c.lastErr = err
}

// session waits until the client is bound.
func (c *Client) session(ctx context.Context) (*session, error) {
	for {
		c.mu.Lock()
		s, bound, lastErr := c.sess, c.bound, c.lastErr
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-bound:
		case <-c.closed:
			return nil, ErrClosed
		case <-ctx.Done():
			if lastErr != nil {
				return nil, fmt.Errorf("%w (%v): %w", ErrNotBound, lastErr, ctx.Err())
			}
			return nil, fmt.Errorf("%w: %w", ErrNotBound, ctx.Err())
		}
	}
}

// Bound reports whether the client is bound now.
func (c *Client) Bound() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess != nil
}

// drain waits, up to the response timeout, for the outstanding requests to
// be answered, by taking every window slot.
func (c *Client) drain() {
	t := time.NewTimer(c.cfg.Timeouts.Response)
	defer t.Stop()
	for range cap(c.window) {
		select {
		case c.window <- struct{}{}:
		case <-t.C:
			return
		}
	}
}

// Close waits for outstanding submits to be answered, unbinds and closes the
// connection. Submits still waiting fail with ErrClosed.
func (c *Client) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	c.cancelDial()
	<-c.done
	c.cancel()
	return nil
}
