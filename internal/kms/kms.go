// Package kms manages the keys Tidings encrypts with: per account, named
// by an ARN of AWS KMS's shape (arn:aws:kms:<region>:<account>:key/<uuid>,
// or alias/<name>), so that an archive's KmsKeyArn names one. It is not an
// AWS KMS API: keys are created, listed and rotated with `tidings kms`.
//
// Envelope encryption in two levels. Each key version's material (AES-256)
// is stored wrapped by the master key, which is never in the database (a
// file in the data dir, or TIDINGS_MASTER_KEY). Data keys (AES-256), one
// per owner (an archive) and key version, are stored wrapped by the key
// version's material; owners encrypt their data under the data key.
// Rotating a key adds a version that wraps the data keys made from then
// on; older versions stay, so what they wrapped still decrypts, and
// nothing is re-encrypted.
package kms

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
)

// KeySize is the size of every key: AES-256.
const KeySize = 32

// Key is a key of an account. Its material is in its versions.
type Key struct {
	AccountID string
	ID        string // a UUID
	// Alias, without "alias/", or "".
	Alias       string
	Description string
	// CurrentVersion wraps new data keys; versions are 1, 2, …
	CurrentVersion int
	CreatedAt      time.Time
	RotatedAt      time.Time // zero until rotated
}

// ARN returns the key's ARN in region.
func (k *Key) ARN(region string) string {
	return "arn:aws:kms:" + region + ":" + k.AccountID + ":key/" + k.ID
}

// DataKey is a data key as stored: wrapped by a version of a key.
type DataKey struct {
	AccountID  string
	ID         string
	Owner      string
	KeyID      string
	KeyVersion int
	Wrapped    []byte
	CreatedAt  time.Time
}

// Store keeps keys and data keys. Implementations live under
// internal/store and pass internal/store/storetest's kms suite. Errors:
// fault.NotFound for a missing key, version or data key; fault.Conflict
// for an alias taken or a version added concurrently.
type Store interface {
	// CreateKey inserts k and its version 1, material (wrapped), in one
	// transaction.
	CreateKey(ctx context.Context, k *Key, material []byte) error
	GetKey(ctx context.Context, accountID, id string) (*Key, error)
	GetKeyByAlias(ctx context.Context, accountID, alias string) (*Key, error)
	// ListKeys lists the keys of an account, oldest first.
	ListKeys(ctx context.Context, accountID string) ([]*Key, error)
	// AddKeyVersion stores version (which must be the current version + 1)
	// of a key and makes it current, in one transaction; Conflict when the
	// current version is no longer version-1.
	AddKeyVersion(ctx context.Context, accountID, keyID string, version int, material []byte, at time.Time) error
	// KeyVersion returns the wrapped material of a version.
	KeyVersion(ctx context.Context, accountID, keyID string, version int) ([]byte, error)
	InsertDataKey(ctx context.Context, d *DataKey) error
	GetDataKey(ctx context.Context, accountID, id string) (*DataKey, error)
	// CurrentDataKey returns the newest data key of owner wrapped by that
	// version of the key, NotFound when there is none.
	CurrentDataKey(ctx context.Context, accountID, owner, keyID string, version int) (*DataKey, error)
}

// Config tunes a Service.
type Config struct {
	// Region appears in ARNs (default "us-east-1"); ARNs of another region
	// name no key.
	Region string
	// MasterKey wraps every key's material: KeySize bytes. Required.
	MasterKey []byte
	// CurrentTTL is how long the current data key of an owner is cached
	// (default 1 minute): a rotation made by another process (the CLI)
	// takes effect within it.
	CurrentTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service manages keys and data keys.
type Service struct {
	store  Store
	master cipher.AEAD
	cfg    Config
	log    *slog.Logger

	mu       sync.Mutex
	opened   map[string][]byte      // account\x00data key id -> plaintext
	versions map[string]cipher.AEAD // account\x00key\x00version -> AEAD
	current  map[string]currentKey  // account\x00owner\x00ref -> data key
}

type currentKey struct {
	id      string
	key     []byte
	expires time.Time
}

// maxCached bounds each cache; past it, the cache starts over.
const maxCached = 4096

// New returns a Service over store.
func New(store Store, cfg Config, log *slog.Logger) (*Service, error) {
	if store == nil {
		return nil, errors.New("kms: nil store")
	}
	if len(cfg.MasterKey) != KeySize {
		return nil, fmt.Errorf("kms: the master key must have %d bytes, not %d", KeySize, len(cfg.MasterKey))
	}
	master, err := newAEAD(cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.CurrentTTL <= 0 {
		cfg.CurrentTTL = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		store: store, master: master, cfg: cfg, log: log,
		opened: map[string][]byte{}, versions: map[string]cipher.AEAD{}, current: map[string]currentKey{},
	}, nil
}

// Region is the region of the service's ARNs.
func (s *Service) Region() string { return s.cfg.Region }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal encrypts plain under a with a random nonce, which it prepends.
func seal(a cipher.AEAD, plain, ad []byte) []byte {
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return a.Seal(nonce, nonce, plain, ad)
}

func open(a cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("sealed key too short")
	}
	return a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], ad)
}

