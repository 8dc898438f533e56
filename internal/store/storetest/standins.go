package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/kms"
	"github.com/tidings/tidings/internal/standins"
	"github.com/tidings/tidings/internal/store"
)

// RunStandins runs the conformance suite of standins.Store, and of
// standins.Service over it with internal/kms's master key; open returns a
// fresh, empty database for each test.
func RunStandins(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, db *store.DB)
	}{
		{"Entries", testStandinEntries},
		{"Service", testStandinService},
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

func testStandinEntries(t *testing.T, ctx context.Context, db *store.DB) {
	st := db.Standins()
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	e := &standins.Entry{AccountID: kmsAcct1, Kind: standins.KindSecret, Name: "relay/creds", Body: []byte{0, 1, 2}, CreatedAt: t0, UpdatedAt: t0}
	created, err := st.Put(ctx, e)
	require.NoError(t, err)
	require.True(t, created)

	// Same name, other kind and other account: other entries.
	for _, o := range []*standins.Entry{
		{AccountID: kmsAcct1, Kind: standins.KindFunction, Name: "relay/creds", Body: []byte("f"), CreatedAt: t0, UpdatedAt: t0},
		{AccountID: kmsAcct2, Kind: standins.KindSecret, Name: "relay/creds", Body: []byte("o"), CreatedAt: t0, UpdatedAt: t0},
		{AccountID: kmsAcct1, Kind: standins.KindSecret, Name: "a-first", Body: []byte("a"), CreatedAt: t0, UpdatedAt: t0},
	} {
		created, err := st.Put(ctx, o)
		require.NoError(t, err)
		require.True(t, created)
	}

	// A second put replaces the body, keeps the creation time.
	t1 := t0.Add(time.Hour)
	again := &standins.Entry{AccountID: kmsAcct1, Kind: standins.KindSecret, Name: "relay/creds", Body: []byte("new"), CreatedAt: t1, UpdatedAt: t1}
	created, err = st.Put(ctx, again)
	require.NoError(t, err)
	require.False(t, created)
	require.True(t, again.CreatedAt.Equal(t0), "CreatedAt %s", again.CreatedAt)

	got, err := st.Get(ctx, kmsAcct1, standins.KindSecret, "relay/creds")
	require.NoError(t, err)
	require.Equal(t, []byte("new"), got.Body)
	require.True(t, got.CreatedAt.Equal(t0))
	require.True(t, got.UpdatedAt.Equal(t1))
	require.Equal(t, standins.KindSecret, got.Kind)

	list, err := st.List(ctx, kmsAcct1, standins.KindSecret)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "a-first", list[0].Name)
	require.Equal(t, "relay/creds", list[1].Name)

	_, err = st.Get(ctx, kmsAcct1, standins.KindMailbox, "relay/creds")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	require.NoError(t, st.Delete(ctx, kmsAcct1, standins.KindSecret, "relay/creds"))
	require.True(t, fault.Is(st.Delete(ctx, kmsAcct1, standins.KindSecret, "relay/creds"), fault.NotFound))
	_, err = st.Get(ctx, kmsAcct1, standins.KindSecret, "relay/creds")
	require.True(t, fault.Is(err, fault.NotFound))
	// The others stay.
	_, err = st.Get(ctx, kmsAcct2, standins.KindSecret, "relay/creds")
	require.NoError(t, err)
	_, err = st.Get(ctx, kmsAcct1, standins.KindFunction, "relay/creds")
	require.NoError(t, err)
}

