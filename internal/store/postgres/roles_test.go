package postgres_test

import (
	"testing"

	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

// The suite needs TIDINGS_TEST_DATABASE_URL; see storetest.PostgresURL.
func TestRolesConformance(t *testing.T) {
	t.Parallel()
	storetest.RunRoles(t, func(t *testing.T) *store.DB { return storetest.OpenPostgres(t) })
}
