package sms_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	sv "github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/sms"
)

// partsCarrier takes every message in three parts and reports nothing:
// the test plays the receipts.
type partsCarrier struct{ silent }

func (partsCarrier) SubmitParts(_ context.Context, m *sms.Outbound) ([]string, error) {
	return []string{m.MessageID + "-1", m.MessageID + "-2", m.MessageID + "-3"}, nil
}

func TestReceiptsOfEveryPart(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{carrier: partsCarrier{}})
	longCode(t, b)
	send := func() string {
		out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr("+12065550123"),
			MessageBody: ptr(strings.Repeat("ten chars ", 40))})
		require.NoError(t, err)
		id := *out.MessageId
		// Wait for the send job to record the parts.
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := b.svc.Receipt(context.Background(), sms.Receipt{ProviderID: id + "-3", Status: sms.StatusSuccessful})
			if err == nil {
				return id
			}
			require.True(t, time.Now().Before(deadline), "parts never recorded: %v", err)
			time.Sleep(20 * time.Millisecond)
		}
	}
	view := func(id string) (sms.Status, bool, []string) {
		v, err := b.svc.Message(b.ctx, acct, id)
		require.NoError(t, err)
		var types []string
		for _, e := range v.Events {
			var ev struct{ EventType, MessageStatusDescription string }
			require.NoError(t, json.Unmarshal(e, &ev))
			types = append(types, ev.EventType)
		}
		return v.Status, v.Final, types
	}
	receipt := func(pid string, st sms.Status) {
		require.NoError(t, b.svc.Receipt(context.Background(), sms.Receipt{ProviderID: pid, Status: st}))
	}

	// Delivered only once every part is.
	ok := send()
	receipt(ok+"-2", sms.StatusDelivered)
	receipt(ok+"-1", sms.StatusDelivered)
	st, final, types := view(ok)
	require.Equal(t, sms.StatusSuccessful, st)
	require.False(t, final)
	require.Equal(t, []string{"TEXT_SUCCESSFUL"}, types)
	receipt(ok+"-3", sms.StatusDelivered)
	st, final, types = view(ok)
	require.Equal(t, sms.StatusDelivered, st)
	require.True(t, final)
	require.Equal(t, []string{"TEXT_SUCCESSFUL", "TEXT_DELIVERED"}, types)

	// Failed when one part fails, even when the others are delivered.
	bad := send()
	receipt(bad+"-1", sms.StatusDelivered)
	receipt(bad+"-2", sms.StatusUnreachable)
	st, final, _ = view(bad)
	require.False(t, final, "part 3 has not reported yet")
	receipt(bad+"-3", sms.StatusDelivered)
	st, final, types = view(bad)
	require.Equal(t, sms.StatusUnreachable, st)
	require.True(t, final)
	require.Equal(t, []string{"TEXT_SUCCESSFUL", "TEXT_UNREACHABLE"}, types)
	v, err := b.svc.Message(b.ctx, acct, bad)
	require.NoError(t, err)
	require.Contains(t, string(v.Events[1]), "Part 2 of 3")

	// A receipt naming the message itself (expiry) settles it whatever
	// its parts say.
	ttl := send()
	require.NoError(t, b.svc.Receipt(context.Background(), sms.Receipt{MessageID: ttl, Status: sms.StatusTTLExpired}))
	st, final, _ = view(ttl)
	require.Equal(t, sms.StatusTTLExpired, st)
	require.True(t, final)
}
