package smtpd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/message"
)

// Sizes and limits of a session.
const (
	readBufSize  = 8 << 10 // must hold a message line (1000) and a SASL response
	writeBufSize = 4 << 10

	// RFC 5321 4.5.3.1.4: 512 octets for a command line with its CRLF;
	// MAIL may carry SIZE= (RFC 1870 3: +26), BODY= (RFC 6152), SMTPUTF8
	// (RFC 6531) and AUTH= (RFC 4954 5: +500), so it gets 1024.
	maxCommandLine = 512
	maxMailLine    = 1024
	// A line with no LF in sight is skipped up to this far, then the
	// connection is closed.
	maxRunaway = 64 << 10

	maxErrors       = 20 // protocol errors before the session is ended (Postfix's smtpd_hard_error_limit)
	maxAuthFailures = 3
	lingerTime      = time.Second // how long a closing session waits for the client's FIN
)

// Errors of the command reader.
var (
	errLineTooLong  = errors.New("line too long")
	errBareNewline  = errors.New("bare CR or LF")
	errNUL          = errors.New("NUL in command")
	errRunaway      = errors.New("line without end")
	errShuttingDown = errors.New("server shutting down")
)

// Replies used in more than one place.
var (
	noEnh            = [3]int{}
	rejectNeedTLS    = Reject{530, [3]int{5, 7, 0}, "Must issue a STARTTLS command first"}
	rejectNeedAuth   = Reject{530, [3]int{5, 7, 0}, "Authentication required"}
	rejectTimeout    = Reject{421, [3]int{4, 4, 2}, "Timeout exceeded, closing connection"}
	rejectShutdown   = Reject{421, [3]int{4, 3, 2}, "Service shutting down, closing connection"}
	rejectTooManyErr = Reject{421, [3]int{4, 7, 0}, "Too many errors, closing connection"}
)

// session is one SMTP connection. Everything but mu-guarded fields belongs
// to the session's goroutine.
type session struct {
	srv *Server
	raw net.Conn // the TCP connection
	nc  net.Conn // raw, or the *tls.Conn over it after STARTTLS
	br  *bufio.Reader
	bw  *bufio.Writer
	log *slog.Logger

	mu           sync.Mutex // guards inData and dataDeadline against Shutdown
	inData       bool
	dataDeadline time.Time

	conn          message.Conn
	tlsOn         bool
	greeted       bool // EHLO or HELO seen (since STARTTLS)
	esmtp         bool // it was EHLO
	authed        bool
	certOK        bool
	certErr       error
	authFailures  int
	connectDone   bool // the Policy's Connect was asked
	connectReject *Reject
	errors        int

	// The mail transaction (RFC 5321 3.3).
	inTx     bool
	mailFrom string
	utf8     bool
	rcpts    []string

	out []byte // scratch for replies
}

func newSession(srv *Server, nc net.Conn) *session {
	s := &session{srv: srv, raw: nc, nc: nc, conn: connFacts(nc)}
	s.br = bufio.NewReaderSize(connReader{s}, readBufSize)
	s.bw = bufio.NewWriterSize(connWriter{s}, writeBufSize)
	s.log = srv.log.With("remote", s.conn.RemoteIP.String())
	return s
}

// connFacts fills what the TCP connection tells about the client.
func connFacts(nc net.Conn) message.Conn {
	var c message.Conn
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		c.RemoteIP = ap.Addr().Unmap()
		c.RemotePort = int(ap.Port())
	}
	return c
}

// connReader feeds the session's bufio.Reader. Before it blocks it flushes
// the pending replies, which is what makes PIPELINING work (RFC 2920 3.2:
// replies to a group of commands go out together), and it sets the read
// deadline.
type connReader struct{ s *session }

