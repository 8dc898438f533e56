package ses_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/ses"
	"github.com/tidings/tidings/internal/model/smithy"
)

func ptr[T any](v T) *T { return &v }

func TestSendEmailRequest(t *testing.T) {
	t.Parallel()
	in := ses.SendEmailRequest{
		Source:      ptr("sender@example.com"),
		Destination: &ses.Destination{ToAddresses: []string{"rcpt@example.com"}},
		Message:     &ses.Message{Subject: &ses.Content{Data: ptr("hi")}, Body: &ses.Body{}},
	}
	require.NoError(t, in.Validate())
	in.Message = &ses.Message{Body: &ses.Body{Text: &ses.Content{}}}
	in.Source = nil
	// Violations come in model member order (Body before Subject).
	require.EqualError(t, in.Validate(), "3 validation errors detected: "+
		"Value null at 'message.body.text.data' failed to satisfy constraint: Member must not be null; "+
		"Value null at 'message.subject' failed to satisfy constraint: Member must not be null; "+
		"Value null at 'source' failed to satisfy constraint: Member must not be null")
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	// awsQuery errors carry their own code.
	require.Equal(t, &smithy.ErrorShape{Name: "AlreadyExistsException", Code: "AlreadyExists", HTTPStatus: 400, Sender: true},
		ses.Service.Errors["AlreadyExistsException"])
	op := ses.Service.Operations["SendEmail"]
	require.Equal(t, "SendEmailResult", op.ResultWrapper)
	require.Contains(t, op.Errors, "MessageRejected")
	require.Nil(t, ses.Service.Operations["DeleteVerifiedEmailAddress"].NewOutput, "no output shape")
}
