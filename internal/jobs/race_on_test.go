//go:build race

package jobs_test

// The race detector slows the pure-Go SQLite several times over; the load
// test then runs smaller so that it measures contention, not the detector.
const raceEnabled = true
