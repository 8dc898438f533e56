package apiroutes

import (
	"github.com/tidings/tidings/internal/awsapi"
	sv "github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/sms"
)

// SMSVoice registers the End User Messaging SMS and voice operations
// (PinpointSMSVoiceV2.*) that the sms service implements. Registrations
// are registered elsewhere.
func SMSVoice(srv *awsapi.Server, s *sms.Service) {
	svc := sv.Service

	awsapi.Handle(srv, svc, "RequestPhoneNumber", s.RequestPhoneNumber)
	awsapi.Handle(srv, svc, "DescribePhoneNumbers", s.DescribePhoneNumbers)
	awsapi.Handle(srv, svc, "UpdatePhoneNumber", s.UpdatePhoneNumber)
	awsapi.Handle(srv, svc, "ReleasePhoneNumber", s.ReleasePhoneNumber)

	awsapi.Handle(srv, svc, "RequestSenderId", s.RequestSenderId)
	awsapi.Handle(srv, svc, "DescribeSenderIds", s.DescribeSenderIds)
	awsapi.Handle(srv, svc, "ReleaseSenderId", s.ReleaseSenderId)

	awsapi.Handle(srv, svc, "CreatePool", s.CreatePool)
	awsapi.Handle(srv, svc, "DescribePools", s.DescribePools)
	awsapi.Handle(srv, svc, "UpdatePool", s.UpdatePool)
	awsapi.Handle(srv, svc, "DeletePool", s.DeletePool)
	awsapi.Handle(srv, svc, "AssociateOriginationIdentity", s.AssociateOriginationIdentity)
	awsapi.Handle(srv, svc, "DisassociateOriginationIdentity", s.DisassociateOriginationIdentity)
	awsapi.Handle(srv, svc, "ListPoolOriginationIdentities", s.ListPoolOriginationIdentities)

	awsapi.Handle(srv, svc, "TagResource", s.TagResource)
	awsapi.Handle(srv, svc, "UntagResource", s.UntagResource)
	awsapi.Handle(srv, svc, "ListTagsForResource", s.ListTagsForResource)

	awsapi.Handle(srv, svc, "CreateConfigurationSet", s.CreateConfigurationSet)
	awsapi.Handle(srv, svc, "DescribeConfigurationSets", s.DescribeConfigurationSets)
	awsapi.Handle(srv, svc, "DeleteConfigurationSet", s.DeleteConfigurationSet)
	awsapi.Handle(srv, svc, "CreateEventDestination", s.CreateEventDestination)
	awsapi.Handle(srv, svc, "UpdateEventDestination", s.UpdateEventDestination)
	awsapi.Handle(srv, svc, "DeleteEventDestination", s.DeleteEventDestination)
	awsapi.Handle(srv, svc, "SetDefaultSenderId", s.SetDefaultSenderId)
	awsapi.Handle(srv, svc, "DeleteDefaultSenderId", s.DeleteDefaultSenderId)
	awsapi.Handle(srv, svc, "SetDefaultMessageType", s.SetDefaultMessageType)
	awsapi.Handle(srv, svc, "DeleteDefaultMessageType", s.DeleteDefaultMessageType)

	awsapi.Handle(srv, svc, "CreateOptOutList", s.CreateOptOutList)
	awsapi.Handle(srv, svc, "DescribeOptOutLists", s.DescribeOptOutLists)
	awsapi.Handle(srv, svc, "DeleteOptOutList", s.DeleteOptOutList)
	awsapi.Handle(srv, svc, "PutOptedOutNumber", s.PutOptedOutNumber)
	awsapi.Handle(srv, svc, "DescribeOptedOutNumbers", s.DescribeOptedOutNumbers)
	awsapi.Handle(srv, svc, "DeleteOptedOutNumber", s.DeleteOptedOutNumber)
	awsapi.Handle(srv, svc, "PutKeyword", s.PutKeyword)
	awsapi.Handle(srv, svc, "DescribeKeywords", s.DescribeKeywords)
	awsapi.Handle(srv, svc, "DeleteKeyword", s.DeleteKeyword)

	awsapi.Handle(srv, svc, "DescribeSpendLimits", s.DescribeSpendLimits)
	awsapi.Handle(srv, svc, "SetTextMessageSpendLimitOverride", s.SetTextMessageSpendLimitOverride)
	awsapi.Handle(srv, svc, "SetVoiceMessageSpendLimitOverride", s.SetVoiceMessageSpendLimitOverride)
	awsapi.Handle(srv, svc, "SetMediaMessageSpendLimitOverride", s.SetMediaMessageSpendLimitOverride)
	awsapi.Handle(srv, svc, "DeleteTextMessageSpendLimitOverride", s.DeleteTextMessageSpendLimitOverride)
	awsapi.Handle(srv, svc, "DeleteVoiceMessageSpendLimitOverride", s.DeleteVoiceMessageSpendLimitOverride)
	awsapi.Handle(srv, svc, "DeleteMediaMessageSpendLimitOverride", s.DeleteMediaMessageSpendLimitOverride)

	awsapi.Handle(srv, svc, "SendTextMessage", s.SendTextMessage)
	awsapi.Handle(srv, svc, "SendVoiceMessage", s.SendVoiceMessage)
	awsapi.Handle(srv, svc, "SendMediaMessage", s.SendMediaMessage)

	awsapi.Handle(srv, svc, "DescribeAccountAttributes", s.DescribeAccountAttributes)
	awsapi.Handle(srv, svc, "DescribeAccountLimits", s.DescribeAccountLimits)

	awsapi.Handle(srv, svc, "CreateVerifiedDestinationNumber", s.CreateVerifiedDestinationNumber)
	awsapi.Handle(srv, svc, "DescribeVerifiedDestinationNumbers", s.DescribeVerifiedDestinationNumbers)
	awsapi.Handle(srv, svc, "DeleteVerifiedDestinationNumber", s.DeleteVerifiedDestinationNumber)
	awsapi.Handle(srv, svc, "SendDestinationNumberVerificationCode", s.SendDestinationNumberVerificationCode)
	awsapi.Handle(srv, svc, "VerifyDestinationNumber", s.VerifyDestinationNumber)

	awsapi.Handle(srv, svc, "UpdateSenderId", s.UpdateSenderId)
	awsapi.Handle(srv, svc, "PutResourcePolicy", s.PutResourcePolicy)
	awsapi.Handle(srv, svc, "GetResourcePolicy", s.GetResourcePolicy)
	awsapi.Handle(srv, svc, "DeleteResourcePolicy", s.DeleteResourcePolicy)

	awsapi.Handle(srv, svc, "PutMessageFeedback", s.PutMessageFeedback)
	awsapi.Handle(srv, svc, "SetDefaultMessageFeedbackEnabled", s.SetDefaultMessageFeedbackEnabled)
	awsapi.Handle(srv, svc, "CarrierLookup", s.CarrierLookup)

	awsapi.Handle(srv, svc, "CreateProtectConfiguration", s.CreateProtectConfiguration)
	awsapi.Handle(srv, svc, "DescribeProtectConfigurations", s.DescribeProtectConfigurations)
	awsapi.Handle(srv, svc, "UpdateProtectConfiguration", s.UpdateProtectConfiguration)
	awsapi.Handle(srv, svc, "DeleteProtectConfiguration", s.DeleteProtectConfiguration)
	awsapi.Handle(srv, svc, "SetAccountDefaultProtectConfiguration", s.SetAccountDefaultProtectConfiguration)
	awsapi.Handle(srv, svc, "DeleteAccountDefaultProtectConfiguration", s.DeleteAccountDefaultProtectConfiguration)
	awsapi.Handle(srv, svc, "GetProtectConfigurationCountryRuleSet", s.GetProtectConfigurationCountryRuleSet)
	awsapi.Handle(srv, svc, "UpdateProtectConfigurationCountryRuleSet", s.UpdateProtectConfigurationCountryRuleSet)
	awsapi.Handle(srv, svc, "AssociateProtectConfiguration", s.AssociateProtectConfiguration)
	awsapi.Handle(srv, svc, "DisassociateProtectConfiguration", s.DisassociateProtectConfiguration)
	awsapi.Handle(srv, svc, "PutProtectConfigurationRuleSetNumberOverride", s.PutProtectConfigurationRuleSetNumberOverride)
	awsapi.Handle(srv, svc, "ListProtectConfigurationRuleSetNumberOverrides", s.ListProtectConfigurationRuleSetNumberOverrides)
	awsapi.Handle(srv, svc, "DeleteProtectConfigurationRuleSetNumberOverride", s.DeleteProtectConfigurationRuleSetNumberOverride)
}
