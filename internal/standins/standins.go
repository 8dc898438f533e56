// Package standins maps the ARNs of AWS services Tidings does not serve,
// which Mail Manager resources name, to what stands in for them here:
//
//   - secrets (Secrets Manager, arn:aws:secretsmanager:R:A:secret:NAME):
//     a JSON object of strings, sealed with the master key; the SMTP
//     credentials of relays (keys "username" and "password") and the
//     password of AUTH ingress points (key "password");
//   - functions (Lambda, arn:aws:lambda:R:A:function:NAME): an http(s)
//     URL that InvokeLambda actions POST their event to, optionally
//     signed with a secret as webhooks are;
//   - mailboxes (WorkMail, arn:aws:workmail:R:A:organization/NAME): an
//     LMTP server or a Maildir that DeliverToMailbox actions deliver to.
//
// Each is named per account and set up by the operator (`tidings secrets`,
// `tidings functions`, `tidings mailboxes`, through the native API under
// /v1/). None of them is an AWS API.
package standins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/events"
	"github.com/tidings/tidings/internal/fault"
)

// Kind is what an entry stands in for.
type Kind string

const (
	KindSecret   Kind = "secret"
	KindFunction Kind = "function"
	KindMailbox  Kind = "mailbox"
)

// Entry is one stand-in as stored: Body is JSON owned by this package
// (sealed, for secrets).
type Entry struct {
	AccountID string
	Kind      Kind
	Name      string
	Body      []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Store keeps entries. Implementations live under internal/store and pass
// internal/store/storetest's stand-ins suite. Errors: fault.NotFound for
// a missing entry.
type Store interface {
	// Put inserts e or replaces the body of the entry of the same
	// account, kind and name (whose CreatedAt stays); it sets e's times as
	// stored and reports whether the entry is new.
	Put(ctx context.Context, e *Entry) (created bool, err error)
	Get(ctx context.Context, accountID string, k Kind, name string) (*Entry, error)
	// List returns the entries of a kind of an account by name.
	List(ctx context.Context, accountID string, k Kind) ([]*Entry, error)
	Delete(ctx context.Context, accountID string, k Kind, name string) error
}

// Sealer encrypts secrets at rest: internal/kms's master key (the key
// that wraps every KMS key, never in the database). The associated data
// binds a sealed value to its row.
type Sealer interface {
	SealWithMaster(plain, ad []byte) []byte
	OpenWithMaster(sealed, ad []byte) ([]byte, error)
}

// Config tunes a Service.
type Config struct {
	// Region appears in ARNs (default us-east-1); an ARN of another
	// region names nothing.
	Region string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service manages stand-ins.
type Service struct {
	store  Store
	sealer Sealer
	cfg    Config
	log    *slog.Logger
}

// New returns a Service over store; sealer encrypts secrets.
func New(store Store, sealer Sealer, cfg Config, log *slog.Logger) (*Service, error) {
	if store == nil || sealer == nil {
		return nil, errors.New("standins: a store and a sealer are required")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, sealer: sealer, cfg: cfg, log: log}, nil
}

// Region is the region of the service's ARNs.
func (s *Service) Region() string { return s.cfg.Region }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// Names: Secrets Manager allows 1–512 of letters, digits and /_+=.@-;
// Lambda function names 1–64 of letters, digits, - and _; mailboxes here
// are the last segment of an ARN, as WorkMail IDs: letters, digits, . _ -.
var (
	secretNameRe   = regexp.MustCompile(`^[a-zA-Z0-9/_+=.@-]{1,512}$`)
	functionNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	mailboxNameRe  = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,128}$`)
)

// ARN returns the ARN an entry of kind k named name has in accountID.
func (s *Service) ARN(k Kind, accountID, name string) string {
	switch k {
	case KindSecret:
		return "arn:aws:secretsmanager:" + s.cfg.Region + ":" + accountID + ":secret:" + name
	case KindFunction:
		return "arn:aws:lambda:" + s.cfg.Region + ":" + accountID + ":function:" + name
	case KindMailbox:
		return "arn:aws:workmail:" + s.cfg.Region + ":" + accountID + ":organization/" + name
	}
	return ""
}

// nameOf returns the name ref gives for kind k: ref itself when it is not
// an ARN; for an ARN, the name when it is an ARN of that kind in this
// region and account, else "" (it names nothing here).
func (s *Service) nameOf(k Kind, accountID, ref string) string {
	rest, ok := strings.CutPrefix(ref, "arn:")
	if !ok {
		return ref
	}
	// arn:<partition>:<service>:<region>:<account>:<resource>
	p := strings.SplitN(rest, ":", 5)
	if len(p) != 5 || p[2] != s.cfg.Region || p[3] != accountID {
		return ""
	}
	switch k {
	case KindSecret:
		if p[1] == "secretsmanager" {
			return cutPrefix(p[4], "secret:")
		}
	case KindFunction:
		if p[1] == "lambda" {
			// function:NAME, or function:NAME:QUALIFIER (a version or
			// alias, which a URL has none of).
			name := cutPrefix(p[4], "function:")
			name, _, _ = strings.Cut(name, ":")
			return name
		}
	case KindMailbox:
		if p[1] == "workmail" {
			return cutPrefix(p[4], "organization/")
		}
	}
	return ""
}

func cutPrefix(s, prefix string) string {
	if v, ok := strings.CutPrefix(s, prefix); ok {
		return v
	}
	return ""
}

func label(k Kind) string {
	switch k {
	case KindSecret:
		return "Secret"
	case KindFunction:
		return "Function"
	}
	return "Mailbox"
}

func notFound(k Kind, ref string) error {
	e := fault.NotFoundf("%s %s does not exist", label(k), ref)
	e.ResourceType, e.ResourceID = string(k), ref
	return e
}

// get reads the entry ref (a name or an ARN) names.
func (s *Service) get(ctx context.Context, k Kind, accountID, ref string) (*Entry, error) {
	name := s.nameOf(k, accountID, ref)
	if name == "" {
		return nil, notFound(k, ref)
	}
	e, err := s.store.Get(ctx, accountID, k, name)
	if fault.Is(err, fault.NotFound) {
		return nil, notFound(k, ref)
	}
	return e, err
}

// check turns "not found" into the validation error an API that takes
// the ARN answers (the Create operations of Mail Manager have no
// ResourceNotFoundException).
func (s *Service) check(ctx context.Context, k Kind, accountID, ref, how string) error {
	_, err := s.get(ctx, k, accountID, ref)
	if fault.Is(err, fault.NotFound) {
		return fault.Invalidf("%s %s does not exist or is not accessible (create it with `%s`)", label(k), ref, how)
	}
	return err
}

// Info describes an entry for listings: never a secret's value.
type Info struct {
	Name      string    `json:"name"`
	ARN       string    `json:"arn"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Target: a function's URL, a mailbox's "lmtp:host:port" or
	// "maildir:PATH"; a secret's keys, comma-separated.
	Target string `json:"target,omitempty"`
	// Signed says a function's calls are signed.
	Signed bool `json:"signed,omitempty"`
}

func (s *Service) info(e *Entry, target string) Info {
	return Info{Name: e.Name, ARN: s.ARN(e.Kind, e.AccountID, e.Name), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Target: target}
}

func (s *Service) put(ctx context.Context, e *Entry) (bool, error) {
	e.CreatedAt, e.UpdatedAt = s.now(), s.now()
	created, err := s.store.Put(ctx, e)
	if err == nil {
		s.log.Info("stand-in set", "account", e.AccountID, "kind", e.Kind, "name", e.Name, "created", created)
	}
	return created, err
}

// Delete deletes the entry of kind k that ref names.
func (s *Service) Delete(ctx context.Context, k Kind, accountID, ref string) error {
	name := s.nameOf(k, accountID, ref)
	if name == "" {
		return notFound(k, ref)
	}
	err := s.store.Delete(ctx, accountID, k, name)
	if fault.Is(err, fault.NotFound) {
		return notFound(k, ref)
	}
	if err == nil {
		s.log.Info("stand-in deleted", "account", accountID, "kind", k, "name", name)
	}
	return err
}

// ---- Secrets

// MaxSecretBytes bounds a secret's JSON (Secrets Manager's SecretString
// limit).
const MaxSecretBytes = 64 << 10

func secretAD(accountID, name string) []byte {
	return fmt.Appendf(nil, "tidings-secret\x00%s\x00%s", accountID, name)
}

// PutSecret creates or replaces a secret: value is a JSON object whose
// values are strings. It returns the secret's ARN.
func (s *Service) PutSecret(ctx context.Context, accountID, name string, value map[string]string) (Info, error) {
	if !secretNameRe.MatchString(name) {
		return Info{}, fault.Invalidf("secret name %q: want 1–512 letters, digits or /_+=.@-", name)
	}
	if len(value) == 0 {
		return Info{}, fault.Invalidf("secret %s: the value must be a JSON object with at least one key", name)
	}
	plain, err := json.Marshal(value)
	if err != nil {
		return Info{}, err
	}
	if len(plain) > MaxSecretBytes {
		return Info{}, fault.Invalidf("secret %s: %d bytes, over the limit of %d", name, len(plain), MaxSecretBytes)
	}
	e := &Entry{AccountID: accountID, Kind: KindSecret, Name: name, Body: s.sealer.SealWithMaster(plain, secretAD(accountID, name))}
	if _, err := s.put(ctx, e); err != nil {
		return Info{}, err
	}
	return s.info(e, keysOf(value)), nil
}

func keysOf(m map[string]string) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// Secret returns the value of the secret ref (ARN or name) names.
func (s *Service) Secret(ctx context.Context, accountID, ref string) (map[string]string, error) {
	e, err := s.get(ctx, KindSecret, accountID, ref)
	if err != nil {
		return nil, err
	}
	return s.openSecret(e)
}

func (s *Service) openSecret(e *Entry) (map[string]string, error) {
	plain, err := s.sealer.OpenWithMaster(e.Body, secretAD(e.AccountID, e.Name))
	if err != nil {
		return nil, fmt.Errorf("secret %s cannot be decrypted (is this the master key it was stored with?): %w", e.Name, err)
	}
	var v map[string]string
	if err := json.Unmarshal(plain, &v); err != nil {
		return nil, fmt.Errorf("secret %s: %w", e.Name, err)
	}
	return v, nil
}

// CheckSecret is the check of an API taking a SecretArn: a fault.Invalid
// error when it names no secret of the account.
func (s *Service) CheckSecret(ctx context.Context, accountID, arn string) error {
	return s.check(ctx, KindSecret, accountID, arn, "tidings secrets put")
}

// ListSecrets lists the secrets of an account with their keys, never
// their values.
func (s *Service) ListSecrets(ctx context.Context, accountID string) ([]Info, error) {
	es, err := s.store.List(ctx, accountID, KindSecret)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(es))
	for _, e := range es {
		keys := "(cannot be decrypted)"
		if v, err := s.openSecret(e); err == nil {
			keys = keysOf(v)
		}
		out = append(out, s.info(e, keys))
	}
	return out, nil
}

