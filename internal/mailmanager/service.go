// Package mailmanager is the control plane of the email gateway: traffic
// policies, rule sets, ingress points, SMTP relays, archives, address lists
// and their import jobs, add-on subscriptions and instances, and their tags.
//
// It speaks in the shapes of the AWS SES Mail Manager model
// (internal/model/mailmanager) but knows nothing of HTTP: the wire layer
// validates the model constraints, calls one method here, and encodes the
// answer. What the model cannot express lives here: unique names, references
// between resources (a rule naming an archive, an ingress point naming a rule
// set), state machines (ingress point status, archive deletion, import jobs)
// and the SMTP port each ingress point listens on.
//
// Every mutation runs in one Store.InTx, so a failure leaves nothing
// half-written, and every background job is enqueued in that same
// transaction.
package mailmanager

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/smithy"
)

// UploadURLs signs URLs where a client may upload an object with an HTTP PUT
// (the PreSignedUrl of an address list import job). The blob store
// implements it: a presigned S3 URL, or a signed URL of Tidings' own HTTP
// server for the file store.
type UploadURLs interface {
	PresignPut(key string, expires time.Duration) (string, error)
}

// Blobs reads the objects uploaded to those URLs. Get returns an error for
// which fault.Is(err, fault.NotFound) or errors.Is(err, fs.ErrNotExist) holds
// when nothing was uploaded under key.
type Blobs interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// PortRange is the inclusive range of TCP ports from which ingress points
// get their SMTP port when they do not ask for one.
type PortRange struct{ Min, Max int }

// Config tunes a Service. Zero fields take the defaults documented on each.
type Config struct {
	// Region appears in every ARN (default "us-east-1").
	Region string
	// SMTPHost is the host name or address that clients connect to; it is
	// the host part of every ingress point's ARecord (default "127.0.0.1").
	SMTPHost string
	// Ports is where ingress point ports are allocated (default 2525–2624).
	Ports PortRange
	// Now is the clock (default time.Now).
	Now func() time.Time
	// DefaultTLSPolicy is the TlsPolicy of an ingress point created without
	// one (default REQUIRED, as AWS outside the US and Canada).
	DefaultTLSPolicy mm.TlsPolicy
	// ImportURLExpiry is how long an import job's PreSignedUrl is valid
	// (default 1 hour). A job still CREATED gets a fresh URL on each Get.
	ImportURLExpiry time.Duration
	// ArchiveDeletionGrace is how long a deleted archive stays
	// PENDING_DELETION, its name still taken, before the purge job removes
	// it (default 30 days, as AWS).
	ArchiveDeletionGrace time.Duration
	// PreviousPasswordGrace is how long the previous SMTP password of an
	// AUTH ingress point keeps working after it is changed (default 24h).
	PreviousPasswordGrace time.Duration
	// PurgeArchive, when set, deletes the archived messages of an archive
	// when its grace period ends (the archive package plugs in here).
	PurgeArchive func(ctx context.Context, accountID, archiveID string) error
	// CheckKmsKey, when set, checks the KmsKeyArn of a new archive: a
	// fault.Invalid error (ValidationException) when it names no key of
	// the account (internal/kms plugs in here). Unset, any ARN the model
	// allows is taken.
	CheckKmsKey func(ctx context.Context, accountID, arn string) error
	// CheckSecret, when set, checks the SecretArn of a relay or an AUTH
	// ingress point, and CheckFunction the FunctionArn of an InvokeLambda
	// action: a fault.Invalid error (ValidationException) naming the ARN
	// when it names nothing of the account (internal/standins plugs in
	// here). Unset, any ARN the model allows is taken. They must not
	// write: rule sets call CheckFunction inside their transaction.
	CheckSecret   func(ctx context.Context, accountID, arn string) error
	CheckFunction func(ctx context.Context, accountID, arn string) error
}

// Service implements the Mail Manager control-plane operations.
type Service struct {
	store   Store
	uploads UploadURLs
	blobs   Blobs
	cfg     Config
	log     *slog.Logger
	// gen counts the write transactions begun and ended (genStore), for
	// LookupCached.
	gen   *atomic.Uint64
	cache lookupCache
}

