package awsapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sesv2types "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

func (b *bundle) callREST(t *testing.T, method, path string, body []byte, header map[string]string) ([]byte, int, map[string]string) {
	t.Helper()
	req := b.newRequest(t, method, path, body, header)
	resp, rb := do(t, sign(t, req, body, "ses", time.Now()))
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return rb, resp.StatusCode, h
}

// TestRESTLabelDoubleEncoding sends a label with a space, '+' and '@': the
// path is signed double-encoded and the handler sees the label decoded.
func TestRESTLabelDoubleEncoding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, status, h := b.callREST(t, "GET", "/v2/email/identities/a%20b%2Bc%40example.com", nil, nil)
	require.Equal(t, 200, status, string(body))
	require.Equal(t, "application/json", h["Content-Type"])
	require.Equal(t, `{"IdentityType":"EMAIL_ADDRESS","VerifiedForSendingStatus":true}`, string(body))
	require.Equal(t, "a b+c@example.com", *b.lastInput("GetEmailIdentity").(*sv2GetEmailIdentityInput).EmailIdentity)

	// The same with '@' and '+' left raw on the wire: '+' is a plus in a path.
	body, status, _ = b.callREST(t, "GET", "/v2/email/identities/x+y@example.com", nil, nil)
	require.Equal(t, 200, status, string(body))
	require.Equal(t, "x+y@example.com", *b.lastInput("GetEmailIdentity").(*sv2GetEmailIdentityInput).EmailIdentity)
}

// TestRESTWithSESv2Client drives the fake SES v2 with the real Go SDK client.
func TestRESTWithSESv2Client(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := sesv2.New(sesv2.Options{
		BaseEndpoint: aws.String(b.ts.URL),
		Region:       testRegion,
		Credentials:  aws.NewCredentialsCache(staticCreds{}),
	})
	ctx := context.Background()
	out, err := c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("Jane Doe+news@example.com")})
	require.NoError(t, err)
	require.Equal(t, sesv2types.IdentityTypeEmailAddress, out.IdentityType)
	require.True(t, out.VerifiedForSendingStatus)
	require.Equal(t, "Jane Doe+news@example.com", *b.lastInput("GetEmailIdentity").(*sv2GetEmailIdentityInput).EmailIdentity)

	_, err = c.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: aws.String("missing@example.com")})
	var nf *sesv2types.NotFoundException
	require.ErrorAs(t, err, &nf)
	require.Equal(t, "Email identity missing@example.com does not exist.", nf.ErrorMessage())

	_, err = c.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("exists@example.com")})
	var ae *sesv2types.AlreadyExistsException
	require.ErrorAs(t, err, &ae)

	start, end := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	_, err = c.ListSuppressedDestinations(ctx, &sesv2.ListSuppressedDestinationsInput{
		Reasons:   []sesv2types.SuppressionListReason{"BOUNCE", "COMPLAINT"},
		StartDate: &start, EndDate: &end, PageSize: aws.Int32(7), NextToken: aws.String("a b&c"),
	})
	require.NoError(t, err)
	in := b.lastInput("ListSuppressedDestinations").(*sv2ListSuppressedInput)
	require.Equal(t, []sv2Reason{"BOUNCE", "COMPLAINT"}, in.Reasons)
	require.Equal(t, end, in.EndDate.Time)
	require.EqualValues(t, 7, *in.PageSize)
	require.Equal(t, "a b&c", *in.NextToken)

	// A model error the SDK does not know still surfaces with its code.
	_, err = c.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("broken@example.com")})
	var api smithy.APIError
	require.True(t, errors.As(err, &api))
	require.Equal(t, "InternalServiceErrorException", api.ErrorCode())
}

type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, nil
}

