package mailmanager

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/internal/fault"
)

// CachedLookupTTL is how long LookupCached may answer from memory: a
// change made through this Service is seen at once, one made by another
// node within this time (as the gateway's own look-ups, which have the
// same bound).
const CachedLookupTTL = 2 * time.Second

// genStore counts the transactions that may have written through it, so
// that cached look-ups know when to read again.
type genStore struct {
	Store
	gen *atomic.Uint64
}

func (g genStore) InTx(ctx context.Context, fn func(Tx) error) error {
	defer g.gen.Add(1) // after: a look-up during the transaction reads again after it
	g.gen.Add(1)
	return g.Store.InTx(ctx, fn)
}

type cachedKey struct {
	account string
	kind    Kind
	id      string
}

type cachedEntry struct {
	r   *Resource
	err error // fault.NotFound only
	gen uint64
	at  time.Time
}

// lookupCache holds what LookupCached read.
type lookupCache struct {
	mu sync.Mutex
	m  map[cachedKey]cachedEntry
}

// LookupCached is Lookup for hot paths (each archived message looks up its
// archive): it answers from memory for CachedLookupTTL unless this
// Service has written since. The Resource returned is shared: do not
// modify it.
func (s *Service) LookupCached(ctx context.Context, accountID string, k Kind, id string) (*Resource, error) {
	key := cachedKey{accountID, k, id}
	gen := s.gen.Load()
	now := time.Now()
	s.cache.mu.Lock()
	e, ok := s.cache.m[key]
	s.cache.mu.Unlock()
	if ok && e.gen == gen && now.Sub(e.at) < CachedLookupTTL {
		return e.r, e.err
	}
	r, err := s.Lookup(ctx, accountID, k, id)
	if err != nil && !fault.Is(err, fault.NotFound) {
		return nil, err // not kept: may pass
	}
	s.cache.mu.Lock()
	if s.cache.m == nil || len(s.cache.m) >= 4096 {
		s.cache.m = map[cachedKey]cachedEntry{}
	}
	s.cache.m[key] = cachedEntry{r: r, err: err, gen: gen, at: now}
	s.cache.mu.Unlock()
	return r, err
}
