package sms

import (
	"context"
	"time"
)

// Channel is what kind of message a provider carries.
type Channel string

const (
	ChannelText  Channel = "TEXT"
	ChannelVoice Channel = "VOICE"
	ChannelMedia Channel = "MEDIA"
)

// Provider is one carrier connection: the built-in simulator, an SMPP bind,
// an HTTP gateway, WhatsApp. The service hands it messages from the send
// job (Submit); the provider reports what becomes of them, and the
// messages people send to its numbers, through the Sink the service gives
// Start. One interface for all carriers, one conformance suite
// (providertest) for all implementations.
//
// Submit may be called concurrently. It returns once the carrier has
// accepted the message (SMPP submit_sm_resp, an HTTP 2xx), with the
// carrier's identifier of it, which later receipts may name instead of
// MessageID. An error wrapping ErrRejected is final (the carrier refused
// this message: the service reports TEXT_INVALID and does not retry); any
// other error is transient and the job retries with backoff.
type Provider interface {
	// Start is called once, before the first Submit; the provider delivers
	// receipts and inbound messages to sink until Close. ctx bounds the
	// start-up only (a bind, a first connection).
	Start(ctx context.Context, sink Sink) error
	Submit(ctx context.Context, m *Outbound) (providerID string, err error)
	// Close stops the provider: no sink call starts after it returns.
	Close() error
}

// PartsProvider is a Provider whose carrier acknowledges each part of a
// concatenated message with its own id (SMPP: one submit_sm per part).
// The service calls SubmitParts instead of Submit: it returns every
// part's id, the first part's first, and receipts may name any of them;
// the message is DELIVERED once every part is, and fails when one does.
type PartsProvider interface {
	Provider
	SubmitParts(ctx context.Context, m *Outbound) (partIDs []string, err error)
}

// Sink receives what carriers report. Its methods commit before they
// return; a provider that gets an error may retry the call later (both are
// idempotent per receipt status and per inbound ID).
type Sink interface {
	Receipt(ctx context.Context, r Receipt) error
	Inbound(ctx context.Context, m Inbound) error
}

// Outbound is one message for a carrier.
type Outbound struct {
	MessageID string
	Channel   Channel
	// Origination is the E.164 number or the alphanumeric sender ID the
	// message comes from; Destination is E.164.
	Origination string
	Destination string
	// IsoCountryCode is the destination's country.
	IsoCountryCode string
	// MessageType is TRANSACTIONAL or PROMOTIONAL.
	MessageType string
	// Body is the text (TEXT), the caption (MEDIA) or the text that was
	// spoken (VOICE).
	Body string
	// Encoding and Segments describe Body split for SMS (TEXT only): the
	// provider concatenates with a UDH of that many parts.
	Encoding Encoding
	Segments int
	// Audio is the spoken message as a WAV file (VOICE only).
	Audio []byte
	// MediaURLs are the media of a MEDIA message.
	MediaURLs []string
	// ExpiresAt is when the carrier should stop trying (TimeToLive).
	ExpiresAt time.Time
	// Simulator is true when Origination is a SIMULATOR number.
	Simulator bool
	// Context is the send's Context (a provider may read its own keys
	// there: the WhatsApp template of a message).
	Context map[string]string
}

// Status is what a receipt says of a message. With the channel it gives
// the event type: TEXT_ + DELIVERED = TEXT_DELIVERED.
type Status string

const (
	StatusQueued             Status = "QUEUED"
	StatusSuccessful         Status = "SUCCESSFUL" // accepted by the carrier
	StatusDelivered          Status = "DELIVERED"  // accepted by the handset
	StatusInvalid            Status = "INVALID"
	StatusInvalidMessage     Status = "INVALID_MESSAGE"
	StatusUnreachable        Status = "UNREACHABLE"
	StatusCarrierUnreachable Status = "CARRIER_UNREACHABLE"
	StatusBlocked            Status = "BLOCKED"
	StatusCarrierBlocked     Status = "CARRIER_BLOCKED"
	StatusSpam               Status = "SPAM"
	StatusUnknown            Status = "UNKNOWN"
	StatusTTLExpired         Status = "TTL_EXPIRED"
	// Voice calls.
	StatusInitiated Status = "INITIATED"
	StatusRinging   Status = "RINGING"
	StatusAnswered  Status = "ANSWERED"
	StatusCompleted Status = "COMPLETED"
	StatusBusy      Status = "BUSY"
	StatusNoAnswer  Status = "NO_ANSWER"
	StatusFailed    Status = "FAILED"
)

// Final reports whether no further receipt follows s.
func (s Status) Final() bool {
	switch s {
	case StatusQueued, StatusSuccessful, StatusInitiated, StatusRinging, StatusAnswered:
		return false
	}
	return true
}

// Receipt is a carrier's report on one message, naming it by MessageID or
// by the ProviderID Submit returned.
type Receipt struct {
	MessageID   string
	ProviderID  string
	Status      Status
	Description string
	At          time.Time
	// PriceUSD is what the carrier charged, when it says.
	PriceUSD float64
}

// Inbound is a message a person sent to one of our numbers.
type Inbound struct {
	// ID is the carrier's identifier, unique per provider (the service
	// makes one when empty).
	ID          string
	Origination string // the sender, E.164
	Destination string // our number, E.164
	Body        string
	At          time.Time
}
