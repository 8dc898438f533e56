package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/standins"
)

// lmtpTimeout bounds one LMTP exchange: the server is on the operator's
// network, and the process job holds the message's lease meanwhile.
const lmtpTimeout = 5 * time.Minute

// lmtpDetail is the Detail of a DeliverToMailbox step over LMTP: the
// server's greeting to LHLO and its reply for each recipient (to RCPT
// when it refused it there, else its reply after DATA, RFC 2033 4.2).
type lmtpDetail struct {
	LMTP    string      `json:"lmtp"`
	Mailbox string      `json:"mailbox"`
	LHLO    string      `json:"lhlo,omitempty"`
	Replies []lmtpReply `json:"replies"`
}

type lmtpReply struct {
	Recipient string `json:"recipient"`
	Reply     string `json:"reply"`
	Delivered bool   `json:"delivered"`
}

// deliverLMTP delivers the message over LMTP (RFC 2033) to the step's
// recipients. Every recipient delivered: the step is done. A connection
// that fails, or only temporary refusals: the job is retried (recipients
// that did take the message may get it again; none is lost). Any
// permanent refusal fails the step with every recipient's reply, and its
// ActionFailurePolicy applies.
func (g *Gateway) deliverLMTP(ctx context.Context, q *queued, s *Step, mb *standins.Mailbox, added [][2]string) (outcome, error) {
	det := lmtpDetail{LMTP: mb.LMTP, Mailbox: mb.Name}
	ctx, cancel := context.WithTimeout(ctx, lmtpTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", mb.LMTP)
	if err != nil {
		return outcome{}, &fault.Error{Kind: fault.Unavailable, Message: "LMTP server " + mb.LMTP + ": " + err.Error(), Err: err}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	lost := func(when string, err error) (outcome, error) {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code/100 == 5 {
			return failed("DeliverToMailbox: LMTP server %s refused %s: %s", mb.LMTP, when, smtpReply(se)), nil
		}
		return outcome{}, &fault.Error{Kind: fault.Unavailable, Message: fmt.Sprintf("LMTP server %s, %s: %v", mb.LMTP, when, err), Err: err}
	}
	// LHLO (RFC 2033 4.1): go-smtp's LMTP client sends LHLO for Hello
	// (and keeps the reply's text to itself).
	if err := c.Hello(g.cfg.Hostname); err != nil {
		return lost("LHLO", err)
	}
	det.LHLO = "250 accepted LHLO " + g.cfg.Hostname
	opts := &smtp.MailOptions{}
	if q.utf8 {
		if ok, _ := c.Extension("SMTPUTF8"); ok {
			opts.UTF8 = true
		}
	}
	if q.eightBit {
		if ok, _ := c.Extension("8BITMIME"); ok {
			opts.Body = smtp.Body8BitMIME
		}
	}
	if err := c.Mail(q.env.MailFrom, opts); err != nil {
		return lost("MAIL FROM", err)
	}
	replies := map[string]*lmtpReply{}
	var accepted []string
	for _, rcpt := range s.Recipients {
		r := &lmtpReply{Recipient: rcpt}
		det.Replies = append(det.Replies, lmtpReply{})
		replies[rcpt] = r
		if err := c.Rcpt(rcpt, nil); err != nil {
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				return lost("RCPT TO", err)
			}
			r.Reply = smtpReply(se)
			continue
		}
		accepted = append(accepted, rcpt)
	}
	if len(accepted) > 0 {
		w, err := c.Data()
		if err != nil {
			return lost("DATA", err)
		}
		rc, _, err := g.openMessage(ctx, q, added, "")
		if err != nil {
			return outcome{}, err
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if err != nil {
			return lost("the message", err)
		}
		// RFC 2033 4.2: one reply per accepted recipient, in order.
		resp, err := w.CloseWithLMTPResponse()
		var perRcpt smtp.LMTPDataError
		if err != nil && !errors.As(err, &perRcpt) {
			return lost("the end of data", err)
		}
		for _, rcpt := range accepted {
			r := replies[rcpt]
			if se, ok := perRcpt[rcpt]; ok {
				r.Reply = smtpReply(se)
			} else if dr, ok := resp[rcpt]; ok {
				r.Reply, r.Delivered = "250 "+dr.StatusText, true
			}
		}
	}
	_ = c.Quit()

	var perm, temp int
	for i, rcpt := range s.Recipients {
		r := replies[rcpt]
		det.Replies[i] = *r
		switch {
		case r.Delivered:
		case strings.HasPrefix(r.Reply, "5"):
			perm++
		default:
			temp++
		}
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // replies quote <addresses>
	_ = enc.Encode(det)
	detail := strings.TrimSpace(buf.String())
	switch {
	case perm == 0 && temp == 0:
		return done(detail), nil
	case perm == 0 && temp == len(s.Recipients):
		return outcome{}, &fault.Error{Kind: fault.Unavailable, Message: "LMTP server " + mb.LMTP + " deferred every recipient: " + detail}
	}
	o := failed("DeliverToMailbox: LMTP server %s did not take the message for %d of %d recipient(s)", mb.LMTP, perm+temp, len(s.Recipients))
	o.detail = detail
	return o, nil
}

func smtpReply(se *smtp.SMTPError) string {
	r := fmt.Sprintf("%d", se.Code)
	if se.EnhancedCode != (smtp.EnhancedCode{}) && se.EnhancedCode != smtp.NoEnhancedCode {
		r += fmt.Sprintf(" %d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return oneLine(r + " " + se.Message)
}
