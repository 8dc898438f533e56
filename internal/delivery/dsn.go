package delivery

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"
	"time"
)

// ErrNullSender is returned by BuildDSN for a message with the null reverse
// path: RFC 5321 6.1 and RFC 3464 forbid notifications about notifications.
var ErrNullSender = errors.New("delivery: no DSN for a message with the null sender")

// Original describes the message a DSN reports on.
type Original struct {
	Envelope Envelope
	// Header is the message's header section; anything from the first empty
	// line on is ignored, so the whole message may be given.
	Header []byte
	// ArrivalDate and EnvelopeID (RFC 3461 ENVID) are reported when set.
	ArrivalDate time.Time
	EnvelopeID  string
}

// DSN is a delivery status notification ready to be delivered.
type DSN struct {
	// Envelope has the null sender (RFC 3461 6.2, so that a failing DSN
	// causes no other) and the original sender as its recipient.
	Envelope Envelope
	Message  []byte
}

// BuildDSN writes a delivery status notification (RFC 3464) for the
// recipients given, as a multipart/report (RFC 6522) of a human-readable
// part, the machine-readable delivery-status part and the original header
// section. Failed recipients are reported as "failed", deferred ones as
// "delayed", delivered ones as "delivered"; the subject follows the worst.
// reportingMTA is this system's host name.
//
// When an address, the diagnostics or the original header carry UTF-8, the
// report uses message/global-delivery-status and message/global-headers (RFC
// 6533) and its envelope asks for SMTPUTF8.
func BuildDSN(reportingMTA string, orig Original, rcpts []RecipientResult, now time.Time) (*DSN, error) {
	if orig.Envelope.MailFrom == "" {
		return nil, ErrNullSender
	}
	if !validAddress(orig.Envelope.MailFrom) {
		return nil, fmt.Errorf("delivery: DSN to a bad address %q", orig.Envelope.MailFrom)
	}
	if len(rcpts) == 0 {
		return nil, errors.New("delivery: DSN without recipients")
	}
	if reportingMTA == "" || strings.ContainsAny(reportingMTA, " \t\r\n<>@") {
		return nil, fmt.Errorf("delivery: bad reporting MTA name %q", reportingMTA)
	}
	header := headerSection(orig.Header)
	global := !ascii(orig.Envelope.MailFrom) || !ascii(string(header))
	worst := Delivered
	for _, r := range rcpts {
		global = global || !ascii(r.Recipient) || !ascii(r.Reply.Text)
		if r.Status == Failed || (r.Status == Deferred && worst == Delivered) {
			worst = r.Status
		}
	}

	boundary := randomToken(12)
	var b bytes.Buffer
	subject := map[Status]string{
		Failed:    "Undelivered Mail Returned to Sender",
		Deferred:  "Delayed Mail (still being retried)",
		Delivered: "Successful Mail Delivery Report",
	}[worst]
	hdr := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	hdr("From", "Mail Delivery System <MAILER-DAEMON@"+reportingMTA+">")
	hdr("To", "<"+orig.Envelope.MailFrom+">")
	hdr("Subject", subject)
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+now.UTC().Format("20060102150405")+"."+randomToken(8)+"@"+reportingMTA+">")
	// RFC 3834 5: so that responders do not answer it.
	hdr("Auto-Submitted", "auto-replied")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\nThis is a MIME-encapsulated message.\r\n")

	// Part 1: for people.
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString("Content-Description: Notification\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	var text strings.Builder
	fmt.Fprintf(&text, "This is the mail system at host %s.\n\n", reportingMTA)
	switch worst {
	case Failed:
		text.WriteString("Your message could not be delivered to one or more recipients.\nIts header is attached below.\n")
	case Deferred:
		text.WriteString("Your message could not be delivered yet to one or more recipients.\nDelivery will be retried; you need not send it again.\n")
	default:
		text.WriteString("Your message was delivered to the recipients below.\n")
	}
	for _, r := range rcpts {
		fmt.Fprintf(&text, "\n<%s>: %s", r.Recipient, r.Status)
		if r.RemoteMTA != "" {
			fmt.Fprintf(&text, "; host %s said:", r.RemoteMTA)
		} else {
			text.WriteString(":")
		}
		fmt.Fprintf(&text, " %s\n", r.Reply.String())
	}
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(text.String(), "\n", "\r\n")))
	qp.Close()

	// Part 2: for programs (RFC 3464 2).
	b.WriteString("\r\n--" + boundary + "\r\n")
	addrType := "rfc822"
	if global {
		addrType = "utf-8"
		b.WriteString("Content-Type: message/global-delivery-status\r\n\r\n")
	} else {
		b.WriteString("Content-Description: Delivery report\r\nContent-Type: message/delivery-status\r\n\r\n")
	}
	field := func(name, value string) { b.WriteString(fold(name+": "+value) + "\r\n") }
	field("Reporting-MTA", "dns; "+reportingMTA)
	if orig.EnvelopeID != "" {
		field("Original-Envelope-Id", sanitize(orig.EnvelopeID))
	}
	if !orig.ArrivalDate.IsZero() {
		field("Arrival-Date", orig.ArrivalDate.Format(time.RFC1123Z))
	}
	for _, r := range rcpts {
		b.WriteString("\r\n")
		field("Final-Recipient", addrType+"; "+r.Recipient)
		field("Action", map[Status]string{Failed: "failed", Deferred: "delayed", Delivered: "delivered"}[r.Status])
		field("Status", dsnStatus(r))
		if r.RemoteMTA != "" {
			field("Remote-MTA", "dns; "+r.RemoteMTA)
		}
		if r.Reply.Code != 0 {
			field("Diagnostic-Code", "smtp; "+r.Reply.String())
		}
		field("Last-Attempt-Date", now.Format(time.RFC1123Z))
	}

	// Part 3: the original header section (RFC 6522 3).
	b.WriteString("\r\n--" + boundary + "\r\n")
	if global {
		b.WriteString("Content-Type: message/global-headers\r\n\r\n")
	} else {
		b.WriteString("Content-Description: Undelivered Message Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n")
	}
	crlf(&b, header)
	b.WriteString("\r\n--" + boundary + "--\r\n")

	return &DSN{
		Envelope: Envelope{
			Recipients: []string{orig.Envelope.MailFrom},
			SMTPUTF8:   global,
			EightBit:   global,
			Size:       int64(b.Len()),
		},
		Message: b.Bytes(),
	}, nil
}

