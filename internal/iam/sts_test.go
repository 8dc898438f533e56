package iam

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
)

func TestNewRole(t *testing.T) {
	t.Parallel()
	r, err := NewRole("111122223333", "SESRole", []string{"444455556666", "111122223333", "000000000000"}, 0)
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::111122223333:role/SESRole", r.ARN())
	require.Equal(t, "/", r.Path)
	require.Regexp(t, `^AROA[A-Z2-7]{17}$`, r.RoleID)
	require.Equal(t, []string{"000000000000", "444455556666"}, r.TrustedAccounts, "own account left out, sorted")
	require.Equal(t, time.Hour, r.MaxSessionDuration)
	require.True(t, r.Trusts("111122223333"))
	require.True(t, r.Trusts("444455556666"))
	require.False(t, r.Trusts("777788889999"))

	r, err = NewRole("111122223333", "/service/ses/Sender+=,.@_-", nil, 12*time.Hour)
	require.NoError(t, err)
	require.Equal(t, "/service/ses/", r.Path)
	require.Equal(t, "arn:aws:iam::111122223333:role/service/ses/Sender+=,.@_-", r.ARN())

	for _, bad := range []struct {
		account, name string
		trust         []string
		max           time.Duration
	}{
		{"11112222333", "r", nil, 0},
		{"111122223333", "", nil, 0},
		{"111122223333", "a b", nil, 0},
		{"111122223333", strings.Repeat("r", 65), nil, 0},
		{"111122223333", "r", []string{"x"}, 0},
		{"111122223333", "r", nil, 59 * time.Minute},
		{"111122223333", "r", nil, 12*time.Hour + time.Second},
		{"111122223333", "r", nil, 3600*time.Second + time.Millisecond},
	} {
		_, err := NewRole(bad.account, bad.name, bad.trust, bad.max)
		require.True(t, fault.Is(err, fault.Invalid), "%+v: %v", bad, err)
	}
	_, err = NewRole("111122223333", strings.Repeat("r", 64), nil, 0)
	require.NoError(t, err)
}

func TestParseRoleARN(t *testing.T) {
	t.Parallel()
	for arn, want := range map[string][3]string{
		"arn:aws:iam::123456789012:role/SESRole":        {"123456789012", "/", "SESRole"},
		"arn:aws:iam::123456789012:role/a/b/SESRole":    {"123456789012", "/a/b/", "SESRole"},
		"arn:aws:iam::123456789012:role/with@.=,+_-123": {"123456789012", "/", "with@.=,+_-123"},
	} {
		a, p, n, err := ParseRoleARN(arn)
		require.NoError(t, err, arn)
		require.Equal(t, want, [3]string{a, p, n}, arn)
	}
	for _, arn := range []string{
		"", "SESRole", "arn:aws:iam::123456789012:user/bob", "arn:aws:iam::12345678901:role/r",
		"arn:aws:sts::123456789012:role/r", "arn:aws:iam:us-east-1:123456789012:role/r",
		"arn:aws:iam::123456789012:role/", "arn:aws:iam::123456789012:role//r", "arn:aws:iam::123456789012:role/a b",
		"arn:aws:iam::123456789012:rolex/r", "arn:aws-cn:iam::123456789012:role/r",
	} {
		_, _, _, err := ParseRoleARN(arn)
		require.True(t, fault.Is(err, fault.Invalid), "%q: %v", arn, err)
	}
}

// memStore is the part of Store STS uses, in memory.
type memStore struct {
	Store    // the rest panics
	mu       sync.Mutex
	roles    map[string]Role
	sessions map[string]Session
	purges   []time.Time
}

func newMemStore(roles ...*Role) *memStore {
	m := &memStore{roles: map[string]Role{}, sessions: map[string]Session{}}
	for _, r := range roles {
		m.roles[r.AccountID+"/"+strings.ToLower(r.Name)] = *r
	}
	return m
}

func (m *memStore) GetRole(_ context.Context, account, name string) (*Role, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.roles[account+"/"+strings.ToLower(name)]
	if !ok {
		return nil, fault.NotFoundf("no role %s", name)
	}
	return &r, nil
}

func (m *memStore) CreateSession(_ context.Context, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.AccessKeyID] = s
	return nil
}

func (m *memStore) GetSession(_ context.Context, id string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return nil, fault.NotFoundf("no session %s", id)
	}
	return &s, nil
}

func (m *memStore) PurgeSessions(_ context.Context, cutoff time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.purges = append(m.purges, cutoff)
	var n int64
	for id, s := range m.sessions {
		if s.Expiration.Before(cutoff) {
			delete(m.sessions, id)
			n++
		}
	}
	return n, nil
}

