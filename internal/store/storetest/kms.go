package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/kms"
	"github.com/tidings/tidings/internal/store"
)

// RunKMS runs the conformance suite of kms.Store, and of kms.Service over
// it; open returns a fresh, empty database for each test.
func RunKMS(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, st kms.Store)
	}{
		{"Keys", testKMSKeys},
		{"Versions", testKMSVersions},
		{"DataKeys", testKMSDataKeys},
		{"ServiceRotation", testKMSServiceRotation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			t.Cleanup(cancel)
			tt.fn(t, ctx, open(t).KMS())
		})
	}
}

const (
	kmsAcct1 = "111111111111"
	kmsAcct2 = "222222222222"
)

var kmsT0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testKMSKeys(t *testing.T, ctx context.Context, st kms.Store) {
	k1 := &kms.Key{AccountID: kmsAcct1, ID: "0f0e0d0c-0000-4000-8000-000000000001", Alias: "archive", Description: "d", CurrentVersion: 1, CreatedAt: kmsT0}
	require.NoError(t, st.CreateKey(ctx, k1, []byte("wrapped-1")))
	k2 := &kms.Key{AccountID: kmsAcct1, ID: "0f0e0d0c-0000-4000-8000-000000000002", CurrentVersion: 1, CreatedAt: kmsT0.Add(time.Second)}
	require.NoError(t, st.CreateKey(ctx, k2, []byte("wrapped-2")))
	// Without alias twice: '' is not an alias.
	k3 := &kms.Key{AccountID: kmsAcct1, ID: "0f0e0d0c-0000-4000-8000-000000000003", CurrentVersion: 1, CreatedAt: kmsT0.Add(2 * time.Second)}
	require.NoError(t, st.CreateKey(ctx, k3, []byte("wrapped-3")))

	// An alias names one key of an account; another account may use it.
	dup := &kms.Key{AccountID: kmsAcct1, ID: "0f0e0d0c-0000-4000-8000-000000000004", Alias: "archive", CurrentVersion: 1, CreatedAt: kmsT0}
	require.True(t, fault.Is(st.CreateKey(ctx, dup, []byte("x")), fault.Conflict))
	other := &kms.Key{AccountID: kmsAcct2, ID: "0f0e0d0c-0000-4000-8000-000000000005", Alias: "archive", CurrentVersion: 1, CreatedAt: kmsT0}
	require.NoError(t, st.CreateKey(ctx, other, []byte("y")))
	// The failed insert left no version behind.
	_, err := st.KeyVersion(ctx, kmsAcct1, dup.ID, 1)
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)

	got, err := st.GetKey(ctx, kmsAcct1, k1.ID)
	require.NoError(t, err)
	require.Equal(t, k1, got)
	got, err = st.GetKeyByAlias(ctx, kmsAcct1, "archive")
	require.NoError(t, err)
	require.Equal(t, k1.ID, got.ID)
	got, err = st.GetKeyByAlias(ctx, kmsAcct2, "archive")
	require.NoError(t, err)
	require.Equal(t, other.ID, got.ID)

	_, err = st.GetKey(ctx, kmsAcct2, k1.ID)
	require.True(t, fault.Is(err, fault.NotFound))
	_, err = st.GetKeyByAlias(ctx, kmsAcct1, "nope")
	require.True(t, fault.Is(err, fault.NotFound))
	_, err = st.GetKeyByAlias(ctx, kmsAcct1, "")
	require.True(t, fault.Is(err, fault.NotFound))

	ks, err := st.ListKeys(ctx, kmsAcct1)
	require.NoError(t, err)
	require.Len(t, ks, 3)
	require.Equal(t, []string{k1.ID, k2.ID, k3.ID}, []string{ks[0].ID, ks[1].ID, ks[2].ID})
	ks, err = st.ListKeys(ctx, "333333333333")
	require.NoError(t, err)
	require.Empty(t, ks)
}