func testStandinService(t *testing.T, ctx context.Context, db *store.DB) {
	keys, err := kms.New(db.KMS(), kms.Config{MasterKey: bytes.Repeat([]byte{7}, kms.KeySize)}, nil)
	require.NoError(t, err)
	svc, err := standins.New(db.Standins(), keys, standins.Config{Region: "us-east-1"}, nil)
	require.NoError(t, err)

	in, err := svc.PutSecret(ctx, kmsAcct1, "relay-creds", map[string]string{"username": "u", "password": "p@ss"})
	require.NoError(t, err)
	require.Equal(t, "arn:aws:secretsmanager:us-east-1:"+kmsAcct1+":secret:relay-creds", in.ARN)
	v, err := svc.Secret(ctx, kmsAcct1, in.ARN)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"username": "u", "password": "p@ss"}, v)

	// Stored sealed: the password is nowhere in the row.
	e, err := db.Standins().Get(ctx, kmsAcct1, standins.KindSecret, "relay-creds")
	require.NoError(t, err)
	require.NotContains(t, string(e.Body), "p@ss")

	// Another account, another region, another service: not found, and
	// a validation error for an API that takes the ARN.
	for _, ref := range []string{
		"arn:aws:secretsmanager:us-east-1:" + kmsAcct2 + ":secret:relay-creds",
		"arn:aws:secretsmanager:eu-west-1:" + kmsAcct1 + ":secret:relay-creds",
		"arn:aws:lambda:us-east-1:" + kmsAcct1 + ":function:relay-creds",
	} {
		_, err := svc.Secret(ctx, kmsAcct1, ref)
		require.True(t, fault.Is(err, fault.NotFound), "%s: %v", ref, err)
		err = svc.CheckSecret(ctx, kmsAcct1, ref)
		require.True(t, fault.Is(err, fault.Invalid), "%s: %v", ref, err)
		require.Contains(t, err.Error(), ref)
	}
	require.NoError(t, svc.CheckSecret(ctx, kmsAcct1, in.ARN))

	// A row copied to another name does not open.
	copied := *e
	copied.Name = "stolen"
	_, err = db.Standins().Put(ctx, &copied)
	require.NoError(t, err)
	_, err = svc.Secret(ctx, kmsAcct1, "stolen")
	require.Error(t, err)

	// Another master key cannot read it.
	other, err := kms.New(db.KMS(), kms.Config{MasterKey: bytes.Repeat([]byte{8}, kms.KeySize)}, nil)
	require.NoError(t, err)
	svc2, err := standins.New(db.Standins(), other, standins.Config{}, nil)
	require.NoError(t, err)
	_, err = svc2.Secret(ctx, kmsAcct1, "relay-creds")
	require.ErrorContains(t, err, "cannot be decrypted")

	// Functions, with a sealed signing secret; a qualified ARN names the
	// function.
	fi, err := svc.PutFunction(ctx, kmsAcct1, "hook", "http://127.0.0.1:9/x", "sig-secret")
	require.NoError(t, err)
	require.Equal(t, "arn:aws:lambda:us-east-1:"+kmsAcct1+":function:hook", fi.ARN)
	f, err := svc.Function(ctx, kmsAcct1, fi.ARN+":$LATEST")
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9/x", f.URL)
	require.Equal(t, "sig-secret", f.Secret)
	_, err = svc.PutFunction(ctx, kmsAcct1, "bad", "ftp://x", "")
	require.True(t, fault.Is(err, fault.Invalid))

	// Mailboxes: exactly one target.
	_, err = svc.PutMailbox(ctx, kmsAcct1, "box", "127.0.0.1:24", "/tmp/x")
	require.True(t, fault.Is(err, fault.Invalid))
	mi, err := svc.PutMailbox(ctx, kmsAcct1, "box", "127.0.0.1:24", "")
	require.NoError(t, err)
	require.Equal(t, "lmtp:127.0.0.1:24", mi.Target)
	mb, err := svc.Mailbox(ctx, kmsAcct1, mi.ARN)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:24", mb.LMTP)

	list, err := svc.ListSecrets(ctx, kmsAcct1)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "password,username", list[0].Target)
	require.NoError(t, svc.Delete(ctx, standins.KindSecret, kmsAcct1, in.ARN))
	require.True(t, fault.Is(svc.Delete(ctx, standins.KindSecret, kmsAcct1, in.ARN), fault.NotFound))
}
