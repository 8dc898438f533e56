package sms_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/smithy"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/sms"
)

// faultOf returns err's fault, failing the test when it has none.
func faultOf(t *testing.T, err error) *fault.Error {
	t.Helper()
	var fe *fault.Error
	require.ErrorAs(t, err, &fe)
	return fe
}

func TestAccountAttributesAndLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true, limits: map[sv.AccountLimitName]int64{sv.AccountLimitNameConfigurationSets: 2}})
	attrs, err := b.svc.DescribeAccountAttributes(b.ctx, &sv.DescribeAccountAttributesRequest{})
	require.NoError(t, err)
	require.Equal(t, []sv.AccountAttribute{{Name: ptr(sv.AccountAttributeNameAccountTier), Value: ptr("PRODUCTION")}}, attrs.AccountAttributes)

	b.simNumber(t)
	for _, name := range []string{"a", "b"} {
		_, err := b.svc.CreateConfigurationSet(b.ctx, &sv.CreateConfigurationSetRequest{ConfigurationSetName: ptr(name)})
		require.NoError(t, err)
	}
	_, err = b.svc.CreateConfigurationSet(b.ctx, &sv.CreateConfigurationSetRequest{ConfigurationSetName: ptr("c")})
	fe := faultOf(t, err)
	require.Equal(t, fault.QuotaExceeded, fe.Kind)
	require.Equal(t, "CONFIGURATION_SETS_PER_ACCOUNT", fe.Reason)

	lim, err := b.svc.DescribeAccountLimits(b.ctx, &sv.DescribeAccountLimitsRequest{})
	require.NoError(t, err)
	got := map[sv.AccountLimitName][2]int64{}
	for _, l := range lim.AccountLimits {
		got[*l.Name] = [2]int64{*l.Used, *l.Max}
	}
	require.Len(t, got, 8)
	require.Equal(t, [2]int64{1, 100}, got[sv.AccountLimitNamePhoneNumbers])
	require.Equal(t, [2]int64{2, 2}, got[sv.AccountLimitNameConfigurationSets])
	require.Equal(t, [2]int64{1, 25}, got[sv.AccountLimitNameOptOutLists], "the Default list the number made")
	require.Equal(t, [2]int64{0, 10}, got[sv.AccountLimitNameVerifiedDestinationNumbers])

	// Another account counts its own.
	other := iam.WithPrincipal(context.Background(), iam.Principal{AccountID: "444455556666"})
	lim, err = b.svc.DescribeAccountLimits(other, &sv.DescribeAccountLimitsRequest{})
	require.NoError(t, err)
	for _, l := range lim.AccountLimits {
		require.Zero(t, *l.Used, *l.Name)
	}
}

var codeRE = regexp.MustCompile(`code is (\d{6})`)

func TestSandboxAndVerifiedDestinationNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	const dest = "+12065550142"
	lc := longCode(t, b)
	require.NoError(t, b.svc.SetAccountTier(b.ctx, sms.TierSandboxed))
	attrs, err := b.svc.DescribeAccountAttributes(b.ctx, &sv.DescribeAccountAttributesRequest{})
	require.NoError(t, err)
	require.Equal(t, "SANDBOXED", *attrs.AccountAttributes[0].Value)
	send := func() error {
		_, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(dest), MessageBody: ptr("hi"), OriginationIdentity: lc.PhoneNumberId})
		return err
	}
	fe := faultOf(t, send())
	require.Equal(t, fault.Conflict, fe.Kind)
	require.Equal(t, "DESTINATION_PHONE_NUMBER_NOT_VERIFIED", fe.Reason)
	// The destination simulator numbers need no verification.
	b.simNumber(t)
	_, err = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("hi")})
	require.NoError(t, err)

	_, err = b.svc.CreateVerifiedDestinationNumber(b.ctx, &sv.CreateVerifiedDestinationNumberRequest{DestinationPhoneNumber: ptr("+1206")})
	require.Equal(t, fault.Invalid, faultOf(t, err).Kind)
	v, err := b.svc.CreateVerifiedDestinationNumber(b.ctx, &sv.CreateVerifiedDestinationNumberRequest{DestinationPhoneNumber: ptr(dest),
		Tags: []sv.Tag{{Key: ptr("team"), Value: ptr("qa")}}})
	require.NoError(t, err)
	require.Equal(t, sv.VerificationStatusPending, *v.Status)
	_, err = b.svc.CreateVerifiedDestinationNumber(b.ctx, &sv.CreateVerifiedDestinationNumberRequest{DestinationPhoneNumber: ptr(dest)})
	require.Equal(t, fault.Conflict, faultOf(t, err).Kind, "one per number")

	// No code yet.
	_, err = b.svc.VerifyDestinationNumber(b.ctx, &sv.VerifyDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationCode: ptr("123456")})
	require.Equal(t, "VERIFICATION_CODE_EXPIRED", faultOf(t, err).Reason)

	sendCode := func() string {
		t.Helper()
		out, err := b.svc.SendDestinationNumberVerificationCode(b.ctx, &sv.SendDestinationNumberVerificationCodeRequest{
			VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationChannel: ptr(sv.VerificationChannelText)})
		require.NoError(t, err)
		var m *sms.Outbound
		require.Eventually(t, func() bool {
			var ok bool
			m, ok = b.sim.Sent(*out.MessageId)
			return ok
		}, 30*time.Second, 10*time.Millisecond)
		require.Equal(t, dest, m.Destination)
		require.Equal(t, *lc.PhoneNumber, m.Origination, "sent from the account's number")
		c := codeRE.FindStringSubmatch(m.Body)
		require.NotNil(t, c, m.Body)
		return c[1]
	}
	code := sendCode()
	// A wrong code is refused and counted.
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	_, err = b.svc.VerifyDestinationNumber(b.ctx, &sv.VerifyDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationCode: ptr(wrong)})
	fe = faultOf(t, err)
	require.Equal(t, fault.Invalid, fe.Kind)
	require.Equal(t, "VERIFICATION_CODE_MISMATCH", fe.Reason)
	require.Contains(t, fe.Message, "4 attempts left")

	// A code expires.
	b.clock.Advance(sms.CodeTTL + time.Second)
	_, err = b.svc.VerifyDestinationNumber(b.ctx, &sv.VerifyDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationCode: ptr(code)})
	require.Equal(t, "VERIFICATION_CODE_EXPIRED", faultOf(t, err).Reason)

	// Five wrong guesses discard a code.
	code = sendCode()
	for range sms.MaxCodeAttempts {
		_, err = b.svc.VerifyDestinationNumber(b.ctx, &sv.VerifyDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationCode: ptr("9999999")})
		require.Equal(t, "VERIFICATION_CODE_MISMATCH", faultOf(t, err).Reason)
	}
	_, err = b.svc.VerifyDestinationNumber(b.ctx, &sv.VerifyDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationCode: ptr(code)})
	require.Equal(t, "VERIFICATION_CODE_EXPIRED", faultOf(t, err).Reason)

	code = sendCode()
	ok, err := b.svc.VerifyDestinationNumber(b.ctx, &sv.VerifyDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberArn, VerificationCode: ptr(code)})
	require.NoError(t, err)
	require.Equal(t, sv.VerificationStatusVerified, *ok.Status)
	_, err = b.svc.VerifyDestinationNumber(b.ctx, &sv.VerifyDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationCode: ptr(code)})
	require.Equal(t, "VERIFICATION_ALREADY_COMPLETE", faultOf(t, err).Reason)
	_, err = b.svc.SendDestinationNumberVerificationCode(b.ctx, &sv.SendDestinationNumberVerificationCodeRequest{
		VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationChannel: ptr(sv.VerificationChannelText)})
	require.Equal(t, "VERIFICATION_ALREADY_COMPLETE", faultOf(t, err).Reason)
	require.NoError(t, send(), "verified: the sandbox lets it through")

	// Describe: by ID, by number, filtered, paged.
	v2, err := b.svc.CreateVerifiedDestinationNumber(b.ctx, &sv.CreateVerifiedDestinationNumberRequest{DestinationPhoneNumber: ptr("+447911123456")})
	require.NoError(t, err)
	d, err := b.svc.DescribeVerifiedDestinationNumbers(b.ctx, &sv.DescribeVerifiedDestinationNumbersRequest{
		Filters: []sv.VerifiedDestinationNumberFilter{{Name: ptr(sv.VerifiedDestinationNumberFilterNameStatus), Values: []string{"PENDING"}}}})
	require.NoError(t, err)
	require.Len(t, d.VerifiedDestinationNumbers, 1)
	require.Equal(t, *v2.VerifiedDestinationNumberId, *d.VerifiedDestinationNumbers[0].VerifiedDestinationNumberId)
	d, err = b.svc.DescribeVerifiedDestinationNumbers(b.ctx, &sv.DescribeVerifiedDestinationNumbersRequest{DestinationPhoneNumbers: []string{dest}})
	require.NoError(t, err)
	require.Equal(t, sv.VerificationStatusVerified, *d.VerifiedDestinationNumbers[0].Status)
	d, err = b.svc.DescribeVerifiedDestinationNumbers(b.ctx, &sv.DescribeVerifiedDestinationNumbersRequest{MaxResults: ptr(int64(1))})
	require.NoError(t, err)
	require.Len(t, d.VerifiedDestinationNumbers, 1)
	require.NotNil(t, d.NextToken)
	d2, err := b.svc.DescribeVerifiedDestinationNumbers(b.ctx, &sv.DescribeVerifiedDestinationNumbersRequest{MaxResults: ptr(int64(1)), NextToken: d.NextToken})
	require.NoError(t, err)
	require.Len(t, d2.VerifiedDestinationNumbers, 1)
	require.Nil(t, d2.NextToken)
	require.NotEqual(t, *d.VerifiedDestinationNumbers[0].VerifiedDestinationNumberId, *d2.VerifiedDestinationNumbers[0].VerifiedDestinationNumberId)
	_, err = b.svc.DescribeVerifiedDestinationNumbers(b.ctx, &sv.DescribeVerifiedDestinationNumbersRequest{VerifiedDestinationNumberIds: []string{"verified-nope"}})
	fe = faultOf(t, err)
	require.Equal(t, fault.NotFound, fe.Kind)
	require.Equal(t, "verified-destination-number", fe.ResourceType)

	// Deleted: the sandbox refuses the number again.
	_, err = b.svc.DeleteVerifiedDestinationNumber(b.ctx, &sv.DeleteVerifiedDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId})
	require.NoError(t, err)
	require.Equal(t, "DESTINATION_PHONE_NUMBER_NOT_VERIFIED", faultOf(t, send()).Reason)
	_, err = b.svc.DeleteVerifiedDestinationNumber(b.ctx, &sv.DeleteVerifiedDestinationNumberRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId})
	require.Equal(t, fault.NotFound, faultOf(t, err).Kind)
	require.NoError(t, b.svc.SetAccountTier(b.ctx, sms.TierProduction))
	require.NoError(t, send(), "out of the sandbox")
}

