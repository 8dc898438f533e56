package sms

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

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

// spend checks that the messages ms fit, in order, under their channels'
// monthly spend limits and, unless dryRun, adds their prices to the
// months' spend, in tx (the sends' transaction): per account and month one
// lock, one read and one write, however many messages the commit holds.
// Sends of one account take turns on the month's total (tx.Lock, taken
// in key order), so concurrent ones, on any node, cannot all fit under
// the limit together. The first message over its limit fails the call.
func (s *Service) spend(ctx context.Context, tx Tx, ms []*messageRec, dryRun bool) error {
	type monthKey struct{ account, id string }
	type month struct {
		settings *accountRec
		sp       spendRec
		changed  bool
	}
	key := func(m *messageRec) monthKey {
		return monthKey{m.AccountID, "spend-" + m.RequestedAt.UTC().Format("2006-01")}
	}
	var keys []monthKey
	for _, m := range ms {
		if _, ok := spendLimitOf[m.Channel]; ok {
			keys = append(keys, key(m))
		}
	}
	slices.SortFunc(keys, func(a, b monthKey) int { return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.id, b.id)) })
	keys = slices.Compact(keys)
	months := make(map[monthKey]*month, len(keys))
	for _, k := range keys {
		a, err := s.accountSettings(ctx, tx, k.account)
		if err != nil {
			return err
		}
		if !dryRun {
			if err := tx.Lock(ctx, "sms-spend/"+k.account+"/"+k.id); err != nil {
				return err
			}
		}
		mo := &month{settings: a}
		r, err := tx.Get(ctx, k.account, KindAccount, k.id)
		switch {
		case err == nil:
			if err := decode(r, &mo.sp); err != nil {
				return err
			}
		case !fault.Is(err, fault.NotFound):
			return err
		}
		if mo.sp.USD == nil {
			mo.sp.USD = map[Channel]float64{}
		}
		months[k] = mo
	}
	for _, m := range ms {
		name, ok := spendLimitOf[m.Channel]
		if !ok {
			continue
		}
		mo := months[key(m)]
		limit, over := mo.settings.SpendOverrides[string(name)]
		if !over {
			limit = DefaultSpendLimitUSD
		}
		// Compared in micro-dollars: float sums of prices drift.
		if math.Round((mo.sp.USD[m.Channel]+m.PriceUSD)*1e6) > float64(limit)*1e6 {
			return &fault.Error{Kind: fault.QuotaExceeded, Reason: string(spendReason[m.Channel]),
				Message: fmt.Sprintf("The %s of this account is %d USD; %.5f USD spent this month, and this message costs %.5f USD",
					name, limit, mo.sp.USD[m.Channel], m.PriceUSD)}
		}
		if !dryRun {
			mo.sp.USD[m.Channel] += m.PriceUSD
			mo.changed = true
		}
	}
	for _, k := range keys {
		if mo := months[k]; mo.changed {
			if err := tx.Put(ctx, &Resource{AccountID: k.account, Kind: KindAccount, ID: k.id, Body: encode(&mo.sp), CreatedAt: s.now()}); err != nil {
				return err
			}
		}
	}
	return nil
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
