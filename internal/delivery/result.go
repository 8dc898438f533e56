package delivery

import (
	"strconv"
	"strings"
)

// Status is the outcome of a delivery attempt for one recipient.
//
// The zero value is Deferred, so a recipient that a code path forgets to
// settle is tried again rather than lost or bounced.
type Status int

const (
	// Deferred: a temporary failure (4xx, network, DNS); try again later.
	Deferred Status = iota
	// Delivered: the remote server accepted responsibility (2xx after the data).
	Delivered
	// Failed: a permanent failure (5xx, null MX, …); send a DSN, do not retry.
	Failed
)

func (s Status) String() string {
	switch s {
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	default:
		return "deferred"
	}
}

// Reply is an SMTP reply (RFC 5321 4.2), or its local equivalent when the
// condition arose on this side (DNS, network, TLS policy): then Code is 0.
type Reply struct {
	Code     int    // reply code; 0 when the condition was local
	Enhanced string // enhanced status code (RFC 3463), e.g. "5.1.1"; may be empty for remote replies
	Text     string // reply text, lines joined by spaces
}

// String renders the reply as an SMTP server would: "550 5.1.1 text".
func (r Reply) String() string {
	var b strings.Builder
	if r.Code != 0 {
		b.WriteString(strconv.Itoa(r.Code))
		b.WriteByte(' ')
	}
	if r.Enhanced != "" {
		b.WriteString(r.Enhanced)
		b.WriteByte(' ')
	}
	b.WriteString(r.Text)
	return b.String()
}

// Status is the enhanced status code of the reply, or one derived from the
// reply code's class (RFC 3463 3.1: X.0.0 when nothing more is known).
func (r Reply) Status() string {
	if r.Enhanced != "" {
		return r.Enhanced
	}
	switch r.Code / 100 {
	case 2:
		return "2.0.0"
	case 5:
		return "5.0.0"
	default:
		return "4.0.0"
	}
}

// statusOf maps a reply code to an outcome: 2xx delivered, 5xx failed, and
// everything else (4xx, and codes no server should send at that point)
// deferred.
func statusOf(code int) Status {
	switch code / 100 {
	case 2:
		return Delivered
	case 5:
		return Failed
	default:
		return Deferred
	}
}

func localReply(enhanced, text string) Reply { return Reply{Enhanced: enhanced, Text: text} }

// RecipientResult is what happened to one recipient.
type RecipientResult struct {
	Recipient string
	Status    Status
	Reply     Reply
	// RemoteMTA is the host name of the server that gave Reply; empty when the
	// reply is local.
	RemoteMTA string
}

// Result is the outcome of one Deliver call.
type Result struct {
	// Recipients are in the order of Envelope.Recipients.
	Recipients []RecipientResult
	// RemoteMTA and RemoteAddr name the last server talked to ("" if none).
	RemoteMTA  string
	RemoteAddr string
	// TLS reports whether that session was encrypted.
	TLS bool
}

// Count returns how many recipients ended with the status.
func (r *Result) Count(s Status) int {
	n := 0
	for i := range r.Recipients {
		if r.Recipients[i].Status == s {
			n++
		}
	}
	return n
}

// Select returns the recipients that ended with the status.
func (r *Result) Select(s Status) []RecipientResult {
	var out []RecipientResult
	for _, rr := range r.Recipients {
		if rr.Status == s {
			out = append(out, rr)
		}
	}
	return out
}
