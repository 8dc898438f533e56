package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDispatchQueueBounds: past dispatchKeepContent waiting, messages are
// queued without their copy; past dispatchMax they are refused (the
// spooler then queues a job); a stopped dispatcher takes nothing.
func TestDispatchQueueBounds(t *testing.T) {
	keep, max := dispatchKeepContent, dispatchMax
	dispatchKeepContent, dispatchMax = 2, 4
	t.Cleanup(func() { dispatchKeepContent, dispatchMax = keep, max })

	d := newDispatcher(nil, 0) // no workers: everything waits
	var ms []*Message
	for i := range 5 {
		m := &Message{QueueID: string(rune('a' + i)), Content: []byte("copy")}
		ms = append(ms, m)
		require.Equal(t, i < 4, d.add(m), "message %d", i)
	}
	require.NotNil(t, ms[0].Content)
	require.NotNil(t, ms[1].Content)
	require.Nil(t, ms[2].Content, "read back from the spool by its run")
	require.Nil(t, ms[3].Content)
	require.Equal(t, 4, d.pool.Waiting())

	require.Len(t, d.pool.Stop(), 4)
	require.False(t, d.add(&Message{QueueID: "z"}))
}
