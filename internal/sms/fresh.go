package sms

import (
	"sync"
	"time"
)

// fresh holds the messages this process accepted in the last minute or so,
// for their send jobs to take instead of reading them back: a send job
// usually runs within milliseconds of the commit that queued it, and the
// read it saves (a snapshot of the database, the message's row, its body
// decoded) was a tenth of a text message's cost in bench/sms.
//
// An entry is what was committed and nothing changes a message before its
// send job has submitted it, so an entry is as good as the row. It is
// taken once: a job that runs again (its submit failed, or after a
// restart, or on another node) reads the row. Entries older than two
// freshAge periods are dropped unread; at most freshMax per period are
// kept.
type fresh struct {
	mu        sync.Mutex
	cur, old  map[string]*messageRec
	rotatedAt time.Time
}

const (
	freshAge = 30 * time.Second
	freshMax = 1 << 16
)

// put remembers m, committed for sending.
func (f *fresh) put(m *messageRec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotate(time.Now())
	if len(f.cur) < freshMax {
		f.cur[m.ID] = m
	}
}

// take returns the message id that put remembered, and forgets it.
func (f *fresh) take(id string) (*messageRec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rotate(time.Now())
	for _, gen := range []map[string]*messageRec{f.cur, f.old} {
		if m, ok := gen[id]; ok {
			delete(gen, id)
			return m, true
		}
	}
	return nil, false
}

func (f *fresh) rotate(now time.Time) {
	if f.cur == nil || now.Sub(f.rotatedAt) >= freshAge {
		f.old, f.cur, f.rotatedAt = f.cur, make(map[string]*messageRec), now
	}
}