func (r connReader) Read(p []byte) (int, error) {
	s := r.s
	if s.bw.Buffered() > 0 {
		if err := s.bw.Flush(); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	inData := s.inData
	if s.srv.draining.Load() && !inData {
		s.mu.Unlock()
		return 0, errShuttingDown
	}
	d := time.Now().Add(s.srv.ep.CommandTimeout)
	if inData && d.After(s.dataDeadline) {
		d = s.dataDeadline
	}
	s.raw.SetReadDeadline(d)
	s.mu.Unlock()

	n, err := s.nc.Read(p)
	if err != nil && !inData && s.srv.draining.Load() && isTimeout(err) {
		return n, errShuttingDown // kicked by Shutdown
	}
	return n, err
}

type connWriter struct{ s *session }

func (w connWriter) Write(p []byte) (int, error) {
	w.s.raw.SetWriteDeadline(time.Now().Add(w.s.srv.ep.CommandTimeout))
	return w.s.nc.Write(p)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// kick wakes a session waiting for a command so that it sees Shutdown;
// a session in DATA is left to finish.
func (s *session) kick() {
	s.mu.Lock()
	if !s.inData {
		s.raw.SetReadDeadline(time.Unix(1, 0))
	}
	s.mu.Unlock()
}

func (s *session) serve() {
	defer s.raw.Close()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in SMTP session", "panic", v, "stack", string(debug.Stack()))
			s.reply(421, [3]int{4, 3, 0}, "Internal error, closing connection")
			s.bw.Flush()
		}
	}()

	if s.srv.ep.ImplicitTLS {
		// RFC 8314 3.3: TLS first, then SMTP inside it.
		if !s.handshake() {
			return
		}
	}
	if s.srv.tlsConf == nil || s.tlsOn {
		// Without STARTTLS the connection's facts are final now: judge
		// them before the greeting (RFC 5321 3.1 lets a server refuse
		// there).
		if r := s.connectVerdict(); r != nil {
			s.rejectWith(ReasonPolicy, *r)
			s.hangUp()
			return
		}
	}
	s.reply(220, noEnh, s.srv.ep.Hostname+" ESMTP ready")

	for {
		line, err := s.readLine(maxMailLine)
		if err != nil {
			if s.readFailed(err) {
				continue
			}
			return
		}
		if s.srv.draining.Load() {
			s.rejectWith(ReasonShutdown, rejectShutdown)
			s.hangUp()
			return
		}
		if !s.command(line) {
			return
		}
	}
}

// readLine reads a command line, without its CRLF. The slice is valid
// until the next read.
func (s *session) readLine(limit int) ([]byte, error) {
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// Skip to the end of the line so the next command is read from
		// its start, unless there is no end in sight.
		for skipped := len(line); err == bufio.ErrBufferFull; skipped += len(line) {
			if skipped > maxRunaway {
				return nil, errRunaway
			}
			line, err = s.br.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return nil, errLineTooLong
	}
	if err != nil {
		return nil, err
	}
	n := len(line)
	// RFC 5321 2.3.8: CR and LF only as CRLF.
	if n < 2 || line[n-2] != '\r' || bytes.IndexByte(line[:n-2], '\r') >= 0 {
		return nil, errBareNewline
	}
	if n > limit {
		return nil, errLineTooLong
	}
	line = line[:n-2]
	if bytes.IndexByte(line, 0) >= 0 {
		return nil, errNUL
	}
	return line, nil
}

// readFailed answers a failed command read and reports whether the session
// goes on.
func (s *session) readFailed(err error) bool {
	switch {
	case errors.Is(err, errLineTooLong):
		s.rejectWith(ReasonLineTooLong, Reject{500, [3]int{5, 5, 2}, "Line too long"})
		return s.countError()
	case errors.Is(err, errBareNewline):
		s.rejectWith(ReasonBareNewline, Reject{500, [3]int{5, 5, 2}, "Bare CR or LF in command; lines must end in CRLF"})
		return s.countError()
	case errors.Is(err, errNUL):
		s.fail(500, [3]int{5, 5, 2}, "NUL in command")
		return s.countError()
	case errors.Is(err, errRunaway):
		s.rejectWith(ReasonLineTooLong, Reject{500, [3]int{5, 5, 2}, "Line too long, closing connection"})
		s.hangUp()
	case errors.Is(err, errShuttingDown):
		s.rejectWith(ReasonShutdown, rejectShutdown)
		s.hangUp()
	case isTimeout(err):
		s.rejectWith(ReasonTimeout, rejectTimeout)
		s.hangUp()
	}
	return false // EOF, reset, closed
}

// verbs maps upper-case command verbs to their canonical strings, so that
// looking one up does not allocate.
var verbs = map[string]string{}

func init() {
	for _, v := range []string{
		"EHLO", "HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY",
		"EXPN", "HELP", "STARTTLS", "AUTH", "BDAT", "TURN", "ETRN", "ATRN",
		"SEND", "SOML", "SAML", "CONNECT", "GET", "POST", "HEAD", "PUT",
	} {
		verbs[v] = v
	}
}