// ---- Functions

// Function is what stands in for a Lambda function: the URL its
// invocations are POSTed to and, when set, the secret they are signed
// with (X-Tidings-Timestamp, X-Tidings-Signature: see internal/events).
type Function struct {
	Name   string
	ARN    string
	URL    string
	Secret string
}

type functionBody struct {
	URL    string `json:"url"`
	Secret []byte `json:"secret,omitempty"` // sealed
}

func functionAD(accountID, name string) []byte {
	return fmt.Appendf(nil, "tidings-function\x00%s\x00%s", accountID, name)
}

// PutFunction creates or replaces a function.
func (s *Service) PutFunction(ctx context.Context, accountID, name, rawURL, secret string) (Info, error) {
	if !functionNameRe.MatchString(name) {
		return Info{}, fault.Invalidf("function name %q: want 1–64 letters, digits, '-' or '_'", name)
	}
	// The invocations go out as webhooks do, with the same rules.
	if err := events.ValidateWebhookURL(rawURL); err != nil {
		return Info{}, err
	}
	b := functionBody{URL: rawURL}
	if secret != "" {
		b.Secret = s.sealer.SealWithMaster([]byte(secret), functionAD(accountID, name))
	}
	body, _ := json.Marshal(b)
	e := &Entry{AccountID: accountID, Kind: KindFunction, Name: name, Body: body}
	if _, err := s.put(ctx, e); err != nil {
		return Info{}, err
	}
	in := s.info(e, rawURL)
	in.Signed = secret != ""
	return in, nil
}

