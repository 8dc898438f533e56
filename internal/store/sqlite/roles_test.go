package sqlite_test

import (
	"testing"

	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

func TestRolesConformance(t *testing.T) {
	t.Parallel()
	storetest.RunRoles(t, func(t *testing.T) *store.DB { return storetest.OpenSQLite(t) })
}