// splitCommand splits a command line into its verb (upper case, "" when
// unknown) and its argument.
func splitCommand(line []byte) (verb string, arg []byte) {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		i = len(line)
	} else {
		arg = line[i+1:]
	}
	v := line[:i]
	var buf [8]byte
	if len(v) > len(buf) {
		return "", arg
	}
	for j, c := range v {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[j] = c
	}
	return verbs[string(buf[:len(v)])], arg
}

// command executes one command line and reports whether the session goes
// on.
func (s *session) command(line []byte) bool {
	verb, rawArg := splitCommand(line)
	if verb != "MAIL" && len(line)+2 > maxCommandLine {
		s.rejectWith(ReasonLineTooLong, Reject{500, [3]int{5, 5, 2}, "Line too long"})
		return s.countError()
	}
	switch verb {
	case "":
		s.fail(500, [3]int{5, 5, 2}, "Command unrecognized")
		return s.countError()
	case "BDAT":
		// CHUNKING is not offered. The chunk that follows would be read
		// as commands, so there is no way to stay in step: hang up.
		s.rejectWith(ReasonProtocol, Reject{554, [3]int{5, 5, 1}, "BDAT without CHUNKING, closing connection"})
		s.hangUp()
		return false
	case "CONNECT", "GET", "POST", "HEAD", "PUT":
		// An HTTP client or proxy talking to the SMTP port (Postfix's
		// smtpd_forbidden_commands).
		s.rejectWith(ReasonProtocol, Reject{421, [3]int{4, 7, 0}, "This is an SMTP server, closing connection"})
		s.hangUp()
		return false
	}
	if !s.tlsOn && s.srv.tlsRequired() {
		// AUTH too (RFC 3207 4: 530 to every other command), like any
		// server that requires TLS; where TLS is optional, AUTH in clear
		// text gets 538 5.7.11 below.
		switch verb {
		case "EHLO", "HELO", "STARTTLS", "NOOP", "RSET", "QUIT":
		default:
			s.rejectWith(ReasonTLSRequired, rejectNeedTLS)
			return true
		}
	}
	arg := strings.TrimRight(string(rawArg), " ")
	switch verb {
	case "EHLO":
		return s.cmdHello(arg, true)
	case "HELO":
		return s.cmdHello(arg, false)
	case "MAIL":
		return s.cmdMail(arg)
	case "RCPT":
		return s.cmdRcpt(arg)
	case "DATA":
		return s.cmdData(arg)
	case "RSET":
		s.resetTx()
		s.reply(250, [3]int{2, 0, 0}, "Ok")
	case "NOOP":
		s.reply(250, [3]int{2, 0, 0}, "Ok")
	case "QUIT":
		s.reply(221, [3]int{2, 0, 0}, "Bye")
		s.hangUp()
		return false
	case "STARTTLS":
		return s.cmdStartTLS(arg)
	case "AUTH":
		return s.cmdAuth(arg)
	case "VRFY":
		// RFC 5321 3.5.3: say nothing about the address.
		s.reply(252, [3]int{2, 0, 0}, "Cannot VRFY user, but will accept message and attempt delivery")
	case "HELP":
		s.reply(214, [3]int{2, 0, 0}, "See RFC 5321")
	default: // EXPN, TURN, ETRN, ...
		s.fail(502, [3]int{5, 5, 1}, "Command not implemented")
		return s.countError()
	}
	return true
}

func (s *session) cmdHello(arg string, esmtp bool) bool {
	if !validHelo(arg) {
		s.fail(501, [3]int{5, 5, 4}, "Syntax: EHLO hostname")
		return s.countError()
	}
	// RFC 5321 4.1.4: EHLO resets the transaction like RSET.
	s.resetTx()
	s.greeted, s.esmtp = true, esmtp
	s.conn.Helo = arg
	ep := &s.srv.ep
	if !esmtp {
		s.reply(250, noEnh, ep.Hostname)
		return true
	}
	lines := []string{
		ep.Hostname,
		"PIPELINING",
		"SIZE " + strconv.FormatInt(ep.MaxMessageBytes, 10),
		"8BITMIME",
		"SMTPUTF8",
		"ENHANCEDSTATUSCODES",
	}
	if s.srv.tlsConf != nil && !s.tlsOn {
		lines = append(lines, "STARTTLS")
	}
	if ep.Auth != nil && s.tlsOn {
		lines = append(lines, "AUTH PLAIN LOGIN")
	}
	s.replyLines(250, lines)
	return true
}

