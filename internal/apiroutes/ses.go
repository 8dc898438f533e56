package apiroutes

import (
	"context"
	"errors"
	"strings"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/ses"
	"github.com/tidings/tidings/internal/sending"
)

// SES registers the SES v1 (awsQuery) operations of outbound email:
// identities, sending and the quota. Templates are registered with the
// templates package.
func SES(srv *awsapi.Server, s *sending.Service) {
	svc := ses.Service

	awsapi.Handle(srv, svc, "VerifyEmailIdentity", v1(s.VerifyEmailIdentity))
	awsapi.Handle(srv, svc, "VerifyEmailAddress", v1(s.VerifyEmailAddress))
	awsapi.Handle(srv, svc, "VerifyDomainIdentity", v1(s.VerifyDomainIdentity))
	awsapi.Handle(srv, svc, "VerifyDomainDkim", v1(s.VerifyDomainDkim))
	awsapi.Handle(srv, svc, "ListIdentities", v1(s.ListIdentities))
	awsapi.Handle(srv, svc, "GetIdentityVerificationAttributes", v1(s.GetIdentityVerificationAttributes))
	awsapi.Handle(srv, svc, "GetIdentityDkimAttributes", v1(s.GetIdentityDkimAttributes))
	awsapi.Handle(srv, svc, "DeleteIdentity", v1(s.DeleteIdentity))
	awsapi.Handle(srv, svc, "SetIdentityDkimEnabled", v1(s.SetIdentityDkimEnabled))
	awsapi.Handle(srv, svc, "SetIdentityMailFromDomain", v1(s.SetIdentityMailFromDomain))
	awsapi.Handle(srv, svc, "GetIdentityMailFromDomainAttributes", v1(s.GetIdentityMailFromDomainAttributes))
	awsapi.Handle(srv, svc, "SetIdentityFeedbackForwardingEnabled", v1(s.SetIdentityFeedbackForwardingEnabled))
	awsapi.Handle(srv, svc, "ListVerifiedEmailAddresses", v1(s.ListVerifiedEmailAddresses))
	awsapi.Handle(srv, svc, "SetIdentityNotificationTopic", v1(s.SetIdentityNotificationTopic))
	awsapi.Handle(srv, svc, "SetIdentityHeadersInNotificationsEnabled", v1(s.SetIdentityHeadersInNotificationsEnabled))
	awsapi.Handle(srv, svc, "GetIdentityNotificationAttributes", v1(s.GetIdentityNotificationAttributes))
	awsapi.Handle(srv, svc, "DeleteVerifiedEmailAddress", v1(s.DeleteVerifiedEmailAddress))

	awsapi.Handle(srv, svc, "CreateConfigurationSet", v1(s.CreateConfigurationSetV1))
	awsapi.Handle(srv, svc, "DeleteConfigurationSet", v1(s.DeleteConfigurationSetV1))
	awsapi.Handle(srv, svc, "DescribeConfigurationSet", v1(s.DescribeConfigurationSet))
	awsapi.Handle(srv, svc, "ListConfigurationSets", v1(s.ListConfigurationSetsV1))
	awsapi.Handle(srv, svc, "CreateConfigurationSetEventDestination", v1(s.CreateConfigurationSetEventDestinationV1))
	awsapi.Handle(srv, svc, "UpdateConfigurationSetEventDestination", v1(s.UpdateConfigurationSetEventDestinationV1))
	awsapi.Handle(srv, svc, "DeleteConfigurationSetEventDestination", v1(s.DeleteConfigurationSetEventDestinationV1))
	awsapi.Handle(srv, svc, "UpdateConfigurationSetSendingEnabled", v1(s.UpdateConfigurationSetSendingEnabled))
	awsapi.Handle(srv, svc, "UpdateConfigurationSetReputationMetricsEnabled", v1(s.UpdateConfigurationSetReputationMetricsEnabled))
	awsapi.Handle(srv, svc, "PutConfigurationSetDeliveryOptions", v1(s.PutConfigurationSetDeliveryOptionsV1))
	awsapi.Handle(srv, svc, "CreateConfigurationSetTrackingOptions", v1(s.CreateConfigurationSetTrackingOptions))
	awsapi.Handle(srv, svc, "UpdateConfigurationSetTrackingOptions", v1(s.UpdateConfigurationSetTrackingOptions))
	awsapi.Handle(srv, svc, "DeleteConfigurationSetTrackingOptions", v1(s.DeleteConfigurationSetTrackingOptions))

	awsapi.Handle(srv, svc, "SendEmail", v1(s.SendEmailV1))
	awsapi.Handle(srv, svc, "SendRawEmail", v1(s.SendRawEmail), awsapi.WithBodyLimit(SendBodyLimit))
	awsapi.Handle(srv, svc, "SendTemplatedEmail", v1(s.SendTemplatedEmail))
	awsapi.Handle(srv, svc, "SendBulkTemplatedEmail", v1(s.SendBulkTemplatedEmail))

	awsapi.Handle(srv, svc, "GetSendQuota", v1(s.GetSendQuota))
	awsapi.Handle(srv, svc, "GetSendStatistics", v1(s.GetSendStatistics))
	awsapi.Handle(srv, svc, "GetAccountSendingEnabled", v1(s.GetAccountSendingEnabled))
	awsapi.Handle(srv, svc, "UpdateAccountSendingEnabled", v1(s.UpdateAccountSendingEnabled))
}

// v1Names are the SES v1 exceptions of refused sends.
var v1Names = map[sending.Reason]string{
	sending.ReasonMessageRejected:   "MessageRejected",
	sending.ReasonBadRequest:        "InvalidParameterValue",
	sending.ReasonAccountPaused:     "AccountSendingPausedException",
	sending.ReasonConfigSetPaused:   "ConfigurationSetSendingPausedException",
	sending.ReasonMailFromNotVerify: "MailFromDomainNotVerifiedException",
	sending.ReasonTemplateMissing:   "TemplateDoesNotExistException",
}

// v1 maps a refused send to its SES v1 exception, and an invalid input to
// the exception its fault names (InvalidConfigurationSet,
// InvalidTrackingOptions), else to SES v1's InvalidParameterValue.
func v1[I, O any](fn func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		out, err := fn(ctx, in)
		var fe *fault.Error
		if errors.As(err, &fe) && fe.Kind == fault.Invalid {
			name := "InvalidParameterValue"
			if strings.HasPrefix(fe.Reason, "Invalid") {
				name = fe.Reason
			}
			return out, &awsapi.Error{Name: name, Message: fe.Message}
		}
		return out, sendError(err, v1Names)
	}
}
