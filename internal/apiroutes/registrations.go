package apiroutes

import (
	"context"
	"errors"

	"github.com/tidings/tidings/internal/awsapi"
	"github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/registrations"
)

// Registrations registers the End User Messaging registration operations
// (PinpointSMSVoiceV2.*Registration*). The phone numbers, pools and sending
// are registered by SMSVoice.
func Registrations(srv *awsapi.Server, s *registrations.Service) {
	svc := smsvoice.Service

	regHandle(srv, "DescribeRegistrationTypeDefinitions", s.DescribeRegistrationTypeDefinitions)
	regHandle(srv, "DescribeRegistrationSectionDefinitions", s.DescribeRegistrationSectionDefinitions)
	regHandle(srv, "DescribeRegistrationFieldDefinitions", s.DescribeRegistrationFieldDefinitions)

	regHandle(srv, "CreateRegistration", s.CreateRegistration)
	regHandle(srv, "DescribeRegistrations", s.DescribeRegistrations)
	regHandle(srv, "DeleteRegistration", s.DeleteRegistration)

	regHandle(srv, "DescribeRegistrationFieldValues", s.DescribeRegistrationFieldValues)
	regHandle(srv, "PutRegistrationFieldValue", s.PutRegistrationFieldValue)
	regHandle(srv, "DeleteRegistrationFieldValue", s.DeleteRegistrationFieldValue)

	// An attachment body is at most 500 KB, 1.5 MiB in the model; its
	// base64 in JSON a third more.
	awsapi.Handle(srv, svc, "CreateRegistrationAttachment", regFieldErrors(s.CreateRegistrationAttachment), awsapi.WithBodyLimit(4<<20))
	regHandle(srv, "DescribeRegistrationAttachments", s.DescribeRegistrationAttachments)
	regHandle(srv, "DeleteRegistrationAttachment", s.DeleteRegistrationAttachment)

	regHandle(srv, "CreateRegistrationAssociation", s.CreateRegistrationAssociation)
	regHandle(srv, "ListRegistrationAssociations", s.ListRegistrationAssociations)

	regHandle(srv, "CreateRegistrationVersion", s.CreateRegistrationVersion)
	regHandle(srv, "DescribeRegistrationVersions", s.DescribeRegistrationVersions)
	regHandle(srv, "SubmitRegistrationVersion", s.SubmitRegistrationVersion)
	regHandle(srv, "DiscardRegistrationVersion", s.DiscardRegistrationVersion)
}

func regHandle[I, O any](srv *awsapi.Server, op string, fn func(context.Context, *I) (*O, error)) {
	awsapi.Handle(srv, smsvoice.Service, op, regFieldErrors(fn))
}

// regFieldErrors answers a registrations.ValidationError as the modeled
// ValidationException with its Reason and Fields (name and message of
// each field at fault).
func regFieldErrors[I, O any](fn func(context.Context, *I) (*O, error)) func(context.Context, *I) (*O, error) {
	return func(ctx context.Context, in *I) (*O, error) {
		out, err := fn(ctx, in)
		var ve *registrations.ValidationError
		if errors.As(err, &ve) {
			fields := make([]map[string]string, len(ve.Fields))
			for i, f := range ve.Fields {
				fields[i] = map[string]string{"Name": f.Name, "Message": f.Message}
			}
			return nil, &awsapi.Error{Name: "ValidationException", Message: ve.Message,
				Fields: map[string]any{"Reason": ve.Reason, "Fields": fields}}
		}
		return out, err
	}
}