// New returns a Service. uploads and blobs may be nil when the process does
// not serve import jobs (CreateAddressListImportJob then fails).
func New(store Store, uploads UploadURLs, blobs Blobs, cfg Config, log *slog.Logger) (*Service, error) {
	if store == nil {
		return nil, errors.New("mailmanager: nil store")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.SMTPHost == "" {
		cfg.SMTPHost = "127.0.0.1"
	}
	if cfg.Ports == (PortRange{}) {
		cfg.Ports = PortRange{Min: 2525, Max: 2624}
	}
	if cfg.Ports.Min < 1 || cfg.Ports.Max > 65535 || cfg.Ports.Min > cfg.Ports.Max {
		return nil, fmt.Errorf("mailmanager: bad ingress port range %d-%d", cfg.Ports.Min, cfg.Ports.Max)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultTLSPolicy == "" {
		cfg.DefaultTLSPolicy = mm.TlsPolicyRequired
	}
	if cfg.ImportURLExpiry <= 0 {
		cfg.ImportURLExpiry = time.Hour
	}
	if cfg.ArchiveDeletionGrace <= 0 {
		cfg.ArchiveDeletionGrace = 30 * 24 * time.Hour
	}
	if cfg.PreviousPasswordGrace <= 0 {
		cfg.PreviousPasswordGrace = 24 * time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gen := new(atomic.Uint64)
	return &Service{store: genStore{store, gen}, uploads: uploads, blobs: blobs, cfg: cfg, log: log, gen: gen}, nil
}

// now returns the clock's time in UTC, to the millisecond (the precision of
// the wire's timestamps), so that what is stored is what is returned.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// account returns the caller's account.
func account(ctx context.Context) (string, error) {
	p, ok := iam.PrincipalFrom(ctx)
	if !ok || p.AccountID == "" {
		return "", fault.AccessDeniedf("no caller identity in the request")
	}
	return p.AccountID, nil
}

// kindInfo is what the service knows of each kind of resource.
type kindInfo struct {
	idPrefix string // "rs-"
	arnType  string // "mailmanager-rule-set"
	label    string // "rule set", for messages
}

var kinds = map[Kind]kindInfo{
	KindTrafficPolicy:     {"tp-", "mailmanager-traffic-policy", "traffic policy"},
	KindRuleSet:           {"rs-", "mailmanager-rule-set", "rule set"},
	KindIngressPoint:      {"inp-", "mailmanager-ingress-point", "ingress point"},
	KindRelay:             {"rl-", "mailmanager-smtp-relay", "relay"},
	KindArchive:           {"a-", "mailmanager-archive", "archive"},
	KindAddressList:       {"al-", "mailmanager-address-list", "address list"},
	KindImportJob:         {"", "", "address list import job"}, // UUID IDs; not taggable
	KindAddonInstance:     {"ai-", "addon-instance", "add-on instance"},
	KindAddonSubscription: {"as-", "addon-subscription", "add-on subscription"},
}

func (k Kind) label() string { return kinds[k].label }

// idEncoding: IDs are a prefix and 26 lowercase alphanumerics (130 random
// bits), the shape AWS uses: SES v2 checks archive ARNs against
// "a-[a-z0-9]{24,62}", so an archive ID must fit it.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func newID(k Kind) string {
	if k == KindImportJob {
		return newUUID()
	}
	var b [17]byte
	_, _ = rand.Read(b[:])
	return kinds[k].idPrefix + idEncoding.EncodeToString(b[:])[:26]
}

// newUUID returns a random (version 4) UUID, the shape of import job IDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// arn returns the ARN of a resource, in the form of the IAM service
// reference: arn:aws:ses:<region>:<account>:mailmanager-rule-set/<id>.
func (s *Service) arn(accountID string, k Kind, id string) string {
	return "arn:aws:ses:" + s.cfg.Region + ":" + accountID + ":" + kinds[k].arnType + "/" + id
}

// parseARN splits an ARN of this service into its kind and ID. It reports
// ok=false for an ARN of another account, region, service or type.
func (s *Service) parseARN(accountID, arn string) (Kind, string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "ses" {
		return "", "", false
	}
	if parts[3] != s.cfg.Region || parts[4] != accountID {
		return "", "", false
	}
	typ, id, ok := strings.Cut(parts[5], "/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", "", false
	}
	for k, ki := range kinds {
		if ki.arnType != "" && ki.arnType == typ {
			return k, id, true
		}
	}
	return "", "", false
}

func isARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// encodeBody and decodeBody convert a record to and from a Resource body.
func encodeBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Records are plain data; failing to encode one is a bug.
		panic(fmt.Sprintf("mailmanager: encode record: %v", err))
	}
	return b
}

