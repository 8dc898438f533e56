package sms

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFreshTakenOnce(t *testing.T) {
	var f fresh
	m := &messageRec{ID: "a"}
	f.put(m)
	got, ok := f.take("a")
	require.True(t, ok)
	require.Same(t, m, got)
	_, ok = f.take("a")
	require.False(t, ok, "a second run of the job reads the row")
	_, ok = f.take("never")
	require.False(t, ok)
}

func TestFreshForgetsOldEntries(t *testing.T) {
	var f fresh
	f.put(&messageRec{ID: "old"})
	f.rotatedAt = f.rotatedAt.Add(-freshAge)
	f.put(&messageRec{ID: "newer"})
	_, ok := f.take("old")
	require.True(t, ok, "one period old: still kept")

	f.put(&messageRec{ID: "old"})
	f.rotatedAt = f.rotatedAt.Add(-freshAge)
	f.rotate(time.Now())
	f.rotatedAt = f.rotatedAt.Add(-freshAge)
	_, ok = f.take("old")
	require.False(t, ok, "two periods old: dropped")
}

func TestFreshBounded(t *testing.T) {
	var f fresh
	for i := range freshMax + 10 {
		f.put(&messageRec{ID: strconv.Itoa(i)})
	}
	require.Equal(t, freshMax, len(f.cur))
}
