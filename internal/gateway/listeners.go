package gateway

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/rules"
	"github.com/tidings/tidings/internal/smtpd"
)

// listenerManager keeps one SMTP listener per ingress point, in step with
// the configuration:
//
//   - ACTIVE: listening on the ingress point's port on ListenHost;
//   - CLOSED (or any other status): still bound, new connections get 421;
//   - deleted, or moved to another port: shut down (sessions in DATA
//     finish their message);
//   - a changed traffic policy or password takes effect at once for every
//     session (the compiled policy and the record are swapped atomically);
//   - a changed type, TLS policy, size limit or trust store needs another
//     smtpd.Server: the new one takes the new connections, the old one
//     keeps its sessions until they end. No connection is dropped.
type listenerManager struct {
	g *Gateway

	mu       sync.Mutex // serializes reconciles and stop
	byID     map[string]*listener
	policies map[string]compiledPolicy // by account/id
	failing  map[string]time.Time      // ingress point id -> last logged listen failure
	stopped  bool

	kickCh chan struct{}
	quit   chan struct{}
	done   chan struct{}
}

type compiledPolicy struct {
	updated time.Time
	p       *rules.Policy
}

func newListenerManager(g *Gateway) *listenerManager {
	return &listenerManager{
		g:        g,
		byID:     map[string]*listener{},
		policies: map[string]compiledPolicy{},
		failing:  map[string]time.Time{},
		kickCh:   make(chan struct{}, 1),
	}
}

func (lm *listenerManager) start(ctx context.Context) error {
	lm.mu.Lock()
	if lm.quit != nil {
		lm.mu.Unlock()
		return errors.New("gateway: already started")
	}
	lm.quit, lm.done = make(chan struct{}), make(chan struct{})
	lm.mu.Unlock()
	lm.reconcile(ctx)
	go lm.loop()
	return nil
}

func (lm *listenerManager) kick() {
	select {
	case lm.kickCh <- struct{}{}:
	default:
	}
}

func (lm *listenerManager) loop() {
	defer close(lm.done)
	t := time.NewTicker(lm.g.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-lm.quit:
			return
		case <-t.C:
		case <-lm.kickCh:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		lm.reconcile(ctx)
		cancel()
	}
}