func decodeBody[T any](r *Resource) (*T, error) {
	v := new(T)
	if len(r.Body) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return nil, fmt.Errorf("mailmanager: decode %s %s: %w", r.Kind, r.ID, err)
	}
	return v, nil
}

// get reads a resource of the caller's account, with an AWS-like message
// when it does not exist.
func get(ctx context.Context, tx Tx, accountID string, k Kind, id string) (*Resource, error) {
	r, err := tx.Get(ctx, accountID, k, id)
	if fault.Is(err, fault.NotFound) {
		return nil, notFound(k, id)
	}
	return r, err
}

func notFound(k Kind, id string) error {
	e := fault.NotFoundf("%s %s does not exist", capitalize(k.label()), id)
	e.ResourceType, e.ResourceID = string(k), id
	return e
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// checkName fails with a conflict when name is taken by another resource of
// the same kind in the account.
func checkName(ctx context.Context, tx Tx, accountID string, k Kind, name, selfID string) error {
	other, err := tx.GetByName(ctx, accountID, k, name)
	switch {
	case fault.Is(err, fault.NotFound):
		return nil
	case err != nil:
		return err
	case other.ID == selfID:
		return nil
	}
	return fault.Conflictf("A %s named %q already exists: %s", k.label(), name, other.ID)
}

// checkNotInUse fails with a conflict naming the resources that use id.
// Resources of the kinds in ignore do not count.
func checkNotInUse(ctx context.Context, tx Tx, accountID string, k Kind, id string, ignore ...Kind) error {
	refs, err := tx.ReferencedBy(ctx, accountID, id)
	if err != nil {
		return err
	}
	var users []string
	for _, r := range refs {
		skip := false
		for _, ig := range ignore {
			skip = skip || r.Kind == ig
		}
		if skip || r.ID == id {
			continue
		}
		u := r.Kind.label() + " " + r.ID
		if r.Name != "" {
			u += " (" + r.Name + ")"
		}
		users = append(users, u)
	}
	if len(users) == 0 {
		return nil
	}
	return fault.Conflictf("%s %s is used by %s", capitalize(k.label()), id, strings.Join(users, ", "))
}

// Pagination. A NextToken is opaque to clients: base64url of the kind of
// listing, the last key returned and a checksum of both, so that a token
// of one listing, or an altered one, is refused.

const (
	defaultPageSize = 20
	maxPageSize     = 50
)

func tokenSum(scope, last string) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(scope+"\x00"+last))), 36)
}

func encodeToken(scope, last string) *string {
	t := base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + last + "\x00" + tokenSum(scope, last)))
	return &t
}

func decodeToken(scope string, token *string) (string, error) {
	if token == nil || *token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*token)
	if err != nil {
		return "", fault.Invalidf("Invalid NextToken")
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 || parts[0] != scope || parts[1] == "" || parts[2] != tokenSum(parts[0], parts[1]) {
		return "", fault.Invalidf("Invalid NextToken")
	}
	return parts[1], nil
}

// pageSize returns the page size asked for, the default when none, and a
// validation error outside 1..max (the wire layer checks the model's bounds
// already; ListRelays' PageSize has none in the model, so it is clamped).
func pageSize(p *int64, def, max int) (int, error) {
	if p == nil {
		return def, nil
	}
	if *p < 1 {
		return 0, fault.Invalidf("PageSize must be at least 1")
	}
	if *p > int64(max) {
		return max, nil
	}
	return int(*p), nil
}

// listPage reads one page of resources of a kind.
func listPage(ctx context.Context, tx Tx, accountID string, k Kind, token *string, size *int64) ([]*Resource, *string, error) {
	n, err := pageSize(size, defaultPageSize, maxPageSize)
	if err != nil {
		return nil, nil, err
	}
	after, err := decodeToken(string(k), token)
	if err != nil {
		return nil, nil, err
	}
	rs, err := tx.List(ctx, accountID, k, after, n+1)
	if err != nil {
		return nil, nil, err
	}
	var next *string
	if len(rs) > n {
		rs = rs[:n]
		next = encodeToken(string(k), rs[n-1].ID)
	}
	return rs, next, nil
}

// Small helpers for the optional members of the model.

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func ts(t time.Time) *smithy.Time { return smithy.NewTime(t) }

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
