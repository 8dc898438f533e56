package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/fault"
)

// TemporaryKeyPrefix starts the access key id of temporary credentials, as
// AWS's ("ASIA"); long-term keys start with "AKIA".
const TemporaryKeyPrefix = "ASIA"

// Session durations STS allows.
const (
	DefaultRoleSessionDuration = time.Hour
	MinSessionDuration         = 15 * time.Minute
	// Role chaining (AssumeRole with an assumed role's credentials) is
	// limited to an hour whatever the role allows.
	MaxChainedSessionDuration   = time.Hour
	DefaultSessionTokenDuration = 12 * time.Hour
	MaxSessionTokenDuration     = 36 * time.Hour
)

// sessionPurgeGrace is how long an expired session is kept, so that its
// requests fail with ExpiredToken rather than as unknown; purgeEvery is
// how often issuing credentials purges older ones.
const (
	sessionPurgeGrace = 24 * time.Hour
	purgeEvery        = time.Hour
)

// ErrExpiredToken is returned by LookupSessionKey for credentials past
// their expiration (AWS's ExpiredToken).
var ErrExpiredToken = errors.New("the session token has expired")

// Session is a set of temporary credentials. The secret is kept as given,
// as a long-term key's is (SigV4 verification needs it); of the session
// token only its SHA-256 is kept.
type Session struct {
	AccessKeyID     string
	SecretAccessKey string
	// TokenHash is the hex SHA-256 of the session token.
	TokenHash string
	// AccountID is the account the credentials act as: the role's, for
	// AssumeRole.
	AccountID string
	ARN       string
	UserID    string
	// RoleID is the assumed role's; empty for GetSessionToken.
	RoleID     string
	Expiration time.Time
	CreatedAt  time.Time
}

// Principal is who requests signed with the session's credentials come
// from.
func (s *Session) Principal() Principal {
	return Principal{AccountID: s.AccountID, AccessKeyID: s.AccessKeyID, ARN: s.ARN, UserID: s.UserID}
}

// HashSessionToken is the form a session token is stored in.
func HashSessionToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// newSession returns fresh credentials and their session token: an
// "ASIA" id of 20 characters, a 40-character secret and an opaque token
// of 256 characters, all from crypto/rand.
func newSession(now time.Time, d time.Duration) (*Session, string) {
	secret := make([]byte, 30)
	rand.Read(secret)
	token := make([]byte, 192)
	rand.Read(token)
	tok := base64.StdEncoding.EncodeToString(token)
	now = now.UTC().Truncate(time.Millisecond)
	return &Session{
		AccessKeyID:     newID(TemporaryKeyPrefix, 16),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret),
		TokenHash:       HashSessionToken(tok),
		CreatedAt:       now,
		// STS answers Expiration to the second.
		Expiration: now.Add(d).Truncate(time.Second),
	}, tok
}

// KeyLookup is the long-term key lookup STS stands in front of.
type KeyLookup interface {
	LookupAccessKey(ctx context.Context, accessKeyID string) (secret string, p Principal, err error)
}

// STS issues temporary credentials (AssumeRole, GetSessionToken) and
// checks them: it is the key lookup of SigV4 verification, answering
// long-term keys from keys and temporary ones from the store.
type STS struct {
	st   Store
	keys KeyLookup
	now  func() time.Time

	mu        sync.Mutex
	lastPurge time.Time
}

// NewSTS returns the STS over st, with keys answering long-term keys; now
// is the clock expirations are measured by (time.Now when nil).
func NewSTS(st Store, keys KeyLookup, now func() time.Time) *STS {
	if now == nil {
		now = time.Now
	}
	return &STS{st: st, keys: keys, now: now}
}

// LookupAccessKey answers long-term keys only: a temporary key needs its
// session token (LookupSessionKey).
func (s *STS) LookupAccessKey(ctx context.Context, accessKeyID string) (string, Principal, error) {
	return s.keys.LookupAccessKey(ctx, accessKeyID)
}

