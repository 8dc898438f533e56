package delivery

import "time"

// RetryPolicy is the schedule of delivery attempts for deferred recipients:
// the wait doubles from First up to Max, and the message is given up (and a
// DSN sent) once it is GiveUpAfter old. Zero fields take the defaults.
type RetryPolicy struct {
	First       time.Duration // wait after the first failed attempt: 5 min
	Max         time.Duration // longest wait: 1 h
	GiveUpAfter time.Duration // age at which to stop: 5 days, Postfix's maximal_queue_lifetime
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.First <= 0 {
		p.First = 5 * time.Minute
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.Max < p.First {
		p.Max = p.First
	}
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = 5 * 24 * time.Hour
	}
	return p
}

// NextAttempt says when to try again after attempts failed attempts, the
// first of which was at firstTry, as of now: First·2^(attempts-1), at most
// Max. The last attempt is moved to the end of the lifetime rather than
// skipped; giveUp is true once the message is GiveUpAfter old.
func (p RetryPolicy) NextAttempt(attempts int, firstTry, now time.Time) (when time.Time, giveUp bool) {
	p = p.withDefaults()
	end := firstTry.Add(p.GiveUpAfter)
	if !now.Before(end) {
		return time.Time{}, true
	}
	if attempts <= 0 {
		return now, false
	}
	wait := p.First
	for i := 1; i < attempts && wait < p.Max; i++ {
		wait *= 2
	}
	wait = min(wait, p.Max)
	when = now.Add(wait)
	if when.After(end) {
		when = end
	}
	return when, false
}