type noKeys struct{}

func (noKeys) LookupAccessKey(context.Context, string) (string, Principal, error) {
	return "", Principal{}, fault.NotFoundf("no key")
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

const (
	roleAcct   = "111122223333"
	callerAcct = "000000000000"
)

var rootCaller = Principal{AccountID: callerAcct, AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", ARN: "arn:aws:iam::" + callerAcct + ":root"}

func setupSTS(t *testing.T) (*STS, *memStore, *clock, *Role) {
	t.Helper()
	role, err := NewRole(roleAcct, "service/SESRole", []string{callerAcct}, 2*time.Hour)
	require.NoError(t, err)
	st := newMemStore(role)
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 123e6, time.UTC)}
	return NewSTS(st, noKeys{}, c.now), st, c, role
}

func TestAssumeRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st, c, role := setupSTS(t)

	sess, token, err := s.AssumeRole(ctx, rootCaller, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "SESSession"})
	require.NoError(t, err)
	require.Regexp(t, `^ASIA[A-Z2-7]{16}$`, sess.AccessKeyID)
	require.Regexp(t, `^[A-Za-z0-9+/]{40}$`, sess.SecretAccessKey)
	require.Len(t, token, 256)
	require.Equal(t, roleAcct, sess.AccountID, "the credentials act as the role's account")
	require.Equal(t, "arn:aws:sts::"+roleAcct+":assumed-role/SESRole/SESSession", sess.ARN, "no path in the session ARN")
	require.Equal(t, role.RoleID+":SESSession", sess.UserID)
	require.Equal(t, time.Date(2025, 6, 1, 13, 0, 0, 0, time.UTC), sess.Expiration, "an hour by default, to the second")

	stored := st.sessions[sess.AccessKeyID]
	require.Equal(t, HashSessionToken(token), stored.TokenHash)
	require.NotContains(t, stored.TokenHash, token, "only the token's hash is kept")
	require.Equal(t, role.RoleID, stored.RoleID)

	// Fresh credentials every time.
	sess2, token2, err := s.AssumeRole(ctx, rootCaller, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "SESSession", Duration: 2 * time.Hour})
	require.NoError(t, err)
	require.NotEqual(t, sess.AccessKeyID, sess2.AccessKeyID)
	require.NotEqual(t, sess.SecretAccessKey, sess2.SecretAccessKey)
	require.NotEqual(t, token, token2)
	require.Equal(t, c.t.Add(2*time.Hour).Truncate(time.Second), sess2.Expiration)

	// Role chaining: an assumed role may assume a role, for an hour at most.
	chained := sess.Principal()
	_, _, err = s.AssumeRole(ctx, chained, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "again", Duration: 61 * time.Minute})
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	require.ErrorContains(t, err, "role chaining")
	_, _, err = s.AssumeRole(ctx, chained, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "again"})
	require.NoError(t, err)
}

func TestAssumeRoleDenied(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, _, role := setupSTS(t)
	for _, tc := range []struct {
		caller Principal
		arn    string
	}{
		{rootCaller, "arn:aws:iam::" + roleAcct + ":role/Nope"},                                   // no such role
		{rootCaller, "arn:aws:iam::" + roleAcct + ":role/SESRole"},                                // wrong path
		{rootCaller, "arn:aws:iam::" + roleAcct + ":role/other/SESRole"},                          // wrong path
		{rootCaller, "arn:aws:iam::999988887777:role/service/SESRole"},                            // other account
		{Principal{AccountID: "444455556666", ARN: "arn:aws:iam::444455556666:root"}, role.ARN()}, // untrusted
	} {
		_, _, err := s.AssumeRole(ctx, tc.caller, AssumeRoleInput{RoleARN: tc.arn, SessionName: "s1"})
		require.True(t, fault.Is(err, fault.AccessDenied), "%s: %v", tc.arn, err)
		require.EqualError(t, err, "User: "+tc.caller.ARN+" is not authorized to perform: sts:AssumeRole on resource: "+tc.arn)
	}
	// The role's own account is trusted without saying so.
	own := Principal{AccountID: roleAcct, AccessKeyID: "AKIABBBBBBBBBBBBBBBB", ARN: "arn:aws:iam::" + roleAcct + ":root"}
	_, _, err := s.AssumeRole(ctx, own, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "s1"})
	require.NoError(t, err)

	_, _, err = s.AssumeRole(ctx, rootCaller, AssumeRoleInput{RoleARN: "arn:aws:iam::123:role/x", SessionName: "s1"})
	require.True(t, fault.Is(err, fault.Invalid), "%v", err)
	require.EqualError(t, err, "Request ARN is invalid")

	for d, msg := range map[time.Duration]string{
		2*time.Hour + time.Second: "exceeds the MaxSessionDuration set for this role",
		14 * time.Minute:          "less than the minimum",
	} {
		_, _, err = s.AssumeRole(ctx, rootCaller, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "s1", Duration: d})
		require.True(t, fault.Is(err, fault.Invalid), "%s: %v", d, err)
		require.ErrorContains(t, err, msg)
	}
}

func TestGetSessionToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, c, _ := setupSTS(t)
	sess, token, err := s.GetSessionToken(ctx, rootCaller, 0)
	require.NoError(t, err)
	require.Equal(t, c.t.Add(12*time.Hour).Truncate(time.Second), sess.Expiration)
	require.Equal(t, rootCaller.ARN, sess.ARN)
	require.Equal(t, callerAcct, sess.AccountID)
	require.Empty(t, sess.RoleID)

	_, _, err = s.GetSessionToken(ctx, sess.Principal(), 0)
	require.True(t, fault.Is(err, fault.AccessDenied), "%v", err)
	for _, d := range []time.Duration{14 * time.Minute, 36*time.Hour + time.Second} {
		_, _, err = s.GetSessionToken(ctx, rootCaller, d)
		require.True(t, fault.Is(err, fault.Invalid), "%s: %v", d, err)
	}
	long, _, err := s.GetSessionToken(ctx, rootCaller, 36*time.Hour)
	require.NoError(t, err)
	require.Equal(t, c.t.Add(36*time.Hour).Truncate(time.Second), long.Expiration)

	// Credentials from GetSessionToken may assume a role (no chaining).
	_, p, err := s.LookupSessionKey(ctx, sess.AccessKeyID, token)
	require.NoError(t, err)
	require.True(t, p.Temporary())
	_, _, err = s.AssumeRole(ctx, p, AssumeRoleInput{RoleARN: "arn:aws:iam::" + roleAcct + ":role/service/SESRole", SessionName: "s1", Duration: 2 * time.Hour})
	require.NoError(t, err)
}

func TestLookupSessionKeyExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, st, c, role := setupSTS(t)
	sess, token, err := s.AssumeRole(ctx, rootCaller, AssumeRoleInput{RoleARN: role.ARN(), SessionName: "s1", Duration: 15 * time.Minute})
	require.NoError(t, err)
	start := c.t

	c.t = sess.Expiration.Add(-time.Millisecond)
	secret, p, err := s.LookupSessionKey(ctx, sess.AccessKeyID, token)
	require.NoError(t, err)
	require.Equal(t, sess.SecretAccessKey, secret)
	require.Equal(t, sess.ARN, p.ARN)

	c.t = sess.Expiration
	_, _, err = s.LookupSessionKey(ctx, sess.AccessKeyID, token)
	require.True(t, errors.Is(err, ErrExpiredToken), "%v", err)
	_, _, err = s.LookupSessionKey(ctx, sess.AccessKeyID, strings.ToUpper(token))
	require.True(t, fault.Is(err, fault.NotFound), "a wrong token is unknown, not expired: %v", err)
	_, _, err = s.LookupSessionKey(ctx, "ASIAUNKNOWNUNKNOWN00", token)
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	// Issuing purges what expired a day ago, at most hourly.
	require.Len(t, st.purges, 1)
	require.Equal(t, start.Add(-24*time.Hour), st.purges[0])
	c.t = start.Add(30 * time.Minute)
	_, _, err = s.GetSessionToken(ctx, rootCaller, 0)
	require.NoError(t, err)
	require.Len(t, st.purges, 1)
	c.t = start.Add(25 * time.Hour)
	_, _, err = s.GetSessionToken(ctx, rootCaller, 0)
	require.NoError(t, err)
	require.Len(t, st.purges, 2)
	_, _, err = s.LookupSessionKey(ctx, sess.AccessKeyID, token)
	require.True(t, fault.Is(err, fault.NotFound), "purged: %v", err)
}

func TestSessionTokensDiffer(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	re := regexp.MustCompile(`^[A-Za-z0-9+/]+$`)
	for range 100 {
		s, tok := newSession(time.Now(), time.Hour)
		require.False(t, seen[tok])
		require.False(t, seen[s.AccessKeyID])
		seen[tok], seen[s.AccessKeyID] = true, true
		require.Regexp(t, re, tok)
	}
}
