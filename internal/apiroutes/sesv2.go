package apiroutes

import (
	"context"
	"errors"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
)

// SESv2 registers the SES v2 operations of outbound email: identities,
// configuration sets and event destinations, the suppression list, the
// account, and sending. Email templates are registered with the templates
// package.
func SESv2(srv *awsapi.Server, s *sending.Service) {
	svc := sesv2.Service

	awsapi.Handle(srv, svc, "CreateEmailIdentity", v2(s.CreateEmailIdentity))
	awsapi.Handle(srv, svc, "GetEmailIdentity", v2(s.GetEmailIdentity))
	awsapi.Handle(srv, svc, "ListEmailIdentities", v2(s.ListEmailIdentities))
	awsapi.Handle(srv, svc, "DeleteEmailIdentity", v2(s.DeleteEmailIdentity))
	awsapi.Handle(srv, svc, "PutEmailIdentityDkimAttributes", v2(s.PutEmailIdentityDkimAttributes))
	awsapi.Handle(srv, svc, "PutEmailIdentityDkimSigningAttributes", v2(s.PutEmailIdentityDkimSigningAttributes))
	awsapi.Handle(srv, svc, "PutEmailIdentityMailFromAttributes", v2(s.PutEmailIdentityMailFromAttributes))
	awsapi.Handle(srv, svc, "PutEmailIdentityFeedbackAttributes", v2(s.PutEmailIdentityFeedbackAttributes))
	awsapi.Handle(srv, svc, "PutEmailIdentityConfigurationSetAttributes", v2(s.PutEmailIdentityConfigurationSetAttributes))

	awsapi.Handle(srv, svc, "CreateConfigurationSet", v2(s.CreateConfigurationSet))
	awsapi.Handle(srv, svc, "GetConfigurationSet", v2(s.GetConfigurationSet))
	awsapi.Handle(srv, svc, "ListConfigurationSets", v2(s.ListConfigurationSets))
	awsapi.Handle(srv, svc, "DeleteConfigurationSet", v2(s.DeleteConfigurationSet))
	awsapi.Handle(srv, svc, "PutConfigurationSetSendingOptions", v2(s.PutConfigurationSetSendingOptions))
	awsapi.Handle(srv, svc, "PutConfigurationSetDeliveryOptions", v2(s.PutConfigurationSetDeliveryOptions))
	awsapi.Handle(srv, svc, "PutConfigurationSetReputationOptions", v2(s.PutConfigurationSetReputationOptions))
	awsapi.Handle(srv, svc, "PutConfigurationSetSuppressionOptions", v2(s.PutConfigurationSetSuppressionOptions))
	awsapi.Handle(srv, svc, "PutConfigurationSetTrackingOptions", v2(s.PutConfigurationSetTrackingOptions))
	awsapi.Handle(srv, svc, "PutConfigurationSetArchivingOptions", v2(s.PutConfigurationSetArchivingOptions))
	awsapi.Handle(srv, svc, "PutConfigurationSetVdmOptions", v2(s.PutConfigurationSetVdmOptions))
	awsapi.Handle(srv, svc, "CreateConfigurationSetEventDestination", v2(s.CreateConfigurationSetEventDestination))
	awsapi.Handle(srv, svc, "GetConfigurationSetEventDestinations", v2(s.GetConfigurationSetEventDestinations))
	awsapi.Handle(srv, svc, "UpdateConfigurationSetEventDestination", v2(s.UpdateConfigurationSetEventDestination))
	awsapi.Handle(srv, svc, "DeleteConfigurationSetEventDestination", v2(s.DeleteConfigurationSetEventDestination))

	awsapi.Handle(srv, svc, "PutSuppressedDestination", v2(s.PutSuppressedDestination))
	awsapi.Handle(srv, svc, "GetSuppressedDestination", v2(s.GetSuppressedDestination))
	awsapi.Handle(srv, svc, "ListSuppressedDestinations", v2(s.ListSuppressedDestinations))
	awsapi.Handle(srv, svc, "DeleteSuppressedDestination", v2(s.DeleteSuppressedDestination))

	awsapi.Handle(srv, svc, "GetAccount", v2(s.GetAccount))
	awsapi.Handle(srv, svc, "PutAccountSendingAttributes", v2(s.PutAccountSendingAttributes))
	awsapi.Handle(srv, svc, "PutAccountDetails", v2(s.PutAccountDetails))
	awsapi.Handle(srv, svc, "PutAccountSuppressionAttributes", v2(s.PutAccountSuppressionAttributes))

	// A raw message of up to 40 MB arrives base64-encoded in JSON.
	awsapi.Handle(srv, svc, "SendEmail", v2(s.SendEmail), awsapi.WithBodyLimit(SendBodyLimit))
	awsapi.Handle(srv, svc, "SendBulkEmail", v2(s.SendBulkEmail), awsapi.WithBodyLimit(SendBodyLimit))
}

// SendBodyLimit bounds the request of a send: a message of
// sending.MaxMessageBytes, base64-encoded (4/3) and form- or JSON-quoted.
const SendBodyLimit = 64 << 20

// v2Names are the SES v2 exceptions of refused sends.
var v2Names = map[sending.Reason]string{
	sending.ReasonMessageRejected:   "MessageRejected",
	sending.ReasonBadRequest:        "BadRequestException",
	sending.ReasonAccountPaused:     "SendingPausedException",
	sending.ReasonConfigSetPaused:   "SendingPausedException",
	sending.ReasonMailFromNotVerify: "MailFromDomainNotVerifiedException",
	sending.ReasonTemplateMissing:   "NotFoundException",
}

// v2 maps a refused send to its SES v2 exception.
func v2[I, O any](fn func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		out, err := fn(ctx, in)
		return out, sendError(err, v2Names)
	}
}

func sendError(err error, names map[sending.Reason]string) error {
	var r *sending.Rejection
	if errors.As(err, &r) {
		return &awsapi.Error{Name: names[r.Reason], Message: r.Message}
	}
	return err
}