// The associated data binds each wrapped key to where it is stored, so a
// row copied onto another does not unwrap.
func materialAD(accountID, keyID string, version int) []byte {
	return fmt.Appendf(nil, "tidings-kms-key\x00%s\x00%s\x00%d", accountID, keyID, version)
}

func dataKeyAD(d *DataKey) []byte {
	return fmt.Appendf(nil, "tidings-kms-data-key\x00%s\x00%s\x00%s\x00%s\x00%d", d.AccountID, d.ID, d.Owner, d.KeyID, d.KeyVersion)
}

func randomKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(err)
	}
	return k
}

// newUUID returns a random (version 4) UUID, the shape of KMS key IDs.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// AWS KMS: an alias name is 1–256 of letters, digits, /_- and must not
// begin with aws/ (reserved for AWS managed keys).
var aliasRe = regexp.MustCompile(`^[a-zA-Z0-9/_-]{1,250}$`)

// CreateKey creates a key of an account, with an alias ("" for none).
func (s *Service) CreateKey(ctx context.Context, accountID, alias, description string) (*Key, error) {
	alias = strings.TrimPrefix(alias, "alias/")
	if alias != "" && (!aliasRe.MatchString(alias) || strings.HasPrefix(alias, "aws/")) {
		return nil, fault.Invalidf("alias %q: want 1–250 letters, digits, '/', '_' or '-', not beginning with aws/", alias)
	}
	k := &Key{AccountID: accountID, ID: newUUID(), Alias: alias, Description: description, CurrentVersion: 1, CreatedAt: s.now()}
	material := seal(s.master, randomKey(), materialAD(accountID, k.ID, 1))
	if err := s.store.CreateKey(ctx, k, material); err != nil {
		return nil, err
	}
	s.log.Info("KMS key created", "account", accountID, "key", k.ID, "alias", alias)
	return k, nil
}

// ListKeys lists the keys of an account.
func (s *Service) ListKeys(ctx context.Context, accountID string) ([]*Key, error) {
	return s.store.ListKeys(ctx, accountID)
}

// RotateKey gives a key a new version, which wraps the data keys made from
// now on. ref is anything Resolve takes.
func (s *Service) RotateKey(ctx context.Context, accountID, ref string) (*Key, error) {
	k, err := s.Resolve(ctx, accountID, ref)
	if err != nil {
		return nil, err
	}
	v, now := k.CurrentVersion+1, s.now()
	material := seal(s.master, randomKey(), materialAD(accountID, k.ID, v))
	if err := s.store.AddKeyVersion(ctx, accountID, k.ID, v, material, now); err != nil {
		return nil, err
	}
	k.CurrentVersion, k.RotatedAt = v, now
	s.mu.Lock()
	clear(s.current) // the next data keys are wrapped by the new version
	s.mu.Unlock()
	s.log.Info("KMS key rotated", "account", accountID, "key", k.ID, "version", v)
	return k, nil
}

// Resolve returns the key of an account that ref names: a key ARN, an
// alias ARN, a key ID or alias/<name>. A key of another account or region
// is not found.
func (s *Service) Resolve(ctx context.Context, accountID, ref string) (*Key, error) {
	name := ref
	if rest, ok := strings.CutPrefix(ref, "arn:"); ok {
		// arn:<partition>:kms:<region>:<account>:<key/…|alias/…>
		parts := strings.SplitN(rest, ":", 5)
		if len(parts) != 5 || parts[1] != "kms" {
			return nil, notFound(ref)
		}
		if parts[2] != s.cfg.Region || parts[3] != accountID {
			return nil, notFound(ref)
		}
		name = parts[4]
	}
	var (
		k   *Key
		err error
	)
	if alias, ok := strings.CutPrefix(name, "alias/"); ok {
		k, err = s.store.GetKeyByAlias(ctx, accountID, alias)
	} else {
		k, err = s.store.GetKey(ctx, accountID, strings.TrimPrefix(name, "key/"))
	}
	if fault.Is(err, fault.NotFound) {
		return nil, notFound(ref)
	}
	return k, err
}

func notFound(ref string) error {
	e := fault.NotFoundf("KMS key %s does not exist", ref)
	e.ResourceType, e.ResourceID = "kms-key", ref
	return e
}

// CheckKey says whether arn names a key of the account, as an API that
// takes a KmsKeyArn checks it: a fault.Invalid error when it does not.
func (s *Service) CheckKey(ctx context.Context, accountID, arn string) error {
	_, err := s.Resolve(ctx, accountID, arn)
	if fault.Is(err, fault.NotFound) {
		return fault.Invalidf("KMS key %s does not exist or is not accessible (create one with `tidings kms create`)", arn)
	}
	return err
}