func TestRESTErrorsGolden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, status, h := b.callREST(t, "GET", "/v2/email/identities/missing@example.com", nil, nil)
	require.Equal(t, 404, status)
	require.Equal(t, "NotFoundException", h["X-Amzn-Errortype"])
	require.Equal(t, "application/json", h["Content-Type"])
	require.Equal(t, `{"__type":"NotFoundException","message":"Email identity missing@example.com does not exist.","Message":"Email identity missing@example.com does not exist."}`, string(body))

	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/v2/email/identities", `{}`, 400, "BadRequestException"},
		{"POST", "/v2/email/identities", `{"EmailIdentity":"exists@example.com"}`, 400, "AlreadyExistsException"},
		{"POST", "/v2/email/identities", `{"EmailIdentity":"broken@example.com"}`, 500, "InternalServiceErrorException"},
		{"POST", "/v2/email/identities", `{"EmailIdentity":5}`, 400, "SerializationException"},
		{"GET", "/v2/email/suppression/addresses?PageSize=many", ``, 400, "SerializationException"},
		{"GET", "/v2/email/suppression/addresses?EndDate=yesterday", ``, 400, "SerializationException"},
		{"DELETE", "/v2/email/suppression/addresses/x@example.com", ``, 501, "NotImplemented"},
		{"DELETE", "/v2/email/identities/x@example.com", ``, 405, "UnknownOperationException"},
		{"GET", "/v2/email/nothing", ``, 404, "UnknownOperationException"},
		{"PUT", "/v2/objects/k", string(make([]byte, 65)), 413, "RequestEntityTooLargeException"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			body, status, h := b.callREST(t, c.method, c.path, []byte(c.body), nil)
			require.Equal(t, c.status, status, string(body))
			require.Equal(t, c.code, h["X-Amzn-Errortype"])
			code, _ := jsonError(t, body)
			require.Equal(t, c.code, code)
		})
	}
}

// TestRESTMostSpecificTemplate: .../contacts/list is ListContacts, not
// GetContact with EmailAddress "list".
func TestRESTMostSpecificTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, status, _ := b.callREST(t, "GET", "/v2/email/contact-lists/news/contacts/list?PageSize=3", nil, nil)
	require.Equal(t, 200, status, string(body))
	require.Equal(t, `{"List":"news"}`, string(body))
	require.EqualValues(t, 3, *b.lastInput("ListContacts").(*sv2ListContactsInput).PageSize)

	body, status, _ = b.callREST(t, "GET", "/v2/email/contact-lists/news/contacts/jane%40example.com", nil, nil)
	require.Equal(t, 200, status, string(body))
	require.Equal(t, `{"EmailAddress":"jane@example.com"}`, string(body))
}

// TestRESTBindings covers greedy labels, headers, prefix headers, a query
// map, a blob payload, an output header and a status code member.
func TestRESTBindings(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body, status, h := b.callREST(t, "PUT", "/v2/objects/a/b%20c/d.txt?v=3&x=1&x=2&y=z", []byte("hello"), map[string]string{
		"X-Trace":           "t-1",
		"If-Modified-Since": "Mon, 06 May 2024 07:08:09 GMT",
		"X-Tags":            "red, green",
		"X-Meta-Owner":      "jane",
		"Content-Type":      "application/octet-stream",
	})
	require.Equal(t, 202, status, string(body))
	require.Equal(t, "echo:hello", string(body))
	require.Equal(t, `"e1"`, h["Etag"])
	in := b.lastInput("PutObject").(*sv2ObjectInput)
	require.Equal(t, "a/b c/d.txt", *in.Key)
	require.Equal(t, "t-1", *in.Trace)
	require.Equal(t, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), in.Since.Time)
	require.Equal(t, []string{"red", "green"}, in.Tags)
	require.Equal(t, map[string]string{"owner": "jane"}, in.Meta)
	require.Equal(t, map[string]string{"x": "1", "y": "z"}, in.Params)
	require.EqualValues(t, 3, *in.Version)
	require.Equal(t, []byte("hello"), in.Body)
	require.Nil(t, in.Ignored)
}

func TestRouteRanking(t *testing.T) {
	t.Parallel()
	require.True(t, lessRank([]int{0, 0, 0, 0, 0, 1}, []int{0, 0, 0, 1, 0, 1}))
	require.False(t, lessRank([]int{0, 2, 1}, []int{0, 1, 1}))
	rt, err := compileRoute(&operation{model: fakeSESv2.Operations["PutObject"]})
	require.NoError(t, err)
	labels, _, ok := rt.match(splitPath("/v2/objects/x/y"), nil)
	require.True(t, ok)
	require.Equal(t, map[string]string{"Key": "x/y"}, labels)
	_, _, ok = rt.match(splitPath("/v2/objects"), nil)
	require.False(t, ok, "a greedy label needs one segment")
}
