package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/store"
)

// RunRoles runs the conformance suite of the roles and sessions of
// iam.Store, and of iam.STS over them with a fake clock; open returns a
// fresh, empty database for each test.
func RunRoles(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, db *store.DB)
	}{
		{"Roles", testRoles},
		{"Sessions", testSessions},
		{"STS", testSTS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			t.Cleanup(cancel)
			tt.fn(t, ctx, open(t))
		})
	}
}

func testRoles(t *testing.T, ctx context.Context, db *store.DB) {
	st := db.IAM()
	r, err := iam.NewRole(acctA, "service/SESRole", []string{acctB, acctB}, 2*time.Hour)
	require.NoError(t, err)
	require.Equal(t, []string{acctB}, r.TrustedAccounts)
	requireKind(t, st.CreateRole(ctx, *r), fault.NotFound) // no account yet
	require.NoError(t, st.EnsureAccount(ctx, iam.Account{ID: acctA}))
	require.NoError(t, st.EnsureAccount(ctx, iam.Account{ID: acctB}))
	require.NoError(t, st.CreateRole(ctx, *r))

	got, err := st.GetRole(ctx, acctA, "sesrole") // names are case-insensitive
	require.NoError(t, err)
	require.Equal(t, r, got)
	require.Equal(t, "arn:aws:iam::"+acctA+":role/service/SESRole", got.ARN())

	// The same name in any case is taken in its account, free in another.
	again, err := iam.NewRole(acctA, "SESROLE", nil, 0)
	require.NoError(t, err)
	requireKind(t, st.CreateRole(ctx, *again), fault.Conflict)
	other, err := iam.NewRole(acctB, "SESRole", nil, 0)
	require.NoError(t, err)
	require.NoError(t, st.CreateRole(ctx, *other))
	got, err = st.GetRole(ctx, acctB, "SESRole")
	require.NoError(t, err)
	require.Empty(t, got.TrustedAccounts)
	require.Equal(t, time.Hour, got.MaxSessionDuration)
	_, err = st.GetRole(ctx, acctB, "nope")
	requireKind(t, err, fault.NotFound)

	all, err := st.ListRoles(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, acctA, all[0].AccountID)
	ofB, err := st.ListRoles(ctx, acctB)
	require.NoError(t, err)
	require.Len(t, ofB, 1)
	require.Equal(t, other.RoleID, ofB[0].RoleID)

	require.NoError(t, st.DeleteRole(ctx, acctA, "SESRole"))
	requireKind(t, st.DeleteRole(ctx, acctA, "SESRole"), fault.NotFound)
	_, err = st.GetRole(ctx, acctA, "SESRole")
	requireKind(t, err, fault.NotFound)
}