func testKMSVersions(t *testing.T, ctx context.Context, st kms.Store) {
	k := &kms.Key{AccountID: kmsAcct1, ID: "0f0e0d0c-0000-4000-8000-00000000000a", CurrentVersion: 1, CreatedAt: kmsT0}
	require.NoError(t, st.CreateKey(ctx, k, []byte("v1")))
	at := kmsT0.Add(time.Hour)
	require.NoError(t, st.AddKeyVersion(ctx, kmsAcct1, k.ID, 2, []byte("v2"), at))
	// A rotation that lost the race (it read version 1 as current).
	require.True(t, fault.Is(st.AddKeyVersion(ctx, kmsAcct1, k.ID, 2, []byte("v2bis"), at), fault.Conflict))
	require.True(t, fault.Is(st.AddKeyVersion(ctx, kmsAcct1, "no-such-key", 2, []byte("v"), at), fault.NotFound))

	got, err := st.GetKey(ctx, kmsAcct1, k.ID)
	require.NoError(t, err)
	require.Equal(t, 2, got.CurrentVersion)
	require.Equal(t, at, got.RotatedAt)
	for v, want := range map[int]string{1: "v1", 2: "v2"} {
		m, err := st.KeyVersion(ctx, kmsAcct1, k.ID, v)
		require.NoError(t, err)
		require.Equal(t, want, string(m))
	}
	_, err = st.KeyVersion(ctx, kmsAcct1, k.ID, 3)
	require.True(t, fault.Is(err, fault.NotFound))
	_, err = st.KeyVersion(ctx, kmsAcct2, k.ID, 1)
	require.True(t, fault.Is(err, fault.NotFound))
}

func testKMSDataKeys(t *testing.T, ctx context.Context, st kms.Store) {
	const key = "0f0e0d0c-0000-4000-8000-0000000000d1"
	_, err := st.CurrentDataKey(ctx, kmsAcct1, "archive/a1", key, 1)
	require.True(t, fault.Is(err, fault.NotFound))
	d1 := &kms.DataKey{AccountID: kmsAcct1, ID: "dk1", Owner: "archive/a1", KeyID: key, KeyVersion: 1, Wrapped: []byte{0, 1, 2, 0xff}, CreatedAt: kmsT0}
	d2 := &kms.DataKey{AccountID: kmsAcct1, ID: "dk2", Owner: "archive/a1", KeyID: key, KeyVersion: 1, Wrapped: []byte("two"), CreatedAt: kmsT0.Add(time.Second)}
	d3 := &kms.DataKey{AccountID: kmsAcct1, ID: "dk3", Owner: "archive/a1", KeyID: key, KeyVersion: 2, Wrapped: []byte("three"), CreatedAt: kmsT0.Add(time.Minute)}
	d4 := &kms.DataKey{AccountID: kmsAcct1, ID: "dk4", Owner: "archive/a2", KeyID: key, KeyVersion: 1, Wrapped: []byte("four"), CreatedAt: kmsT0.Add(time.Hour)}
	for _, d := range []*kms.DataKey{d1, d2, d3, d4} {
		require.NoError(t, st.InsertDataKey(ctx, d))
	}
	require.True(t, fault.Is(st.InsertDataKey(ctx, d1), fault.Conflict))

	got, err := st.GetDataKey(ctx, kmsAcct1, "dk1")
	require.NoError(t, err)
	require.Equal(t, d1, got)
	_, err = st.GetDataKey(ctx, kmsAcct2, "dk1")
	require.True(t, fault.Is(err, fault.NotFound))

	cur, err := st.CurrentDataKey(ctx, kmsAcct1, "archive/a1", key, 1)
	require.NoError(t, err)
	require.Equal(t, "dk2", cur.ID) // the newest of version 1
	cur, err = st.CurrentDataKey(ctx, kmsAcct1, "archive/a1", key, 2)
	require.NoError(t, err)
	require.Equal(t, "dk3", cur.ID)
	cur, err = st.CurrentDataKey(ctx, kmsAcct1, "archive/a2", key, 1)
	require.NoError(t, err)
	require.Equal(t, "dk4", cur.ID)
	_, err = st.CurrentDataKey(ctx, kmsAcct1, "archive/a2", key, 2)
	require.True(t, fault.Is(err, fault.NotFound))
}