func TestVerificationCodesPerDay(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	longCode(t, b)
	v, err := b.svc.CreateVerifiedDestinationNumber(b.ctx, &sv.CreateVerifiedDestinationNumberRequest{DestinationPhoneNumber: ptr("+12065550142")})
	require.NoError(t, err)
	req := &sv.SendDestinationNumberVerificationCodeRequest{VerifiedDestinationNumberId: v.VerifiedDestinationNumberId, VerificationChannel: ptr(sv.VerificationChannelText)}
	for range sms.MaxCodesPerDay {
		_, err := b.svc.SendDestinationNumberVerificationCode(b.ctx, req)
		require.NoError(t, err)
	}
	_, err = b.svc.SendDestinationNumberVerificationCode(b.ctx, req)
	fe := faultOf(t, err)
	require.Equal(t, fault.QuotaExceeded, fe.Kind)
	require.Equal(t, "VERIFICATION_ATTEMPTS_PER_DAY", fe.Reason)
	b.clock.Advance(24 * time.Hour)
	_, err = b.svc.SendDestinationNumberVerificationCode(b.ctx, req)
	require.NoError(t, err)
	// Voice needs the synthesizer.
	req.VerificationChannel = ptr(sv.VerificationChannelVoice)
	_, err = b.svc.SendDestinationNumberVerificationCode(b.ctx, req)
	require.True(t, fault.Is(err, fault.Unavailable), "%v", err)
}

