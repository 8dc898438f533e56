package apiroutes

import (
	"context"

	"github.com/tidings/tidings/internal/awsapi"
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

	awsapi.Handle(srv, svc, "SendEmail", v1(s.SendEmailV1))
	awsapi.Handle(srv, svc, "SendRawEmail", v1(s.SendRawEmail), awsapi.WithBodyLimit(SendBodyLimit))
	awsapi.Handle(srv, svc, "SendTemplatedEmail", v1(s.SendTemplatedEmail))
	awsapi.Handle(srv, svc, "SendBulkTemplatedEmail", v1(s.SendBulkTemplatedEmail))

	awsapi.Handle(srv, svc, "GetSendQuota", v1(s.GetSendQuota))
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

// v1 maps a refused send to its SES v1 exception.
func v1[I, O any](fn func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		out, err := fn(ctx, in)
		return out, sendError(err, v1Names)
	}
}
