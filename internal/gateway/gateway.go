package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/groupcommit"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/mailauth"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
)

// ControlPlane is what the gateway reads of the Mail Manager configuration;
// *mailmanager.Service implements it.
type ControlPlane interface {
	// Listeners lists every ingress point of every account.
	Listeners(ctx context.Context) ([]mailmanager.Listener, error)
	// Lookup reads one resource; fault.NotFound when it does not exist.
	Lookup(ctx context.Context, accountID string, k mailmanager.Kind, id string) (*mailmanager.Resource, error)
}

// Archiver stores a message in an archive and returns the archived
// message's id. internal/archive implements it.
type Archiver interface {
	Store(ctx context.Context, accountID, archiveID string, env *message.Envelope, auth message.Auth, raw io.Reader) (string, error)
}

// Config is what a Gateway is built from. Store, Blobs, Control and
// Deliverer are required.
type Config struct {
	Store   Store
	Blobs   blob.Store
	Control ControlPlane
	// AddressLists answers address-list conditions of traffic policies and
	// rules; nil makes them never hold (with a warning).
	AddressLists mailmanager.Store
	// Verifier checks SPF, DKIM and DMARC of each message; default one
	// with the system resolver and Hostname as authserv-id.
	Verifier  *mailauth.Verifier
	Deliverer *delivery.Deliverer
	// Sealer, when set, adds an ARC Set (RFC 8617) to the mail Relay
	// actions deliver; nil relays mail as it is (see arcseal.go).
	Sealer *mailauth.Sealer
	// Archiver runs Archive actions; nil makes them fail, visibly.
	Archiver Archiver

	// Hostname names this gateway in SMTP greetings, Received headers,
	// DSNs and the MAIL FROM of relays with MailFrom REPLACE.
	Hostname string
	// ListenHost is the address the ingress listeners bind (with each
	// ingress point's port); default 127.0.0.1.
	ListenHost string
	// TLSConfig holds the certificate STARTTLS offers; nil offers none
	// (ingress points that require TLS then fail to start).
	TLSConfig *tls.Config
	// MailboxDir is where DeliverToMailbox keeps Maildirs; "" makes the
	// action fail.
	MailboxDir string
	// Retry is the schedule of relay attempts.
	Retry delivery.RetryPolicy
	// PollInterval is how often listeners are reconciled with the
	// configuration (default 2s); Kick does it at once.
	PollInterval time.Duration
	// CacheTTL is how long rule sets, relays and the like are reused
	// before being read again (default 2s).
	CacheTTL time.Duration
	// Lease bounds how long a crashed worker's claim on a message or a
	// delivery blocks others (default 40 minutes, above the longest SMTP
	// exchange the Deliverer allows).
	Lease time.Duration
	// Publisher carries out PublishToSns actions (nil: they fail).
	Publisher Publisher
	// Sender carries out Send actions (nil: they fail).
	Sender Sender
	// Feedback takes the bounces and complaints that arrive for the
	// return paths of sent mail (nil: such mail goes through the rule set
	// like any other).
	Feedback Feedback
	// StandIns resolves SecretArn (relays, AUTH ingress points),
	// FunctionArn (InvokeLambda) and MailboxArn (DeliverToMailbox); nil
	// makes the first two fail and DeliverToMailbox use MailboxDir.
	StandIns StandIns
	// Invoker makes REQUEST_RESPONSE invocations (nil: they fail).
	Invoker Invoker
	// Rspamd runs the analyses of RSPAMD add-on instances named by
	// traffic policy and rule conditions (nil: they are unavailable).
	Rspamd Rspamd
	// NodeID marks this node's claims (config.Node: stable across
	// restarts, unique among nodes), so that Recover can tell them.
	NodeID string
	// KeepDone is how long finished messages stay listed in the queue
	// (default 7 days).
	KeepDone time.Duration

	Observer Observer
	Logger   *slog.Logger
	Now      func() time.Time
}

// Gateway runs the inbound gateway: the SMTP listeners of the ingress
// points, the spool, and the jobs that apply rule sets and relay mail.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	obs     Observer
	lookups *lookupCache

	rsMu     sync.Mutex
	ruleSets map[string]*compiledRuleSet

	listeners *listenerManager
	queue     *Queue
	commits   *groupcommit.Group[*Message]
	archiver  atomic.Pointer[archiverBox]
	jobs      *jobs.Queue // set by Register
	// dispatch processes what this node spools; nil until Register (a
	// node that runs no gateway workers queues a job per message).
	dispatch *dispatcher
}

