// Package simulator is the built-in SMS, voice and media provider: it
// never leaves the machine. Messages to the destination simulator numbers
// AWS documents (sms.SimulatorDestinations) succeed or fail as documented;
// any other message is accepted and delivered. Each message is kept in an
// outbox (the last MaxKept), voice messages with their audio, so that
// tests and the console can look at what was sent; Inject plays a message
// sent by a person to one of our numbers.
package simulator

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/durable"
	"github.com/tidings/tidings/internal/sms"
)

// MaxKept bounds the outbox.
const MaxKept = 10000

// Simulator is an sms.Provider.
type Simulator struct {
	// AudioDir, when set, receives each voice message's audio as
	// <MessageID>.wav.
	AudioDir string
	log      *slog.Logger

	mu     sync.Mutex
	sink   sms.Sink
	kept   map[string]*sms.Outbound
	order  []string
	closed bool
	wg     sync.WaitGroup
	stop   chan struct{}
}

var _ sms.Provider = (*Simulator)(nil)

// New returns a simulator; audioDir may be "".
func New(audioDir string, log *slog.Logger) *Simulator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Simulator{AudioDir: audioDir, log: log, kept: map[string]*sms.Outbound{}, stop: make(chan struct{})}
}

func (s *Simulator) Start(_ context.Context, sink sms.Sink) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sink = sink
	return nil
}

// Submit keeps the message and reports its fate asynchronously, as a
// carrier does.
func (s *Simulator) Submit(ctx context.Context, m *sms.Outbound) (string, error) {
	if m.Channel == sms.ChannelVoice && s.AudioDir != "" {
		if err := os.MkdirAll(s.AudioDir, 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(s.AudioDir, m.MessageID+".wav"), m.Audio, 0o600); err != nil {
			return "", err
		}
	}
	s.mu.Lock()
	if s.closed || s.sink == nil {
		s.mu.Unlock()
		return "", errors.New("simulator: not running")
	}
	if _, dup := s.kept[m.MessageID]; !dup {
		s.order = append(s.order, m.MessageID)
	}
	s.kept[m.MessageID] = m
	for len(s.order) > MaxKept {
		delete(s.kept, s.order[0])
		s.order = s.order[1:]
	}
	sink := s.sink
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		for _, st := range outcome(m) {
			s.report(sink, sms.Receipt{MessageID: m.MessageID, ProviderID: "sim-" + m.MessageID, Status: st})
		}
	}()
	return "sim-" + m.MessageID, nil
}

// outcome is the receipts a message gets.
func outcome(m *sms.Outbound) []sms.Status {
	success := true
	if o, ok := sms.SimulatorDestinations[m.Destination]; ok {
		success = o.Success
	}
	switch {
	case m.Channel == sms.ChannelVoice && success:
		return []sms.Status{sms.StatusInitiated, sms.StatusCompleted}
	case m.Channel == sms.ChannelVoice:
		return []sms.Status{sms.StatusInitiated, sms.StatusFailed}
	case success:
		return []sms.Status{sms.StatusSuccessful, sms.StatusDelivered}
	}
	return []sms.Status{sms.StatusCarrierUnreachable}
}

// report hands a receipt to the sink, retrying a few times when the
// database is busy.
func (s *Simulator) report(sink sms.Sink, r sms.Receipt) {
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		// Lazy: a made-up receipt need not survive a power cut (the
		// message then ends UNKNOWN), only a crash of the process.
		ctx, cancel := context.WithTimeout(durable.Lazy(context.Background()), time.Minute)
		err := sink.Receipt(ctx, r)
		cancel()
		if err == nil {
			return
		}
		if attempt == 5 {
			s.log.Error("simulator: receipt lost", "message", r.MessageID, "status", r.Status, "err", err)
			return
		}
		select {
		case <-s.stop:
			s.log.Warn("simulator: receipt dropped at shutdown", "message", r.MessageID, "status", r.Status)
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// Inject plays an inbound message: a person sent in.Body from
// in.Origination to our number in.Destination.
func (s *Simulator) Inject(ctx context.Context, in sms.Inbound) error {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	if sink == nil {
		return errors.New("simulator: not running")
	}
	return sink.Inbound(ctx, in)
}

// Sent returns a kept message by ID.
func (s *Simulator) Sent(id string) (*sms.Outbound, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.kept[id]
	return m, ok
}

func (s *Simulator) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
