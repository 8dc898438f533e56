package sending_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store/storetest"
)

// BenchmarkSendEmail measures accepting SendEmail calls (validation,
// composition, DKIM signing, spool and commit) on SQLite, many at a time;
// delivery runs beside it against the fake deliverer.
func BenchmarkSendEmail(b *testing.B) {
	bb := setupDB(b, storetest.OpenSQLite(b), func(c *sending.Config) { c.MaxSendRate = 1e9 })
	bb.verifiedDomain(b, "example.com")
	var i atomic.Int64
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := i.Add(1)
			if _, err := bb.svc.SendEmail(bb.ctx, simple("a@example.com", fmt.Sprintf("u%d@dest.example", n))); err != nil {
				b.Error(err)
			}
		}
	})
}
