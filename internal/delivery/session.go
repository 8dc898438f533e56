package delivery

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Buffer sizes bound the memory of one connection: replies are read through
// a 4 KiB buffer (RFC 5321 4.5.3.1.5 limits a reply line to 512 octets), the
// message is written through a 16 KiB one and read from its source 32 KiB at
// a time, with buffers kept for the connection's life.
const (
	readBufSize  = 4096
	writeBufSize = 16 << 10
	copyBufSize  = 32 << 10
	// maxReplyLines bounds a multi-line reply (EHLO lists are the longest).
	maxReplyLines = 100
)

// session is one SMTP connection, after greeting and EHLO (and STARTTLS and
// AUTH when used), ready for mail transactions.
type session struct {
	raw net.Conn      // the TCP connection; deadlines and Close go here
	br  *bufio.Reader // over raw, or the TLS connection over it
	bw  *bufio.Writer
	buf []byte // body copy buffer

	host string // server host name (relay host or MX host)
	addr string // ip:port
	tls  bool
	ext  extensions
	t    *Timeouts

	ctxDeadline time.Time // the delivery context's deadline, zero if none
	stopWatch   func() bool

	txs    int  // mail transactions begun on this connection
	reused bool // taken from the pool and not yet proven alive

	// Pool bookkeeping, guarded by Deliverer.mu.
	pool  *destState
	timer *time.Timer
}

type extensions struct {
	pipelining, starttls, eightBitMIME, smtputf8, size bool
	maxSize                                            int64
	authPlain, authLogin                               bool
}

// protocolError is a reply that breaks RFC 5321's grammar.
type protocolError string

func (e protocolError) Error() string { return "protocol error: " + string(e) }

// deadline is now+d, capped by the delivery context's deadline.
func (s *session) deadline(d time.Duration) time.Time {
	t := time.Now().Add(d)
	if !s.ctxDeadline.IsZero() && s.ctxDeadline.Before(t) {
		return s.ctxDeadline
	}
	return t
}

// watch closes the connection when ctx is cancelled, which unblocks any
// read or write in progress; stopWatch reports false if that happened.
func (s *session) watch(ctx context.Context) {
	s.ctxDeadline, _ = ctx.Deadline()
	if ctx.Done() == nil {
		s.stopWatch = nil
		return
	}
	raw := s.raw
	s.stopWatch = context.AfterFunc(ctx, func() { raw.Close() })
}

func (s *session) unwatch() bool {
	s.ctxDeadline = time.Time{}
	if s.stopWatch == nil {
		return true
	}
	ok := s.stopWatch()
	s.stopWatch = nil
	return ok
}

// readReply reads one reply (RFC 5321 4.2.1), joining continuation lines with
// spaces. When lines is not nil the text of each line is appended to it.
func (s *session) readReply(timeout time.Duration, lines *[]string) (Reply, error) {
	s.raw.SetReadDeadline(s.deadline(timeout))
	return readReply(s.br, lines)
}

func readReply(br *bufio.Reader, lines *[]string) (Reply, error) {
	var (
		r        Reply
		text     strings.Builder
		enhanced string
	)
	for n := 0; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return r, protocolError("reply line too long")
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return r, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) < 3 || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
			return r, protocolError(fmt.Sprintf("malformed reply %q", line))
		}
		code, ok := replyCode(line[:3])
		if !ok || (n > 0 && code != r.Code) {
			return r, protocolError(fmt.Sprintf("malformed reply %q", line))
		}
		r.Code = code
		var t []byte
		if len(line) > 4 {
			t = line[4:]
		}
		// RFC 2034 4: every line of a reply carries the enhanced code;
		// keep it once.
		if n == 0 {
			if e := enhancedCode(t, code); e != "" {
				enhanced = e
				t = bytes.TrimLeft(t[len(e):], " ")
			}
		} else if enhanced != "" && bytes.HasPrefix(t, []byte(enhanced)) {
			t = bytes.TrimLeft(t[len(enhanced):], " ")
		}
		if lines != nil {
			*lines = append(*lines, string(t))
		}
		if text.Len() > 0 && len(t) > 0 {
			text.WriteByte(' ')
		}
		text.Write(t)
		if len(line) == 3 || line[3] == ' ' {
			break
		}
		if n >= maxReplyLines {
			return r, protocolError("reply has too many lines")
		}
	}
	r.Enhanced = enhanced
	r.Text = sanitize(text.String())
	return r, nil
}