// cachePut stores v in cache under mu, starting the cache over when it is
// full.
func cachePut[V any](mu *sync.Mutex, cache map[string]V, k string, v V) {
	mu.Lock()
	defer mu.Unlock()
	if len(cache) >= maxCached {
		clear(cache)
	}
	cache[k] = v
}

func cacheKey(parts ...string) string { return strings.Join(parts, "\x00") }

// version returns the AEAD of a key version's material.
func (s *Service) version(ctx context.Context, accountID, keyID string, v int) (cipher.AEAD, error) {
	ck := cacheKey(accountID, keyID, fmt.Sprint(v))
	s.mu.Lock()
	a, ok := s.versions[ck]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	wrapped, err := s.store.KeyVersion(ctx, accountID, keyID, v)
	if err != nil {
		return nil, err
	}
	material, err := open(s.master, wrapped, materialAD(accountID, keyID, v))
	if err != nil {
		return nil, fmt.Errorf("kms: cannot unwrap version %d of key %s: wrong master key? (%v)", v, keyID, err)
	}
	if a, err = newAEAD(material); err != nil {
		return nil, err
	}
	cachePut(&s.mu, s.versions, ck, a)
	return a, nil
}

// DataKey returns the current data key of owner under the key ref names
// (creating it the first time, and again after each rotation): its ID,
// which OpenDataKey takes, and its plaintext, which the caller must not
// keep longer than it needs.
func (s *Service) DataKey(ctx context.Context, accountID, ref, owner string) (id string, key []byte, err error) {
	ck := cacheKey(accountID, owner, ref)
	now := s.cfg.Now()
	s.mu.Lock()
	c, ok := s.current[ck]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.id, c.key, nil
	}
	k, err := s.Resolve(ctx, accountID, ref)
	if err != nil {
		return "", nil, err
	}
	d, err := s.store.CurrentDataKey(ctx, accountID, owner, k.ID, k.CurrentVersion)
	var plain []byte
	switch {
	case err == nil:
		if plain, err = s.OpenDataKey(ctx, accountID, d.ID); err != nil {
			return "", nil, err
		}
	case fault.Is(err, fault.NotFound):
		// Two first messages at once may each make one: both stay valid,
		// the newest is current.
		d = &DataKey{AccountID: accountID, ID: newUUID(), Owner: owner, KeyID: k.ID, KeyVersion: k.CurrentVersion, CreatedAt: s.now()}
		a, err := s.version(ctx, accountID, k.ID, k.CurrentVersion)
		if err != nil {
			return "", nil, err
		}
		plain = randomKey()
		d.Wrapped = seal(a, plain, dataKeyAD(d))
		if err := s.store.InsertDataKey(ctx, d); err != nil {
			return "", nil, err
		}
		s.log.Info("data key created", "account", accountID, "owner", owner, "key", k.ID, "version", k.CurrentVersion)
	default:
		return "", nil, err
	}
	cachePut(&s.mu, s.current, ck, currentKey{id: d.ID, key: plain, expires: now.Add(s.cfg.CurrentTTL)})
	return d.ID, plain, nil
}

// OpenDataKey returns the plaintext of a data key of the account, whatever
// version of its key wrapped it.
func (s *Service) OpenDataKey(ctx context.Context, accountID, id string) ([]byte, error) {
	ck := cacheKey(accountID, id)
	s.mu.Lock()
	plain, ok := s.opened[ck]
	s.mu.Unlock()
	if ok {
		return plain, nil
	}
	d, err := s.store.GetDataKey(ctx, accountID, id)
	if err != nil {
		return nil, err
	}
	a, err := s.version(ctx, accountID, d.KeyID, d.KeyVersion)
	if err != nil {
		return nil, err
	}
	plain, err = open(a, d.Wrapped, dataKeyAD(d))
	if err != nil {
		return nil, fmt.Errorf("kms: cannot unwrap data key %s: %v", id, err)
	}
	cachePut(&s.mu, s.opened, ck, plain)
	return plain, nil
}

// SealWithMaster encrypts plain with the master key (AES-256-GCM), bound
// to ad: for small values kept in the database that belong to no KMS key
// (the secrets of internal/standins). ad must name where the value is
// stored, so that a sealed value copied elsewhere does not open.
func (s *Service) SealWithMaster(plain, ad []byte) []byte {
	return seal(s.master, plain, append([]byte("tidings-master\x00"), ad...))
}

// OpenWithMaster decrypts what SealWithMaster sealed with the same ad.
func (s *Service) OpenWithMaster(sealed, ad []byte) ([]byte, error) {
	return open(s.master, sealed, append([]byte("tidings-master\x00"), ad...))
}