func (s *session) cmdMail(arg string) bool {
	ep := &s.srv.ep
	switch {
	case !s.greeted:
		s.fail(503, [3]int{5, 5, 1}, "Send EHLO or HELO first")
		return s.countError()
	case s.inTx:
		s.fail(503, [3]int{5, 5, 1}, "Nested MAIL command")
		return s.countError()
	case ep.Auth != nil && !s.authed:
		s.rejectWith(ReasonAuthRequired, rejectNeedAuth)
		return true
	case ep.RequireClientCert != nil && !s.certOK:
		msg := "A client certificate is required"
		if s.certErr != nil && !errors.Is(s.certErr, errNoClientCert) {
			msg = "Client certificate not trusted"
		}
		s.rejectWith(ReasonClientCert, Reject{550, [3]int{5, 7, 1}, msg})
		return true
	}
	if r := s.connectVerdict(); r != nil {
		s.rejectWith(ReasonPolicy, *r)
		return true
	}

	from, params, err := parseMailRcpt(arg, "FROM:", true)
	if err != nil {
		return s.pathError(err, "sender", [3]int{5, 1, 7})
	}
	utf8 := false
	for _, p := range params {
		if !s.esmtp {
			s.fail(555, [3]int{5, 5, 4}, "MAIL parameters need EHLO")
			return s.countError()
		}
		switch p.key {
		case "SIZE":
			// RFC 1870 6: refuse a message declared too big at once.
			n, err := strconv.ParseUint(p.value, 10, 63)
			if err != nil {
				s.fail(501, [3]int{5, 5, 4}, "Bad SIZE parameter")
				return s.countError()
			}
			if int64(n) > ep.MaxMessageBytes {
				s.rejectWith(ReasonSize, *rejectTooBig)
				return true
			}
		case "BODY":
			if v := strings.ToUpper(p.value); v != "7BIT" && v != "8BITMIME" {
				s.fail(555, [3]int{5, 5, 4}, "Unsupported BODY type")
				return s.countError()
			}
		case "SMTPUTF8":
			if p.set {
				s.fail(501, [3]int{5, 5, 4}, "SMTPUTF8 takes no value")
				return s.countError()
			}
			utf8 = true
		case "AUTH":
			// RFC 4954 5: the identity another server vouched for. It is
			// not trusted here; accepted and ignored.
		default:
			s.fail(555, [3]int{5, 5, 4}, "Unsupported MAIL parameter "+p.key)
			return s.countError()
		}
	}
	if !utf8 && !isASCII(from) {
		// RFC 6531 3.4
		s.rejectWith(ReasonAddress, Reject{553, [3]int{5, 6, 7}, "Non-ASCII address needs SMTPUTF8"})
		return true
	}
	s.inTx, s.mailFrom, s.utf8, s.rcpts = true, from, utf8, nil
	s.reply(250, [3]int{2, 1, 0}, "Ok")
	return true
}

func (s *session) cmdRcpt(arg string) bool {
	ep := &s.srv.ep
	if !s.inTx {
		s.fail(503, [3]int{5, 5, 1}, "Need MAIL command")
		return s.countError()
	}
	var rcpt string
	var params []param
	var err error
	// RFC 5321 4.1.1.3: <Postmaster> without a domain must be accepted.
	if p, ok := cutPrefixFold(arg, "TO:"); ok && hasPrefixFold(strings.TrimLeft(p, " "), "<postmaster>") {
		rcpt = "postmaster"
		params, err = parseParams(strings.TrimLeft(p, " ")[len("<postmaster>"):])
	} else {
		rcpt, params, err = parseMailRcpt(arg, "TO:", false)
	}
	if err != nil {
		return s.pathError(err, "recipient", [3]int{5, 1, 3})
	}
	if len(params) > 0 {
		s.fail(555, [3]int{5, 5, 4}, "Unsupported RCPT parameter "+params[0].key)
		return s.countError()
	}
	if !s.utf8 && !isASCII(rcpt) {
		s.rejectWith(ReasonAddress, Reject{553, [3]int{5, 6, 7}, "Non-ASCII address needs SMTPUTF8"})
		return true
	}
	for _, r := range s.rcpts {
		if r == rcpt {
			s.reply(250, [3]int{2, 1, 5}, "Ok (duplicate)")
			return true
		}
	}
	if len(s.rcpts) >= ep.MaxRecipients {
		s.rejectWith(ReasonRecipientLimit, Reject{452, [3]int{4, 5, 3}, "Too many recipients"})
		return true
	}
	if ep.Policy != nil {
		if r := ep.Policy.Recipient(s.srv.ctx, &s.conn, rcpt); r != nil {
			s.rejectWith(ReasonPolicy, *r)
			return true
		}
	}
	s.rcpts = append(s.rcpts, rcpt)
	s.reply(250, [3]int{2, 1, 5}, "Ok")
	return true
}