// LookupSessionKey returns the secret and principal of temporary
// credentials whose session token is token: fault.NotFound when the key
// is unknown or the token is not its own, ErrExpiredToken when it has
// expired.
func (s *STS) LookupSessionKey(ctx context.Context, accessKeyID, token string) (string, Principal, error) {
	sess, err := s.st.GetSession(ctx, accessKeyID)
	if err != nil {
		return "", Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(HashSessionToken(token)), []byte(sess.TokenHash)) != 1 {
		return "", Principal{}, fault.NotFoundf("session token of %s does not match", accessKeyID)
	}
	if !s.now().Before(sess.Expiration) {
		return "", Principal{}, ErrExpiredToken
	}
	return sess.SecretAccessKey, sess.Principal(), nil
}

// AssumeRoleInput is what AssumeRole needs beyond the caller.
type AssumeRoleInput struct {
	RoleARN     string
	SessionName string
	// Duration is 0 for the default (an hour).
	Duration time.Duration
}

// AssumeRole issues credentials of the role named by in.RoleARN to caller:
// they act as the role's account. The role must exist and trust the
// caller's account (fault.AccessDenied, in STS's words, when not); the
// duration may not exceed the role's maximum (fault.Invalid).
func (s *STS) AssumeRole(ctx context.Context, caller Principal, in AssumeRoleInput) (*Session, string, error) {
	account, path, name, err := ParseRoleARN(in.RoleARN)
	if err != nil {
		return nil, "", fault.Invalidf("Request ARN is invalid") // STS's words
	}
	denied := fault.AccessDeniedf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.RoleARN)
	role, err := s.st.GetRole(ctx, account, name)
	switch {
	case fault.Is(err, fault.NotFound):
		return nil, "", denied
	case err != nil:
		return nil, "", err
	case role.Path != path || !role.Trusts(caller.AccountID):
		return nil, "", denied
	}
	d := in.Duration
	if d == 0 {
		d = DefaultRoleSessionDuration
	}
	chained := caller.Temporary() && isAssumedRoleARN(caller.ARN)
	switch {
	case d < MinSessionDuration:
		return nil, "", fault.Invalidf("The requested DurationSeconds is less than the minimum of %d seconds.", int(MinSessionDuration/time.Second))
	case chained && d > MaxChainedSessionDuration:
		return nil, "", fault.Invalidf("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	case d > role.MaxSessionDuration:
		return nil, "", fault.Invalidf("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	sess, token := newSession(s.now(), d)
	sess.AccountID = role.AccountID
	sess.ARN = AssumedRoleARN(role, in.SessionName)
	sess.UserID = role.RoleID + ":" + in.SessionName
	sess.RoleID = role.RoleID
	if err := s.issue(ctx, sess); err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// isAssumedRoleARN reports whether arn names a role session
// (arn:aws:sts::<account>:assumed-role/<role>/<session>).
func isAssumedRoleARN(arn string) bool {
	rest, ok := strings.CutPrefix(arn, "arn:aws:sts::")
	return ok && strings.Contains(rest, ":assumed-role/")
}

// GetSessionToken issues credentials acting as caller itself. Callers with
// temporary credentials may not (fault.AccessDenied, as STS answers).
func (s *STS) GetSessionToken(ctx context.Context, caller Principal, d time.Duration) (*Session, string, error) {
	if caller.Temporary() {
		return nil, "", fault.AccessDeniedf("Cannot call GetSessionToken with session credentials")
	}
	if d == 0 {
		d = DefaultSessionTokenDuration
	}
	if d < MinSessionDuration || d > MaxSessionTokenDuration {
		return nil, "", fault.Invalidf("The requested DurationSeconds must be between %d and %d seconds.",
			int(MinSessionDuration/time.Second), int(MaxSessionTokenDuration/time.Second))
	}
	sess, token := newSession(s.now(), d)
	sess.AccountID, sess.ARN, sess.UserID = caller.AccountID, caller.ARN, caller.UserID
	if err := s.issue(ctx, sess); err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// issue stores sess and, at most once per purgeEvery, forgets the sessions
// expired for longer than sessionPurgeGrace.
func (s *STS) issue(ctx context.Context, sess *Session) error {
	if err := s.st.CreateSession(ctx, *sess); err != nil {
		return err
	}
	now := s.now()
	s.mu.Lock()
	due := now.Sub(s.lastPurge) >= purgeEvery
	if due {
		s.lastPurge = now
	}
	s.mu.Unlock()
	if due {
		// Best effort: a failure only delays the purge by purgeEvery.
		_, _ = s.st.PurgeSessions(ctx, now.Add(-sessionPurgeGrace))
	}
	return nil
}
