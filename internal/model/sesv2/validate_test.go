package sesv2_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
)

func ptr[T any](v T) *T { return &v }

func TestPutAccountDetailsRequest(t *testing.T) {
	t.Parallel()
	valid := sesv2.PutAccountDetailsRequest{
		MailType:                        ptr(sesv2.MailTypeTransactional),
		WebsiteURL:                      ptr("https://example.com/about"),
		AdditionalContactEmailAddresses: []string{"ops@example.com"},
	}
	require.NoError(t, valid.Validate())

	in := sesv2.PutAccountDetailsRequest{
		MailType:                        ptr(sesv2.MailType("SPAM")),
		AdditionalContactEmailAddresses: []string{"ops@example.com", "no-at-sign", "x@y"},
	}
	var ve *smithy.ValidationError
	require.True(t, errors.As(in.Validate(), &ve))
	require.Equal(t, []smithy.Violation{
		// Sensitive shapes print '***', never the address.
		{Path: "additionalContactEmailAddresses.2.member", Value: "'***'", Constraint: "Member must satisfy regular expression pattern: ^(.+)@(.+)$"},
		{Path: "additionalContactEmailAddresses.3.member", Value: "'***'", Constraint: "Member must have length greater than or equal to 6"},
		{Path: "mailType", Value: "'SPAM'", Constraint: "Member must satisfy enum value set: [MARKETING, TRANSACTIONAL]"},
		{Path: "websiteURL", Value: "null", Constraint: "Member must not be null"},
	}, ve.Violations)
}

func TestRestJSONTags(t *testing.T) {
	t.Parallel()
	op := sesv2.Service.Operations["GetDedicatedIp"]
	require.Equal(t, "GET", op.Method)
	require.Equal(t, "/v2/email/dedicated-ips/{IP}", op.RequestURI)
	require.Equal(t, smithy.RESTJSON1, sesv2.Service.Protocol)

	f, ok := reflect.TypeFor[sesv2.GetDedicatedIpRequest]().FieldByName("Ip")
	require.True(t, ok)
	require.Equal(t, "uri", f.Tag.Get("location"))
	require.Equal(t, "IP", f.Tag.Get("locationName"))
	require.Equal(t, "Ip,omitzero", f.Tag.Get("json"))

	f, ok = reflect.TypeFor[sesv2.ListSuppressedDestinationsRequest]().FieldByName("Reasons")
	require.True(t, ok)
	require.Equal(t, "querystring", f.Tag.Get("location"))
	require.Equal(t, "Reason", f.Tag.Get("locationName"))
	require.Equal(t, reflect.TypeFor[[]sesv2.SuppressionListReason](), f.Type)

	require.Equal(t, &smithy.ErrorShape{Name: "InternalServiceErrorException", Code: "InternalServiceErrorException", HTTPStatus: 500, Sender: false},
		sesv2.Service.Errors["InternalServiceErrorException"])
}