// pathError answers a MAIL or RCPT argument that did not parse.
func (s *session) pathError(err error, what string, badAddr [3]int) bool {
	switch {
	case errors.Is(err, errSyntax):
		s.fail(501, [3]int{5, 5, 4}, "Syntax error in parameters or arguments")
	case errors.Is(err, errTooLong):
		s.fail(501, badAddr, "Path too long")
	default:
		s.fail(501, badAddr, "Bad "+what+" address syntax")
	}
	return s.countError()
}

func (s *session) cmdData(arg string) bool {
	ep := &s.srv.ep
	switch {
	case arg != "":
		s.fail(501, [3]int{5, 5, 4}, "Syntax: DATA")
		return s.countError()
	case !s.inTx:
		s.fail(503, [3]int{5, 5, 1}, "Need MAIL command")
		return s.countError()
	case len(s.rcpts) == 0:
		s.fail(554, [3]int{5, 5, 1}, "No valid recipients")
		return s.countError()
	}
	env := &message.Envelope{
		AccountID:      ep.AccountID,
		IngressPointID: ep.IngressPointID,
		MailFrom:       s.mailFrom,
		Recipients:     s.rcpts,
		ReceivedAt:     time.Now().UTC(),
		Conn:           s.conn,
	}
	utf8 := s.utf8
	s.resetTx() // whatever happens next, the transaction is over
	if ep.Policy != nil {
		if r := ep.Policy.Data(s.srv.ctx, env); r != nil {
			s.rejectWith(ReasonPolicy, *r)
			return true
		}
	}

	s.mu.Lock()
	if s.srv.draining.Load() {
		s.mu.Unlock()
		s.rejectWith(ReasonShutdown, rejectShutdown)
		s.hangUp()
		return false
	}
	s.inData = true
	s.dataDeadline = time.Now().Add(ep.DataTimeout)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inData = false
		s.mu.Unlock()
	}()

	s.reply(354, noEnh, "End data with <CR><LF>.<CR><LF>")
	dr := newDataReader(s.br, ep.MaxMessageBytes)
	hdr := s.receivedHeader(env, utf8)
	qid, err := ep.Spool.Spool(s.srv.ctx, env, io.MultiReader(strings.NewReader(hdr), dr))
	whole := dr.eof && dr.viol == nil
	dr.drain()

	switch {
	case dr.err != nil:
		if err == nil {
			s.log.Error("spooler committed a message whose body failed to read", "queue_id", qid, "err", dr.err)
		}
		if isTimeout(dr.err) {
			s.rejectWith(ReasonTimeout, rejectTimeout)
			s.hangUp()
		}
		return false
	case dr.fatal != nil || dr.viol != nil:
		r, fatal := dr.viol, dr.fatal != nil
		if fatal {
			r = dr.fatal
		}
		if err == nil {
			s.log.Error("spooler committed a message whose body failed to read", "queue_id", qid, "err", r)
		}
		reason := ReasonBareNewline
		switch r {
		case rejectSmuggling:
			reason = ReasonSmuggling
			s.log.Warn("SMTP smuggling attempt: non-standard end of data", "helo", s.conn.Helo)
		case rejectTooBig:
			reason = ReasonSize
		case rejectDataLine:
			reason = ReasonLineTooLong
		case rejectLoop:
			reason = ReasonLoop
		}
		s.rejectWith(reason, *r)
		if fatal {
			s.hangUp()
			return false
		}
		return true
	case err != nil:
		if r, ok := errors.AsType[*Reject](err); ok {
			s.rejectWith(ReasonPolicy, *r)
			return true
		}
		s.log.Error("spooling failed", "err", err)
		s.rejectWith(ReasonSpool, Reject{451, [3]int{4, 3, 0}, "Temporary failure storing the message, try again later"})
		return true
	case !whole:
		s.log.Error("spooler returned before reading the whole message", "queue_id", qid)
		s.rejectWith(ReasonSpool, Reject{451, [3]int{4, 3, 0}, "Temporary failure storing the message, try again later"})
		return true
	}
	env.QueueID = qid
	env.Size = int64(len(hdr)) + dr.size
	s.srv.obs.Accepted(env)
	s.log.Info("message accepted", "queue_id", qid, "from", env.MailFrom, "rcpts", len(env.Recipients), "size", env.Size)
	s.reply(250, [3]int{2, 0, 0}, sanitizeReply(s.srv.acceptedText(qid)))
	return true
}