func (lm *listenerManager) stop(ctx context.Context) error {
	lm.mu.Lock()
	if lm.quit == nil || lm.stopped {
		lm.mu.Unlock()
		return nil
	}
	lm.stopped = true
	close(lm.quit)
	lm.mu.Unlock()
	<-lm.done

	lm.mu.Lock()
	ls := make([]*listener, 0, len(lm.byID))
	for id, l := range lm.byID {
		ls = append(ls, l)
		delete(lm.byID, id)
	}
	lm.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(ls))
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.shutdown(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (lm *listenerManager) addr(id string) string {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if l, ok := lm.byID[id]; ok {
		return l.ln.Addr().String()
	}
	return ""
}

// reconcile brings the listeners in line with the ingress points.
func (lm *listenerManager) reconcile(ctx context.Context) {
	g := lm.g
	ls, err := g.cfg.Control.Listeners(ctx)
	if err != nil {
		g.log.Warn("listing ingress points failed; listeners unchanged", "err", err)
		return
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if lm.stopped {
		return
	}
	seen := make(map[string]bool, len(ls))
	for i := range ls {
		ip := ls[i]
		seen[ip.ID] = true
		pol, ok := lm.policy(ctx, &ip)
		set := settingsOf(&ip, pol)
		l := lm.byID[ip.ID]
		if !ok && l != nil {
			// The policy could not be read this time: keep its limit.
			set.maxBytes = l.settings.maxBytes
		}
		if l != nil && l.port != ip.Record.Port {
			g.log.Info("ingress point moved; closing its old listener", "ingress_point", ip.ID, "from", l.port, "to", ip.Record.Port)
			go l.shutdown(context.Background())
			delete(lm.byID, ip.ID)
			l = nil
		}
		if l == nil {
			l, err = lm.open(&ip, set)
			if err != nil {
				if last, seen := lm.failing[ip.ID]; !seen || time.Since(last) > time.Minute {
					g.log.Error("cannot listen for ingress point; will retry", "ingress_point", ip.ID, "port", ip.Record.Port, "err", err)
					lm.failing[ip.ID] = time.Now()
				}
				continue
			}
			delete(lm.failing, ip.ID)
			lm.byID[ip.ID] = l
			g.log.Info("listening", "ingress_point", ip.ID, "name", ip.Name, "addr", l.ln.Addr().String(),
				"type", ip.Record.Type, "tls_policy", ip.Record.TLSPolicy, "status", ip.Record.Status)
		}
		l.record.Store(&ip)
		if ok {
			l.policy.set(pol)
		}
		if set != l.settings {
			if err := l.swap(set); err != nil {
				if last, seen := lm.failing[ip.ID+"/settings"]; !seen || time.Since(last) > time.Minute {
					g.log.Error("cannot apply the new settings of ingress point; keeping the old", "ingress_point", ip.ID, "err", err)
					lm.failing[ip.ID+"/settings"] = time.Now()
				}
			} else {
				delete(lm.failing, ip.ID+"/settings")
				g.log.Info("ingress point settings changed", "ingress_point", ip.ID, "type", ip.Record.Type, "tls_policy", ip.Record.TLSPolicy)
			}
		}
		closed := ip.Record.Status != mm.IngressPointStatusActive
		if closed != l.closed.Load() {
			g.log.Info("ingress point status", "ingress_point", ip.ID, "status", ip.Record.Status)
		}
		l.setClosed(closed)
	}
	for id, l := range lm.byID {
		if !seen[id] {
			g.log.Info("ingress point deleted; closing its listener", "ingress_point", id)
			delete(lm.byID, id)
			go l.shutdown(context.Background())
		}
	}
	for key := range lm.failing {
		if id, _, _ := strings.Cut(key, "/"); !seen[id] {
			delete(lm.failing, key)
		}
	}
}

// policy returns the compiled traffic policy of an ingress point. ok is
// false when it could not be read for a reason that may pass (the listener
// keeps the policy it has); a policy that is gone or does not compile
// yields nil, which tempfails every recipient.
func (lm *listenerManager) policy(ctx context.Context, ip *mailmanager.Listener) (*rules.Policy, bool) {
	g := lm.g
	key := ip.AccountID + "/" + ip.Record.TrafficPolicyID
	r, err := g.cfg.Control.Lookup(ctx, ip.AccountID, mailmanager.KindTrafficPolicy, ip.Record.TrafficPolicyID)
	switch {
	case fault.Is(err, fault.NotFound):
		g.log.Error("traffic policy of ingress point does not exist; mail is refused with 451", "ingress_point", ip.ID, "traffic_policy", ip.Record.TrafficPolicyID)
		return nil, true
	case err != nil:
		g.log.Warn("reading traffic policy failed", "ingress_point", ip.ID, "err", err)
		if c, ok := lm.policies[key]; ok {
			return c.p, true
		}
		return nil, false
	}
	if c, ok := lm.policies[key]; ok && c.updated.Equal(r.UpdatedAt) {
		return c.p, true
	}
	rec, err := mailmanager.DecodeTrafficPolicy(r)
	var p *rules.Policy
	if err == nil {
		p, err = rules.CompilePolicy(rec.PolicyStatements, rec.DefaultAction, rec.MaxMessageSizeBytes,
			rules.WithAddressLists(g.listsFor(rec.Resolved)), rules.WithAnalyzer(g.addonsFor(ip.AccountID, rec.Resolved)),
			rules.WithLogger(g.log.With("traffic_policy", r.ID)))
	}
	if err != nil {
		g.log.Error("traffic policy does not compile; mail is refused with 451", "traffic_policy", r.ID, "err", err)
		p = nil
	} else {
		for _, w := range p.Warnings() {
			g.log.Warn("traffic policy: "+w, "traffic_policy", r.ID)
		}
	}
	lm.policies[key] = compiledPolicy{updated: r.UpdatedAt, p: p}
	return p, true
}

// serverSettings are what an smtpd.Server is built with; a change needs
// another server.
type serverSettings struct {
	typ        mm.IngressPointType
	tlsPolicy  mm.TlsPolicy
	maxBytes   int64
	trustStore string
}

func settingsOf(ip *mailmanager.Listener, p *rules.Policy) serverSettings {
	s := serverSettings{typ: ip.Record.Type, tlsPolicy: ip.Record.TLSPolicy}
	if p != nil {
		s.maxBytes = p.MaxMessageSizeBytes()
	}
	if ts := ip.Record.TrustStore; ts != nil && ts.CAContent != nil {
		s.trustStore = *ts.CAContent
	}
	return s
}

// listener is the SMTP listener of one ingress point: one socket, and the
// smtpd.Server generation that takes its new connections.
type listener struct {
	lm     *listenerManager
	id     string
	port   int
	ln     net.Listener
	record atomic.Pointer[mailmanager.Listener]
	policy *policySwitch
	closed atomic.Bool

	settings serverSettings // of cur; guarded by lm.mu
	cur      atomic.Pointer[generation]
	retired  []*smtpd.Server // guarded by lm.mu

	quit       chan struct{}
	acceptDone chan struct{}
}

// generation is one smtpd.Server and the hand-off listener it serves.
type generation struct {
	srv *smtpd.Server
	h   *handoff
}

func (lm *listenerManager) open(ip *mailmanager.Listener, set serverSettings) (*listener, error) {
	addr := net.JoinHostPort(lm.g.cfg.ListenHost, strconv.Itoa(ip.Record.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &listener{
		lm: lm, id: ip.ID, port: ip.Record.Port, ln: ln,
		policy:     &policySwitch{},
		quit:       make(chan struct{}),
		acceptDone: make(chan struct{}),
	}
	l.record.Store(ip)
	gen, err := l.newGeneration(set)
	if err != nil {
		ln.Close()
		return nil, err
	}
	l.settings = set
	l.cur.Store(gen)
	go l.acceptLoop()
	return l, nil
}

func (l *listener) newGeneration(set serverSettings) (*generation, error) {
	g := l.lm.g
	ip := l.record.Load()
	ep := smtpd.Endpoint{
		AccountID:       ip.AccountID,
		IngressPointID:  ip.ID,
		Addr:            l.ln.Addr().String(),
		Hostname:        g.cfg.Hostname,
		TLSConfig:       g.cfg.TLSConfig,
		TLSPolicy:       string(set.tlsPolicy),
		MaxMessageBytes: set.maxBytes,
		Policy:          l.policy,
		Spool:           g.Spooler(func() string { return l.record.Load().Record.RuleSetID }).WithPolicy(l.policy.p.Load),
		Observer:        smtpObserver{g},
		Logger:          g.log,
	}
	switch set.typ {
	case mm.IngressPointTypeAuth:
		ep.Auth = l.checkPassword
	case mm.IngressPointTypeMtls:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(set.trustStore)) {
			return nil, fmt.Errorf("ingress point %s: trust store holds no usable certificate", ip.ID)
		}
		ep.RequireClientCert = pool
	}
	srv, err := smtpd.New(ep)
	if err != nil {
		return nil, err
	}
	srv.SetClosed(l.closed.Load())
	h := newHandoff(l.ln.Addr())
	go func() {
		if err := srv.Serve(h); err != nil && !errors.Is(err, smtpd.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			g.log.Warn("SMTP server stopped", "ingress_point", ip.ID, "err", err)
		}
	}()
	return &generation{srv: srv, h: h}, nil
}

// swap replaces the server taking new connections; the old one keeps its
// sessions until they end and is shut down with the listener.
func (l *listener) swap(set serverSettings) error {
	gen, err := l.newGeneration(set)
	if err != nil {
		return err
	}
	old := l.cur.Swap(gen)
	l.settings = set
	old.h.Close()
	l.retired = append(l.retired, old.srv)
	return nil
}

func (l *listener) setClosed(closed bool) {
	l.closed.Store(closed)
	l.cur.Load().srv.SetClosed(closed)
}

// checkPassword is the AUTH check of an AUTH ingress point. The user name is
// recorded (Received, Authentication-Results, the auth_user of rules) but
// not checked: the ingress point has one password, as in AWS, where the
// secret holds a password (key "password") and no user name. The secret
// is read at each AUTH, so a new value applies at once.
func (l *listener) checkPassword(ctx context.Context, user, pass string) (bool, error) {
	ip := l.record.Load()
	arn := ip.Record.SecretArn
	if arn == "" {
		return ip.Record.CheckPassword(pass, l.lm.g.cfg.Now()), nil
	}
	st := l.lm.g.cfg.StandIns
	if st == nil {
		return false, fmt.Errorf("ingress point %s authenticates with SecretArn %s, but this server has no secrets (internal error)", ip.ID, arn)
	}
	v, err := st.Secret(ctx, ip.AccountID, arn)
	if fault.Is(err, fault.NotFound) {
		return false, fmt.Errorf("ingress point %s: secret %s does not exist (create it with `tidings secrets put`)", ip.ID, arn)
	}
	if err != nil {
		return false, fmt.Errorf("ingress point %s: reading secret %s: %w", ip.ID, arn, err)
	}
	want, ok := v["password"]
	if !ok || want == "" {
		return false, fmt.Errorf("ingress point %s: secret %s has no key \"password\"", ip.ID, arn)
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1, nil
}

// acceptLoop hands each connection to the current generation.
func (l *listener) acceptLoop() {
	defer close(l.acceptDone)
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.quit:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			l.lm.g.log.Warn("accept failed; retrying", "ingress_point", l.id, "err", err, "delay", delay)
			select {
			case <-time.After(delay):
			case <-l.quit:
				return
			}
			continue
		}
		delay = 0
		l.handOff(c)
	}
}

func (l *listener) handOff(c net.Conn) {
	for {
		gen := l.cur.Load()
		select {
		case gen.h.ch <- c:
			return
		case <-gen.h.done:
			// Swapped meanwhile: try the new generation.
		case <-l.quit:
			c.Close()
			return
		}
	}
}

// shutdown closes the socket and shuts every generation down.
func (l *listener) shutdown(ctx context.Context) error {
	close(l.quit)
	l.ln.Close()
	<-l.acceptDone
	l.lm.mu.Lock()
	srvs := append([]*smtpd.Server{l.cur.Load().srv}, l.retired...)
	l.retired = nil
	l.lm.mu.Unlock()
	l.cur.Load().h.Close()
	var wg sync.WaitGroup
	errs := make([]error, len(srvs))
	for i, s := range srvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Shutdown(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// handoff is a net.Listener fed by the listener's accept loop.
type handoff struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// smtpObserver forwards what the SMTP servers report.
type smtpObserver struct{ g *Gateway }

// Accepted is reported by the Spooler, which knows how long spooling took.
func (smtpObserver) Accepted(*message.Envelope) {}

func (o smtpObserver) Rejected(c *message.Conn, reason smtpd.Reason, r smtpd.Reject) {
	o.g.obs.Rejected(string(reason))
}

func (o smtpObserver) AuthFailed(c *message.Conn, user string) {
	o.g.log.Warn("SMTP authentication failed", "ip", c.RemoteIP, "user", user)
	o.g.obs.AuthFailed()
}
