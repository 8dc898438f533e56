// Package app builds every role of a Tidings node from its configuration and
// runs them until the context ends: the HTTP API (AWS wire protocols, health,
// metrics, pre-signed uploads), the background workers, and — as later
// issues land — the SMTP listeners and the console.
package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/blob"
	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/delivery"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/gateway"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/jobs"
	"github.com/tidings/tidings/internal/mailauth"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/ses"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
	"github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/model/sts"
	"github.com/tidings/tidings/internal/rspamd"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/templates"
	"github.com/tidings/tidings/internal/uploads"
)

// MaxUploadBytes bounds a file PUT to a pre-signed upload URL.
const MaxUploadBytes = 128 << 20

// Serve runs a node until ctx ends, then drains: the HTTP server stops
// accepting and finishes requests in flight, workers finish their jobs, the
// database closes. What it prints to out is meant for the operator.
func Serve(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer, version string) error {
	start := time.Now()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir, log, store.WithNodeID(cfg.Node()))
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.DebugAddr != "" {
		if err := serveDebug(ctx, cfg.DebugAddr, log); err != nil {
			return err
		}
	}

	rootKey, generated, err := ensureRoot(ctx, db.IAM(), cfg)
	if err != nil {
		return err
	}
	blobs, err := blobfs.New(filepath.Join(cfg.DataDir, "blobs"))
	if err != nil {
		return err
	}
	signKey, err := secretSetting(ctx, db.IAM(), "upload-signing-key")
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	baseURL := "http://" + ln.Addr().String()
	signer := &uploads.Signer{BaseURL: baseURL, Key: signKey}

	first, last, _ := cfg.PortRange()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	keys, err := newKMS(cfg, db, log, out)
	if err != nil {
		return err
	}
	stand, err := newStandins(db, keys, cfg.Region, log)
	if err != nil {
		return err
	}
	purger := &archivePurger{}
	mail, err := mailmanager.New(db.MailManager(), signer, blobReader{blobs}, mailmanager.Config{
		Region:   cfg.Region,
		SMTPHost: cfg.SMTPHost,
		Ports:    mailmanager.PortRange{Min: first, Max: last},
		// An MX must take mail from senders without TLS (RFC 3207 4: a
		// publicly-referenced server must not require STARTTLS), so an
		// ingress point asks for TLS only when its creator says so.
		DefaultTLSPolicy: mm.TlsPolicyOptional,
		PurgeArchive:     purger.purge,
		CheckKmsKey:      keys.CheckKey,
		CheckSecret:      stand.CheckSecret,
		CheckFunction:    stand.CheckFunction,
	}, log.With("component", "mailmanager"))
	if err != nil {
		return err
	}
	archiveKey, err := secretSetting(ctx, db.IAM(), "archive-link-signing-key")
	if err != nil {
		return err
	}
	arch, err := newArchive(db, blobs, filepath.Join(cfg.DataDir, "packs", "archive"), mail, keys, reg, cfg.Region, baseURL, archiveKey, log)
	if err != nil {
		return err
	}
	purger.arch = arch
	q := db.Jobs()
	jobs.Register(q, &mailmanager.ImportWorker{Service: mail})
	jobs.Register(q, &mailmanager.ArchivePurgeWorker{Service: mail})

	// The inbound gateway: SMTP listeners of the ingress points, the
	// spool, rule actions and relays.
	hostname := cfg.Hostname
	if hostname == "" {
		if hostname, err = os.Hostname(); err != nil || hostname == "" {
			hostname = "localhost"
		}
	}
	resolver := mailauth.NewResolver(mailauth.ResolverConfig{Server: cfg.DNS})
	verifier, err := mailauth.NewVerifier(mailauth.Config{AuthservID: hostname, Resolver: resolver, Logger: log.With("component", "mailauth")})
	if err != nil {
		return err
	}
	cert, certMade, err := gateway.Certificate(cfg.TLSCert, cfg.TLSKey, filepath.Join(cfg.DataDir, "tls"), hostname)
	if err != nil {
		return err
	}
	if certMade {
		log.Info("generated a self-signed TLS certificate for STARTTLS; set TIDINGS_TLS_CERT and TIDINGS_TLS_KEY for one of your own",
			"dir", filepath.Join(cfg.DataDir, "tls"), "hostname", hostname)
	}
	relayRoots, err := cfg.RelayRoots() // checked by Validate
	if err != nil {
		return err
	}
	deliverer := delivery.New(delivery.Config{LocalName: hostname, Resolver: resolver, RootCAs: relayRoots, Logger: log.With("component", "delivery")})
	defer deliverer.Close()
	retry, _ := cfg.Retry() // checked by Validate
	gwMetrics := newGatewayMetrics(reg)
	// PublishToSns actions go to the events service, built further down
	// (it mounts on the HTTP mux); no job runs before both exist.
	gwPublisher := &gatewayPublisher{}
	gwSender := &gatewaySender{}     // Send actions, once the send pipeline exists
	gwFeedback := &gatewayFeedback{} // bounces and complaints to return paths, likewise
	gwInvoker := &lazyInvoker{}      // InvokeLambda REQUEST_RESPONSE, once the events service exists
	rspamdURL, rspamdTimeout, err := cfg.Rspamd()
	if err != nil {
		return err
	}
	var sealer *mailauth.Sealer // ARC sealing of relayed mail, when configured
	if arc, err := cfg.ARC(); err != nil {
		return err
	} else if arc != nil {
		sealer = &mailauth.Sealer{Domain: arc.Domain, Selector: arc.Selector, Key: arc.Key, AuthservID: verifier.AuthservID()}
		log.Info("relayed mail is sealed with ARC", "domain", arc.Domain, "selector", arc.Selector,
			"record", arc.Selector+"._domainkey."+arc.Domain)
	}
	gw, err := gateway.New(gateway.Config{
		Rspamd:       rspamd.New(rspamdURL, rspamdTimeout),
		Store:        db.Gateway(),
		Blobs:        blobs,
		Control:      mail,
		AddressLists: db.MailManager(),
		Verifier:     verifier,
		Deliverer:    deliverer,
		Sealer:       sealer,
		Archiver:     arch,
		Hostname:     hostname,
		ListenHost:   cfg.SMTPHost,
		TLSConfig:    &tls.Config{Certificates: []tls.Certificate{cert}},
		MailboxDir:   filepath.Join(cfg.DataDir, "mailboxes"),
		Retry:        delivery.RetryPolicy{First: retry.First, Max: retry.Max, GiveUpAfter: retry.GiveUp},
		NodeID:       cfg.Node(),
		Publisher:    gwPublisher,
		Sender:       gwSender,
		Feedback:     gwFeedback,
		StandIns:     stand,
		Invoker:      gwInvoker,
		Observer:     gwMetrics,
		Logger:       log.With("component", "gateway"),
	})
	if err != nil {
		return err
	}
	gwMetrics.depth = gw.QueueDepth
	if err := gw.Register(q); err != nil {
		return fmt.Errorf("gateway jobs: %w", err)
	}
	// Outbound email: the SES send APIs.
	linkKey, err := secretSetting(ctx, db.IAM(), "verify-link-signing-key")
	if err != nil {
		return err
	}
	trackKey, err := secretSetting(ctx, db.IAM(), "tracking-link-signing-key")
	if err != nil {
		return err
	}
	tpls := templates.New(db.Templates(), templates.Config{Hostname: hostname}, log.With("component", "templates"))
	// SES events go to the events service, built further down (it mounts
	// on the HTTP mux); no job runs before both exist.
	sendPublisher := &lazyPublisher{}
	sender, err := newSending(cfg, db, blobs, deliverer, resolver, hostname, baseURL, linkKey, trackKey,
		delivery.RetryPolicy{First: retry.First, Max: retry.Max, GiveUpAfter: retry.GiveUp}, log, tpls, sendPublisher,
		sendingArchiver{arch: arch, mail: mail})
	if err != nil {
		return err
	}
	gwSender.s, gwFeedback.s = sender, sender
	sub, err := newSubmission(cfg, db, sender, cert, hostname, reg, log)
	if err != nil {
		return err
	}
	// Long-term keys, and the temporary credentials STS issues.
	tokens := iam.NewSTS(db.IAM(), db.KeyLookup(), time.Now)
	api := awsapi.New(awsapi.Config{
		Region:           cfg.Region,
		KeyLookup:        tokens,
		IdempotencyStore: db.Idempotency(),
		Logger:           log.With("component", "api"),
		Metrics:          newAPIMetrics(reg),
	})
	for _, svc := range []*smithy.Service{mm.Service, sesv2.Service, ses.Service, smsvoice.Service, sts.Service} {
		api.Register(svc)
	}
	apiroutes.MailManager(api, mail)
	apiroutes.STS(api, tokens)
	apiroutes.Templates(api, tpls)

	var ready atomic.Bool
	mux := http.NewServeMux()
	mountArchive(arch, api, mux)
	// Topics and webhooks: every event goes out through evs (an
	// events.Publisher for the sending, SMS and gateway services).
	evs, err := newEvents(ctx, db, cfg, reg, api, mux, log)
	if err != nil {
		return err
	}
	gwPublisher.evs, sendPublisher.evs, gwInvoker.evs = evs, evs, evs
	mountStandins(stand, api, mux)
	regs, err := mountRegistrations(db, blobs, api, mux, cfg.Region, cfg.AccountID, log)
	if err != nil {
		return err
	}
	if err := mountConsole(mux, cfg, db, mail, arch, blobs, log); err != nil {
		return err
	}
	smsSvc, err := newSMS(db, api, mux, cfg, evs, regs, log)
	if err != nil {
		return err
	}
	defer smsSvc.Close()
	mountSending(sender, api, mux)
	apiroutes.SESv2Tags(api, sender, tpls)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
			return
		}
		if err := db.Ping(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle(uploads.Prefix, signer.Handler(blobs, MaxUploadBytes, log.With("component", "uploads")))
	// A change to an ingress point or traffic policy reaches the SMTP
	// listeners at once rather than at the next poll.
	mux.Handle("/", kickAfterWrites(api, gw.Kick))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if sub != nil {
		if err := sub.Start(); err != nil {
			_ = srv.Close()
			return fmt.Errorf("%w (set TIDINGS_SUBMISSION_ADDR / TIDINGS_SUBMISSIONS_ADDR to another address, or off)", err)
		}
	}

	{
		// Claims still held, and gateway jobs still marked running, by this
		// node's previous process died with it (a crash): queue that work
		// again now rather than when River rescues it, an hour later. On
		// SQLite everything is this node's; on PostgreSQL what carries its
		// node id.
		if n, err := gw.Recover(ctx, db.Dialect() == "sqlite"); err != nil {
			log.Warn("gateway recovery failed", "err", err)
		} else if n > 0 {
			log.Info("gateway: resumed work interrupted by a crash", "jobs", n)
		}
	}
	if n, err := sender.Recover(ctx, db.Dialect() == "sqlite"); err != nil {
		log.Warn("sending recovery failed", "err", err)
	} else if n > 0 {
		log.Info("sending: queued the deliveries of messages a crash interrupted", "messages", n)
	}
	if n, err := smsSvc.Recover(ctx, db.Dialect() == "sqlite"); err != nil {
		log.Warn("SMS recovery failed", "err", err)
	} else if n > 0 {
		log.Info("sms: queued the sends of messages a crash interrupted", "messages", n)
	}
	if err := smsSvc.Start(ctx); err != nil {
		_ = srv.Close()
		return err
	}
	if err := q.Start(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("job queue: %w", err)
	}
	if err := gw.Start(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("gateway: %w", err)
	}
	ready.Store(true)
	banner(out, version, cfg, baseURL, rootKey, generated, db.Dialect(), time.Since(start), submissionBanner(sub))
	log.Info("ready", "http", baseURL, "database", db.Dialect(), "startup", time.Since(start).Round(time.Millisecond))

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("HTTP server: %w", err)
	}
	log.Info("draining")
	ready.Store(false)
	drain, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	// SMTP first: no message is accepted that the workers would not see.
	if err := gw.Stop(drain); err != nil {
		errs = append(errs, fmt.Errorf("SMTP shutdown: %w", err))
	}
	if sub != nil {
		if err := sub.Shutdown(drain); err != nil {
			errs = append(errs, fmt.Errorf("SMTP submission shutdown: %w", err))
		}
	}
	if err := srv.Shutdown(drain); err != nil {
		errs = append(errs, fmt.Errorf("HTTP shutdown: %w", err))
	}
	if err := smsSvc.Close(); err != nil {
		errs = append(errs, fmt.Errorf("SMS providers: %w", err))
	}
	if err := sender.Close(drain); err != nil {
		errs = append(errs, fmt.Errorf("sending shutdown: %w", err))
	}
	if err := q.Stop(drain); err != nil {
		errs = append(errs, fmt.Errorf("job queue shutdown: %w", err))
	}
	if err := db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("database close: %w", err))
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// ensureRoot makes sure the root account exists and has a key: the one the
// operator configured, or one generated at first start (and then only).
func ensureRoot(ctx context.Context, st iam.Store, cfg *config.Config) (key iam.AccessKey, generated bool, err error) {
	if err := st.EnsureAccount(ctx, iam.Account{ID: cfg.AccountID, Name: "root", CreatedAt: time.Now()}); err != nil {
		return key, false, fmt.Errorf("root account: %w", err)
	}
	if cfg.RootAccessKeyID != "" {
		key = iam.AccessKey{AccessKeyID: cfg.RootAccessKeyID, SecretAccessKey: cfg.RootSecretAccessKey, AccountID: cfg.AccountID, Status: iam.StatusActive, CreatedAt: time.Now()}
		cur, err := st.GetAccessKey(ctx, key.AccessKeyID)
		switch {
		case err == nil && cur.SecretAccessKey == key.SecretAccessKey && cur.AccountID == key.AccountID:
			return *cur, false, nil
		case err == nil:
			// The operator changed the secret (or the account) of the configured key.
			if err := st.DeleteAccessKey(ctx, key.AccessKeyID); err != nil {
				return key, false, err
			}
		case !fault.Is(err, fault.NotFound):
			return key, false, err
		}
		return key, false, st.CreateAccessKey(ctx, key)
	}
	const marker = "root-key-generated"
	if _, found, err := st.GetSetting(ctx, marker); err != nil || found {
		return key, false, err
	}
	key = iam.NewAccessKey(cfg.AccountID)
	if err := st.CreateAccessKey(ctx, key); err != nil {
		return key, false, err
	}
	return key, true, st.PutSetting(ctx, marker, key.AccessKeyID)
}

// secretSetting returns a random 32-byte secret kept under name, made at first use.
func secretSetting(ctx context.Context, st iam.Store, name string) ([]byte, error) {
	v, found, err := st.GetSetting(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		v = hex.EncodeToString(b)
		if err := st.PutSetting(ctx, name, v); err != nil {
			return nil, err
		}
	}
	return hex.DecodeString(v)
}

// kickAfterWrites calls kick after every request that may have changed
// the configuration (anything but GET and HEAD).
func kickAfterWrites(h http.Handler, kick func()) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			kick()
		}
	})
}

// blobReader adapts a blob store to what the Mail Manager import job reads.
type blobReader struct{ s blob.Store }

func (b blobReader) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := b.s.Get(ctx, key)
	return rc, err
}
