// Package archive keeps the mail that rules archive: the raw message
// compressed in the blob store, a metadata row with every field the Mail
// Manager archive API returns, and a full-text index, SQLite FTS5 in the
// embedded shape and PostgreSQL full text in the scale-out shape, with the
// same query meaning on both.
//
// On top of that store it serves the Mail Manager archive operations
// (searches and exports run as background jobs, GetArchiveMessage with a
// signed download link served by Tidings itself, GetArchiveMessageContent),
// a native search with a mail-client query language, and retention.
//
// Retention: a periodic job deletes, in batches, the messages of each
// archive received longer ago than the archive's retention period says,
// the period in force when the job runs: a change of retention applies
// from then on, to the messages already archived too (lengthening it
// keeps them longer, shortening it deletes the older ones at the next
// run). PERMANENT archives are never touched.
//
// Journaling: journal reports of Exchange, Microsoft 365 and WorkMail
// are shown and indexed as the message they carry, with the report's
// recipients (Bcc and expanded groups included) searchable (journal.go).
//
// Encryption: an archive with a KmsKeyArn has its messages compressed,
// then encrypted with AES-256-GCM under a data key of the archive that
// its KMS key wraps (crypt.go, internal/kms). Rotating the KMS key gives
// the archive a new data key for new messages; old messages keep theirs.
package archive

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/blob/pack"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/groupcommit"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/mailmanager"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// ArchiveInfo is what the archive package needs to know of an archive
// resource.
type ArchiveInfo struct {
	State     mm.ArchiveState
	Retention mm.RetentionPeriod
	KmsKeyArn string
}

// Archives looks up archive resources (owned by internal/mailmanager). It
// returns a fault.NotFound error for an archive the account does not have.
type Archives interface {
	Archive(ctx context.Context, accountID, archiveID string) (ArchiveInfo, error)
}

// MailManagerArchives adapts the Mail Manager control plane to Archives.
func MailManagerArchives(svc *mailmanager.Service) Archives { return mmArchives{svc} }

type mmArchives struct{ svc *mailmanager.Service }

func (a mmArchives) Archive(ctx context.Context, accountID, archiveID string) (ArchiveInfo, error) {
	r, err := a.svc.LookupCached(ctx, accountID, mailmanager.KindArchive, archiveID)
	if err != nil {
		return ArchiveInfo{}, err
	}
	rec, err := mailmanager.DecodeArchive(r)
	if err != nil {
		return ArchiveInfo{}, err
	}
	return ArchiveInfo{State: rec.State, Retention: rec.Retention, KmsKeyArn: rec.KmsKeyArn}, nil
}

// Observer is told what the archive does, for metrics. The lead wires
// Prometheus behind it; this package imports no metrics library. Methods
// must be safe for concurrent use and return quickly.
type Observer interface {
	// MessageArchived: one message stored, size bytes as received.
	MessageArchived(size int64, malformed bool, took time.Duration)
	// RetentionRun: one run of the retention job deleted deleted messages
	// holding bytes bytes (as received); err is its failure, if any.
	RetentionRun(deleted int, bytes int64, took time.Duration, err error)
}

type nopObserver struct{}

func (nopObserver) MessageArchived(int64, bool, time.Duration)    {}
func (nopObserver) RetentionRun(int, int64, time.Duration, error) {}

// Config tunes a Service. Zero fields take the defaults documented on each.
type Config struct {
	// Region appears in ARNs (default "us-east-1").
	Region string
	// BaseURL is where clients reach Tidings' HTTP server, the start of
	// every MessageDownloadLink (default "http://127.0.0.1:8025").
	BaseURL string
	// SigningKey signs download links (HMAC-SHA256); at least 32 bytes.
	// Every node must have the same one. Required.
	SigningKey []byte
	// LinkExpiry is how long a MessageDownloadLink works (default 15 min).
	LinkExpiry time.Duration
	// History is how long searches and exports are listed (default 30
	// days, as AWS); older ones are deleted by the retention job.
	History time.Duration
	// RetentionInterval is how often the retention job runs (default 1h).
	RetentionInterval time.Duration
	// RetentionBatch is how many messages the retention job deletes per
	// transaction (default 500).
	RetentionBatch int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Observer receives metrics (default none).
	Observer Observer
	// Packs keeps messages up to PackMax stored bytes in shared segment
	// files (default none: a blob per message).
	Packs *pack.Store
	// Keys gives the data keys of archives with a KmsKeyArn (default
	// none: storing into such an archive fails, nothing is stored
	// unencrypted).
	Keys Keys
}

