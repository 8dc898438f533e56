package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/postgres"
	"github.com/tidings/tidings/internal/store/storetest"
)

// The suite needs TIDINGS_TEST_DATABASE_URL; see storetest.PostgresURL.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) *store.DB { return storetest.OpenPostgres(t) })
}

// TestConcurrentOpen: processes starting at once against one empty schema
// migrate it once, one after the other, and all open.
func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	const n = 4
	dbs := make([]*store.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = store.Open(ctx, url, "", nil)
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		defer dbs[i].Close()
	}
	require.NoError(t, dbs[0].IAM().PutSetting(ctx, "k", "v"))
	v, _, err := dbs[n-1].IAM().GetSetting(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "v", v)
}

func TestRebind(t *testing.T) {
	t.Parallel()
	require.Equal(t, `SELECT $1, $2 FROM t WHERE a = $3`, postgres.Dialect{}.Rebind(`SELECT ?, ? FROM t WHERE a = ?`))
	require.Equal(t, `SELECT 1`, postgres.Dialect{}.Rebind(`SELECT 1`))
}

func TestRedact(t *testing.T) {
	t.Parallel()
	require.NotContains(t, postgres.Redact("postgres://u:hunter2@h:5432/db"), "hunter2")
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2", "", nil)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func TestGatewayConformance(t *testing.T) {
	t.Parallel()
	storetest.RunGateway(t, func(t *testing.T) *store.DB { return storetest.OpenPostgres(t) })
}

func TestSMSConformance(t *testing.T) {
	t.Parallel()
	storetest.RunSMS(t, func(t *testing.T) *store.DB { return storetest.OpenPostgres(t) })
}

func TestSendingConformance(t *testing.T) {
	t.Parallel()
	storetest.RunSending(t, func(t *testing.T) *store.DB { return storetest.OpenPostgres(t) })
}
