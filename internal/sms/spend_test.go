package sms_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/sms"
)

func TestSpendLimitEnforced(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	n := b.simNumber(t)
	long := strings.Repeat("a", 1600) // 11 GSM-7 segments
	send := func(body string, dry bool) error {
		_, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success),
			OriginationIdentity: n.PhoneNumberId, MessageBody: ptr(body), DryRun: ptr(dry)})
		return err
	}
	isLimit := func(err error, reason sv.ServiceQuotaExceededExceptionReason) {
		t.Helper()
		require.True(t, fault.Is(err, fault.QuotaExceeded), "%v", err)
		var fe *fault.Error
		require.ErrorAs(t, err, &fe)
		require.Equal(t, string(reason), fe.Reason)
	}

	// A limit of 0 refuses every text, dry runs included.
	_, err := b.svc.SetTextMessageSpendLimitOverride(b.ctx, &sv.SetTextMessageSpendLimitOverrideRequest{MonthlyLimit: ptr(int64(0))})
	require.NoError(t, err)
	isLimit(send("hi", false), sv.ServiceQuotaExceededExceptionReasonMonthlySpendLimitReachedForText)
	isLimit(send("hi", true), sv.ServiceQuotaExceededExceptionReasonMonthlySpendLimitReachedForText)

	// 1 USD: fifteen 11-segment messages fit (0.959 USD), the sixteenth
	// does not; a dry run counts nothing.
	_, err = b.svc.SetTextMessageSpendLimitOverride(b.ctx, &sv.SetTextMessageSpendLimitOverrideRequest{MonthlyLimit: ptr(int64(1))})
	require.NoError(t, err)
	for i := range 15 {
		require.NoError(t, send(long, true))
		require.NoError(t, send(long, false), "message %d", i)
	}
	isLimit(send(long, false), sv.ServiceQuotaExceededExceptionReasonMonthlySpendLimitReachedForText)
	// A one-segment message still fits (0.965 USD).
	require.NoError(t, send("short", false))

	// Media has its own limit.
	b.mediaLimit(t)

	// The next month starts from nothing.
	b.clock.Advance(32 * 24 * time.Hour)
	require.NoError(t, send(long, false))

	// Without the override the default limit applies again.
	_, err = b.svc.DeleteTextMessageSpendLimitOverride(b.ctx, &sv.DeleteTextMessageSpendLimitOverrideRequest{})
	require.NoError(t, err)
	out, err := b.svc.DescribeSpendLimits(b.ctx, &sv.DescribeSpendLimitsRequest{})
	require.NoError(t, err)
	require.Equal(t, int64(sms.DefaultSpendLimitUSD), *out.SpendLimits[0].EnforcedLimit)
}

// mediaLimit checks that a media limit of 0 refuses media messages while
// text is under its own.
func (b *bundle) mediaLimit(t *testing.T) {
	n, err := b.svc.RequestPhoneNumber(b.ctx, &sv.RequestPhoneNumberRequest{IsoCountryCode: ptr("US"), MessageType: ptr(sv.MessageTypeTransactional),
		NumberCapabilities: []sv.NumberCapability{sv.NumberCapabilityMms}, NumberType: ptr(sv.RequestableNumberTypeSimulator)})
	require.NoError(t, err)
	_, err = b.svc.SendMediaMessage(b.ctx, &sv.SendMediaMessageRequest{DestinationPhoneNumber: ptr(success),
		OriginationIdentity: n.PhoneNumberId, MessageBody: ptr("pic")})
	require.NoError(t, err)
	_, err = b.svc.SetMediaMessageSpendLimitOverride(b.ctx, &sv.SetMediaMessageSpendLimitOverrideRequest{MonthlyLimit: ptr(int64(0))})
	require.NoError(t, err)
	_, err = b.svc.SendMediaMessage(b.ctx, &sv.SendMediaMessageRequest{DestinationPhoneNumber: ptr(success),
		OriginationIdentity: n.PhoneNumberId, MessageBody: ptr("pic")})
	var fe *fault.Error
	require.ErrorAs(t, err, &fe)
	require.Equal(t, string(sv.ServiceQuotaExceededExceptionReasonMonthlySpendLimitReachedForMedia), fe.Reason)
}

// TestSpendLimitConcurrent: sends committed together (one group commit
// holds many) count each other's spend: of 40 concurrent 11-segment
// messages under 1 USD, exactly 15 are accepted.
func TestSpendLimitConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	n := b.simNumber(t)
	_, err := b.svc.SetTextMessageSpendLimitOverride(b.ctx, &sv.SetTextMessageSpendLimitOverrideRequest{MonthlyLimit: ptr(int64(1))})
	require.NoError(t, err)
	long := strings.Repeat("a", 1600)
	errs := make(chan error, 40)
	for range 40 {
		go func() {
			_, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success),
				OriginationIdentity: n.PhoneNumberId, MessageBody: ptr(long)})
			errs <- err
		}()
	}
	accepted := 0
	for range 40 {
		if err := <-errs; err == nil {
			accepted++
		} else {
			require.True(t, fault.Is(err, fault.QuotaExceeded), "%v", err)
		}
	}
	require.Equal(t, 15, accepted)
}