// Function returns the function ref (ARN or name) names.
func (s *Service) Function(ctx context.Context, accountID, ref string) (*Function, error) {
	e, err := s.get(ctx, KindFunction, accountID, ref)
	if err != nil {
		return nil, err
	}
	var b functionBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return nil, fmt.Errorf("function %s: %w", e.Name, err)
	}
	f := &Function{Name: e.Name, ARN: s.ARN(KindFunction, accountID, e.Name), URL: b.URL}
	if len(b.Secret) > 0 {
		plain, err := s.sealer.OpenWithMaster(b.Secret, functionAD(accountID, e.Name))
		if err != nil {
			return nil, fmt.Errorf("function %s: its signing secret cannot be decrypted: %w", e.Name, err)
		}
		f.Secret = string(plain)
	}
	return f, nil
}

// CheckFunction is the check of a rule set naming a FunctionArn.
func (s *Service) CheckFunction(ctx context.Context, accountID, arn string) error {
	return s.check(ctx, KindFunction, accountID, arn, "tidings functions put")
}

// ListFunctions lists the functions of an account.
func (s *Service) ListFunctions(ctx context.Context, accountID string) ([]Info, error) {
	es, err := s.store.List(ctx, accountID, KindFunction)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(es))
	for _, e := range es {
		var b functionBody
		_ = json.Unmarshal(e.Body, &b)
		in := s.info(e, b.URL)
		in.Signed = len(b.Secret) > 0
		out = append(out, in)
	}
	return out, nil
}

