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
// secret for region or for any region Amazon SES serves (a password made
// for the region a user's scripts name works, as their API calls do:
// Tidings answers for every region), each compared in constant time.
func CheckSMTPPassword(password, secretAccessKey, region string) bool {
	ok := false
	for _, r := range append([]string{region}, SESRegions...) {
		want := SMTPPassword(secretAccessKey, r)
		ok = subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1 || ok
	}
	return ok
}

// SESRegions are the regions with an Amazon SES SMTP endpoint.
var SESRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2", "eu-south-1", "eu-north-1",
	"ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-northeast-1", "ap-northeast-2",
	"ap-northeast-3", "me-south-1", "me-central-1", "af-south-1", "il-central-1", "us-gov-west-1", "us-gov-east-1",
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
