package console

import (
	"slices"
	"sync"
	"time"
)

// searchRecord is a search run in the console.
type searchRecord struct {
	At    time.Time
	Query string
	URL   string
	Found int
	More  bool
}

// history keeps the last searches run in the console, per account and
// archive, in memory (Mail Manager searches and exports are listed from
// the archive, which keeps them 30 days).
type history struct {
	mu sync.Mutex
	m  map[[2]string][]searchRecord
}

const historyLen = 50

func newHistory() *history { return &history{m: map[[2]string][]searchRecord{}} }

func (h *history) add(accountID, archiveID string, r searchRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{accountID, archiveID}
	l := append(h.m[k], r)
	if len(l) > historyLen {
		l = slices.Clone(l[len(l)-historyLen:])
	}
	h.m[k] = l
}

// list returns the searches newest first.
func (h *history) list(accountID, archiveID string) []searchRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := slices.Clone(h.m[[2]string{accountID, archiveID}])
	slices.Reverse(l)
	return l
}
