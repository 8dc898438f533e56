package sending_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/sending"
	"github.com/tidings/tidings/internal/store"
)

const smtpRaw = "Received: from client.example ([127.0.0.1])\r\n\tby tidings.test (Tidings) with ESMTPSA; Mon, 2 Jun 2025 10:00:00 +0000\r\n" +
	"From: App <app@example.com>\r\n" +
	"To: user@dest.example\r\n" +
	"Subject: Submitted\r\n" +
	"X-SES-CONFIGURATION-SET: otp\r\n" +
	"X-SES-MESSAGE-TAGS: campaign=spring, user_id=u-42\r\n" +
	"\r\n" +
	"Hello over SMTP\r\n"

// TestSendSMTP: a message submitted over SMTP goes to its RCPT TO
// recipients, from its MAIL FROM, signed, with the X-SES-* headers read
// and removed.
func TestSendSMTP(t *testing.T) {
	t.Parallel()
	eachDB(t, testSendSMTP)
}

func testSendSMTP(t *testing.T, db *store.DB) {
	b := setupDB(t, db)
	b.verifiedDomain(t, "example.com")
	b.configSetWithEvents(t, "otp")
	id, err := b.svc.SendSMTP(b.ctx, "bounces@example.com", []string{"user@dest.example", "hidden@dest.example"}, []byte(smtpRaw))
	require.NoError(t, err)
	require.Regexp(t, `^0100[0-9a-f]{12}-[0-9a-f-]{36}-000000$`, id)

	evs := b.waitEvents(t, 2) // Send and Delivery
	send := byType(evs, "Send")
	require.Len(t, send, 1)
	tags := send[0]["mail"].(map[string]any)["tags"].(map[string]any)
	require.Equal(t, []any{"otp"}, tags["ses:configuration-set"])
	require.Equal(t, []any{"spring"}, tags["campaign"])
	require.Equal(t, []any{"u-42"}, tags["user_id"])
	require.Equal(t, []any{"SendSmtpEmail"}, tags["ses:operation"])

	require.Eventually(t, func() bool { return len(b.dl.sent()) > 0 }, 10*time.Second, 10*time.Millisecond)
	b.dl.mu.Lock()
	env, msg := b.dl.envs[0], b.dl.msgs[0]
	b.dl.mu.Unlock()
	require.Equal(t, "bounces@example.com", env.MailFrom)
	require.ElementsMatch(t, []string{"user@dest.example", "hidden@dest.example"}, env.Recipients)
	require.NotContains(t, strings.ToUpper(string(msg)), "X-SES-")
	require.Contains(t, string(msg), "Message-ID: <"+id+"@tidings.test>")
	require.Contains(t, string(msg), "Received: from client.example")
	verifyDKIM(t, b, "example.com", msg)
}

func TestSendSMTPUnverified(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	raw := strings.Replace(smtpRaw, "X-SES-CONFIGURATION-SET: otp\r\n", "", 1)
	for _, c := range []struct {
		name, mailFrom, raw, want string
	}{
		{"From", "app@example.com", strings.Replace(raw, "app@example.com", "app@other.example", 1), "in region US-EAST-1: app@other.example"},
		{"MAIL FROM", "bounces@other.example", raw, "in region US-EAST-1: bounces@other.example"},
		{"both", "bounces@other.example", strings.Replace(raw, "app@example.com", "app@other.example", 1), ": app@other.example, bounces@other.example"},
		{"no From", "app@example.com", strings.Replace(raw, "From: App <app@example.com>\r\n", "", 1), "Missing required header 'From'"},
	} {
		_, err := b.svc.SendSMTP(b.ctx, c.mailFrom, []string{"user@dest.example"}, []byte(c.raw))
		var rej *sending.Rejection
		require.True(t, errors.As(err, &rej), "%s: %v", c.name, err)
		require.Equal(t, sending.ReasonMessageRejected, rej.Reason, c.name)
		require.Contains(t, rej.Message, c.want, c.name)
	}
	// The null reverse-path: only the From header is checked.
	_, err := b.svc.SendSMTP(b.ctx, "", []string{"user@dest.example"}, []byte(raw))
	require.NoError(t, err)
}