// testKMSServiceRotation: the service over the store makes data keys,
// gives a new one after rotation, and opens the old ones still; a service
// with another master key cannot open them.
func testKMSServiceRotation(t *testing.T, ctx context.Context, st kms.Store) {
	master := bytes.Repeat([]byte{7}, kms.KeySize)
	svc, err := kms.New(st, kms.Config{Region: "eu-west-1", MasterKey: master}, nil)
	require.NoError(t, err)
	k, err := svc.CreateKey(ctx, kmsAcct1, "alias/journal", "")
	require.NoError(t, err)
	require.Regexp(t, `^arn:aws:kms:eu-west-1:111111111111:key/[0-9a-f-]{36}$`, k.ARN("eu-west-1"))

	for _, ref := range []string{k.ARN("eu-west-1"), k.ID, "alias/journal", "arn:aws:kms:eu-west-1:111111111111:alias/journal"} {
		got, err := svc.Resolve(ctx, kmsAcct1, ref)
		require.NoError(t, err, ref)
		require.Equal(t, k.ID, got.ID)
	}
	for _, ref := range []string{k.ARN("us-east-1"), "arn:aws:kms:eu-west-1:222222222222:key/" + k.ID, "alias/other", "arn:aws:s3:::bucket"} {
		_, err := svc.Resolve(ctx, kmsAcct1, ref)
		require.True(t, fault.Is(err, fault.NotFound), ref)
	}
	_, err = svc.Resolve(ctx, kmsAcct2, k.ID)
	require.True(t, fault.Is(err, fault.NotFound))
	require.True(t, fault.Is(svc.CheckKey(ctx, kmsAcct1, k.ARN("us-east-1")), fault.Invalid))
	require.NoError(t, svc.CheckKey(ctx, kmsAcct1, k.ARN("eu-west-1")))

	id1, dk1, err := svc.DataKey(ctx, kmsAcct1, k.ARN("eu-west-1"), "archive/x")
	require.NoError(t, err)
	require.Len(t, dk1, kms.KeySize)
	again, _, err := svc.DataKey(ctx, kmsAcct1, "alias/journal", "archive/x")
	require.NoError(t, err)
	require.Equal(t, id1, again, "one data key per owner and key version")
	idOther, _, err := svc.DataKey(ctx, kmsAcct1, k.ID, "archive/y")
	require.NoError(t, err)
	require.NotEqual(t, id1, idOther)

	r, err := svc.RotateKey(ctx, kmsAcct1, "alias/journal")
	require.NoError(t, err)
	require.Equal(t, 2, r.CurrentVersion)
	id2, dk2, err := svc.DataKey(ctx, kmsAcct1, k.ARN("eu-west-1"), "archive/x")
	require.NoError(t, err)
	require.NotEqual(t, id1, id2)
	require.NotEqual(t, dk1, dk2)

	// A fresh service (no cache) opens both, through each version.
	fresh, err := kms.New(st, kms.Config{Region: "eu-west-1", MasterKey: master}, nil)
	require.NoError(t, err)
	got1, err := fresh.OpenDataKey(ctx, kmsAcct1, id1)
	require.NoError(t, err)
	require.Equal(t, dk1, got1)
	got2, err := fresh.OpenDataKey(ctx, kmsAcct1, id2)
	require.NoError(t, err)
	require.Equal(t, dk2, got2)
	d2, err := st.GetDataKey(ctx, kmsAcct1, id2)
	require.NoError(t, err)
	require.Equal(t, 2, d2.KeyVersion)
	require.NotContains(t, string(d2.Wrapped), string(dk2))
	_, err = fresh.OpenDataKey(ctx, kmsAcct2, id1)
	require.True(t, fault.Is(err, fault.NotFound))

	wrong, err := kms.New(st, kms.Config{Region: "eu-west-1", MasterKey: bytes.Repeat([]byte{8}, kms.KeySize)}, nil)
	require.NoError(t, err)
	_, err = wrong.OpenDataKey(ctx, kmsAcct1, id1)
	require.ErrorContains(t, err, "master key")

	ks, err := svc.ListKeys(ctx, kmsAcct1)
	require.NoError(t, err)
	require.Len(t, ks, 1)
	require.Equal(t, 2, ks[0].CurrentVersion)
	_, err = svc.CreateKey(ctx, kmsAcct1, "journal", "")
	require.True(t, fault.Is(err, fault.Conflict))
	_, err = svc.CreateKey(ctx, kmsAcct1, "aws/reserved", "")
	require.True(t, fault.Is(err, fault.Invalid))
}