func TestResourcePoliciesAndSenderIDs(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	n := b.simNumber(t)
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sms-voice:SendTextMessage","Resource":"*"}]}`
	got, err := b.svc.GetResourcePolicy(b.ctx, &sv.GetResourcePolicyRequest{ResourceArn: n.PhoneNumberArn})
	require.NoError(t, err)
	require.Nil(t, got.Policy)
	put, err := b.svc.PutResourcePolicy(b.ctx, &sv.PutResourcePolicyRequest{ResourceArn: n.PhoneNumberArn, Policy: ptr(policy)})
	require.NoError(t, err)
	require.Equal(t, policy, *put.Policy)
	got, err = b.svc.GetResourcePolicy(b.ctx, &sv.GetResourcePolicyRequest{ResourceArn: n.PhoneNumberArn})
	require.NoError(t, err)
	require.Equal(t, policy, *got.Policy)
	require.Equal(t, put.CreatedTimestamp.UnixMilli(), got.CreatedTimestamp.UnixMilli())

	_, err = b.svc.PutResourcePolicy(b.ctx, &sv.PutResourcePolicyRequest{ResourceArn: n.PhoneNumberArn, Policy: ptr("{not json")})
	require.Equal(t, fault.Invalid, faultOf(t, err).Kind)
	_, err = b.svc.PutResourcePolicy(b.ctx, &sv.PutResourcePolicyRequest{ResourceArn: ptr("arn:aws:sms-voice:us-east-1:" + acct + ":phone-number/phone-nope"), Policy: ptr(policy)})
	fe := faultOf(t, err)
	require.Equal(t, fault.NotFound, fe.Kind)
	require.Equal(t, "phone-number", fe.ResourceType)
	_, err = b.svc.PutResourcePolicy(b.ctx, &sv.PutResourcePolicyRequest{ResourceArn: ptr("arn:aws:sns:us-east-1:" + acct + ":topic"), Policy: ptr(policy)})
	require.Equal(t, "INVALID_ARN", faultOf(t, err).Reason)

	// A deleted opt-out list loses its policy: a new list of that name has none.
	l, err := b.svc.CreateOptOutList(b.ctx, &sv.CreateOptOutListRequest{OptOutListName: ptr("marketing")})
	require.NoError(t, err)
	_, err = b.svc.PutResourcePolicy(b.ctx, &sv.PutResourcePolicyRequest{ResourceArn: l.OptOutListArn, Policy: ptr(policy)})
	require.NoError(t, err)
	_, err = b.svc.DeleteOptOutList(b.ctx, &sv.DeleteOptOutListRequest{OptOutListName: ptr("marketing")})
	require.NoError(t, err)
	_, err = b.svc.CreateOptOutList(b.ctx, &sv.CreateOptOutListRequest{OptOutListName: ptr("marketing")})
	require.NoError(t, err)
	got, err = b.svc.GetResourcePolicy(b.ctx, &sv.GetResourcePolicyRequest{ResourceArn: l.OptOutListArn})
	require.NoError(t, err)
	require.Nil(t, got.Policy)

	del, err := b.svc.DeleteResourcePolicy(b.ctx, &sv.DeleteResourcePolicyRequest{ResourceArn: n.PhoneNumberArn})
	require.NoError(t, err)
	require.Equal(t, policy, *del.Policy)
	_, err = b.svc.DeleteResourcePolicy(b.ctx, &sv.DeleteResourcePolicyRequest{ResourceArn: n.PhoneNumberArn})
	require.Equal(t, fault.NotFound, faultOf(t, err).Kind)

	// UpdateSenderId: deletion protection blocks a release until lifted.
	sid, err := b.svc.RequestSenderId(b.ctx, &sv.RequestSenderIdRequest{SenderId: ptr("TIDINGS"), IsoCountryCode: ptr("GB")})
	require.NoError(t, err)
	up, err := b.svc.UpdateSenderId(b.ctx, &sv.UpdateSenderIdRequest{SenderId: ptr("TIDINGS"), IsoCountryCode: ptr("gb"), DeletionProtectionEnabled: ptr(true)})
	require.NoError(t, err)
	require.True(t, *up.DeletionProtectionEnabled)
	require.Equal(t, *sid.SenderIdArn, *up.SenderIdArn)
	_, err = b.svc.ReleaseSenderId(b.ctx, &sv.ReleaseSenderIdRequest{SenderId: ptr("TIDINGS"), IsoCountryCode: ptr("GB")})
	require.Equal(t, "DELETION_PROTECTION_ENABLED", faultOf(t, err).Reason)
	_, err = b.svc.UpdateSenderId(b.ctx, &sv.UpdateSenderIdRequest{SenderId: ptr("TIDINGS"), IsoCountryCode: ptr("GB"), DeletionProtectionEnabled: ptr(false)})
	require.NoError(t, err)
	_, err = b.svc.ReleaseSenderId(b.ctx, &sv.ReleaseSenderIdRequest{SenderId: ptr("TIDINGS"), IsoCountryCode: ptr("GB")})
	require.NoError(t, err)
	_, err = b.svc.UpdateSenderId(b.ctx, &sv.UpdateSenderIdRequest{SenderId: ptr("TIDINGS"), IsoCountryCode: ptr("GB"), DeletionProtectionEnabled: ptr(true)})
	require.Equal(t, fault.NotFound, faultOf(t, err).Kind)
}

