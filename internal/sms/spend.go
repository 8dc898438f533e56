package sms

import (
	"context"
	"fmt"
	"math"

	"github.com/tidings/tidings/internal/fault"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// DefaultSpendLimitUSD is the MaxLimit of every monthly spend limit: the
// most an override may set, and the limit without one. A send whose
// nominal price (PricePerSegmentUSD a segment or a voice/media message)
// would take the month's spend of its channel over the limit is refused
// with ServiceQuotaExceededException, Reason
// MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT (_VOICE, _MEDIA), as AWS does.
const DefaultSpendLimitUSD = 1_000_000

// accountRec holds an account's settings (the KindAccount resource "settings").
type accountRec struct {
	SpendOverrides map[string]int64 `json:"spendOverrides,omitempty"`
	// Tier is the ACCOUNT_TIER ("" for PRODUCTION).
	Tier string `json:"tier,omitempty"`
	// DefaultProtectConfig is the ID of the account's default protect
	// configuration ("" for none).
	DefaultProtectConfig string `json:"defaultProtectConfig,omitempty"`
}

const settingsID = "settings"

func (s *Service) accountSettings(ctx context.Context, tx Tx, accountID string) (*accountRec, error) {
	var a accountRec
	r, err := tx.Get(ctx, accountID, KindAccount, settingsID)
	if fault.Is(err, fault.NotFound) {
		return &a, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, decode(r, &a)
}

// readAccountSettings reads the account's settings in a transaction of
// its own.
func (s *Service) readAccountSettings(ctx context.Context, accountID string) (*accountRec, error) {
	var a *accountRec
	err := s.store.InTx(ctx, func(tx Tx) error {
		var err error
		a, err = s.accountSettings(ctx, tx, accountID)
		return err
	})
	return a, err
}

func (s *Service) putAccountSettings(ctx context.Context, tx Tx, accountID string, a *accountRec) error {
	return tx.Put(ctx, &Resource{AccountID: accountID, Kind: KindAccount, ID: settingsID, Body: encode(a)})
}

// spendRec is an account's spend of one calendar month (UTC) per
// channel, in USD (the KindAccount resource "spend-YYYY-MM").
type spendRec struct {
	USD map[Channel]float64 `json:"usd"`
}

var spendLimitOf = map[Channel]sv.SpendLimitName{
	ChannelText:  sv.SpendLimitNameTextMessageMonthlySpendLimit,
	ChannelVoice: sv.SpendLimitNameVoiceMessageMonthlySpendLimit,
	ChannelMedia: sv.SpendLimitNameMediaMessageMonthlySpendLimit,
}

var spendReason = map[Channel]sv.ServiceQuotaExceededExceptionReason{
	ChannelText:  sv.ServiceQuotaExceededExceptionReasonMonthlySpendLimitReachedForText,
	ChannelVoice: sv.ServiceQuotaExceededExceptionReasonMonthlySpendLimitReachedForVoice,
	ChannelMedia: sv.ServiceQuotaExceededExceptionReasonMonthlySpendLimitReachedForMedia,
}

// spend checks that m fits under its channel's monthly spend limit and,
// unless dryRun, adds its price to the month's spend, in tx (the send's
// transaction). Sends of one account take turns on the month's total
// (tx.Lock), so concurrent ones, on any node, cannot all fit under the
// limit together.
func (s *Service) spend(ctx context.Context, tx Tx, m *messageRec, dryRun bool) error {
	name, ok := spendLimitOf[m.Channel]
	if !ok {
		return nil
	}
	a, err := s.accountSettings(ctx, tx, m.AccountID)
	if err != nil {
		return err
	}
	limit, over := a.SpendOverrides[string(name)]
	if !over {
		limit = DefaultSpendLimitUSD
	}
	id := "spend-" + m.RequestedAt.UTC().Format("2006-01")
	if !dryRun {
		if err := tx.Lock(ctx, "sms-spend/"+m.AccountID+"/"+id); err != nil {
			return err
		}
	}
	var sp spendRec
	r, err := tx.Get(ctx, m.AccountID, KindAccount, id)
	switch {
	case err == nil:
		if err := decode(r, &sp); err != nil {
			return err
		}
	case !fault.Is(err, fault.NotFound):
		return err
	}
	if sp.USD == nil {
		sp.USD = map[Channel]float64{}
	}
	// Compared in micro-dollars: float sums of prices drift.
	if math.Round((sp.USD[m.Channel]+m.PriceUSD)*1e6) > float64(limit)*1e6 {
		return &fault.Error{Kind: fault.QuotaExceeded, Reason: string(spendReason[m.Channel]),
			Message: fmt.Sprintf("The %s of this account is %d USD; %.5f USD spent this month, and this message costs %.5f USD",
				name, limit, sp.USD[m.Channel], m.PriceUSD)}
	}
	if dryRun {
		return nil
	}
	sp.USD[m.Channel] += m.PriceUSD
	return tx.Put(ctx, &Resource{AccountID: m.AccountID, Kind: KindAccount, ID: id, Body: encode(&sp), CreatedAt: s.now()})
}

var spendLimitNames = []sv.SpendLimitName{sv.SpendLimitNameTextMessageMonthlySpendLimit, sv.SpendLimitNameVoiceMessageMonthlySpendLimit,
	sv.SpendLimitNameMediaMessageMonthlySpendLimit, sv.SpendLimitNameNotifyMessageMonthlySpendLimit}

// DescribeSpendLimits lists the monthly spend limits and their overrides.
func (s *Service) DescribeSpendLimits(ctx context.Context, _ *sv.DescribeSpendLimitsRequest) (*sv.DescribeSpendLimitsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.readAccountSettings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := &sv.DescribeSpendLimitsResult{SpendLimits: []sv.SpendLimit{}}
	for _, n := range spendLimitNames {
		v, over := a.SpendOverrides[string(n)]
		if !over {
			v = DefaultSpendLimitUSD
		}
		out.SpendLimits = append(out.SpendLimits, sv.SpendLimit{Name: ptr(n), EnforcedLimit: ptr(v), MaxLimit: ptr(int64(DefaultSpendLimitUSD)), Overridden: ptr(over)})
	}
	return out, nil
}

// setSpend sets (limit ≥ 0) or deletes (limit < 0) the override of name
// and returns the override it replaced.
func (s *Service) setSpend(ctx context.Context, name sv.SpendLimitName, limit int64) (int64, error) {
	accountID, err := account(ctx)
	if err != nil {
		return 0, err
	}
	if limit > DefaultSpendLimitUSD {
		return 0, invalid(sv.ValidationExceptionReasonRequestedSpendLimitHigherThanServiceLimit, "The limit cannot exceed %d USD", DefaultSpendLimitUSD)
	}
	var old int64
	err = s.store.InTx(ctx, func(tx Tx) error {
		a, err := s.accountSettings(ctx, tx, accountID)
		if err != nil {
			return err
		}
		old = a.SpendOverrides[string(name)]
		if a.SpendOverrides == nil {
			a.SpendOverrides = map[string]int64{}
		}
		if limit < 0 {
			delete(a.SpendOverrides, string(name))
		} else {
			a.SpendOverrides[string(name)] = limit
		}
		return s.putAccountSettings(ctx, tx, accountID, a)
	})
	return old, err
}

func (s *Service) SetTextMessageSpendLimitOverride(ctx context.Context, in *sv.SetTextMessageSpendLimitOverrideRequest) (*sv.SetTextMessageSpendLimitOverrideResult, error) {
	if _, err := s.setSpend(ctx, sv.SpendLimitNameTextMessageMonthlySpendLimit, *in.MonthlyLimit); err != nil {
		return nil, err
	}
	return &sv.SetTextMessageSpendLimitOverrideResult{MonthlyLimit: in.MonthlyLimit}, nil
}

func (s *Service) SetVoiceMessageSpendLimitOverride(ctx context.Context, in *sv.SetVoiceMessageSpendLimitOverrideRequest) (*sv.SetVoiceMessageSpendLimitOverrideResult, error) {
	if _, err := s.setSpend(ctx, sv.SpendLimitNameVoiceMessageMonthlySpendLimit, *in.MonthlyLimit); err != nil {
		return nil, err
	}
	return &sv.SetVoiceMessageSpendLimitOverrideResult{MonthlyLimit: in.MonthlyLimit}, nil
}

func (s *Service) SetMediaMessageSpendLimitOverride(ctx context.Context, in *sv.SetMediaMessageSpendLimitOverrideRequest) (*sv.SetMediaMessageSpendLimitOverrideResult, error) {
	if _, err := s.setSpend(ctx, sv.SpendLimitNameMediaMessageMonthlySpendLimit, *in.MonthlyLimit); err != nil {
		return nil, err
	}
	return &sv.SetMediaMessageSpendLimitOverrideResult{MonthlyLimit: in.MonthlyLimit}, nil
}

func (s *Service) DeleteTextMessageSpendLimitOverride(ctx context.Context, _ *sv.DeleteTextMessageSpendLimitOverrideRequest) (*sv.DeleteTextMessageSpendLimitOverrideResult, error) {
	old, err := s.setSpend(ctx, sv.SpendLimitNameTextMessageMonthlySpendLimit, -1)
	if err != nil {
		return nil, err
	}
	return &sv.DeleteTextMessageSpendLimitOverrideResult{MonthlyLimit: ptr(old)}, nil
}

func (s *Service) DeleteVoiceMessageSpendLimitOverride(ctx context.Context, _ *sv.DeleteVoiceMessageSpendLimitOverrideRequest) (*sv.DeleteVoiceMessageSpendLimitOverrideResult, error) {
	old, err := s.setSpend(ctx, sv.SpendLimitNameVoiceMessageMonthlySpendLimit, -1)
	if err != nil {
		return nil, err
	}
	return &sv.DeleteVoiceMessageSpendLimitOverrideResult{MonthlyLimit: ptr(old)}, nil
}

func (s *Service) DeleteMediaMessageSpendLimitOverride(ctx context.Context, _ *sv.DeleteMediaMessageSpendLimitOverrideRequest) (*sv.DeleteMediaMessageSpendLimitOverrideResult, error) {
	old, err := s.setSpend(ctx, sv.SpendLimitNameMediaMessageMonthlySpendLimit, -1)
	if err != nil {
		return nil, err
	}
	return &sv.DeleteMediaMessageSpendLimitOverrideResult{MonthlyLimit: ptr(old)}, nil
}
