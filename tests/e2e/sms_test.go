package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSMS runs the End User Messaging SMS and voice scripts: boto3 (with
// the seed's send_otp_sms), the AWS CLI and the JavaScript SDK.
func TestSMS(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account)
	t.Run("Boto3", func(t *testing.T) {
		runChecks(t, env, 8, pythonBin, scriptPath("e2e", "py", "sms_otp.py"))
	})
	t.Run("VoiceAudioKept", func(t *testing.T) {
		// The simulator keeps the WAV espeak-ng made for the voice message.
		out, _, code := run(t, env, nil, pythonBin, scriptPath("e2e", "py", "sms_otp.py"), "voice_message")
		require.Equal(t, 0, code, out)
		var id string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var v struct {
				ID string `json:"voice_message_id"`
			}
			if json.Unmarshal(sc.Bytes(), &v) == nil && v.ID != "" {
				id = v.ID
			}
		}
		require.NotEmpty(t, id, out)
		wav, err := os.ReadFile(filepath.Join(s.DataDir, "sms-simulator", id+".wav"))
		require.NoError(t, err)
		require.True(t, len(wav) > 1000 && string(wav[:4]) == "RIFF" && string(wav[8:12]) == "WAVE", "not a WAV file")
	})
	t.Run("JSSDK", func(t *testing.T) {
		if _, err := os.Stat(scriptPath("js", "node_modules", "@aws-sdk", "client-pinpoint-sms-voice-v2")); err != nil {
			t.Fatalf("tests/js/node_modules lacks @aws-sdk/client-pinpoint-sms-voice-v2: run `npm ci --prefix tests/js` (scripts/test.sh does): %v", err)
		}
		runChecks(t, s.clientEnv("", ""), 3, nodeBin, scriptPath("js", "smsvoice.mjs"))
	})
	t.Run("CLI", func(t *testing.T) {
		out, errOut, code := run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "request-phone-number",
			"--iso-country-code", "US", "--message-type", "TRANSACTIONAL", "--number-capabilities", "SMS",
			"--number-type", "SIMULATOR", "--output", "json")
		require.Equal(t, 0, code, errOut)
		var n struct{ PhoneNumberId, PhoneNumber string }
		require.NoError(t, json.Unmarshal([]byte(out), &n))
		out, errOut, code = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "send-text-message",
			"--destination-phone-number", "+14254147755", "--origination-identity", n.PhoneNumberId,
			"--message-body", "hello from the CLI", "--output", "json")
		require.Equal(t, 0, code, errOut)
		require.Contains(t, out, "MessageId")
		_, errOut, code = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "release-phone-number",
			"--phone-number-id", "phone-00000000000000000000000000000000")
		require.NotEqual(t, 0, code)
		require.Contains(t, errOut, "ResourceNotFoundException")
	})
}

// TestSMSPostgres runs the boto3 SMS script on a server over PostgreSQL.
func TestSMSPostgres(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{DatabaseURL: freshDatabase(t)})
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account)
	runChecks(t, env, 8, pythonBin, scriptPath("e2e", "py", "sms_otp.py"))
}
