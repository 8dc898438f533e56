package delivery

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tidings/tidings/internal/pace"
)

// Envelope is the SMTP envelope of a message (RFC 5321 2.3.1).
type Envelope struct {
	// MailFrom is the reverse-path; "" is the null sender of DSNs.
	MailFrom   string
	Recipients []string
	// SMTPUTF8 says the message needs SMTPUTF8 (RFC 6531) for reasons the
	// envelope does not show, such as UTF-8 header fields (RFC 6532). UTF-8 in
	// the envelope's addresses is detected without it.
	SMTPUTF8 bool
	// EightBit says the body has 8-bit content: BODY=8BITMIME (RFC 6152) is
	// declared to servers that offer it. To servers that do not, the body is
	// sent unchanged, as Postfix does by default.
	EightBit bool
	// Size, when known, is declared with SIZE= (RFC 1870), and a message larger
	// than the server's declared limit fails without being sent.
	Size int64
}

// Timeouts are per-stage limits (RFC 5321 4.5.3.2). The RFC values are
// minimums a client should wait before giving up on a slow server; they are
// the defaults except for connect, which uses Postfix's 30 s so that an
// unreachable MX host costs little before the next is tried.
type Timeouts struct {
	Connect   time.Duration // TCP connect: 30 s (TLS handshakes count as a Command)
	Greeting  time.Duration // 220 greeting, 4.5.3.2.1: 5 min
	Command   time.Duration // EHLO, STARTTLS, AUTH, RSET, MAIL, RCPT, 4.5.3.2.2-3: 5 min
	DataInit  time.Duration // 354 reply to DATA, 4.5.3.2.4: 2 min
	DataBlock time.Duration // each write of the message, 4.5.3.2.5: 3 min
	DataFinal time.Duration // reply to the final ".", 4.5.3.2.6: 10 min
	Quit      time.Duration // reply to QUIT before closing anyway: 10 s
}

func (t *Timeouts) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Connect, 30*time.Second)
	def(&t.Greeting, 5*time.Minute)
	def(&t.Command, 5*time.Minute)
	def(&t.DataInit, 2*time.Minute)
	def(&t.DataBlock, 3*time.Minute)
	def(&t.DataFinal, 10*time.Minute)
	def(&t.Quit, 10*time.Second)
}

// Dialer opens TCP connections; *net.Dialer satisfies it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Config configures a Deliverer. The zero value works.
type Config struct {
	// LocalName is the name given in EHLO; default the host name.
	LocalName string
	// Resolver defaults to net.DefaultResolver.
	Resolver Resolver
	// Dialer defaults to a net.Dialer.
	Dialer   Dialer
	Timeouts Timeouts
	// RootCAs verify server certificates; nil means the system roots.
	RootCAs *x509.CertPool
	// MaxConnsPerDestination bounds concurrent deliveries (and so open
	// connections) per destination; default 20, Postfix's
	// default_destination_concurrency_limit.
	MaxConnsPerDestination int
	// MaxMessagesPerConn closes a connection after that many mail
	// transactions; default 100.
	MaxMessagesPerConn int
	// IdleTimeout closes a pooled connection unused for that long; default
	// 5 s (Postfix keeps cached connections 2 s; a little longer suits a queue
	// that is fed by jobs). Negative disables pooling.
	IdleTimeout time.Duration
	// MaxRecipientsPerTransaction splits larger envelopes into several
	// transactions on the same connection; default 100, the number RFC 5321
	// 4.5.3.1.8 obliges a server to accept.
	MaxRecipientsPerTransaction int
	// MaxAddresses bounds the IP addresses tried per delivery over all MX
	// hosts; default 5, Postfix's smtp_mx_address_limit.
	MaxAddresses int
	Logger       *slog.Logger
}

// Deliverer delivers messages over SMTP, keeping a pool of connections and a
// concurrency limit per destination. It is safe for concurrent use.
type Deliverer struct {
	cfg       Config
	tlsCache  tls.ClientSessionCache
	log       *slog.Logger
	mu        sync.Mutex
	dests     map[Destination]*destState
	closed    bool
	localName string
}

