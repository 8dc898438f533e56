package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/client"
)

// TestSMPPCarrier sends a text to a real (non-simulator) number through a
// server whose carrier is an SMPP SMSC: the independent one of
// tests/smsc/smsc.mjs (npm smpp). The SMSC gets the submit_sm with the
// number's addresses, its DELIVRD receipt makes the message
// TEXT_DELIVERED, and a message the SMSC sends to the number comes in as
// a STOP that opts the sender out.
func TestSMPPCarrier(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(scriptPath("smsc", "node_modules", "smpp", "package.json")); err != nil {
		t.Fatalf("tests/smsc/node_modules lacks smpp: run `npm ci --prefix tests/smsc` (scripts/test.sh does): %v", err)
	}
	cmd := exec.Command(nodeBin, "smsc.mjs", "--system-id", "tidings", "--password", "secret")
	cmd.Dir = scriptPath("smsc")
	stderr := &logBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close() // the SMSC exits when its stdin ends
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("SMSC stderr:\n%s", stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "SMSC did not start: %s", stderr.String())
	var ports struct{ SMPP, Control int }
	require.NoError(t, json.Unmarshal([]byte(line), &ports))
	control := fmt.Sprintf("http://127.0.0.1:%d", ports.Control)

	s := startServer(t, serverOpts{Env: []string{
		fmt.Sprintf("TIDINGS_SMPP_ADDR=127.0.0.1:%d", ports.SMPP),
		"TIDINGS_SMPP_SYSTEM_ID=tidings", "TIDINGS_SMPP_PASSWORD=secret", "TIDINGS_SMPP_RATE=50",
	}})
	env := s.clientEnv("", "")
	out, errOut, code := run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "request-phone-number",
		"--iso-country-code", "US", "--message-type", "TRANSACTIONAL", "--number-capabilities", "SMS",
		"--number-type", "LONG_CODE", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var n struct{ PhoneNumberId, PhoneNumber string }
	require.NoError(t, json.Unmarshal([]byte(out), &n))
	require.Regexp(t, `^\+1[0-9]{10}$`, n.PhoneNumber)

	out, errOut, code = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "send-text-message",
		"--destination-phone-number", "+12065550123", "--origination-identity", n.PhoneNumberId,
		"--message-body", "Your code is 424242", "--output", "json")
	require.Equal(t, 0, code, errOut)
	var sent struct{ MessageId string }
	require.NoError(t, json.Unmarshal([]byte(out), &sent))
	require.NotEmpty(t, sent.MessageId)

	// The SMSC got it, addressed in international form.
	type submit struct {
		Source, Dest, Text string
		SourceTON, DestTON int
		RegisteredDelivery int
	}
	var st struct {
		Submits []submit `json:"submits"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(st.Submits) == 0 {
		require.True(t, time.Now().Before(deadline), "the SMSC got no submit_sm; server log:\n%s", s.Log())
		time.Sleep(50 * time.Millisecond)
		resp, err := http.Get(control + "/state")
		require.NoError(t, err)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		resp.Body.Close()
	}
	require.Equal(t, []submit{{Source: n.PhoneNumber[1:], Dest: "12065550123", Text: "Your code is 424242",
		SourceTON: 1, DestTON: 1, RegisteredDelivery: 1}}, st.Submits)

	// Its receipt makes it TEXT_DELIVERED.
	c := &client.Client{Endpoint: s.URL, Region: region, AccessKeyID: s.KeyID, Secret: s.Secret, HTTP: http.DefaultClient}
	var m struct {
		Status string            `json:"status"`
		Final  bool              `json:"final"`
		Events []json.RawMessage `json:"events"`
	}
	for {
		require.NoError(t, c.Native(context.Background(), "sms-voice", "GET", "/v1/sms/messages/"+sent.MessageId, "", nil, &m))
		if m.Final {
			break
		}
		require.True(t, time.Now().Before(deadline), "no final status: %+v; server log:\n%s", m, s.Log())
		time.Sleep(50 * time.Millisecond)
	}
	require.Equal(t, "DELIVERED", m.Status)
	require.Contains(t, string(m.Events[len(m.Events)-1]), "TEXT_DELIVERED")

	// The handset answers STOP through the SMSC: the number's opt-out list
	// gets it.
	resp, err := http.Post(control+"/mo", "application/json",
		strings.NewReader(`{"source": "12065550123", "dest": "`+n.PhoneNumber[1:]+`", "parts": ["STOP"]}`))
	require.NoError(t, err)
	var mo struct{ Statuses []int }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&mo))
	resp.Body.Close()
	require.Equal(t, []int{0}, mo.Statuses, s.Log())
	out, errOut, code = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "describe-opted-out-numbers",
		"--opt-out-list-name", "Default", "--output", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "+12065550123")
}
