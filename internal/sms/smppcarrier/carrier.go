// Package smppcarrier connects the SMS service to a carrier over SMPP 3.4:
// an sms.Provider over an internal/smpp Client. Text messages go out as
// submit_sm (concatenated when long) asking for delivery receipts; the
// receipts come back to the service as sms.Receipts naming the message_id
// of their part (SubmitParts gives the service every part's), and
// mobile-originated deliver_sm as sms.Inbound.
package smppcarrier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/smpp"
	"github.com/tidings/tidings/internal/sms"
)

// Type of number and numbering plan indicator values (SMPP 3.4 5.2.5-6).
const (
	tonUnknown       byte = 0
	tonInternational byte = 1
	tonNetwork       byte = 3
	tonAlphanumeric  byte = 5
	npiUnknown       byte = 0
	npiISDN          byte = 1
)

var _ sms.PartsProvider = (*Carrier)(nil)

// Carrier is an sms.Provider over one SMPP bind. Its zero value is not
// usable: call New.
type Carrier struct {
	cfg smpp.Config
	log *slog.Logger

	mu     sync.RWMutex // guards client and sink; held (read) around sink calls
	client *smpp.Client
	sink   sms.Sink
	closed bool

	// Receipts that cross the service's recording of their ids (an SMSC
	// may send a part's receipt before the last part is even submitted)
	// are retried in the background for a while: early.
	early     sync.WaitGroup
	stopEarly chan struct{}
	stopOnce  sync.Once
}

// New returns a carrier binding with cfg once started. cfg.OnReceipt and
// cfg.OnMessage are the carrier's own; cfg.Logger defaults to log.
func New(cfg smpp.Config, log *slog.Logger) *Carrier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("carrier", "smpp", "smsc", cfg.Addr)
	if cfg.Logger == nil {
		cfg.Logger = log
	}
	return &Carrier{cfg: cfg, log: log, stopEarly: make(chan struct{})}
}

// EarlyReceiptWait bounds how long a receipt naming an id the service does
// not know yet is retried before it is dropped.
const EarlyReceiptWait = 30 * time.Second

// Start binds in the background (Submit waits for the bind; the client
// reconnects when the connection is lost) and delivers receipts and
// inbound messages to sink. It fails only on a configuration error.
func (c *Carrier) Start(_ context.Context, sink sms.Sink) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("smppcarrier: closed")
	}
	if c.client != nil {
		return errors.New("smppcarrier: already started")
	}
	cfg := c.cfg
	cfg.OnReceipt = c.onReceipt
	cfg.OnMessage = c.onMessage
	c.sink = sink
	client, err := smpp.New(cfg)
	if err != nil {
		return fmt.Errorf("smppcarrier: %w", err)
	}
	c.client = client
	c.log.Info("SMPP carrier binding", "system_id", cfg.SystemID)
	return nil
}

// Close unbinds. No sink call starts after it returns.
func (c *Carrier) Close() error {
	c.stopOnce.Do(func() { close(c.stopEarly) })
	c.early.Wait()
	c.mu.Lock() // waits for sink calls in progress
	c.closed = true
	client := c.client
	c.mu.Unlock()
	if client == nil {
		return nil
	}
	return client.Close()
}