// ---- Mailboxes

// Mailbox is what stands in for a WorkMail mailbox: an LMTP server
// (RFC 2033) or a Maildir.
type Mailbox struct {
	Name    string
	LMTP    string // host:port
	Maildir string // an absolute path
}

type mailboxBody struct {
	LMTP    string `json:"lmtp,omitempty"`
	Maildir string `json:"maildir,omitempty"`
}

// PutMailbox creates or replaces a mailbox: exactly one of lmtp (host:port)
// and maildir (an absolute path).
func (s *Service) PutMailbox(ctx context.Context, accountID, name, lmtp, maildir string) (Info, error) {
	if !mailboxNameRe.MatchString(name) {
		return Info{}, fault.Invalidf("mailbox name %q: want 1–128 letters, digits, '.', '_' or '-'", name)
	}
	var target string
	switch {
	case (lmtp == "") == (maildir == ""):
		return Info{}, fault.Invalidf("mailbox %s: give an LMTP server (host:port) or a Maildir (path), one of them", name)
	case lmtp != "":
		host, port, err := net.SplitHostPort(lmtp)
		if err != nil || host == "" || port == "" {
			return Info{}, fault.Invalidf("mailbox %s: LMTP server %q: want host:port", name, lmtp)
		}
		target = "lmtp:" + lmtp
	default:
		if !filepath.IsAbs(maildir) {
			return Info{}, fault.Invalidf("mailbox %s: Maildir %q: want an absolute path", name, maildir)
		}
		maildir = filepath.Clean(maildir)
		target = "maildir:" + maildir
	}
	body, _ := json.Marshal(mailboxBody{LMTP: lmtp, Maildir: maildir})
	e := &Entry{AccountID: accountID, Kind: KindMailbox, Name: name, Body: body}
	if _, err := s.put(ctx, e); err != nil {
		return Info{}, err
	}
	return s.info(e, target), nil
}

// Mailbox returns the mailbox ref (ARN or name) names.
func (s *Service) Mailbox(ctx context.Context, accountID, ref string) (*Mailbox, error) {
	e, err := s.get(ctx, KindMailbox, accountID, ref)
	if err != nil {
		return nil, err
	}
	var b mailboxBody
	if err := json.Unmarshal(e.Body, &b); err != nil {
		return nil, fmt.Errorf("mailbox %s: %w", e.Name, err)
	}
	return &Mailbox{Name: e.Name, LMTP: b.LMTP, Maildir: b.Maildir}, nil
}

// ListMailboxes lists the mailboxes of an account.
func (s *Service) ListMailboxes(ctx context.Context, accountID string) ([]Info, error) {
	es, err := s.store.List(ctx, accountID, KindMailbox)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(es))
	for _, e := range es {
		var b mailboxBody
		_ = json.Unmarshal(e.Body, &b)
		target := "maildir:" + b.Maildir
		if b.LMTP != "" {
			target = "lmtp:" + b.LMTP
		}
		out = append(out, s.info(e, target))
	}
	return out, nil
}
