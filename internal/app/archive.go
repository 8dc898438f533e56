package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/blob/pack"
	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/kms"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/store"
)

// newArchive builds the archive and registers its jobs.
// Messages up to archive.PackMax go into pack segments under packDir.
func newArchive(db *store.DB, blobs blob.Store, packDir string, mail *mailmanager.Service, keys *kms.Service, reg prometheus.Registerer,
	region, baseURL string, signingKey []byte, log *slog.Logger) (*archive.Service, error) {
	packs, err := pack.Open(packDir)
	if err != nil {
		return nil, err
	}
	arch, err := archive.New(db.Archive(), blobs, archive.MailManagerArchives(mail), archive.Config{
		Packs:      packs,
		Region:     region,
		BaseURL:    baseURL,
		SigningKey: signingKey,
		Observer:   newArchiveMetrics(reg),
		Keys:       keys,
	}, log.With("component", "archive"))
	if err != nil {
		return nil, err
	}
	if err := arch.RegisterJobs(db.Jobs()); err != nil {
		return nil, err
	}
	return arch, nil
}

// newKMS builds the key service archives are encrypted with, its master
// key from TIDINGS_MASTER_KEY or <data dir>/master.key (generated now
// when neither exists, which the operator is told to back up).
func newKMS(cfg *config.Config, db *store.DB, log *slog.Logger, out io.Writer) (*kms.Service, error) {
	fromEnv, err := cfg.MasterKeyBytes()
	if err != nil {
		return nil, err
	}
	master, generated, err := kms.MasterKey(cfg.DataDir, fromEnv)
	if err != nil {
		return nil, err
	}
	if fromEnv == nil && cfg.DatabaseURL != "" {
		// Nodes sharing a PostgreSQL database must share the master key
		// too: a key one node wrapped, another cannot unwrap.
		log.Warn("TIDINGS_MASTER_KEY is not set: the master key of archive encryption is this node's file; set the same TIDINGS_MASTER_KEY on every node sharing the database",
			"path", filepath.Join(cfg.DataDir, kms.MasterKeyFile))
	}
	if generated {
		path := filepath.Join(cfg.DataDir, kms.MasterKeyFile)
		log.Warn("generated the master key of archive encryption; back it up apart from the database", "path", path)
		fmt.Fprintf(out, "Generated the master key of archive encryption in %s: back it up apart from the database (without it, encrypted archives cannot be read).\n", path)
	}
	return kms.New(db.KMS(), kms.Config{Region: cfg.Region, MasterKey: master}, log.With("component", "kms"))
}

// mountArchive binds the archive's API operations and mounts its download
// links and native search.
func mountArchive(arch *archive.Service, api *awsapi.Server, mux *http.ServeMux) {
	apiroutes.Archive(api, arch)
	mux.Handle(archive.DownloadPrefix, arch.DownloadHandler())
	mux.Handle(archive.NativePrefix, arch.NativeHandler(awsapi.NativeAuthenticator{Server: api, SigningName: "ses"}))
}

// archivePurger defers to the archive once it exists: the Mail Manager
// service (which calls it when a deleted archive's grace period ends) is
// built before the archive (which reads archive resources through it).
type archivePurger struct{ arch *archive.Service }

func (p *archivePurger) purge(ctx context.Context, accountID, archiveID string) error {
	if p.arch == nil {
		return nil
	}
	return p.arch.PurgeArchive(ctx, accountID, archiveID)
}

type archiveMetrics struct {
	archived  *prometheus.CounterVec
	bytes     prometheus.Counter
	latency   prometheus.Histogram
	retention *prometheus.CounterVec
}

func newArchiveMetrics(reg prometheus.Registerer) *archiveMetrics {
	m := &archiveMetrics{
		archived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_archive_messages_total",
			Help: "Messages archived, by whether their MIME structure was malformed.",
		}, []string{"malformed"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tidings_archive_bytes_total",
			Help: "Bytes of messages archived, as received.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tidings_archive_store_duration_seconds",
			Help:    "Time to store and index one message.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		retention: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tidings_archive_retention_deleted_total",
			Help: "Messages deleted by retention, and runs that failed.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.archived, m.bytes, m.latency, m.retention)
	return m
}

func (m *archiveMetrics) MessageArchived(size int64, malformed bool, took time.Duration) {
	label := "false"
	if malformed {
		label = "true"
	}
	m.archived.WithLabelValues(label).Inc()
	m.bytes.Add(float64(size))
	m.latency.Observe(took.Seconds())
}

func (m *archiveMetrics) RetentionRun(deleted int, _ int64, _ time.Duration, err error) {
	if err != nil {
		m.retention.WithLabelValues("failed_run").Inc()
		return
	}
	m.retention.WithLabelValues("deleted").Add(float64(deleted))
}