// receivedHeader is the trace line this server adds (RFC 5321 4.4), with
// the protocol names of RFC 3848 and RFC 6531 3.7.3. The recipient is named
// only when there is one, so that Bcc recipients are not disclosed.
func (s *session) receivedHeader(env *message.Envelope, utf8 bool) string {
	var b strings.Builder
	b.Grow(256)
	b.WriteString("Received: from ")
	b.WriteString(s.conn.Helo)
	b.WriteString(" (")
	if s.conn.ReverseName != "" && validHelo(s.conn.ReverseName) {
		b.WriteString(s.conn.ReverseName)
		b.WriteByte(' ')
	}
	b.WriteByte('[')
	b.WriteString(s.conn.RemoteIP.String())
	b.WriteString("])\r\n\tby ")
	b.WriteString(s.srv.ep.Hostname)
	b.WriteString(" (Tidings) with ")
	switch {
	case utf8:
		b.WriteString("UTF8SMTP")
	case s.esmtp:
		b.WriteString("ESMTP")
	default:
		b.WriteString("SMTP")
	}
	if s.tlsOn {
		b.WriteByte('S')
	}
	if s.authed {
		b.WriteByte('A')
	}
	if s.tlsOn {
		b.WriteString("\r\n\t(")
		b.WriteString(s.conn.TLS)
		b.WriteByte(' ')
		b.WriteString(s.conn.TLSCipher)
		b.WriteByte(')')
	}
	if len(env.Recipients) == 1 {
		b.WriteString("\r\n\tfor <")
		b.WriteString(env.Recipients[0])
		b.WriteByte('>')
	}
	b.WriteString(";\r\n\t")
	b.WriteString(env.ReceivedAt.Format(time.RFC1123Z))
	b.WriteString("\r\n")
	return b.String()
}

func (s *session) cmdStartTLS(arg string) bool {
	switch {
	case arg != "":
		s.fail(501, [3]int{5, 5, 4}, "Syntax: STARTTLS")
		return s.countError()
	case s.srv.tlsConf == nil:
		s.fail(502, [3]int{5, 5, 1}, "STARTTLS not available")
		return s.countError()
	case s.tlsOn:
		s.fail(503, [3]int{5, 5, 1}, "TLS already active")
		return s.countError()
	}
	pipelined := s.br.Buffered()
	s.reply(220, [3]int{2, 0, 0}, "Ready to start TLS")
	if err := s.bw.Flush(); err != nil {
		return false
	}
	if pipelined > 0 {
		// RFC 3207 4.2 / CVE-2011-0411: what came with STARTTLS was sent
		// in clear text and must not be executed inside TLS. It is
		// dropped with the buffer below.
		s.log.Warn("discarding commands pipelined after STARTTLS", "octets", pipelined)
	}
	if !s.handshake() {
		return false
	}
	// RFC 3207 4.2: forget what the client said before TLS.
	s.greeted, s.esmtp = false, false
	s.conn.Helo = ""
	s.authed, s.conn.AuthUser = false, ""
	s.connectDone, s.connectReject = false, nil
	s.resetTx()
	return true
}

