// Package durable lets a caller say how durable a transaction must be.
//
// By default every commit is durable before it returns: it survives a
// power cut. Some writes need less: they record what happened after the
// fact (a delivery's outcome, a step of a message's processing) and, if a
// power cut lost them, the work they record would be done again, never
// lost (at-least-once). Those may be committed lazily: they survive a
// crash of the process, since the operating system holds them, and reach
// the disk with the next durable commit or checkpoint. Stores that can
// tell the difference (the embedded SQLite store) skip the fsync of a
// lazy commit; others treat every commit as durable.
package durable

import "context"

type lazyKey struct{}

// Lazy returns ctx marking the transactions run with it as lazy.
func Lazy(ctx context.Context) context.Context { return context.WithValue(ctx, lazyKey{}, true) }

// IsLazy reports whether ctx was marked by Lazy.
func IsLazy(ctx context.Context) bool {
	v, _ := ctx.Value(lazyKey{}).(bool)
	return v
}
