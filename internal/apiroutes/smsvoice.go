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
}
