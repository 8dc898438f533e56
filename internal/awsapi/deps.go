package awsapi

import (
	"context"
	"time"

	"github.com/tidings/tidings/internal/iam"
)

// KeyLookup finds the secret of an access key. It returns a fault.NotFound
// error when the key does not exist (the request then fails with
// UnrecognizedClientException / InvalidClientTokenId).
type KeyLookup interface {
	LookupAccessKey(ctx context.Context, accessKeyID string) (secret string, p iam.Principal, err error)
}

// IdempotencyStore remembers the answer to a request that carried a client
// token, so that a retry with the same token gets the same answer.
type IdempotencyStore interface {
	// Remembered returns the stored request hash and response of key, or
	// found=false.
	Remembered(ctx context.Context, accountID, key string) (requestHash string, response []byte, found bool, err error)
	// Remember stores them; keys older than the retention may be purged.
	Remember(ctx context.Context, accountID, key, requestHash string, response []byte, at time.Time) error
}

// SessionKeyLookup is implemented by a KeyLookup that issues temporary
// credentials (STS). A request carrying X-Amz-Security-Token is verified
// with the secret it returns; without this interface such a request is
// rejected as carrying an invalid token. LookupAccessKey should not return
// the secret of a temporary key (its token would go unchecked).
type SessionKeyLookup interface {
	LookupSessionKey(ctx context.Context, accessKeyID, sessionToken string) (secret string, p iam.Principal, err error)
}