func testSessions(t *testing.T, ctx context.Context, db *store.DB) {
	st := db.IAM()
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	s := iam.Session{AccessKeyID: "ASIAAAAAAAAAAAAAAAAA", SecretAccessKey: "secret", TokenHash: iam.HashSessionToken("tok"),
		AccountID: acctA, ARN: "arn:aws:sts::" + acctA + ":assumed-role/r/s", UserID: "AROAX:s", RoleID: "AROAX",
		Expiration: t0.Add(time.Hour), CreatedAt: t0}
	require.NoError(t, st.CreateSession(ctx, s))
	requireKind(t, st.CreateSession(ctx, s), fault.Conflict)
	got, err := st.GetSession(ctx, s.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, &s, got)
	_, err = st.GetSession(ctx, "ASIAUNKNOWN")
	requireKind(t, err, fault.NotFound)

	plain := s
	plain.AccessKeyID, plain.RoleID, plain.Expiration = "ASIABBBBBBBBBBBBBBBB", "", t0.Add(2*time.Hour)
	require.NoError(t, st.CreateSession(ctx, plain))

	// Only what expired before the cutoff goes.
	n, err := st.PurgeSessions(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = st.PurgeSessions(ctx, t0.Add(90*time.Minute))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	_, err = st.GetSession(ctx, s.AccessKeyID)
	requireKind(t, err, fault.NotFound)
	_, err = st.GetSession(ctx, plain.AccessKeyID)
	require.NoError(t, err)
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testSTS(t *testing.T, ctx context.Context, db *store.DB) {
	st := db.IAM()
	clock := &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	tokens := iam.NewSTS(st, db.KeyLookup(), clock.Now)
	require.NoError(t, st.EnsureAccount(ctx, iam.Account{ID: acctA}))
	require.NoError(t, st.EnsureAccount(ctx, iam.Account{ID: acctB}))
	key := iam.NewAccessKey(acctA)
	require.NoError(t, st.CreateAccessKey(ctx, key))
	role, err := iam.NewRole(acctB, "SESRole", []string{acctA}, 2*time.Hour)
	require.NoError(t, err)
	require.NoError(t, st.CreateRole(ctx, *role))

	// A long-term key is looked up as before, through the STS.
	_, caller, err := tokens.LookupAccessKey(ctx, key.AccessKeyID)
	require.NoError(t, err)

	sess, token, err := tokens.AssumeRole(ctx, caller, iam.AssumeRoleInput{RoleARN: role.ARN(), SessionName: "SESSession"})
	require.NoError(t, err)
	require.Equal(t, clock.Now().Add(time.Hour), sess.Expiration)

	// Its key is no long-term key: without the token it is unknown.
	_, _, err = tokens.LookupAccessKey(ctx, sess.AccessKeyID)
	requireKind(t, err, fault.NotFound)
	_, _, err = tokens.LookupSessionKey(ctx, sess.AccessKeyID, token+"x")
	requireKind(t, err, fault.NotFound)
	secret, p, err := tokens.LookupSessionKey(ctx, sess.AccessKeyID, token)
	require.NoError(t, err)
	require.Equal(t, sess.SecretAccessKey, secret)
	require.Equal(t, iam.Principal{AccountID: acctB, AccessKeyID: sess.AccessKeyID,
		ARN: "arn:aws:sts::" + acctB + ":assumed-role/SESRole/SESSession", UserID: role.RoleID + ":SESSession"}, p)

	// Valid until the second before its expiration, expired from then on.
	clock.Add(time.Hour - time.Second)
	_, _, err = tokens.LookupSessionKey(ctx, sess.AccessKeyID, token)
	require.NoError(t, err)
	clock.Add(time.Second)
	_, _, err = tokens.LookupSessionKey(ctx, sess.AccessKeyID, token)
	require.True(t, errors.Is(err, iam.ErrExpiredToken), "%v", err)
	// A wrong token is still only unknown, expired or not.
	_, _, err = tokens.LookupSessionKey(ctx, sess.AccessKeyID, "other")
	requireKind(t, err, fault.NotFound)

	// A day after its expiration, issuing credentials purges it.
	clock.Add(25 * time.Hour)
	plain, plainToken, err := tokens.GetSessionToken(ctx, caller, 0)
	require.NoError(t, err)
	require.Equal(t, clock.Now().Add(12*time.Hour), plain.Expiration)
	_, _, err = tokens.LookupSessionKey(ctx, sess.AccessKeyID, token)
	requireKind(t, err, fault.NotFound)
	_, p, err = tokens.LookupSessionKey(ctx, plain.AccessKeyID, plainToken)
	require.NoError(t, err)
	require.Equal(t, caller.ARN, p.ARN)
	require.Equal(t, acctA, p.AccountID)

	// Deleting the role ends its sessions.
	sess, token, err = tokens.AssumeRole(ctx, caller, iam.AssumeRoleInput{RoleARN: role.ARN(), SessionName: "s2", Duration: 2 * time.Hour})
	require.NoError(t, err)
	require.NoError(t, st.DeleteRole(ctx, acctB, "SESRole"))
	_, _, err = tokens.LookupSessionKey(ctx, sess.AccessKeyID, token)
	requireKind(t, err, fault.NotFound)
	_, _, err = tokens.LookupSessionKey(ctx, plain.AccessKeyID, plainToken)
	require.NoError(t, err, "a GetSessionToken session belongs to no role")
}
