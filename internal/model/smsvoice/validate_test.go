package smsvoice_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/smithy"
	"github.com/tidings/tidings/internal/model/smsvoice"
)

func ptr[T any](v T) *T { return &v }

func violations(t *testing.T, err error) []smithy.Violation {
	t.Helper()
	var ve *smithy.ValidationError
	require.True(t, errors.As(err, &ve), "want *smithy.ValidationError, got %v", err)
	return ve.Violations
}

func TestSendTextMessageRequest(t *testing.T) {
	t.Parallel()
	const phonePattern = `Member must satisfy regular expression pattern: \+?[1-9][0-9]{1,18}`
	tests := []struct {
		name string
		in   smsvoice.SendTextMessageRequest
		want []smithy.Violation // nil: valid
	}{
		{
			name: "valid",
			in: smsvoice.SendTextMessageRequest{
				DestinationPhoneNumber: ptr("+14255550100"),
				MessageBody:            ptr("Your code is 123456"),
				MessageType:            ptr(smsvoice.MessageTypeTransactional),
				Context:                map[string]string{"order": "42"},
				TimeToLive:             ptr(int64(300)),
			},
		},
		{
			name: "phone number pattern",
			in:   smsvoice.SendTextMessageRequest{DestinationPhoneNumber: ptr("555-1234")},
			want: []smithy.Violation{{Path: "destinationPhoneNumber", Value: "'555-1234'", Constraint: phonePattern}},
		},
		{
			name: "phone number pattern is anchored",
			in:   smsvoice.SendTextMessageRequest{DestinationPhoneNumber: ptr("call +14255550100")},
			want: []smithy.Violation{{Path: "destinationPhoneNumber", Value: "'call +14255550100'", Constraint: phonePattern}},
		},
		{
			name: "missing phone number, enum and integer out of range",
			in: smsvoice.SendTextMessageRequest{
				MessageType: ptr(smsvoice.MessageType("MARKETING")),
				TimeToLive:  ptr(int64(4)),
			},
			want: []smithy.Violation{
				{Path: "destinationPhoneNumber", Value: "null", Constraint: "Member must not be null"},
				{Path: "messageType", Value: "'MARKETING'", Constraint: "Member must satisfy enum value set: [TRANSACTIONAL, PROMOTIONAL]"},
				{Path: "timeToLive", Value: "4", Constraint: "Member must have value greater than or equal to 5"},
			},
		},
		{
			name: "map keys and values",
			in: smsvoice.SendTextMessageRequest{
				DestinationPhoneNumber: ptr("+14255550100"),
				Context:                map[string]string{"has space": "ok", "k": " leading blank"},
				DestinationCountryParameters: map[string]string{
					"IN_ENTITY_ID": "1",
					"US_THING":     "2",
				},
			},
			want: []smithy.Violation{
				{Path: "context", Value: "'has space'", Constraint: `Map keys must satisfy constraint: [Member must satisfy regular expression pattern: \S+]`},
				// ContextValue is a lookaround pattern, enforced through its RE2 rewrite.
				{Path: "context.k.member", Value: "' leading blank'", Constraint: `Member must satisfy regular expression pattern: (?!\s)^[\s\S]+(?<!\s)`},
				{Path: "destinationCountryParameters", Value: "'US_THING'", Constraint: "Map keys must satisfy constraint: [Member must satisfy enum value set: [IN_TEMPLATE_ID, IN_ENTITY_ID]]"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.in.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Equal(t, tt.want, violations(t, err))
		})
	}
}

func TestServiceErrors(t *testing.T) {
	t.Parallel()
	svc := smsvoice.Service
	require.Equal(t, "PinpointSMSVoiceV2", svc.TargetPrefix)
	require.Equal(t, "sms-voice", svc.SigningName)
	// fault: true and no status in the model: a 500 server fault.
	require.Equal(t, &smithy.ErrorShape{Name: "InternalServerException", Code: "InternalServerException", HTTPStatus: 500, Sender: false},
		svc.Errors["InternalServerException"])
	require.Equal(t, "ClientToken", svc.Operations["CreatePool"].IdempotencyToken)
	require.IsType(t, &smsvoice.SendTextMessageRequest{}, svc.Operations["SendTextMessage"].NewInput())
}
