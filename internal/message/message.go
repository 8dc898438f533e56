// Package message holds what the gateway knows about a message besides its
// bytes: the SMTP connection it came on, its envelope, and the verdicts of
// the checks run on receipt. The SMTP server fills it, the spool stores it,
// and the traffic policy and rule engine read it.
package message

import (
	"crypto/x509"
	"net/netip"
	"time"
)

// Conn is the SMTP connection a message arrived on.
type Conn struct {
	RemoteIP   netip.Addr
	RemotePort int
	Helo       string // EHLO/HELO argument
	// TLS is the negotiated protocol ("TLS1_2", "TLS1_3"; the names of the
	// Mail Manager model), or "" for a cleartext session.
	TLS         string
	TLSCipher   string
	TLSWrapped  bool   // implicit TLS (port 465 style) rather than STARTTLS
	AuthUser    string // the SMTP AUTH identity, "" when none
	ClientCert  *x509.Certificate
	ReverseName string // PTR name of RemoteIP when known
}

// Envelope is what the SMTP transaction said about a message.
type Envelope struct {
	AccountID      string
	IngressPointID string
	QueueID        string
	MailFrom       string   // reverse-path without brackets; "" is the null sender
	Recipients     []string // forward-paths without brackets
	Size           int64    // bytes of the message as received
	ReceivedAt     time.Time
	Conn           Conn
}

// Verdict is a check's outcome in the Mail Manager model's words.
type Verdict string

const (
	Pass             Verdict = "PASS"
	Fail             Verdict = "FAIL"
	Gray             Verdict = "GRAY"              // neither pass nor fail: none, neutral, softfail
	ProcessingFailed Verdict = "PROCESSING_FAILED" // the check could not run: temperror, permerror, DNS failure
)

// Auth holds the authentication verdicts computed on receipt.
type Auth struct {
	SPF  Verdict
	DKIM Verdict
	// DMARC is the verdict of the From domain's DMARC check; DMARCPolicy the
	// policy it publishes ("NONE", "QUARANTINE", "REJECT"), "" when none.
	DMARC       Verdict
	DMARCPolicy string
	// ARC is the status of the message's Authenticated Received Chain
	// (RFC 8617): "pass", "fail" or "none" (no chain; "" from before
	// ARC was checked).
	ARC string `json:",omitempty"`
	// ResultsHeader is the Authentication-Results header value (RFC 8601)
	// Tidings adds, without the field name.
	ResultsHeader string
}
