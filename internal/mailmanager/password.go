package mailmanager

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SMTP passwords of AUTH ingress points are stored as PBKDF2-SHA256 hashes
// ("pbkdf2-sha256$<iterations>$<salt>$<key>", base64 without padding), never
// in clear and never returned. PBKDF2 is in the standard library and FIPS
// 140-approved; the iteration count is stored so it can grow.
const passwordIterations = 100_000

func hashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key, err := pbkdf2.Key(sha256.New, password, salt, passwordIterations, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("pbkdf2-sha256$%d$%s$%s", passwordIterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

func checkPasswordHash(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	want, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// CheckPassword reports whether password opens an AUTH ingress point
// configured with SmtpPassword: the current password, or the previous one
// until its expiry.
func (r *IngressPointRecord) CheckPassword(password string, now time.Time) bool {
	p := r.Password
	if p == nil {
		return false
	}
	if checkPasswordHash(p.Hash, password) {
		return true
	}
	return p.PreviousHash != "" && now.Before(p.PreviousExpires) && checkPasswordHash(p.PreviousHash, password)
}
