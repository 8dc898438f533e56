package iam

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// smtpPasswordVersion is the first byte of an SES SMTP password derived
// with the SigV4 key chain (0x02 was the older, region-less form).
const smtpPasswordVersion = 0x04

// SMTPPassword derives the SMTP password of a secret access key for region
// the way Amazon SES does ("Obtaining Amazon SES SMTP credentials by
// converting existing AWS credentials"): the SigV4 signing-key chain over
// the fixed date "11111111", the region, the service "ses" and
// "aws4_request", then an HMAC-SHA256 of "SendRawEmail", prefixed with the
// version byte 0x04 and base64-encoded. The SMTP user name is the access
// key id. A password made by the AWS tools for the same secret and region
// works here unchanged.
func SMTPPassword(secretAccessKey, region string) string {
	k := []byte("AWS4" + secretAccessKey)
	for _, m := range []string{"11111111", region, "ses", "aws4_request", "SendRawEmail"} {
		k = hmacSHA256(k, m)
	}
	return base64.StdEncoding.EncodeToString(append([]byte{smtpPasswordVersion}, k...))
}

// CheckSMTPPassword reports whether password is the SMTP password of the
// secret for region, in constant time.
func CheckSMTPPassword(password, secretAccessKey, region string) bool {
	want := SMTPPassword(secretAccessKey, region)
	return subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