func replyCode(b []byte) (int, bool) {
	// RFC 5321 4.2: first digit 2-5, the others 0-9.
	if b[0] < '2' || b[0] > '5' || b[1] < '0' || b[1] > '9' || b[2] < '0' || b[2] > '9' {
		return 0, false
	}
	return int(b[0]-'0')*100 + int(b[1]-'0')*10 + int(b[2]-'0'), true
}

// enhancedCode returns the RFC 3463 status code at the start of t if there is
// one whose class matches the reply code's (RFC 2034 4).
func enhancedCode(t []byte, code int) string {
	if len(t) < 5 || int(t[0]-'0') != code/100 || t[1] != '.' {
		return ""
	}
	// class "." subject(1-3 digits) "." detail(1-3 digits)
	i, parts := 2, 0
	for parts < 2 {
		start := i
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if n := i - start; n < 1 || n > 3 {
			return ""
		}
		parts++
		if parts == 1 {
			if i >= len(t) || t[i] != '.' {
				return ""
			}
			i++
		}
	}
	if i < len(t) && t[i] != ' ' {
		return ""
	}
	return string(t[:i])
}

// sanitize drops control characters from remote text that ends up in logs,
// events and DSNs.
func sanitize(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func (s *session) writeCmd(parts ...string) {
	for _, p := range parts {
		s.bw.WriteString(p)
	}
	s.bw.WriteString("\r\n")
}

func (s *session) flush(timeout time.Duration) error {
	s.raw.SetWriteDeadline(s.deadline(timeout))
	return s.bw.Flush()
}

// cmd sends one command and reads its reply.
func (s *session) cmd(timeout time.Duration, parts ...string) (Reply, error) {
	s.writeCmd(parts...)
	if err := s.flush(timeout); err != nil {
		return Reply{}, err
	}
	return s.readReply(timeout, nil)
}

// hello sends EHLO, falling back to HELO (RFC 5321 4.1.4), and records the
// extensions offered.
func (s *session) hello(localName string) (Reply, error) {
	s.writeCmd("EHLO ", localName)
	if err := s.flush(s.t.Command); err != nil {
		return Reply{}, err
	}
	var lines []string
	r, err := s.readReply(s.t.Command, &lines)
	if err != nil {
		return r, err
	}
	s.ext = extensions{}
	if r.Code == 250 {
		for _, l := range lines[1:] {
			s.ext.parse(l)
		}
		return r, nil
	}
	if r.Code/100 != 5 {
		return r, nil
	}
	return s.cmd(s.t.Command, "HELO ", localName)
}

func (e *extensions) parse(line string) {
	kw, params, _ := strings.Cut(line, " ")
	// "AUTH=" is the pre-RFC 4954 form some servers still send.
	if len(kw) > 5 && strings.EqualFold(kw[:5], "AUTH=") {
		params, kw = kw[5:]+" "+params, "AUTH"
	}
	switch strings.ToUpper(kw) {
	case "PIPELINING":
		e.pipelining = true
	case "STARTTLS":
		e.starttls = true
	case "8BITMIME":
		e.eightBitMIME = true
	case "SMTPUTF8":
		e.smtputf8 = true
	case "SIZE":
		e.size = true
		if n, err := strconv.ParseInt(strings.TrimSpace(params), 10, 64); err == nil && n > 0 {
			e.maxSize = n
		}
	case "AUTH":
		for _, m := range strings.Fields(params) {
			switch strings.ToUpper(m) {
			case "PLAIN":
				e.authPlain = true
			case "LOGIN":
				e.authLogin = true
			}
		}
	}
}

// startTLS upgrades the connection after a 220 reply to STARTTLS.
func (s *session) startTLS(ctx context.Context, cfg *tls.Config) error {
	// RFC 3207 4.2 / CVE-2011-0411 class: anything the server sent after its
	// 220 before the handshake would be read as if it came over TLS.
	if s.br.Buffered() > 0 {
		return protocolError("data after STARTTLS reply")
	}
	tc := tls.Client(s.raw, cfg)
	s.raw.SetDeadline(s.deadline(s.t.Command))
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	s.raw.SetDeadline(time.Time{})
	s.tls = true
	s.br.Reset(tc)
	s.bw.Reset(tc)
	return nil
}

// auth authenticates with PLAIN (RFC 4616, with an initial response, RFC
// 4954 4) or, if only it is offered, LOGIN (draft-murchison-sasl-login).
func (s *session) auth(user, pass string) (Reply, error) {
	enc := base64.StdEncoding.EncodeToString
	if s.ext.authPlain {
		r, err := s.cmd(s.t.Command, "AUTH PLAIN ", enc([]byte("\x00"+user+"\x00"+pass)))
		if err != nil || r.Code != 334 {
			return r, err
		}
		// A server that ignores the initial response asks again with an
		// empty challenge.
		return s.cmd(s.t.Command, enc([]byte("\x00"+user+"\x00"+pass)))
	}
	r, err := s.cmd(s.t.Command, "AUTH LOGIN")
	for _, v := range []string{user, pass} {
		if err != nil || r.Code != 334 {
			return r, err
		}
		r, err = s.cmd(s.t.Command, enc([]byte(v)))
	}
	if err == nil && r.Code == 334 {
		// Never leave the server waiting inside the exchange.
		r2, err2 := s.cmd(s.t.Command, "*")
		return r2, err2
	}
	return r, err
}

// quit ends the session politely (RFC 5321 4.1.1.10) and closes it.
func (s *session) quit() {
	s.raw.SetDeadline(time.Now().Add(s.t.Quit))
	s.writeCmd("QUIT")
	if s.bw.Flush() == nil {
		readReply(s.br, nil)
	}
	s.raw.Close()
}

func (s *session) close() { s.raw.Close() }

// dotWriter writes a message as SMTP DATA content: lines end in CRLF, and a
// line starting with "." gets another (RFC 5321 4.5.2).
//
// RFC 5321 2.3.8 forbids bare CR and bare LF in the data: each is written as
// CRLF. Normalising them, rather than passing them on, keeps a message from
// ending early at a server that takes a bare CR or LF for a line end (SMTP
// smuggling), and keeps dot-stuffing correct whatever the receiver's rules.
type dotWriter struct {
	w     *bufio.Writer
	state int
}

const (
	dotBOL     = iota // at the beginning of a line
	dotMid            // inside a line
	dotAfterCR        // just wrote CRLF for a CR; a following LF belongs to it
)

func (d *dotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch d.state {
		case dotAfterCR:
			if p[0] == '\n' {
				p = p[1:]
				d.state = dotBOL
				continue
			}
			d.state = dotBOL
			fallthrough
		case dotBOL:
			if p[0] == '.' {
				d.w.WriteByte('.')
			}
			d.state = dotMid
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			if _, err := d.w.Write(p); err != nil {
				return 0, err
			}
			break
		}
		d.w.Write(p[:i])
		if _, err := d.w.WriteString("\r\n"); err != nil {
			return 0, err
		}
		if p[i] == '\r' {
			d.state = dotAfterCR
		} else {
			d.state = dotBOL
		}
		p = p[i+1:]
	}
	return n, nil
}

// close ends the data: a final CRLF if the message lacked one, then ".".
func (d *dotWriter) close() error {
	if d.state == dotMid {
		d.w.WriteString("\r\n")
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}
