package awsapi

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/require"
)

func TestQueryDecodeSendEmail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	form := url.Values{
		"Action":                            {"SendEmail"},
		"Version":                           {"2010-12-01"},
		"Source":                            {"Jane <jane@example.com>"},
		"Destination.ToAddresses.member.2":  {"b@example.com"},
		"Destination.ToAddresses.member.1":  {"a@example.com"},
		"Destination.ToAddresses.member.10": {"c@example.com"},
		"Destination.CcAddresses":           {""}, // an empty list, as botocore sends it
		"Message.Subject.Data":              {"Hi & bye"},
		"Tags.member.1.Name":                {"campaign"},
		"Tags.member.1.Value":               {"spring"},
		"Attributes.entry.1.key":            {"k1"},
		"Attributes.entry.1.value":          {"v1"},
		"Attributes.entry.2.key":            {"k2"},
		"Attributes.entry.2.value":          {"v2"},
		"Flat.1":                            {"f1"},
		"Flat.2":                            {"f2"},
		"When":                              {"2024-05-06T07:08:09.500Z"},
		"Max":                               {"42"},
		"Raw":                               {"aGVsbG8="},
		"Unknown.member.1":                  {"ignored"},
	}
	resp, body := b.callQuery(t, "ses", form.Encode())
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, "text/xml", resp.Header.Get("Content-Type"))
	id := resp.Header.Get("X-Amzn-Requestid")
	require.Equal(t, `<SendEmailResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><SendEmailResult><MessageId>0100-abc</MessageId></SendEmailResult><ResponseMetadata><RequestId>`+id+`</RequestId></ResponseMetadata></SendEmailResponse>`, string(body))

	in := b.lastInput("SendEmail").(*sesSendEmailInput)
	require.Equal(t, "Jane <jane@example.com>", *in.Source)
	require.Equal(t, []string{"a@example.com", "b@example.com", "c@example.com"}, in.Destination.ToAddresses)
	require.NotNil(t, in.Destination.CcAddresses)
	require.Empty(t, in.Destination.CcAddresses)
	require.Equal(t, "Hi & bye", *in.Message.Subject.Data)
	require.Equal(t, "campaign", *in.Tags[0].Name)
	require.Equal(t, "spring", *in.Tags[0].Value)
	require.Equal(t, map[string]string{"k1": "v1", "k2": "v2"}, in.Attributes)
	require.Equal(t, []string{"f1", "f2"}, in.Flat)
	require.Equal(t, fixedDate, in.When.Time)
	require.EqualValues(t, 42, *in.Max)
	require.Equal(t, []byte("hello"), in.Raw)
}

func TestQueryOutputGolden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.callQuery(t, "ses", "Action=ListIdentities&Version=2010-12-01")
	require.Equal(t, 200, resp.StatusCode, string(body))
	id := resp.Header.Get("X-Amzn-Requestid")
	require.Equal(t, `<ListIdentitiesResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><ListIdentitiesResult>`+
		`<Identities><member>a@example.com</member><member>example.org</member></Identities>`+
		`<Attrs><entry><key>a.example</key><value><VerificationStatus>Pending</VerificationStatus></value></entry>`+
		`<entry><key>z.example</key><value><VerificationStatus>Success</VerificationStatus></value></entry></Attrs>`+
		`<Flat>f1</Flat><Flat>f2</Flat>`+
		`<Max>200</Max><Ok>true</Ok><At>2024-05-06T07:08:09.500Z</At><Note>a&lt;b &amp; c&gt;d</Note>`+
		`</ListIdentitiesResult><ResponseMetadata><RequestId>`+id+`</RequestId></ResponseMetadata></ListIdentitiesResponse>`, string(body))
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.callQuery(t, "ses", "Action=SendEmail&Version=2010-12-01&Source=reject%40example.com")
	require.Equal(t, 400, resp.StatusCode)
	id := resp.Header.Get("X-Amzn-Requestid")
	require.Equal(t, `<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>Sender</Type><Code>MessageRejected</Code><Message>Email address is not verified.</Message></Error><RequestId>`+id+`</RequestId></ErrorResponse>`, string(body))

	cases := []struct {
		service, form string
		status        int
		code, message string
	}{
		{"ses", "Action=SendEmail&Version=2010-12-01&Source=a%40b.c&ConfigurationSetName=nocs", 400, "ConfigurationSetDoesNotExist", "Configuration set &lt;nocs&gt; does not exist."},
		{"ses", "Action=SendTemplatedEmail&Version=2010-12-01&TemplateName=none", 400, "TemplateDoesNotExist", ""},
		{"ses", "Action=SendTemplatedEmail&Version=2010-12-01&TemplateName=quota", 400, "LimitExceeded", ""},
		{"ses", "Action=SendEmail&Version=2010-12-01", 400, "ValidationError", "Value null at &#39;source&#39;"},
		{"ses", "Action=SendEmail&Version=2010-12-01&Source=x&Max=lots", 400, "InvalidParameterValue", "Max"},
		{"ses", "Action=SendEmail&Version=2010-12-01&Source=x&Tags.member.first.Name=n", 400, "InvalidQueryParameter", ""},
		{"ses", "Action=SendEmail&Version=2010-12-01&Source=x&Attributes.entry.1.value=v", 400, "InvalidParameterValue", "key"},
		{"ses", "Action=SendEmail&Version=2010-12-01&Source=%zz", 400, "MalformedQueryString", ""},
		{"ses", "Action=DeleteIdentity&Version=2010-12-01", 501, "NotImplemented", "DeleteIdentity of service SES"},
		{"ses", "Action=Frobnicate&Version=2010-12-01", 400, "InvalidAction", "Could not find operation Frobnicate for version 2010-12-01"},
		{"ses", "Version=2010-12-01", 400, "MissingAction", ""},
		{"sts", "Action=SendEmail&Version=2010-12-01", 400, "InvalidAction", ""},
	}
	for _, c := range cases {
		t.Run(c.form, func(t *testing.T) {
			resp, body := b.callQuery(t, c.service, c.form)
			require.Equal(t, c.status, resp.StatusCode, string(body))
			require.Contains(t, string(body), "<Code>"+c.code+"</Code>")
			require.Contains(t, string(body), c.message)
		})
	}
}

// TestQueryWithSTSClient calls the fake STS with the real Go SDK client:
// the credential scope "sts" routes the form to STS.
func TestQueryWithSTSClient(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := sts.New(sts.Options{
		BaseEndpoint: aws.String(b.ts.URL),
		Region:       testRegion,
		Credentials:  aws.NewCredentialsCache(staticCreds{}),
	})
	out, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	require.NoError(t, err)
	require.Equal(t, testAccount, *out.Account)
	require.Equal(t, "arn:aws:iam::"+testAccount+":root", *out.Arn)
	require.Equal(t, testKeyID, *out.UserId)
}

// TestQueryAnonymousOperation: an operation registered Anonymous answers
// unsigned requests and still verifies signed ones.
func TestQueryAnonymousOperation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	form := "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=r&WebIdentityToken=t"
	resp, body := do(t, b.newRequest(t, "POST", "/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}))
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Contains(t, string(body), "<Provider>anonymous</Provider>")

	resp, body = b.callQuery(t, "sts", form)
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Contains(t, string(body), "<Provider>signed</Provider>")

	req := b.newRequest(t, "POST", "/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	signAs(t, req, []byte(form), "sts", time.Now(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "bad"})
	resp, body = do(t, req)
	require.Equal(t, 403, resp.StatusCode, string(body))
}