type archiverBox struct{ Archiver }

// UseArchiver sets the service Archive actions store into, for wiring
// where the archive is built after the gateway (Config.Archiver otherwise).
func (g *Gateway) UseArchiver(a Archiver) {
	if a == nil {
		g.archiver.Store(nil)
		return
	}
	g.archiver.Store(&archiverBox{a})
}

func (g *Gateway) currentArchiver() Archiver {
	if b := g.archiver.Load(); b != nil {
		return b.Archiver
	}
	return nil
}

// New checks cfg and returns a Gateway; Start runs its listeners.
func New(cfg Config) (*Gateway, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("gateway: Config.Store is required")
	case cfg.Blobs == nil:
		return nil, errors.New("gateway: Config.Blobs is required")
	case cfg.Control == nil:
		return nil, errors.New("gateway: Config.Control is required")
	case cfg.Deliverer == nil:
		return nil, errors.New("gateway: Config.Deliverer is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		cfg.Hostname = h
	}
	if strings.ContainsAny(cfg.Hostname, " \t\r\n<>@[]") {
		return nil, fmt.Errorf("gateway: bad host name %q", cfg.Hostname)
	}
	if cfg.ListenHost == "" {
		cfg.ListenHost = "127.0.0.1"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 2 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 40 * time.Minute
	}
	if cfg.KeepDone <= 0 {
		cfg.KeepDone = 7 * 24 * time.Hour
	}
	if cfg.Verifier == nil {
		v, err := mailauth.NewVerifier(mailauth.Config{AuthservID: cfg.Hostname, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		cfg.Verifier = v
	}
	g := &Gateway{
		cfg:      cfg,
		log:      cfg.Logger,
		obs:      cfg.Observer,
		ruleSets: map[string]*compiledRuleSet{},
	}
	g.lookups = newLookupCache(cfg.Control, cfg.CacheTTL, cfg.Now)
	g.queue = NewQueue(cfg.Store, cfg.Blobs)
	g.commits = groupcommit.New(0, g.commitBatch)
	if cfg.Archiver != nil {
		g.UseArchiver(cfg.Archiver)
	}
	g.listeners = newListenerManager(g)
	return g, nil
}

// Queue returns the operator's view of the queue.
func (g *Gateway) Queue() *Queue { return g.queue }

// Hostname is the name the gateway gives itself.
func (g *Gateway) Hostname() string { return g.cfg.Hostname }

// Register adds the gateway's workers and periodic jobs to the job queue.
// Call it before the queue starts.
func (g *Gateway) Register(q *jobs.Queue) error {
	g.jobs = q
	q.AddQueue(JobQueue, JobWorkers)
	g.dispatch = newDispatcher(g, JobWorkers)
	jobs.Register(q, &processWorker{g: g})
	jobs.Register(q, &relayWorker{g: g})
	jobs.Register(q, &notifyWorker{g: g})
	jobs.Register(q, &purgeWorker{g: g})
	jobs.Register(q, &sweepWorker{g: g})
	if err := q.AddPeriodic("gateway.sweep", river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil }, false); err != nil {
		return err
	}
	return q.AddPeriodic("gateway.purge", river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeArgs{}, nil }, true)
}

// Start opens the listeners of the ingress points and keeps them in step
// with the configuration until Stop.
func (g *Gateway) Start(ctx context.Context) error { return g.listeners.start(ctx) }

// Kick reconciles the listeners with the configuration now rather than at
// the next poll. It does not wait.
func (g *Gateway) Kick() { g.listeners.kick() }

// Stop closes the listeners: sessions in DATA finish their message, the
// others are told 421. It returns when they are gone or ctx ends.
func (g *Gateway) Stop(ctx context.Context) error {
	err := g.listeners.stop(ctx)
	if g.dispatch != nil {
		err = errors.Join(err, g.dispatch.stop(ctx))
	}
	return err
}

// Addr returns the address an ingress point listens on, "" when it does
// not (for tests and logs).
func (g *Gateway) Addr(ingressPointID string) string { return g.listeners.addr(ingressPointID) }

