package sms

import (
	"context"
	"fmt"

	"github.com/tidings/tidings/internal/fault"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
)

// Account tiers (the ACCOUNT_TIER attribute). Tidings accounts start in
// PRODUCTION, as its SES accounts start out of the sandbox; an account
// moves itself into the SMS sandbox (and out) with the native API
// (PUT /v1/sms/account), as SES's PutAccountDetails does for email. In the
// sandbox, messages go only to verified destination numbers and to the
// destination simulator numbers, as AWS documents.
const (
	TierProduction = "PRODUCTION"
	TierSandboxed  = "SANDBOXED"
)

// DefaultLimits are the account quotas DescribeAccountLimits reports
// (Max) and the create operations enforce (ServiceQuotaExceededException
// with the matching Reason): AWS's initial quotas of a new account (10
// verified destination numbers is the sandbox's documented figure).
// Registrations and their attachments are counted, not enforced: the
// registrations service creates them.
var DefaultLimits = map[sv.AccountLimitName]int64{
	sv.AccountLimitNamePhoneNumbers:               100,
	sv.AccountLimitNamePools:                      25,
	sv.AccountLimitNameConfigurationSets:          25,
	sv.AccountLimitNameOptOutLists:                25,
	sv.AccountLimitNameSenderIds:                  100,
	sv.AccountLimitNameRegistrations:              100,
	sv.AccountLimitNameRegistrationAttachments:    100,
	sv.AccountLimitNameVerifiedDestinationNumbers: 10,
}

// limitKinds maps the quotas the SMS store counts to their kind.
var limitKinds = map[sv.AccountLimitName]Kind{
	sv.AccountLimitNamePhoneNumbers:               KindPhoneNumber,
	sv.AccountLimitNamePools:                      KindPool,
	sv.AccountLimitNameConfigurationSets:          KindConfigurationSet,
	sv.AccountLimitNameOptOutLists:                KindOptOutList,
	sv.AccountLimitNameSenderIds:                  KindSenderID,
	sv.AccountLimitNameVerifiedDestinationNumbers: KindVerifiedNumber,
}

var limitReasons = map[sv.AccountLimitName]sv.ServiceQuotaExceededExceptionReason{
	sv.AccountLimitNamePhoneNumbers:               sv.ServiceQuotaExceededExceptionReasonPhoneNumbersPerAccount,
	sv.AccountLimitNamePools:                      sv.ServiceQuotaExceededExceptionReasonPoolsPerAccount,
	sv.AccountLimitNameConfigurationSets:          sv.ServiceQuotaExceededExceptionReasonConfigurationSetsPerAccount,
	sv.AccountLimitNameOptOutLists:                sv.ServiceQuotaExceededExceptionReasonOptOutListsPerAccount,
	sv.AccountLimitNameSenderIds:                  sv.ServiceQuotaExceededExceptionReasonSenderIdsPerAccount,
	sv.AccountLimitNameVerifiedDestinationNumbers: sv.ServiceQuotaExceededExceptionReasonVerifiedDestinationNumbersPerAccount,
}

// RegistrationCounter is what DescribeAccountLimits needs of the
// registrations service, when Config.Registrations implements it.
type RegistrationCounter interface {
	CountRegistrations(ctx context.Context, accountID string) (registrations, attachments int64, err error)
}

func (s *Service) limit(name sv.AccountLimitName) int64 {
	if v, ok := s.cfg.Limits[name]; ok {
		return v
	}
	return DefaultLimits[name]
}

// checkLimit refuses to create one more resource of a quota's kind when
// the account has its maximum, in tx (the create's transaction).
func (s *Service) checkLimit(ctx context.Context, tx Tx, accountID string, name sv.AccountLimitName) error {
	n, err := tx.Count(ctx, accountID, limitKinds[name])
	if err != nil {
		return err
	}
	if max := s.limit(name); n >= max {
		return &fault.Error{Kind: fault.QuotaExceeded, Reason: string(limitReasons[name]),
			Message: fmt.Sprintf("The account has %d of its %d %s", n, max, name)}
	}
	return nil
}

// DescribeAccountAttributes reports the account's tier and its default
// protect configuration.
func (s *Service) DescribeAccountAttributes(ctx context.Context, in *sv.DescribeAccountAttributesRequest) (*sv.DescribeAccountAttributesResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := decodeToken("account-attributes", in.NextToken); err != nil {
		return nil, err
	}
	a, err := s.readAccountSettings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := &sv.DescribeAccountAttributesResult{AccountAttributes: []sv.AccountAttribute{
		{Name: ptr(sv.AccountAttributeNameAccountTier), Value: ptr(a.tier())},
	}}
	if a.DefaultProtectConfig != "" {
		out.AccountAttributes = append(out.AccountAttributes, sv.AccountAttribute{
			Name: ptr(sv.AccountAttributeNameDefaultProtectConfigurationId), Value: ptr(a.DefaultProtectConfig)})
	}
	return out, nil
}

// DescribeAccountLimits reports each quota with what the account uses of it.
func (s *Service) DescribeAccountLimits(ctx context.Context, in *sv.DescribeAccountLimitsRequest) (*sv.DescribeAccountLimitsResult, error) {
	accountID, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := decodeToken("account-limits", in.NextToken); err != nil {
		return nil, err
	}
	used := map[sv.AccountLimitName]int64{}
	err = s.store.InTx(ctx, func(tx Tx) error {
		for name, kind := range limitKinds {
			n, err := tx.Count(ctx, accountID, kind)
			if err != nil {
				return err
			}
			used[name] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rc, ok := s.cfg.Registrations.(RegistrationCounter); ok {
		regs, atts, err := rc.CountRegistrations(ctx, accountID)
		if err != nil {
			return nil, err
		}
		used[sv.AccountLimitNameRegistrations], used[sv.AccountLimitNameRegistrationAttachments] = regs, atts
	}
	out := &sv.DescribeAccountLimitsResult{AccountLimits: []sv.AccountLimit{}}
	for _, name := range sv.AccountLimitName("").Values() {
		out.AccountLimits = append(out.AccountLimits, sv.AccountLimit{Name: ptr(name), Used: ptr(used[name]), Max: ptr(s.limit(name))})
	}
	return out, nil
}

func (a *accountRec) tier() string {
	if a.Tier == "" {
		return TierProduction
	}
	return a.Tier
}

// SetAccountTier moves the account into the SMS sandbox (SANDBOXED) or out
// of it (PRODUCTION).
func (s *Service) SetAccountTier(ctx context.Context, tier string) error {
	accountID, err := account(ctx)
	if err != nil {
		return err
	}
	if tier != TierProduction && tier != TierSandboxed {
		return invalid(sv.ValidationExceptionReasonInvalidParameter, "accountTier must be %s or %s", TierProduction, TierSandboxed)
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		a, err := s.accountSettings(ctx, tx, accountID)
		if err != nil {
			return err
		}
		a.Tier = tier
		if tier == TierProduction {
			a.Tier = ""
		}
		return s.putAccountSettings(ctx, tx, accountID, a)
	})
}
