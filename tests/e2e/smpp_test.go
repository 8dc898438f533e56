package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/client"
	"github.com/tidings/tidings/internal/smpp/smsctest"
)

// TestSMPPCarrier sends a text to a real (non-simulator) number through a
// server whose carrier is an SMPP SMSC: the independent one of
// tests/smsc/smsc.mjs (npm smpp; smsctest skips without it unless CI is
// set). The SMSC gets the submit_sm with the number's addresses, its
// DELIVRD receipt makes the message TEXT_DELIVERED, and a message the SMSC
// sends to the number comes in as a STOP that opts the sender out.
func TestSMPPCarrier(t *testing.T) {
	t.Parallel()
	sc := smsctest.Start(t)
	s := startServer(t, serverOpts{Env: []string{
		"TIDINGS_SMPP_ADDR=" + sc.Addr, "TIDINGS_SMPP_SYSTEM_ID=" + smsctest.SystemID,
		"TIDINGS_SMPP_PASSWORD=" + smsctest.Password, "TIDINGS_SMPP_RATE=50",
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
		sc.State(t, &st)
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

	// A long message goes in parts, each with its receipt: DELIVERED
	// once all are.
	var long struct{ MessageId string }
	cliJSON(t, env, &long, "pinpoint-sms-voice-v2", "send-text-message", "--destination-phone-number", "+12065550123",
		"--origination-identity", n.PhoneNumberId, "--message-body", strings.Repeat("ten chars ", 40))
	status, events := waitFinal(t, s, long.MessageId)
	require.Equal(t, "DELIVERED", status, s.Log())
	require.Equal(t, "TEXT_DELIVERED", events[len(events)-1])

	// The handset answers STOP through the SMSC: the number's opt-out list
	// gets it.
	var mo struct{ Statuses []int }
	sc.Post(t, "/mo", map[string]any{"source": "12065550123", "dest": n.PhoneNumber[1:], "parts": []string{"STOP"}}, &mo)
	require.Equal(t, []int{0}, mo.Statuses, s.Log())
	out, errOut, code = run(t, env, nil, awsBin, "pinpoint-sms-voice-v2", "describe-opted-out-numbers",
		"--opt-out-list-name", "Default", "--output", "json")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "+12065550123")
}