// destState is the pool and semaphore of one destination. It lives while
// deliveries use it or idle connections wait in it.
type destState struct {
	key  Destination
	sem  chan struct{}
	refs int        // deliveries holding or waiting for the semaphore; guarded by Deliverer.mu
	idle []*session // most recently used last; guarded by Deliverer.mu
	// pacer spaces the transactions by key.Rate; forgetting says a timer
	// will forget the destination once the pacer's next slot has passed
	// (guarded by Deliverer.mu).
	pacer      *pace.Pacer
	forgetting bool
}

// New returns a Deliverer.
func New(cfg Config) *Deliverer {
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{}
	}
	cfg.Timeouts.withDefaults()
	if cfg.MaxConnsPerDestination <= 0 {
		cfg.MaxConnsPerDestination = 20
	}
	if cfg.MaxMessagesPerConn <= 0 {
		cfg.MaxMessagesPerConn = 100
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 5 * time.Second
	}
	if cfg.MaxRecipientsPerTransaction <= 0 {
		cfg.MaxRecipientsPerTransaction = 100
	}
	if cfg.MaxAddresses <= 0 {
		cfg.MaxAddresses = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	name := cfg.LocalName
	if name == "" {
		name, _ = os.Hostname()
	}
	if name == "" || strings.ContainsAny(name, " \r\n") {
		name = "localhost"
	}
	return &Deliverer{
		cfg:       cfg,
		tlsCache:  tls.NewLRUClientSessionCache(256),
		log:       cfg.Logger,
		dests:     make(map[Destination]*destState),
		localName: name,
	}
}

// Close closes the idle connections and stops pooling; deliveries in progress
// finish and close their connections.
func (dl *Deliverer) Close() error {
	dl.mu.Lock()
	dl.closed = true
	var idle []*session
	for _, ds := range dl.dests {
		idle = append(idle, ds.idle...)
		ds.idle = nil
	}
	dl.mu.Unlock()
	for _, s := range idle {
		s.timer.Stop()
		s.quit()
	}
	return nil
}

// IdleConns returns the number of pooled connections (for metrics and tests).
func (dl *Deliverer) IdleConns() int {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	n := 0
	for _, ds := range dl.dests {
		n += len(ds.idle)
	}
	return n
}

