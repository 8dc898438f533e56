package sts_test

import (
	"encoding/xml"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/smithy"
	"github.com/tidings/tidings/internal/model/sts"
)

func ptr[T any](v T) *T { return &v }

func TestAssumeRoleRequest(t *testing.T) {
	t.Parallel()
	in := sts.AssumeRoleRequest{
		RoleArn:         ptr("arn:aws:iam::123456789012:role/demo"),
		RoleSessionName: ptr("session 1"),
		DurationSeconds: ptr(int64(60)),
		PolicyArns:      []sts.PolicyDescriptorType{{Arn: ptr("x")}},
	}
	require.EqualError(t, in.Validate(), "3 validation errors detected: "+
		"Value 60 at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900; "+
		"Value 'x' at 'policyArns.1.member.arn' failed to satisfy constraint: Member must have length greater than or equal to 20; "+
		`Value 'session 1' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`)
}

func TestQueryTags(t *testing.T) {
	t.Parallel()
	// The model's member is "arn": the field is exported, the wire name kept.
	f, ok := reflect.TypeFor[sts.PolicyDescriptorType]().FieldByName("Arn")
	require.True(t, ok)
	require.Equal(t, "arn", f.Tag.Get("query"))
	require.Equal(t, "arn", f.Tag.Get("xml"))
	require.Equal(t, "arn,omitzero", f.Tag.Get("json"))

	op := sts.Service.Operations["GetCallerIdentity"]
	require.Equal(t, "GetCallerIdentityResult", op.ResultWrapper)
	require.Equal(t, smithy.AWSQuery, sts.Service.Protocol)
	require.Equal(t, "sts", sts.Service.SigningName, "endpointPrefix stands in for the missing signingName")
	require.Equal(t, "https://sts.amazonaws.com/doc/2011-06-15/", sts.Service.XMLNamespace)
}

func TestTimeXML(t *testing.T) {
	t.Parallel()
	var c sts.Credentials
	require.NoError(t, xml.Unmarshal([]byte(`<Credentials><AccessKeyId>ASIAEXAMPLE12345</AccessKeyId>`+
		`<Expiration>2024-01-02T03:04:05.678Z</Expiration></Credentials>`), &c))
	require.Equal(t, "ASIAEXAMPLE12345", *c.AccessKeyId)
	require.Equal(t, int64(1704164645678), c.Expiration.UnixMilli())
}
