package delivery

import (
	"testing"
	"time"
)

func TestRetrySchedule(t *testing.T) {
	t.Parallel()
	first := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var p RetryPolicy // defaults: 5 min doubling to 1 h, 5 days
	for _, tc := range []struct {
		attempts int
		age      time.Duration // now - first
		wait     time.Duration
		giveUp   bool
	}{
		{0, 0, 0, false},
		{1, 0, 5 * time.Minute, false},
		{2, 5 * time.Minute, 10 * time.Minute, false},
		{3, 15 * time.Minute, 20 * time.Minute, false},
		{4, 35 * time.Minute, 40 * time.Minute, false},
		{5, 75 * time.Minute, time.Hour, false}, // 80 min capped
		{6, 135 * time.Minute, time.Hour, false},
		{1000, 48 * time.Hour, time.Hour, false},                       // no overflow
		{130, 119*time.Hour + 30*time.Minute, 30 * time.Minute, false}, // last try at the deadline
		{131, 120 * time.Hour, 0, true},
		{200, 200 * time.Hour, 0, true},
	} {
		now := first.Add(tc.age)
		when, giveUp := p.NextAttempt(tc.attempts, first, now)
		if giveUp != tc.giveUp || (!giveUp && when.Sub(now) != tc.wait) {
			t.Errorf("NextAttempt(%d, age %v) = %v (wait %v), %v; want wait %v, %v", tc.attempts, tc.age, when, when.Sub(now), giveUp, tc.wait, tc.giveUp)
		}
	}

	custom := RetryPolicy{First: time.Minute, Max: 4 * time.Minute, GiveUpAfter: time.Hour}
	var waits []time.Duration
	now := first
	for n := 1; ; n++ {
		when, giveUp := custom.NextAttempt(n, first, now)
		if giveUp {
			break
		}
		waits = append(waits, when.Sub(now))
		now = when
	}
	// 1+2+4+4·13 = 59 min, then one last try at 60 min, then give up.
	if len(waits) != 17 || waits[0] != time.Minute || waits[2] != 4*time.Minute || waits[16] != time.Minute || now != first.Add(time.Hour) {
		t.Errorf("custom schedule = %v ending %v", waits, now.Sub(first))
	}
}
