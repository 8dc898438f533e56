package iam

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"time"
)

// NewAccessKey returns a fresh, active access key of accountID shaped like
// AWS's: an ID of "AKIA" and 16 characters of uppercase base32 (the alphabet
// AWS uses, A–Z and 2–7) and a 40-character secret, both from crypto/rand.
func NewAccessKey(accountID string) AccessKey {
	// 10 random bytes encode to exactly 16 base32 characters, no padding.
	id := make([]byte, 10)
	rand.Read(id)
	// 30 random bytes encode to exactly 40 base64 characters, no padding.
	// AWS secrets use the standard alphabet (letters, digits, '+' and '/').
	secret := make([]byte, 30)
	rand.Read(secret)
	return AccessKey{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(id),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret),
		AccountID:       accountID,
		Status:          StatusActive,
		CreatedAt:       time.Now().UTC().Truncate(time.Millisecond),
	}
}
