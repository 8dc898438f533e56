// Package iam holds accounts, access keys and the identity of the caller of
// a request.
package iam

import (
	"context"
	"strings"
)

// Principal is who signed a request.
type Principal struct {
	AccountID   string
	AccessKeyID string
	// ARN of the caller: "arn:aws:iam::<account>:root" for an account's own
	// keys, "arn:aws:sts::<account>:assumed-role/<role>/<session>" for
	// temporary credentials.
	ARN string
	// UserID is what GetCallerIdentity answers as UserId: the account id
	// for an account's own keys ("" stands for it), "<role id>:<session>"
	// for an assumed role.
	UserID string
}

// Temporary reports whether p signed with temporary credentials (STS).
func (p Principal) Temporary() bool { return strings.HasPrefix(p.AccessKeyID, TemporaryKeyPrefix) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx; ok is false when there is none.
func PrincipalFrom(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}