// Service is the archive.
type Service struct {
	store    Store
	inserts  *groupcommit.Group[Insert]
	blobs    blob.Store
	archives Archives
	cfg      Config
	log      *slog.Logger
}

// New returns a Service over store (the metadata and index), blobs (raw
// messages, exports) and archives (the archive resources).
func New(store Store, blobs blob.Store, archives Archives, cfg Config, log *slog.Logger) (*Service, error) {
	switch {
	case store == nil:
		return nil, errors.New("archive: nil store")
	case blobs == nil:
		return nil, errors.New("archive: nil blob store")
	case archives == nil:
		return nil, errors.New("archive: nil archive lookup")
	case len(cfg.SigningKey) < 32:
		return nil, errors.New("archive: the download link signing key must have at least 32 bytes")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://127.0.0.1:8025"
	}
	if cfg.LinkExpiry <= 0 {
		cfg.LinkExpiry = 15 * time.Minute
	}
	if cfg.History <= 0 {
		cfg.History = 30 * 24 * time.Hour
	}
	if cfg.RetentionInterval <= 0 {
		cfg.RetentionInterval = time.Hour
	}
	if cfg.RetentionBatch <= 0 {
		cfg.RetentionBatch = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{store: store, blobs: blobs, archives: archives, cfg: cfg, log: log}
	s.inserts = groupcommit.New(0, s.insertBatch)
	return s, nil
}

// now is the clock in UTC to the millisecond, the precision stored.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// account returns the caller's account.
func account(ctx context.Context) (string, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok || p.AccountID == "" {
		return "", fault.AccessDeniedf("no caller identity in the request")
	}
	return p.AccountID, nil
}

// archive returns an archive of the account, NotFound when it has none.
// active requires it ACTIVE (a PENDING_DELETION archive is a conflict).
func (s *Service) archive(ctx context.Context, accountID, archiveID string, active bool) (ArchiveInfo, error) {
	if archiveID == "" {
		return ArchiveInfo{}, fault.Invalidf("ArchiveId is required")
	}
	a, err := s.archives.Archive(ctx, accountID, archiveID)
	if err != nil {
		return a, err
	}
	if active && a.State != "" && a.State != mm.ArchiveStateActive {
		return a, fault.Conflictf("Archive %s is %s", archiveID, a.State)
	}
	return a, nil
}

// retentionMonths is the length of each retention period; 0 is PERMANENT.
var retentionMonths = map[mm.RetentionPeriod]int{
	mm.RetentionPeriodThreeMonths:    3,
	mm.RetentionPeriodSixMonths:      6,
	mm.RetentionPeriodNineMonths:     9,
	mm.RetentionPeriodOneYear:        12,
	mm.RetentionPeriodEighteenMonths: 18,
	mm.RetentionPeriodTwoYears:       24,
	mm.RetentionPeriodThirtyMonths:   30,
	mm.RetentionPeriodThreeYears:     36,
	mm.RetentionPeriodFourYears:      48,
	mm.RetentionPeriodFiveYears:      60,
	mm.RetentionPeriodSixYears:       72,
	mm.RetentionPeriodSevenYears:     84,
	mm.RetentionPeriodEightYears:     96,
	mm.RetentionPeriodNineYears:      108,
	mm.RetentionPeriodTenYears:       120,
	mm.RetentionPeriodPermanent:      0,
}

// RetentionCutoff returns the receipt time before which messages of an
// archive with retention p are deleted at now; ok is false for PERMANENT
// (nothing is ever deleted). An unknown period counts as the default (six
// months): nothing is kept for ever by mistake, nor deleted early.
func RetentionCutoff(now time.Time, p mm.RetentionPeriod) (cutoff time.Time, ok bool) {
	months, known := retentionMonths[p]
	if !known {
		months = 6
	}
	if months == 0 {
		return time.Time{}, false
	}
	return now.AddDate(0, -months, 0), true
}

// IDs.

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// newMessageID returns an ArchivedMessageId: the receipt time in
// milliseconds (12 hex digits, so IDs sort by time) and 100 random bits.
func newMessageID(t time.Time) string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%012x", t.UnixMilli()) + idEncoding.EncodeToString(b[:])[:20]
}

// newUUID returns a random (version 4) UUID, the shape of search and
// export IDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// strp returns nil for "", so that empty fields are left out on the wire.
func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