// Submit sends a text message and returns the SMSC's message_id of its
// first part. A final refusal (by this carrier or the SMSC) wraps
// sms.ErrRejected; other errors are transient.
func (c *Carrier) Submit(ctx context.Context, m *sms.Outbound) (string, error) {
	ids, err := c.SubmitParts(ctx, m)
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// SubmitParts is Submit returning the SMSC's message_id of every part
// (one submit_sm each), first part first: each part has its own receipt.
func (c *Carrier) SubmitParts(ctx context.Context, m *sms.Outbound) ([]string, error) {
	c.mu.RLock()
	client, closed := c.client, c.closed
	c.mu.RUnlock()
	if closed {
		return nil, smpp.ErrClosed
	}
	if client == nil {
		return nil, errors.New("smppcarrier: Submit before Start")
	}
	msg, err := message(m, time.Now())
	if err != nil {
		return nil, err
	}
	res, err := client.Submit(ctx, msg)
	if err != nil {
		if ctx.Err() == nil && !smpp.IsRetryable(err) && !errors.Is(err, smpp.ErrClosed) {
			return nil, fmt.Errorf("%w: the SMSC refused the message: %w", sms.ErrRejected, err)
		}
		return nil, err
	}
	if len(res.MessageIDs) == 0 || res.MessageIDs[0] == "" {
		return nil, fmt.Errorf("%w: the SMSC accepted the message without a message_id", sms.ErrRejected)
	}
	if len(res.MessageIDs) > 1 {
		c.log.Debug("SMPP message submitted in parts", "message_id", m.MessageID, "part_ids", res.MessageIDs)
	}
	return res.MessageIDs, nil
}

// message turns an outbound message into an SMPP one.
func message(m *sms.Outbound, now time.Time) (smpp.Message, error) {
	if m.Channel != sms.ChannelText && m.Channel != "" {
		return smpp.Message{}, fmt.Errorf("%w: the SMPP carrier carries text messages only, not %s", sms.ErrRejected, m.Channel)
	}
	src, srcTON, srcNPI, err := sourceAddress(m.Origination)
	if err != nil {
		return smpp.Message{}, err
	}
	dst, err := destinationAddress(m.Destination)
	if err != nil {
		return smpp.Message{}, err
	}
	msg := smpp.Message{
		Source: src, SourceTON: srcTON, SourceNPI: srcNPI,
		Dest: dst, DestTON: tonInternational, DestNPI: npiISDN,
		Text:               m.Body,
		RegisteredDelivery: 1, // a receipt on final delivery or failure
	}
	switch m.Encoding {
	case sms.GSM7:
		msg.Encoding = smpp.EncodingGSM7
	case sms.UCS2:
		msg.Encoding = smpp.EncodingUCS2
	}
	if !m.ExpiresAt.IsZero() {
		msg.ValidityPeriod = relativeTime(m.ExpiresAt.Sub(now))
	}
	return msg, nil
}

// sourceAddress maps an origination identity: an E.164 number (TON 1,
// NPI 1, without '+'), a short code (up to 8 digits: TON 3, NPI 0) or an
// alphanumeric sender ID (TON 5, NPI 0).
func sourceAddress(s string) (addr string, ton, npi byte, err error) {
	switch {
	case strings.HasPrefix(s, "+") && isDigits(s[1:]) && len(s) > 1:
		return s[1:], tonInternational, npiISDN, nil
	case isDigits(s) && len(s) <= 8:
		return s, tonNetwork, npiUnknown, nil
	case isDigits(s):
		return s, tonInternational, npiISDN, nil
	case s != "" && len(s) <= 11 && isAlnum(s):
		return s, tonAlphanumeric, npiUnknown, nil
	}
	return "", 0, 0, fmt.Errorf("%w: origination %q is neither an E.164 number, a short code nor an alphanumeric sender ID of at most 11 characters", sms.ErrRejected, s)
}

// destinationAddress maps an E.164 destination to its digits.
func destinationAddress(s string) (string, error) {
	d := strings.TrimPrefix(s, "+")
	if d == "" || !isDigits(d) || len(d) > 15 {
		return "", fmt.Errorf("%w: destination %q is not an E.164 number", sms.ErrRejected, s)
	}
	return d, nil
}

// e164 reads an address of a deliver_sm as E.164 when it is one: '+' is
// added for TON 1, and for digits only of international length when the
// TON is unknown; other addresses (short codes, names) are kept as they are.
func e164(addr string, ton byte) string {
	d := strings.TrimPrefix(addr, "+")
	if !isDigits(d) || d == "" {
		return addr
	}
	if ton == tonInternational || strings.HasPrefix(addr, "+") || (ton == tonUnknown && len(d) >= 10) {
		return "+" + d
	}
	return addr
}

// relativeTime is d in the relative time format of SMPP 3.4 7.1.1.2,
// "YYMMDDhhmmss000R"; "" when d is not positive (the SMSC's default).
func relativeTime(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	s := int64((d + time.Second - 1) / time.Second)
	days := s / 86400
	s %= 86400
	years := days / 365
	days %= 365
	if years > 99 {
		years, days = 99, 0
	}
	months := days / 30
	days %= 30
	return fmt.Sprintf("%02d%02d%02d%02d%02d%02d000R", years, months, days, s/3600, s%3600/60, s%60)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == ' ' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// status maps an SMPP receipt to the status the service reports.
func status(r smpp.Receipt) sms.Status {
	switch r.State {
	case smpp.StateDelivered:
		return sms.StatusDelivered
	case smpp.StateEnroute, smpp.StateAccepted:
		return sms.StatusSuccessful
	case smpp.StateExpired:
		return sms.StatusTTLExpired
	case smpp.StateUndeliverable:
		return sms.StatusUnreachable
	case smpp.StateRejected:
		return sms.StatusBlocked
	case smpp.StateDeleted, smpp.StateUnknown:
		// DELETED: the message was removed from the SMSC undelivered; AWS
		// has no event type for it, UNKNOWN is the nearest final one.
		return sms.StatusUnknown
	}
	if r.Intermediate {
		return sms.StatusSuccessful
	}
	return sms.StatusUnknown
}

// receipt maps an SMPP receipt to an sms.Receipt.
func receipt(r smpp.Receipt) sms.Receipt {
	st := status(r)
	stat := r.Stat
	if stat == "" && r.State != 0 {
		stat = r.State.String()
	}
	desc := "SMSC receipt stat:" + stat
	if r.Err != "" {
		desc += " err:" + r.Err
	}
	if r.NetworkError != nil {
		desc += " network_error:" + r.NetworkError.String()
	}
	return sms.Receipt{ProviderID: r.MessageID, Status: st, Description: desc, At: r.DoneDate}
}

// sinkFor returns the sink and a release func while the carrier is open.
func (c *Carrier) sinkFor() (sms.Sink, func(), error) {
	c.mu.RLock()
	if c.closed || c.sink == nil {
		c.mu.RUnlock()
		return nil, nil, errors.New("smppcarrier: closed")
	}
	return c.sink, c.mu.RUnlock, nil
}

func (c *Carrier) onReceipt(ctx context.Context, r smpp.Receipt) error {
	if r.MessageID == "" {
		c.log.Warn("SMPP receipt without a message id dropped", "text", r.Raw)
		return nil
	}
	sink, release, err := c.sinkFor()
	if err != nil {
		return err
	}
	defer release()
	rc := receipt(r)
	err = sink.Receipt(ctx, rc)
	if fault.Is(err, fault.NotFound) {
		// Either the service has not recorded the id yet (the receipt
		// crossed the submit_sm_resp of a later part, or the commit) or
		// the message is not this database's: retried here a while,
		// the SMSC is answered at once.
		c.early.Add(1)
		go c.retryEarly(rc)
		return nil
	}
	return err
}

func (c *Carrier) retryEarly(rc sms.Receipt) {
	defer c.early.Done()
	deadline := time.Now().Add(EarlyReceiptWait)
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		select {
		case <-c.stopEarly:
			return
		case <-time.After(delay):
		}
		sink, release, err := c.sinkFor()
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = sink.Receipt(ctx, rc)
		cancel()
		release()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.log.Debug("SMPP receipt for an unknown message id dropped", "message_id", rc.ProviderID, "status", rc.Status, "err", err)
			return
		}
	}
}

func (c *Carrier) onMessage(ctx context.Context, in smpp.Incoming) error {
	sink, release, err := c.sinkFor()
	if err != nil {
		return err
	}
	defer release()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return sink.Inbound(ctx, sms.Inbound{
		ID:          "smpp-" + hex.EncodeToString(b),
		Origination: e164(in.Source, in.SourceTON),
		Destination: e164(in.Dest, in.DestTON),
		Body:        in.Text,
		At:          time.Now(),
	})
}