func TestMessageFeedback(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	b.simNumber(t)
	_, err := b.svc.CreateConfigurationSet(b.ctx, &sv.CreateConfigurationSetRequest{ConfigurationSetName: ptr("otp")})
	require.NoError(t, err)
	set, err := b.svc.SetDefaultMessageFeedbackEnabled(b.ctx, &sv.SetDefaultMessageFeedbackEnabledRequest{ConfigurationSetName: ptr("otp"), MessageFeedbackEnabled: ptr(true)})
	require.NoError(t, err)
	require.True(t, *set.MessageFeedbackEnabled)
	d, err := b.svc.DescribeConfigurationSets(b.ctx, &sv.DescribeConfigurationSetsRequest{ConfigurationSetNames: []string{"otp"}})
	require.NoError(t, err)
	require.True(t, *d.ConfigurationSets[0].DefaultMessageFeedbackEnabled)
	_, err = b.svc.SetDefaultMessageFeedbackEnabled(b.ctx, &sv.SetDefaultMessageFeedbackEnabledRequest{ConfigurationSetName: ptr("nope"), MessageFeedbackEnabled: ptr(true)})
	require.Equal(t, fault.NotFound, faultOf(t, err).Kind)

	out, err := b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(success), MessageBody: ptr("Your code is 123456"), ConfigurationSetName: ptr("otp")})
	require.NoError(t, err)
	fb, err := b.svc.PutMessageFeedback(b.ctx, &sv.PutMessageFeedbackRequest{MessageId: out.MessageId, MessageFeedbackStatus: ptr(sv.MessageFeedbackStatusReceived)})
	require.NoError(t, err)
	require.Equal(t, sv.MessageFeedbackStatusReceived, *fb.MessageFeedbackStatus)
	_, err = b.svc.PutMessageFeedback(b.ctx, &sv.PutMessageFeedbackRequest{MessageId: ptr("nope"), MessageFeedbackStatus: ptr(sv.MessageFeedbackStatusFailed)})
	fe := faultOf(t, err)
	require.Equal(t, fault.NotFound, fe.Kind)
	require.Equal(t, "message", fe.ResourceType)
	// Another account cannot report on it.
	other := iam.WithPrincipal(context.Background(), iam.Principal{AccountID: "444455556666"})
	_, err = b.svc.PutMessageFeedback(other, &sv.PutMessageFeedbackRequest{MessageId: out.MessageId, MessageFeedbackStatus: ptr(sv.MessageFeedbackStatusFailed)})
	require.Equal(t, fault.NotFound, faultOf(t, err).Kind)
}

func TestCarrierLookup(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	look := func(n string) *sv.CarrierLookupResult {
		t.Helper()
		out, err := b.svc.CarrierLookup(b.ctx, &sv.CarrierLookupRequest{PhoneNumber: ptr(n)})
		require.NoError(t, err)
		return out
	}
	m := look("+447400123456")
	require.Equal(t, "+447400123456", *m.E164PhoneNumber)
	require.Equal(t, "GB", *m.IsoCountryCode)
	require.Equal(t, "United Kingdom", *m.Country)
	require.Equal(t, "44", *m.DialingCountryCode)
	require.Equal(t, sv.PhoneNumberTypeMobile, *m.PhoneNumberType)
	require.NotNil(t, m.Carrier, "libphonenumber knows UK mobile ranges")
	require.Equal(t, sv.PhoneNumberTypeLandline, *look("+442079460000").PhoneNumberType)
	require.Equal(t, sv.PhoneNumberTypeLandline, *look("+33142685300").PhoneNumberType)
	require.Equal(t, sv.PhoneNumberTypeInvalid, *look("+1206").PhoneNumberType)
	_, err := b.svc.CarrierLookup(b.ctx, &sv.CarrierLookupRequest{PhoneNumber: ptr("2065550123")})
	require.Equal(t, fault.Invalid, faultOf(t, err).Kind)
}

