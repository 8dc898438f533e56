package iam

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The vectors were computed with the Python program of
// smtpCredentialsPy (the algorithm as AWS documents it), not with this
// package.
func TestSMTPPasswordVectors(t *testing.T) {
	t.Parallel()
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" // the AWS documentation's example secret
	require.Equal(t, "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9", SMTPPassword(secret, "us-east-1"))
	require.Equal(t, "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk", SMTPPassword(secret, "eu-west-1"))

	require.True(t, CheckSMTPPassword("BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9", secret, "us-east-1"))
	require.True(t, CheckSMTPPassword("BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9", secret, "eu-west-1"), "a password for another SES region is accepted too")
	require.True(t, CheckSMTPPassword(SMTPPassword(secret, "ap-southeast-2"), secret, "us-east-1"))
	require.False(t, CheckSMTPPassword(SMTPPassword(secret, "xx-nowhere-9"), secret, "us-east-1"), "a region SES does not serve")
	require.False(t, CheckSMTPPassword(SMTPPassword("other-secret", "us-east-1"), secret, "us-east-1"), "another secret")
	require.False(t, CheckSMTPPassword(secret, secret, "us-east-1"), "the secret itself is not the SMTP password")
	require.False(t, CheckSMTPPassword("", secret, "us-east-1"))
}

// smtpCredentialsPy derives the password as AWS's documentation does.
const smtpCredentialsPy = `
import base64, hashlib, hmac, sys
def sign(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
def smtp_password(secret, region):
    sig = sign(("AWS4" + secret).encode("utf-8"), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        sig = sign(sig, part)
    return base64.b64encode(bytes([0x04]) + sig).decode("utf-8")
for line in sys.stdin:
    secret, region = line.rstrip("\n").split(" ")
    print(smtp_password(secret, region))
`

// TestSMTPPasswordAgainstPython derives passwords of fresh keys with Python.
func TestSMTPPasswordAgainstPython(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	var in strings.Builder
	var want []string
	for i, region := range []string{"us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2", "us-gov-west-1"} {
		k := NewAccessKey("111122223333")
		in.WriteString(k.SecretAccessKey + " " + region + "\n")
		want = append(want, SMTPPassword(k.SecretAccessKey, region))
		require.Len(t, want[i], 44, "0x04 and 32 bytes of HMAC in base64")
	}
	cmd := exec.Command(py, "-c", smtpCredentialsPy)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	require.NoError(t, err)
	require.Equal(t, want, strings.Fields(string(out)))
}