// dsnStatus is the RFC 3463 code for a recipient, its class made to agree
// with the outcome (a deferred recipient whose server said 5xx, e.g. an
// AUTH failure that is soft-bounced, is reported 4.x.x).
func dsnStatus(r RecipientResult) string {
	st := r.Reply.Status()
	if enhancedCode([]byte(st), int(st[0]-'0')*100) != st {
		st = "4.0.0"
	}
	class := map[Status]byte{Failed: '5', Deferred: '4', Delivered: '2'}[r.Status]
	return string(class) + st[1:]
}

// fold breaks a long field at spaces (RFC 5322 2.2.3) so that no line of the
// report exceeds 78 characters where it can be helped.
func fold(line string) string {
	line = sanitize(line)
	if len(line) <= 78 {
		return line
	}
	var b strings.Builder
	for len(line) > 78 {
		i := strings.LastIndexByte(line[:78], ' ')
		if i <= 0 {
			if i = strings.IndexByte(line[78:], ' '); i < 0 {
				break
			}
			i += 78
		}
		b.WriteString(line[:i])
		b.WriteString("\r\n")
		line = line[i:] // the space starts the continuation line
	}
	b.WriteString(line)
	return b.String()
}

// headerSection returns msg up to and including the end of its header
// section, without the empty line.
func headerSection(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		msg = msg[:i+2]
	}
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		msg = msg[:i+1]
	}
	if bytes.HasPrefix(msg, []byte("\r\n")) || bytes.HasPrefix(msg, []byte("\n")) {
		return nil
	}
	return msg
}

// ReadHeader reads a message's header section from r for BuildDSN, reading
// no more than limit bytes (a header larger than that is cut at a line end).
func ReadHeader(r io.Reader, limit int) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, int64(limit)))
	var out []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return out, err
		}
		if err == io.EOF || len(line) == 0 {
			// End of input, or a line cut by the limit: keep whole lines.
			return out, nil
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			return out, nil
		}
		out = append(out, line...)
	}
}

// crlf writes b with every line ending (CRLF, bare CR or bare LF) as CRLF
// and a final CRLF.
func crlf(w *bytes.Buffer, b []byte) {
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			w.Write(b)
			break
		}
		w.Write(b[:i])
		w.WriteString("\r\n")
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	if n := w.Len(); n < 2 || w.Bytes()[n-1] != '\n' {
		w.WriteString("\r\n")
	}
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