// QueueDepth counts the messages not yet done, by state.
func (g *Gateway) QueueDepth(ctx context.Context) (map[MessageState]int64, error) {
	return g.cfg.Store.CountMessages(ctx)
}

// Recover releases the claims of workers that died with this node's
// previous process (a crash, SIGKILL) and queues their work again, so that
// it resumes at once instead of when the claims expire and River rescues
// the stuck jobs (an hour later). Call it at start-up, before the job
// queue starts. With single (the embedded SQLite shape, where no other
// node can exist) every claim and every running job is this node's; on a
// shared database only those marked with Config.NodeID are, so NodeID
// must be the same across restarts and unique among the nodes.
func (g *Gateway) Recover(ctx context.Context, single bool) (int, error) {
	node := g.cfg.NodeID
	if !single && node == "" {
		return 0, nil // nothing tells this node's claims from others'
	}
	mine := func(owner string) bool { return single || strings.HasPrefix(owner, node+"/") }
	n, err := g.queue.release(ctx, g.cfg.Now(), mine)
	if err != nil || g.jobs == nil {
		return n, err
	}
	// Jobs the dead process was running: River would rescue them an hour
	// from now. Queue them again; what they already did is recorded and
	// will be skipped.
	params := river.NewJobListParams().Kinds(KindProcess, KindRelay, KindNotify).
		States(rivertype.JobStateRunning).First(500)
	for {
		rows, err := g.jobs.List(ctx, params)
		if err != nil || len(rows) == 0 {
			return n, err
		}
		for _, row := range rows {
			if !single && (len(row.AttemptedBy) == 0 || row.AttemptedBy[len(row.AttemptedBy)-1] != node) {
				continue // another node's, alive or to be rescued by River
			}
			var args river.JobArgs
			switch row.Kind {
			case KindProcess:
				var a ProcessArgs
				err = json.Unmarshal(row.EncodedArgs, &a)
				args = a
			case KindRelay:
				var a RelayArgs
				err = json.Unmarshal(row.EncodedArgs, &a)
				a.NotBefore = time.Time{}
				args = a
			case KindNotify:
				var a NotifyArgs
				err = json.Unmarshal(row.EncodedArgs, &a)
				a.NotBefore = time.Time{}
				args = a
			}
			if err != nil || args == nil {
				continue
			}
			if err := g.jobs.Insert(ctx, args, nil); err != nil {
				return n, err
			}
			n++
		}
		params = params.After(river.JobListCursorFromJob(rows[len(rows)-1]))
	}
}

// transient reports whether err may go away by itself, so that the job is
// retried rather than the step failed.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch fault.KindOf(err) {
	case fault.Unavailable:
		return true
	}
	return false
}

// lookupCache keeps configuration resources for a short while, so that a
// burst of messages does not read the same rule set and relay for each.
type lookupCache struct {
	ctl ControlPlane
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex
	m  map[lookupKey]lookupEntry
}

type lookupKey struct {
	account string
	kind    mailmanager.Kind
	id      string
}

type lookupEntry struct {
	r   *mailmanager.Resource
	err error
	at  time.Time
}

func newLookupCache(ctl ControlPlane, ttl time.Duration, now func() time.Time) *lookupCache {
	return &lookupCache{ctl: ctl, ttl: ttl, now: now, m: map[lookupKey]lookupEntry{}}
}

func (c *lookupCache) get(ctx context.Context, account string, k mailmanager.Kind, id string) (*mailmanager.Resource, error) {
	key := lookupKey{account, k, id}
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.r, e.err
	}
	r, err := c.ctl.Lookup(ctx, account, k, id)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return nil, err // not cached: may be transient
	}
	c.mu.Lock()
	if len(c.m) > 4096 {
		for k, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, k)
			}
		}
	}
	c.m[key] = lookupEntry{r: r, err: err, at: now}
	c.mu.Unlock()
	return r, err
}

// resolveRef maps a reference as a rule or policy wrote it (an ID, ARN or
// name) to an ID, by the table the control plane recorded when the rule
// set or policy was written.
func resolveRef(resolved map[string]string, ref string) string {
	if id, ok := resolved[ref]; ok {
		return id
	}
	if strings.HasPrefix(ref, "arn:") {
		if i := strings.LastIndexByte(ref, '/'); i >= 0 {
			return ref[i+1:]
		}
	}
	return ref
}