func TestProtectConfigurations(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{noWorker: true})
	n, err := b.svc.RequestPhoneNumber(b.ctx, &sv.RequestPhoneNumberRequest{IsoCountryCode: ptr("US"), MessageType: ptr(sv.MessageTypeTransactional),
		NumberCapabilities: []sv.NumberCapability{sv.NumberCapabilitySms}, NumberType: ptr(sv.RequestableNumberTypeLongCode), InternationalSendingEnabled: ptr(true)})
	require.NoError(t, err)
	send := func(dest, cs string) error {
		req := &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(dest), MessageBody: ptr("x"), OriginationIdentity: n.PhoneNumberId}
		if cs != "" {
			req.ConfigurationSetName = ptr(cs)
		}
		_, err := b.svc.SendTextMessage(b.ctx, req)
		return err
	}
	const fr, fr2, us = "+33612345678", "+33612345679", "+12065550123"
	p, err := b.svc.CreateProtectConfiguration(b.ctx, &sv.CreateProtectConfigurationRequest{})
	require.NoError(t, err)
	require.False(t, *p.AccountDefault)
	rs, err := b.svc.UpdateProtectConfigurationCountryRuleSet(b.ctx, &sv.UpdateProtectConfigurationCountryRuleSetRequest{ProtectConfigurationId: p.ProtectConfigurationId,
		NumberCapability: ptr(sv.NumberCapabilitySms), CountryRuleSetUpdates: map[string]sv.ProtectConfigurationCountryRuleSetInformation{"FR": {ProtectStatus: ptr(sv.ProtectStatusBlock)}}})
	require.NoError(t, err)
	require.Equal(t, sv.ProtectStatusBlock, *rs.CountryRuleSet["FR"].ProtectStatus)
	require.Equal(t, sv.ProtectStatusAllow, *rs.CountryRuleSet["DE"].ProtectStatus)
	_, err = b.svc.UpdateProtectConfigurationCountryRuleSet(b.ctx, &sv.UpdateProtectConfigurationCountryRuleSetRequest{ProtectConfigurationId: p.ProtectConfigurationId,
		NumberCapability: ptr(sv.NumberCapabilitySms), CountryRuleSetUpdates: map[string]sv.ProtectConfigurationCountryRuleSetInformation{"XX": {ProtectStatus: ptr(sv.ProtectStatusBlock)}}})
	require.Equal(t, fault.Invalid, faultOf(t, err).Kind)
	voice, err := b.svc.GetProtectConfigurationCountryRuleSet(b.ctx, &sv.GetProtectConfigurationCountryRuleSetRequest{ProtectConfigurationId: p.ProtectConfigurationId,
		NumberCapability: ptr(sv.NumberCapabilityVoice)})
	require.NoError(t, err)
	require.Equal(t, sv.ProtectStatusAllow, *voice.CountryRuleSet["FR"].ProtectStatus, "rule sets are per capability")

	// Not in force until named, associated or the account's default.
	require.NoError(t, send(fr, ""))
	_, err = b.svc.SendTextMessage(b.ctx, &sv.SendTextMessageRequest{DestinationPhoneNumber: ptr(fr), MessageBody: ptr("x"),
		OriginationIdentity: n.PhoneNumberId, ProtectConfigurationId: p.ProtectConfigurationId})
	require.Equal(t, "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION", faultOf(t, err).Reason)

	_, err = b.svc.CreateConfigurationSet(b.ctx, &sv.CreateConfigurationSetRequest{ConfigurationSetName: ptr("cs")})
	require.NoError(t, err)
	_, err = b.svc.AssociateProtectConfiguration(b.ctx, &sv.AssociateProtectConfigurationRequest{ConfigurationSetName: ptr("cs"), ProtectConfigurationId: p.ProtectConfigurationArn})
	require.NoError(t, err)
	d, err := b.svc.DescribeConfigurationSets(b.ctx, &sv.DescribeConfigurationSetsRequest{Filters: []sv.ConfigurationSetFilter{
		{Name: ptr(sv.ConfigurationSetFilterName("protect-configuration-id")), Values: []string{*p.ProtectConfigurationId}}}})
	require.NoError(t, err)
	require.Len(t, d.ConfigurationSets, 1)
	fe := faultOf(t, send(fr, "cs"))
	require.Equal(t, fault.Conflict, fe.Kind)
	require.Equal(t, "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION", fe.Reason)
	require.NoError(t, send(us, "cs"))

	// Number overrides: ALLOW lets one number of a blocked country
	// through; BLOCK stops one number; an expired one is ignored.
	_, err = b.svc.PutProtectConfigurationRuleSetNumberOverride(b.ctx, &sv.PutProtectConfigurationRuleSetNumberOverrideRequest{ProtectConfigurationId: p.ProtectConfigurationId,
		DestinationPhoneNumber: ptr(fr), Action: ptr(sv.ProtectConfigurationRuleOverrideActionAllow)})
	require.NoError(t, err)
	require.NoError(t, send(fr, "cs"))
	require.Error(t, send(fr2, "cs"))
	_, err = b.svc.PutProtectConfigurationRuleSetNumberOverride(b.ctx, &sv.PutProtectConfigurationRuleSetNumberOverrideRequest{ProtectConfigurationId: p.ProtectConfigurationId,
		DestinationPhoneNumber: ptr(us), Action: ptr(sv.ProtectConfigurationRuleOverrideActionBlock), ExpirationTimestamp: smithy.NewTime(b.clock.Now().Add(time.Hour))})
	require.NoError(t, err)
	require.Equal(t, "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE", faultOf(t, send(us, "cs")).Reason)
	list, err := b.svc.ListProtectConfigurationRuleSetNumberOverrides(b.ctx, &sv.ListProtectConfigurationRuleSetNumberOverridesRequest{ProtectConfigurationId: p.ProtectConfigurationId})
	require.NoError(t, err)
	require.Len(t, list.RuleSetNumberOverrides, 2)
	require.Equal(t, us, *list.RuleSetNumberOverrides[0].DestinationPhoneNumber, "in number order")
	list, err = b.svc.ListProtectConfigurationRuleSetNumberOverrides(b.ctx, &sv.ListProtectConfigurationRuleSetNumberOverridesRequest{ProtectConfigurationId: p.ProtectConfigurationId,
		Filters: []sv.ProtectConfigurationRuleSetNumberOverrideFilterItem{{Name: ptr(sv.ProtectConfigurationRuleSetNumberOverrideFilterNameIsoCountryCode), Values: []string{"FR"}}}})
	require.NoError(t, err)
	require.Len(t, list.RuleSetNumberOverrides, 1)
	require.Equal(t, fr, *list.RuleSetNumberOverrides[0].DestinationPhoneNumber)
	page, err := b.svc.ListProtectConfigurationRuleSetNumberOverrides(b.ctx, &sv.ListProtectConfigurationRuleSetNumberOverridesRequest{ProtectConfigurationId: p.ProtectConfigurationId, MaxResults: ptr(int64(1))})
	require.NoError(t, err)
	require.Len(t, page.RuleSetNumberOverrides, 1)
	page, err = b.svc.ListProtectConfigurationRuleSetNumberOverrides(b.ctx, &sv.ListProtectConfigurationRuleSetNumberOverridesRequest{ProtectConfigurationId: p.ProtectConfigurationId, MaxResults: ptr(int64(1)), NextToken: page.NextToken})
	require.NoError(t, err)
	require.Equal(t, fr, *page.RuleSetNumberOverrides[0].DestinationPhoneNumber)
	require.Nil(t, page.NextToken)
	b.clock.Advance(2 * time.Hour)
	require.NoError(t, send(us, "cs"), "the BLOCK override expired")
	_, err = b.svc.DeleteProtectConfigurationRuleSetNumberOverride(b.ctx, &sv.DeleteProtectConfigurationRuleSetNumberOverrideRequest{ProtectConfigurationId: p.ProtectConfigurationId, DestinationPhoneNumber: ptr(fr)})
	require.NoError(t, err)
	require.Error(t, send(fr, "cs"))
	_, err = b.svc.DeleteProtectConfigurationRuleSetNumberOverride(b.ctx, &sv.DeleteProtectConfigurationRuleSetNumberOverrideRequest{ProtectConfigurationId: p.ProtectConfigurationId, DestinationPhoneNumber: ptr(fr)})
	require.Equal(t, fault.NotFound, faultOf(t, err).Kind)

	// The account default applies to sends without a configuration set.
	_, err = b.svc.SetAccountDefaultProtectConfiguration(b.ctx, &sv.SetAccountDefaultProtectConfigurationRequest{ProtectConfigurationId: p.ProtectConfigurationId})
	require.NoError(t, err)
	attrs, err := b.svc.DescribeAccountAttributes(b.ctx, &sv.DescribeAccountAttributesRequest{})
	require.NoError(t, err)
	require.Len(t, attrs.AccountAttributes, 2)
	require.Equal(t, *p.ProtectConfigurationId, *attrs.AccountAttributes[1].Value)
	require.Equal(t, "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION", faultOf(t, send(fr, "")).Reason)
	desc, err := b.svc.DescribeProtectConfigurations(b.ctx, &sv.DescribeProtectConfigurationsRequest{Filters: []sv.ProtectConfigurationFilter{
		{Name: ptr(sv.ProtectConfigurationFilterNameAccountDefault), Values: []string{"true"}}}})
	require.NoError(t, err)
	require.Len(t, desc.ProtectConfigurations, 1)
	require.True(t, *desc.ProtectConfigurations[0].AccountDefault)

	// Deletion: refused while protected, the default or associated.
	_, err = b.svc.UpdateProtectConfiguration(b.ctx, &sv.UpdateProtectConfigurationRequest{ProtectConfigurationId: p.ProtectConfigurationId, DeletionProtectionEnabled: ptr(true)})
	require.NoError(t, err)
	del := func() error {
		_, err := b.svc.DeleteProtectConfiguration(b.ctx, &sv.DeleteProtectConfigurationRequest{ProtectConfigurationId: p.ProtectConfigurationId})
		return err
	}
	require.Equal(t, "DELETION_PROTECTION_ENABLED", faultOf(t, del()).Reason)
	_, err = b.svc.UpdateProtectConfiguration(b.ctx, &sv.UpdateProtectConfigurationRequest{ProtectConfigurationId: p.ProtectConfigurationId, DeletionProtectionEnabled: ptr(false)})
	require.NoError(t, err)
	require.Equal(t, "PROTECT_CONFIGURATION_IS_ACCOUNT_DEFAULT", faultOf(t, del()).Reason)
	_, err = b.svc.DeleteAccountDefaultProtectConfiguration(b.ctx, &sv.DeleteAccountDefaultProtectConfigurationRequest{})
	require.NoError(t, err)
	_, err = b.svc.DeleteAccountDefaultProtectConfiguration(b.ctx, &sv.DeleteAccountDefaultProtectConfigurationRequest{})
	require.Equal(t, fault.NotFound, faultOf(t, err).Kind)
	require.Equal(t, "PROTECT_CONFIGURATION_ASSOCIATED_WITH_CONFIGURATION_SET", faultOf(t, del()).Reason)
	_, err = b.svc.DisassociateProtectConfiguration(b.ctx, &sv.DisassociateProtectConfigurationRequest{ConfigurationSetName: ptr("cs"), ProtectConfigurationId: p.ProtectConfigurationId})
	require.NoError(t, err)
	_, err = b.svc.DisassociateProtectConfiguration(b.ctx, &sv.DisassociateProtectConfigurationRequest{ConfigurationSetName: ptr("cs"), ProtectConfigurationId: p.ProtectConfigurationId})
	require.Equal(t, "PROTECT_CONFIGURATION_NOT_ASSOCIATED_WITH_CONFIGURATION_SET", faultOf(t, err).Reason)
	require.NoError(t, del())
	require.NoError(t, send(fr, "cs"))
	require.Equal(t, fault.NotFound, faultOf(t, del()).Kind)
}