// handshake runs the server side of TLS on the raw connection (after
// STARTTLS, or at once with ImplicitTLS) and reports whether the session
// goes on.
func (s *session) handshake() bool {
	tc := tls.Server(s.raw, s.srv.tlsConf)
	s.mu.Lock()
	s.raw.SetDeadline(time.Now().Add(s.srv.ep.CommandTimeout))
	s.mu.Unlock()
	if err := tc.HandshakeContext(s.srv.ctx); err != nil {
		s.log.Debug("TLS handshake failed", "err", err)
		s.srv.obs.Rejected(&s.conn, ReasonTLS, Reject{421, [3]int{4, 7, 0}, "TLS handshake failed"})
		return false
	}
	s.nc = tc
	s.tlsOn = true
	s.br.Reset(connReader{s})
	s.bw.Reset(connWriter{s})

	st := tc.ConnectionState()
	s.conn.TLS = tlsVersionName(st.Version)
	s.conn.TLSCipher = tls.CipherSuiteName(st.CipherSuite)
	if s.srv.ep.TLSPolicy == TLSFIPS && !fipsOK(&st) {
		s.rejectWith(ReasonTLS, Reject{421, [3]int{4, 7, 0}, "TLS cipher suite not FIPS approved, closing connection"})
		s.hangUp()
		return false
	}
	if pool := s.srv.ep.RequireClientCert; pool != nil {
		leaf, err := verifyClientCert(&st, pool)
		s.certOK, s.certErr = err == nil, err
		if err == nil {
			s.conn.ClientCert = leaf
		}
	}
	return true
}

// connectVerdict asks the Policy about the connection once per TLS state.
func (s *session) connectVerdict() *Reject {
	if !s.connectDone {
		s.connectDone = true
		if p := s.srv.ep.Policy; p != nil {
			s.connectReject = p.Connect(s.srv.ctx, &s.conn)
		}
	}
	return s.connectReject
}

func (s *session) resetTx() {
	s.inTx, s.mailFrom, s.utf8, s.rcpts = false, "", false, nil
}

// reply writes one reply line; enh {0,0,0} leaves the enhanced code out.
// It does not flush: the next read does, or hangUp.
func (s *session) reply(code int, enh [3]int, text string) {
	b := strconv.AppendInt(s.out[:0], int64(code), 10)
	b = append(b, ' ')
	if enh[0] != 0 {
		b = appendEnhanced(b, enh)
		b = append(b, ' ')
	}
	b = append(b, text...)
	b = append(b, '\r', '\n')
	s.bw.Write(b)
	s.out = b
}

func appendEnhanced(b []byte, enh [3]int) []byte {
	b = strconv.AppendInt(b, int64(enh[0]), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(enh[1]), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, int64(enh[2]), 10)
}

// replyLines writes a multi-line reply (RFC 5321 4.2.1).
func (s *session) replyLines(code int, lines []string) {
	for i, l := range lines {
		b := strconv.AppendInt(s.out[:0], int64(code), 10)
		if i < len(lines)-1 {
			b = append(b, '-')
		} else {
			b = append(b, ' ')
		}
		b = append(b, l...)
		b = append(b, '\r', '\n')
		s.bw.Write(b)
		s.out = b
	}
}

// fail answers a protocol error.
func (s *session) fail(code int, enh [3]int, text string) {
	s.reply(code, enh, text)
}

// countError counts a protocol error and reports whether the session goes
// on; too many end it.
func (s *session) countError() bool {
	s.errors++
	if s.errors <= maxErrors {
		return true
	}
	s.rejectWith(ReasonProtocol, rejectTooManyErr)
	s.hangUp()
	return false
}

// rejectWith tells the Observer and answers r, made safe to send.
func (s *session) rejectWith(reason Reason, r Reject) {
	if r.Code < 400 || r.Code > 599 {
		r.Code = 550
	}
	if r.Enhanced[0] != r.Code/100 {
		r.Enhanced = [3]int{r.Code / 100, 0, 0}
	}
	r.Message = sanitizeReply(r.Message)
	if r.Message == "" {
		r.Message = "Rejected"
	}
	s.srv.obs.Rejected(&s.conn, reason, r)
	s.reply(r.Code, r.Enhanced, r.Message)
}

// hangUp sends the pending replies and closes the connection so that the
// client reads them: half-close, then discard what the client still sends
// for a moment (closing with unread input would reset the connection and
// could destroy the last reply in flight).
func (s *session) hangUp() {
	s.bw.Flush()
	if tc, ok := s.nc.(*tls.Conn); ok {
		tc.CloseWrite()
	}
	if cw, ok := s.raw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	s.mu.Lock()
	s.raw.SetReadDeadline(time.Now().Add(lingerTime))
	s.mu.Unlock()
	io.CopyN(io.Discard, s.raw, maxRunaway)
}
