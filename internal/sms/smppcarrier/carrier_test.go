package smppcarrier

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/smpp"
	"github.com/tidings/tidings/internal/sms"
)

func TestMessageAddresses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from           string
		src            string
		srcTON, srcNPI byte
	}{
		{"+12065550100", "12065550100", 1, 1},
		{"Tidings", "Tidings", 5, 0},
		{"MyBank-1", "MyBank-1", 5, 0},
		{"12345", "12345", 3, 0},
	} {
		m, err := message(&sms.Outbound{Channel: sms.ChannelText, Origination: c.from, Destination: "+447700900123",
			Body: "hi", Encoding: sms.GSM7, ExpiresAt: now.Add(72*time.Hour + 90*time.Second)}, now)
		require.NoError(t, err, c.from)
		require.Equal(t, c.src, m.Source, c.from)
		require.Equal(t, c.srcTON, m.SourceTON, c.from)
		require.Equal(t, c.srcNPI, m.SourceNPI, c.from)
		require.Equal(t, "447700900123", m.Dest)
		require.Equal(t, byte(1), m.DestTON)
		require.Equal(t, byte(1), m.DestNPI)
		require.Equal(t, byte(1), m.RegisteredDelivery)
		require.Equal(t, smpp.EncodingGSM7, m.Encoding)
		require.Equal(t, "000003000130000R", m.ValidityPeriod)
		require.Equal(t, "hi", m.Text)
	}
}

func TestMessageRejections(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]*sms.Outbound{
		"voice":            {Channel: sms.ChannelVoice, Origination: "+12065550100", Destination: "+12065550101"},
		"media":            {Channel: sms.ChannelMedia, Origination: "+12065550100", Destination: "+12065550101"},
		"long sender id":   {Channel: sms.ChannelText, Origination: "ABCDEFGHIJKL", Destination: "+12065550101"},
		"bad sender id":    {Channel: sms.ChannelText, Origination: "héllo", Destination: "+12065550101"},
		"bad destination":  {Channel: sms.ChannelText, Origination: "+12065550100", Destination: "+1206x"},
		"long destination": {Channel: sms.ChannelText, Origination: "+12065550100", Destination: "+1234567890123456"},
	} {
		_, err := message(m, time.Now())
		require.Error(t, err, name)
		require.True(t, errors.Is(err, sms.ErrRejected), name)
	}
	_, err := message(&sms.Outbound{Channel: sms.ChannelVoice, Origination: "+12065550100", Destination: "+12065550101"}, time.Now())
	require.ErrorContains(t, err, "text messages only")
}

func TestRelativeTime(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", relativeTime(0))
	require.Equal(t, "", relativeTime(-time.Second))
	require.Equal(t, "000000000001000R", relativeTime(time.Millisecond))
	require.Equal(t, "000000010000000R", relativeTime(time.Hour))
	require.Equal(t, "000100000000000R", relativeTime(30*24*time.Hour))
	require.Equal(t, "990000000000000R", relativeTime(200*365*24*time.Hour))
}

func TestReceiptMapping(t *testing.T) {
	t.Parallel()
	for stat, want := range map[string]sms.Status{
		"DELIVRD": sms.StatusDelivered,
		"ACCEPTD": sms.StatusSuccessful,
		"ENROUTE": sms.StatusSuccessful,
		"EXPIRED": sms.StatusTTLExpired,
		"UNDELIV": sms.StatusUnreachable,
		"REJECTD": sms.StatusBlocked,
		"DELETED": sms.StatusUnknown,
		"UNKNOWN": sms.StatusUnknown,
		"BOGUS":   sms.StatusUnknown,
	} {
		r, ok := smpp.ParseReceiptText("id:abc sub:001 dlvrd:000 submit date:2601010000 done date:2601010001 stat:" + stat + " err:034 text:hi")
		require.True(t, ok)
		got := receipt(r)
		require.Equal(t, want, got.Status, stat)
		// UNKNOWN may be followed by another receipt in SMPP; the service
		// has no non-final unknown status, and most SMSCs send it last.
		if r.State != 0 && r.State != smpp.StateUnknown {
			require.Equal(t, r.Final(), got.Status.Final(), "finality of %s", stat)
		}
		require.Equal(t, "abc", got.ProviderID)
		require.Contains(t, got.Description, "stat:"+stat)
		require.Contains(t, got.Description, "err:034")
		require.Equal(t, time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC), got.At)
	}
	// The message_state parameter alone, and an intermediate notification.
	require.Equal(t, sms.StatusDelivered, receipt(smpp.Receipt{MessageID: "x", State: smpp.StateDelivered}).Status)
	require.Contains(t, receipt(smpp.Receipt{MessageID: "x", State: smpp.StateDelivered}).Description, "stat:")
	require.Equal(t, sms.StatusSuccessful, receipt(smpp.Receipt{MessageID: "x", Intermediate: true}).Status)
}

func TestE164(t *testing.T) {
	t.Parallel()
	require.Equal(t, "+12065550100", e164("12065550100", 1))
	require.Equal(t, "+12065550100", e164("+12065550100", 0))
	require.Equal(t, "+12065550100", e164("12065550100", 0))
	require.Equal(t, "12345", e164("12345", 0))
	require.Equal(t, "12345", e164("12345", 3))
	require.Equal(t, "2065550100", e164("2065550100", 2)) // national: kept
	require.Equal(t, "Tidings", e164("Tidings", 5))
}

func TestReceiptForUnknownID(t *testing.T) {
	t.Parallel()
	c := New(smpp.Config{}, nil)
	c.sink = &sink{known: map[string]bool{"known": true}}
	// NotFound from the sink is not an error to the SMSC (no redelivery)...
	require.NoError(t, c.onReceipt(context.Background(), smpp.Receipt{MessageID: "part-2", State: smpp.StateDelivered}))
	// ...a known one is recorded...
	require.NoError(t, c.onReceipt(context.Background(), smpp.Receipt{MessageID: "known", State: smpp.StateDelivered}))
	require.Len(t, c.sink.(*sink).receipts, 1)
	// ...and after Close the sink is not called: the SMSC redelivers later.
	require.NoError(t, c.Close())
	require.Error(t, c.onReceipt(context.Background(), smpp.Receipt{MessageID: "known", State: smpp.StateDelivered}))
	require.Len(t, c.sink.(*sink).receipts, 1)
}