// Deliver sends the message to the destination for every recipient of env and
// returns what happened to each. It never retries later by itself: deferred
// recipients are for the caller to schedule (RetryPolicy).
//
// body is called to open the message (header and body, lines ending in CRLF
// or LF) once per mail transaction; it is not called when no transaction is
// started.
func (dl *Deliverer) Deliver(ctx context.Context, dest Destination, env Envelope, body func() (io.ReadCloser, error)) Result {
	res := Result{Recipients: make([]RecipientResult, len(env.Recipients))}
	todo := make([]int, 0, len(env.Recipients))
	for i, rcpt := range env.Recipients {
		res.Recipients[i].Recipient = rcpt
		if !validAddress(rcpt) {
			res.Recipients[i].Status = Failed
			res.Recipients[i].Reply = localReply("5.1.3", "bad recipient address syntax")
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return res
	}
	settle := func(idx []int, st Status, r Reply, remote string) {
		for _, i := range idx {
			res.Recipients[i].Status, res.Recipients[i].Reply, res.Recipients[i].RemoteMTA = st, r, remote
		}
	}
	if env.MailFrom != "" && !validAddress(env.MailFrom) {
		settle(todo, Failed, localReply("5.1.7", "bad sender address syntax"), "")
		return res
	}
	dest, ok := dest.normalize()
	if !ok {
		settle(todo, Deferred, localReply("4.3.5", "unusable destination "+dest.String()), "")
		return res
	}

	ds := dl.acquireDest(dest)
	defer dl.releaseDest(ds)
	select {
	case ds.sem <- struct{}{}:
	case <-ctx.Done():
		settle(todo, Deferred, interrupted(ctx), "")
		return res
	}
	defer func() { <-ds.sem }()
	if err := ds.pacer.Wait(ctx); err != nil {
		settle(todo, Deferred, interrupted(ctx), "")
		return res
	}

	needUTF8 := env.SMTPUTF8 || !ascii(env.MailFrom)
	for _, i := range todo {
		needUTF8 = needUTF8 || !ascii(env.Recipients[i])
	}

	s := dl.checkout(ds)
	if s != nil {
		s.watch(ctx)
	}
	for len(todo) > 0 {
		if s == nil {
			var fail *hostFailure
			s, fail = dl.connect(ctx, ds)
			if s == nil {
				st := Deferred
				if fail.permanent {
					st = Failed
				}
				if ctx.Err() != nil {
					fail.reply = interrupted(ctx)
				}
				settle(todo, st, fail.reply, "")
				break
			}
		}
		res.RemoteMTA, res.RemoteAddr, res.TLS = s.host, s.addr, s.tls

		// Checks of this message against what the server offers.
		if needUTF8 && !s.ext.smtputf8 {
			// RFC 6531 3.2: without SMTPUTF8 the message cannot be sent
			// unchanged; Postfix returns it with 5.6.7 too.
			settle(todo, Failed, localReply("5.6.7", "SMTPUTF8 is required, but was not offered by host "+s.host), s.host)
			break
		}
		if env.Size > 0 && s.ext.maxSize > 0 && env.Size > s.ext.maxSize {
			settle(todo, Failed, localReply("5.3.4", "message size "+strconv.FormatInt(env.Size, 10)+
				" exceeds size limit "+strconv.FormatInt(s.ext.maxSize, 10)+" of host "+s.host), s.host)
			break
		}

		chunk := todo[:min(len(todo), dl.cfg.MaxRecipientsPerTransaction)]
		out := dl.transact(ctx, s, env, needUTF8, chunk, body, &res)
		if out == txStale {
			// The pooled connection had died while idle; nothing was
			// said on it. A new connection is never stale, so this
			// happens at most once per pooled connection.
			dl.log.Debug("pooled connection was dead", "dest", dest.String(), "addr", s.addr)
			s.unwatch()
			s.close()
			s = nil
			continue
		}
		todo = todo[len(chunk):]
		// RFC 5321 4.5.3.1.10: recipients refused with 452 for being too
		// many (4.5.3, or no enhanced code from an older server) go in
		// another transaction, when this one made progress.
		var delivered bool
		var again []int
		for _, i := range chunk {
			switch rr := &res.Recipients[i]; {
			case rr.Status == Delivered:
				delivered = true
			case rr.Reply.Code == 452 && (rr.Reply.Enhanced == "4.5.3" || rr.Reply.Enhanced == ""):
				again = append(again, i)
			}
		}
		if delivered && len(again) > 0 {
			todo = append(again, todo...)
		}
		if out == txBroken {
			s.unwatch()
			s.close()
			s = nil
			if len(todo) > 0 {
				settle(todo, Deferred, localReply("4.4.2", "connection lost before delivery to these recipients"), "")
			}
			break
		}
	}
	if s != nil {
		if s.unwatch() {
			dl.park(ds, s)
		} else {
			s.close()
		}
	}
	return res
}

func interrupted(ctx context.Context) Reply {
	return localReply("4.4.7", "delivery interrupted: "+context.Cause(ctx).Error())
}

// validAddress accepts what can be put between < and > in MAIL or RCPT
// without changing the command: no controls, spaces or angle brackets, and
// valid UTF-8. The syntax of the address itself is the remote server's to
// judge.
func validAddress(a string) bool {
	if a == "" || len(a) > 320 || !utf8.ValidString(a) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (dl *Deliverer) acquireDest(key Destination) *destState {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	ds := dl.dests[key]
	if ds == nil {
		n := dl.cfg.MaxConnsPerDestination
		if key.MaxConns > 0 {
			n = key.MaxConns
		}
		ds = &destState{key: key, sem: make(chan struct{}, n), pacer: pace.New(key.Rate)}
		dl.dests[key] = ds
	}
	ds.refs++
	return ds
}

func (dl *Deliverer) releaseDest(ds *destState) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	ds.refs--
	dl.forgetLocked(ds)
}

// forgetLocked drops an unused destination so the map does not grow with
// every domain ever delivered to; a paced one is kept while its next slot
// is ahead, so that its pace holds between deliveries.
func (dl *Deliverer) forgetLocked(ds *destState) {
	if ds.refs != 0 || len(ds.idle) != 0 || dl.dests[ds.key] != ds {
		return
	}
	if wait := time.Until(ds.pacer.Next()); wait > 0 {
		if !ds.forgetting {
			ds.forgetting = true
			time.AfterFunc(wait, func() {
				dl.mu.Lock()
				defer dl.mu.Unlock()
				ds.forgetting = false
				dl.forgetLocked(ds)
			})
		}
		return
	}
	delete(dl.dests, ds.key)
}

// checkout takes the most recently used idle connection, if any.
func (dl *Deliverer) checkout(ds *destState) *session {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	n := len(ds.idle)
	if n == 0 {
		return nil
	}
	s := ds.idle[n-1]
	ds.idle[n-1] = nil
	ds.idle = ds.idle[:n-1]
	s.timer.Stop()
	s.reused = true
	return s
}

// park returns a healthy connection to the pool, or closes it when it has
// done its share of transactions or pooling is off.
func (dl *Deliverer) park(ds *destState, s *session) {
	dl.mu.Lock()
	if dl.closed || dl.cfg.IdleTimeout < 0 || s.txs >= dl.cfg.MaxMessagesPerConn {
		dl.mu.Unlock()
		s.quit()
		return
	}
	s.pool = ds
	ds.idle = append(ds.idle, s)
	if s.timer == nil {
		s.timer = time.AfterFunc(dl.cfg.IdleTimeout, func() { dl.expire(s) })
	} else {
		s.timer.Reset(dl.cfg.IdleTimeout)
	}
	dl.mu.Unlock()
}

// expire closes a connection that stayed idle for IdleTimeout, unless it was
// checked out in the meantime.
func (dl *Deliverer) expire(s *session) {
	dl.mu.Lock()
	ds := s.pool
	found := false
	for i, x := range ds.idle {
		if x == s {
			ds.idle = append(ds.idle[:i], ds.idle[i+1:]...)
			found = true
			break
		}
	}
	if found {
		dl.forgetLocked(ds)
	}
	dl.mu.Unlock()
	if found {
		s.quit()
	}
}

// connect opens a session to the destination, trying its hosts and addresses
// in order (RFC 5321 5.1) until one greets, says EHLO and meets the TLS and
// AUTH requirements.
func (dl *Deliverer) connect(ctx context.Context, ds *destState) (*session, *hostFailure) {
	dest := ds.key
	var hosts []string
	implicitMX := false
	if dest.isRelay() {
		hosts = []string{dest.Host}
	} else {
		var fail *hostFailure
		hosts, implicitMX, fail = dl.mxHosts(ctx, dest.Domain)
		if fail != nil {
			return nil, fail
		}
	}
	var last *hostFailure
	tried := 0
	for _, host := range hosts {
		ips, fail := dl.addrs(ctx, host)
		if fail != nil {
			// Only a domain without MX and without address is known to
			// be undeliverable; a missing MX host or relay host is a
			// DNS or configuration problem that may be fixed.
			if fail.permanent && !implicitMX {
				fail.permanent = false
				fail.reply.Enhanced = "4" + fail.reply.Enhanced[1:]
			}
			last = fail
			continue
		}
		for _, ip := range ips {
			if tried >= dl.cfg.MaxAddresses || ctx.Err() != nil {
				break
			}
			tried++
			addr := net.JoinHostPort(ip.String(), strconv.Itoa(dest.port()))
			s, fail := dl.open(ctx, dest, host, addr, false)
			if fail != nil && fail.tlsFailed && !dest.TLS.Require && !dest.TLS.Implicit && !dest.verify() {
				// Opportunistic TLS whose handshake failed: try the same
				// address in plaintext, as Postfix does.
				dl.log.Info("TLS handshake failed; retrying without TLS", "dest", dest.String(), "addr", addr, "reason", fail.reply.Text)
				s, fail = dl.open(ctx, dest, host, addr, true)
			}
			if fail == nil {
				return s, nil
			}
			dl.log.Debug("host unusable", "dest", dest.String(), "host", host, "addr", addr, "reason", fail.reply.String())
			last = fail
		}
	}
	if last == nil {
		last = &hostFailure{reply: localReply("4.4.1", "no address to try for "+dest.String())}
	}
	return nil, last
}

// open connects to one address and prepares the session.
func (dl *Deliverer) open(ctx context.Context, dest Destination, host, addr string, noTLS bool) (*session, *hostFailure) {
	t := &dl.cfg.Timeouts
	dctx, cancel := context.WithTimeout(ctx, t.Connect)
	conn, err := dl.cfg.Dialer.DialContext(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, &hostFailure{reply: localReply("4.4.1", "connect to "+host+"["+addr+"]: "+errText(err))}
	}
	s := &session{raw: conn, host: host, addr: addr, t: t,
		br: bufio.NewReaderSize(conn, readBufSize), bw: bufio.NewWriterSize(conn, writeBufSize)}
	s.watch(ctx)
	fail := dl.prepare(ctx, s, dest, noTLS)
	if fail != nil {
		s.unwatch()
		if fail.broken || fail.reply.Code == 421 {
			s.close()
		} else {
			s.quit()
		}
		if ctx.Err() != nil {
			fail.reply = interrupted(ctx)
		}
		return nil, fail
	}
	return s, nil
}

func (dl *Deliverer) prepare(ctx context.Context, s *session, dest Destination, noTLS bool) *hostFailure {
	t := s.t
	where := s.host + "[" + s.addr + "]"
	lost := func(stage string, err error) *hostFailure {
		return &hostFailure{broken: true, reply: localReply("4.4.2", "lost connection with "+where+" "+stage+": "+errText(err))}
	}
	refused := func(stage string, r Reply) *hostFailure {
		// A refusal before MAIL is about this host, not the message:
		// another host may do (smtp_skip_5xx_greeting), so it is never
		// permanent here.
		r.Text = where + " refused " + stage + ": " + r.Text
		return &hostFailure{reply: r}
	}
	tlsCfg := &tls.Config{
		ServerName:         s.host,
		RootCAs:            dl.cfg.RootCAs,
		InsecureSkipVerify: !dest.verify(),
		ClientSessionCache: dl.tlsCache,
	}
	if dest.TLS.Implicit {
		if err := s.startTLS(ctx, tlsCfg); err != nil {
			return &hostFailure{broken: true, reply: localReply("4.7.5", "TLS handshake with "+where+" failed: "+errText(err))}
		}
	}

	r, err := s.readReply(t.Greeting, nil)
	if err != nil {
		return lost("while receiving the greeting", err)
	}
	if r.Code != 220 {
		return refused("the session", r)
	}
	if r, err = s.hello(dl.localName); err != nil {
		return lost("after EHLO", err)
	} else if r.Code != 250 {
		return refused("EHLO", r)
	}

	useTLS := !s.tls && !noTLS && (!dest.TLS.Disable || dest.TLS.Require)
	if useTLS && s.ext.starttls {
		r, err := s.cmd(t.Command, "STARTTLS")
		switch {
		case err != nil:
			return lost("after STARTTLS", err)
		case r.Code == 220:
			if err := s.startTLS(ctx, tlsCfg); err != nil {
				return &hostFailure{tlsFailed: true, broken: true,
					reply: localReply("4.7.5", "TLS handshake with "+where+" failed: "+errText(err))}
			}
			// RFC 3207 4.2: forget what was learnt before TLS.
			if r, err = s.hello(dl.localName); err != nil {
				return lost("after EHLO", err)
			} else if r.Code != 250 {
				return refused("EHLO", r)
			}
		case dest.TLS.Require:
			return refused("STARTTLS", r)
		}
		// RFC 3207 4.1: a refused STARTTLS leaves the session usable in
		// plaintext.
	}
	if dest.TLS.Require && !s.tls {
		return &hostFailure{reply: localReply("4.7.5", "TLS is required, but was not offered by host "+where)}
	}

	if dest.Username != "" {
		if !s.tls && !dest.TLS.AllowPlaintextAuth {
			return &hostFailure{reply: localReply("4.7.0", "not sending credentials to "+where+" without TLS")}
		}
		if !s.ext.authPlain && !s.ext.authLogin {
			return &hostFailure{reply: localReply("4.7.0", where+" offers no supported AUTH mechanism (PLAIN, LOGIN)")}
		}
		r, err := s.auth(dest.Username, dest.Password)
		if err != nil {
			return lost("during AUTH", err)
		}
		if r.Code != 235 {
			// Deferred, not bounced, whatever the code (Postfix's
			// smtp_sasl_auth_soft_bounce): credentials can be fixed.
			return refused("authentication", r)
		}
	}
	return nil
}

func errText(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}

type txOutcome int

const (
	txOK     txOutcome = iota // the session can carry another transaction
	txBroken                  // the session must be closed
	txStale                   // a pooled session was dead before any reply; nothing settled
)

// transact runs one mail transaction for the recipients idx, pipelining
// (RFC 2920) when the server allows it, and settles each of them in res.
func (dl *Deliverer) transact(ctx context.Context, s *session, env Envelope, utf8 bool, idx []int, body func() (io.ReadCloser, error), res *Result) txOutcome {
	t := s.t
	where := s.host + "[" + s.addr + "]"
	done := make([]bool, len(res.Recipients))
	settle := func(i int, st Status, r Reply, remote string) {
		rr := &res.Recipients[i]
		rr.Status, rr.Reply, rr.RemoteMTA = st, r, remote
		done[i] = true
	}
	// settleRest settles the recipients that have no outcome yet.
	settleRest := func(st Status, r Reply, remote string) {
		for _, i := range idx {
			if !done[i] {
				settle(i, st, r, remote)
			}
		}
	}
	lost := func(stage string, err error) txOutcome {
		r := localReply("4.4.2", "lost connection with "+where+" "+stage+": "+errText(err))
		if ctx.Err() != nil {
			r = interrupted(ctx)
		}
		settleRest(Deferred, r, "")
		return txBroken
	}
	replied := func(r Reply) txOutcome {
		settleRest(statusOf(r.Code), r, s.host)
		return outcome(r)
	}

	// The message is opened before any command: once the server has said
	// 354, the only way to abort is to drop the connection.
	rc, err := body()
	if err != nil {
		settleRest(Deferred, localReply("4.3.0", "cannot read the message: "+err.Error()), "")
		return txOK
	}
	defer rc.Close()

	reused := s.reused
	s.reused = false
	// RFC 5321 4.1.1.5: RSET clears whatever the previous transaction left;
	// on a pooled connection it is also the liveness probe.
	rset := s.txs > 0
	s.txs++
	pipe := s.ext.pipelining

	if rset {
		s.writeCmd("RSET")
	}
	s.bw.WriteString("MAIL FROM:<")
	s.bw.WriteString(env.MailFrom)
	s.bw.WriteString(">")
	if env.EightBit && s.ext.eightBitMIME {
		s.bw.WriteString(" BODY=8BITMIME")
	}
	if utf8 {
		s.bw.WriteString(" SMTPUTF8")
	}
	if env.Size > 0 && s.ext.size {
		s.bw.WriteString(" SIZE=")
		s.bw.WriteString(strconv.FormatInt(env.Size, 10))
	}
	s.bw.WriteString("\r\n")
	if pipe {
		for _, i := range idx {
			s.writeCmd("RCPT TO:<", env.Recipients[i], ">")
		}
		s.writeCmd("DATA")
	}
	if err := s.flush(t.Command); err != nil {
		if reused {
			return txStale
		}
		return lost("while sending MAIL FROM", err)
	}

	if rset {
		r, err := s.readReply(t.Command, nil)
		if reused && (err != nil || r.Code == 421) {
			return txStale
		}
		if err != nil {
			return lost("after RSET", err)
		}
		if r.Code != 250 {
			settleRest(Deferred, r, s.host)
			return txBroken
		}
	}
	mail, err := s.readReply(t.Command, nil)
	if err != nil {
		return lost("after MAIL FROM", err)
	}
	if mail.Code == 421 || (!pipe && mail.Code/100 != 2) {
		return replied(mail)
	}
	mailOK := mail.Code/100 == 2
	var accepted []int
	for _, i := range idx {
		if !pipe {
			s.writeCmd("RCPT TO:<", env.Recipients[i], ">")
			if err := s.flush(t.Command); err != nil {
				return lost("while sending RCPT TO", err)
			}
		}
		r, err := s.readReply(t.Command, nil)
		if err != nil {
			return lost("after RCPT TO", err)
		}
		switch {
		case r.Code == 421:
			// RFC 5321 3.8: the server is closing the connection.
			settle(i, Deferred, r, s.host)
			settleRest(Deferred, r, s.host)
			return txBroken
		case !mailOK:
			// After a refused MAIL the RCPT replies say nothing new.
			settle(i, statusOf(mail.Code), mail, s.host)
		case r.Code/100 == 2:
			accepted = append(accepted, i)
		default:
			settle(i, statusOf(r.Code), r, s.host)
		}
	}
	if !pipe {
		if len(accepted) == 0 {
			return txOK
		}
		s.writeCmd("DATA")
		if err := s.flush(t.Command); err != nil {
			return lost("while sending DATA", err)
		}
	}
	data, err := s.readReply(t.DataInit, nil)
	if err != nil {
		return lost("after DATA", err)
	}
	if data.Code != 354 {
		if len(accepted) == 0 {
			return outcome(data)
		}
		return replied(data)
	}
	if len(accepted) == 0 {
		// RFC 2920 3.1: DATA accepted although no recipient was; end it
		// with an empty message, which the server must refuse.
		s.writeCmd(".")
		if err := s.flush(t.Command); err != nil {
			return txBroken
		}
		if _, err := s.readReply(t.DataFinal, nil); err != nil {
			return txBroken
		}
		return txOK
	}

	if s.buf == nil {
		s.buf = make([]byte, copyBufSize)
	}
	dw := dotWriter{w: s.bw}
	for {
		n, rerr := rc.Read(s.buf)
		if n > 0 {
			// RFC 5321 4.5.3.2.5: a time limit on each block written.
			s.raw.SetWriteDeadline(s.deadline(t.DataBlock))
			if _, err := dw.Write(s.buf[:n]); err != nil {
				return lost("while sending the message", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// Dropping the connection without the final "." makes the
			// server discard what it received (RFC 5321 4.1.1.4).
			settleRest(Deferred, localReply("4.3.0", "cannot read the message: "+rerr.Error()), "")
			return txBroken
		}
	}
	dw.close()
	if err := s.flush(t.DataBlock); err != nil {
		return lost("while sending the message", err)
	}
	final, err := s.readReply(t.DataFinal, nil)
	if err != nil {
		// RFC 1047: the server may have taken the message; a retry may
		// duplicate it, which beats losing it.
		return lost("after the end of data (the message may have been delivered)", err)
	}
	return replied(final)
}

// outcome says whether the connection is still usable after a reply: 421
// means the server is closing it (RFC 5321 3.8).
func outcome(r Reply) txOutcome {
	if r.Code == 421 {
		return txBroken
	}
	return txOK
}
