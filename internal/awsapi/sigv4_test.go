package awsapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/iam"
)

// jsonError decodes an awsJson/restJson error body.
func jsonError(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	return e.Type, e.Message
}

// TestSigV4Vector checks the verifier against the get-vanilla case of the
// AWS SigV4 test suite (credentials AKIDEXAMPLE, 20150830T123600Z).
func TestSigV4Vector(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = "example.amazonaws.com"
	req.Header.Set("X-Amz-Date", "20150830T123600Z")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
	v := verifier{
		region: "us-east-1",
		keys:   staticKey{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		now:    func() time.Time { return time.Date(2015, 8, 30, 12, 40, 0, 0, time.UTC) },
	}
	p, err := v.verify(context.Background(), req, nil, "service")
	require.Nil(t, err)
	require.Equal(t, "AKIDEXAMPLE", p.AccessKeyID)

	req.Header.Set("X-Amz-Date", "20150830T123601Z")
	_, err = v.verify(context.Background(), req, nil, "service")
	require.NotNil(t, err)
	require.Equal(t, authBadSignature, err.kind)
	require.Contains(t, err.msg, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123601Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
}

type staticKey struct{ id, secret string }

func (k staticKey) LookupAccessKey(_ context.Context, id string) (string, iam.Principal, error) {
	if id != k.id {
		return "", iam.Principal{}, nil
	}
	return k.secret, iam.Principal{AccountID: "1", AccessKeyID: id}, nil
}

func TestCanonicalForms(t *testing.T) {
	t.Parallel()
	// Non-S3 services encode the wire path once more.
	require.Equal(t, []string{"/v2/email/identities/a%2520b%252Bc%2540example.com"},
		canonicalURIs("/v2/email/identities/a%20b%2Bc%40example.com"))
	// Dot and empty segments are removed first, as botocore and the JS SDK
	// do; the path as sent is tried second (the Go SDK does not normalize).
	require.Equal(t, []string{"/a/c", "/a/./b/..//c"}, canonicalURIs("/a/./b/..//c"))
	require.Equal(t, []string{"/"}, canonicalURIs(""))
	require.Equal(t, "A=1&b=%20%2B&b=x&c=", canonicalQuery("b=x&c&A=1&b=+%2B", false))
	require.Equal(t, "X-Amz-Date=1", canonicalQuery("X-Amz-Signature=abc&X-Amz-Date=1", true))
	require.Equal(t, "a b c", foldSpaces("  a   b c "))
}

func TestSigV4HeaderAndSessionToken(t *testing.T) {
	t.Parallel()
	b := setup(t)

	resp, body := b.callJSON(t, "ListRuleSets", `{}`)
	require.Equal(t, 200, resp.StatusCode, string(body))

	// Temporary credentials: the token is checked by the SessionKeyLookup.
	req := b.newRequest(t, "POST", "/", nil, map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets"})
	signAs(t, req, nil, "ses", time.Now(), aws.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: tempSecret, SessionToken: tempToken})
	resp, body = do(t, req)
	require.Equal(t, 200, resp.StatusCode, string(body))

	req = b.newRequest(t, "POST", "/", nil, map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets"})
	signAs(t, req, nil, "ses", time.Now(), aws.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: tempSecret, SessionToken: "forged"})
	resp, body = do(t, req)
	require.Equal(t, 403, resp.StatusCode)
	code, msg := jsonError(t, body)
	require.Equal(t, "UnrecognizedClientException", code)
	require.Equal(t, "The security token included in the request is invalid.", msg)
}

// TestSigV4OtherRegion: a request signed for another region (a script that
// fixes region_name='us-west-2') is verified with that region and served.
func TestSigV4OtherRegion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.newRequest(t, "POST", "/", nil, map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets"})
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, req, payloadHash(nil), "ses", "us-west-2", time.Now()))
	resp, body := do(t, req)
	require.Equal(t, 200, resp.StatusCode, string(body))

	// Signed for us-west-2 but claiming eu-west-1 in the scope: the
	// signature is checked with the region named, and fails.
	req = b.newRequest(t, "POST", "/", nil, map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets"})
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, req, payloadHash(nil), "ses", "us-west-2", time.Now()))
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/us-west-2/", "/eu-west-1/", 1))
	resp, body = do(t, req)
	require.Equal(t, 403, resp.StatusCode, string(body))
}

func TestSigV4Failures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := []byte(`{"NextToken":"x"}`)
	target := map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets", "Content-Type": "application/x-amz-json-1.0"}

	cases := []struct {
		name    string
		req     func() *http.Request
		status  int
		code    string
		message string
	}{
		{"missing", func() *http.Request {
			return b.newRequest(t, "POST", "/", body, target)
		}, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"unknown key", func() *http.Request {
			return signAs(t, b.newRequest(t, "POST", "/", body, target), body, "ses", time.Now(), aws.Credentials{AccessKeyID: "AKIDNOBODY", SecretAccessKey: "x"})
		}, 403, "UnrecognizedClientException", "The security token included in the request is invalid."},
		{"wrong secret", func() *http.Request {
			return signAs(t, b.newRequest(t, "POST", "/", body, target), body, "ses", time.Now(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "wrong"})
		}, 403, "InvalidSignatureException", "The request signature we calculated does not match"},
		{"tampered body", func() *http.Request {
			req := sign(t, b.newRequest(t, "POST", "/", body, target), body, "ses", time.Now())
			tampered := []byte(`{"NextToken":"y"}`)
			req.Body, req.ContentLength = ioNopCloser(tampered), int64(len(tampered))
			return req
		}, 403, "InvalidSignatureException", "The request signature we calculated does not match"},
		{"tampered signed header", func() *http.Request {
			req := sign(t, b.newRequest(t, "POST", "/", body, target), body, "ses", time.Now())
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			return req
		}, 403, "InvalidSignatureException", "The request signature we calculated does not match"},
		{"content sha256 mismatch", func() *http.Request {
			req := sign(t, b.newRequest(t, "POST", "/", body, target), body, "ses", time.Now())
			req.Header.Set("X-Amz-Content-Sha256", payloadHash([]byte("other")))
			return req
		}, 403, "InvalidSignatureException", "x-amz-content-sha256"},
		{"expired", func() *http.Request {
			return sign(t, b.newRequest(t, "POST", "/", body, target), body, "ses", time.Now().Add(-20*time.Minute))
		}, 403, "InvalidSignatureException", "Signature expired: "},
		{"future", func() *http.Request {
			return sign(t, b.newRequest(t, "POST", "/", body, target), body, "ses", time.Now().Add(20*time.Minute))
		}, 403, "InvalidSignatureException", "Signature not yet current: "},
		{"malformed region", func() *http.Request {
			req := b.newRequest(t, "POST", "/", body, target)
			require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, req, payloadHash(body), "ses", "eu-west-1x", time.Now()))
			return req
		}, 403, "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1x'."},
		{"wrong service", func() *http.Request {
			return sign(t, b.newRequest(t, "POST", "/", body, target), body, "sms-voice", time.Now())
		}, 403, "InvalidSignatureException", "Credential should be scoped to correct service: 'ses'."},
		{"incomplete", func() *http.Request {
			req := b.newRequest(t, "POST", "/", body, target)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testKeyID+"/20240101/us-east-1/ses/aws4_request")
			req.Header.Set("X-Amz-Date", "20240101T000000Z")
			return req
		}, 400, "IncompleteSignatureException", "Authorization header requires 'Signature' parameter."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, rb := do(t, c.req())
			require.Equal(t, c.status, resp.StatusCode, string(rb))
			require.Equal(t, c.code, resp.Header.Get("X-Amzn-Errortype"))
			code, msg := jsonError(t, rb)
			require.Equal(t, c.code, code)
			require.Contains(t, msg, c.message)
		})
	}
	// No failed request reached the handler.
	require.Nil(t, b.lastInput("ListRuleSets"))
}

func ioNopCloser(b []byte) *nopCloser { return &nopCloser{strings.NewReader(string(b))} }

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func TestSigV4LookupFailureIsInternal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.newRequest(t, "POST", "/", nil, map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets"})
	signAs(t, req, nil, "ses", time.Now(), aws.Credentials{AccessKeyID: "AKIDBROKENLOOKUP", SecretAccessKey: "x"})
	resp, body := do(t, req)
	require.Equal(t, 500, resp.StatusCode)
	code, msg := jsonError(t, body)
	require.Equal(t, "InternalServerException", code)
	require.NotContains(t, msg, "database")
	require.True(t, hasLine(b.logs.String(), "database is down"), b.logs.String())
}

func TestSigV4Query(t *testing.T) {
	t.Parallel()
	b := setup(t)
	form := "Action=GetCallerIdentity&Version=2011-06-15"

	// Unsigned: routed by Version, answered in STS's XML.
	req := b.newRequest(t, "POST", "/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	resp, body := do(t, req)
	require.Equal(t, 403, resp.StatusCode)
	require.Equal(t, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>MissingAuthenticationToken</Code><Message>Missing Authentication Token</Message></Error><RequestId>`+resp.Header.Get("X-Amzn-Requestid")+`</RequestId></ErrorResponse>`, string(body))

	// Bad signature and unknown key, in awsQuery's names.
	req = b.newRequest(t, "POST", "/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	signAs(t, req, []byte(form), "sts", time.Now(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: "wrong"})
	resp, body = do(t, req)
	require.Equal(t, 403, resp.StatusCode)
	require.Contains(t, string(body), "<Code>SignatureDoesNotMatch</Code>")

	req = b.newRequest(t, "POST", "/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	signAs(t, req, []byte(form), "sts", time.Now(), aws.Credentials{AccessKeyID: "AKIDNOBODY", SecretAccessKey: "x"})
	resp, body = do(t, req)
	require.Equal(t, 403, resp.StatusCode)
	require.Contains(t, string(body), "<Code>InvalidClientTokenId</Code>")

	req = b.newRequest(t, "POST", "/", []byte(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	sign(t, req, []byte(form), "sts", time.Now().Add(-time.Hour))
	resp, body = do(t, req)
	require.Equal(t, 403, resp.StatusCode)
	require.Contains(t, string(body), "<Code>SignatureDoesNotMatch</Code><Message>Signature expired: ")
}

// TestSigV4Presigned presigns an STS GetCallerIdentity GET, as EKS tokens do.
func TestSigV4Presigned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	presign := func(at time.Time, expires string) string {
		q := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}
		if expires != "" {
			q.Set("X-Amz-Expires", expires)
		}
		req := b.newRequest(t, "GET", "/?"+q.Encode(), nil, nil)
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
			req, "UNSIGNED-PAYLOAD", "sts", testRegion, at)
		require.NoError(t, err)
		return u
	}

	u := presign(time.Now(), "60")
	require.Contains(t, u, "X-Amz-Signature=")
	resp, body := do(t, b.newRequest(t, "GET", strings.TrimPrefix(u, b.ts.URL), nil, nil))
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Contains(t, string(body), "<Account>"+testAccount+"</Account>")

	// Tampering with a signed parameter breaks the signature.
	resp, body = do(t, b.newRequest(t, "GET", strings.Replace(strings.TrimPrefix(u, b.ts.URL), "X-Amz-Expires=60", "X-Amz-Expires=61", 1), nil, nil))
	require.Equal(t, 403, resp.StatusCode)
	require.Contains(t, string(body), "<Code>SignatureDoesNotMatch</Code>")

	// Past its X-Amz-Expires, a presigned URL is expired.
	u = presign(time.Now().Add(-2*time.Minute), "60")
	resp, body = do(t, b.newRequest(t, "GET", strings.TrimPrefix(u, b.ts.URL), nil, nil))
	require.Equal(t, 403, resp.StatusCode)
	require.Contains(t, string(body), "<Message>Signature expired: ")

	// Without X-Amz-Expires the clock-skew window applies.
	u = presign(time.Now().Add(-time.Minute), "")
	resp, body = do(t, b.newRequest(t, "GET", strings.TrimPrefix(u, b.ts.URL), nil, nil))
	require.Equal(t, 200, resp.StatusCode, string(body))
}

// TestSigV4SessionTokenErrors: temporary credentials without their token,
// with another, or expired, in each protocol's words.
func TestSigV4SessionTokenErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	target := map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets", "Content-Type": "application/x-amz-json-1.0"}
	form := "Action=GetCallerIdentity&Version=2011-06-15"
	formHeader := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tc := range []struct {
		name              string
		creds             aws.Credentials
		jsonCode, xmlCode string
		message           string
	}{
		{"no token", aws.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: tempSecret},
			"UnrecognizedClientException", "InvalidClientTokenId", "The security token included in the request is invalid."},
		{"other token", aws.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: tempSecret, SessionToken: tempToken + "x"},
			"UnrecognizedClientException", "InvalidClientTokenId", "The security token included in the request is invalid."},
		{"expired", aws.Credentials{AccessKeyID: expiredKeyID, SecretAccessKey: tempSecret, SessionToken: tempToken},
			"ExpiredTokenException", "ExpiredToken", "The security token included in the request is expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, signAs(t, b.newRequest(t, "POST", "/", []byte(`{}`), target), []byte(`{}`), "ses", time.Now(), tc.creds))
			require.Equal(t, 403, resp.StatusCode, string(body))
			code, msg := jsonError(t, body)
			require.Equal(t, tc.jsonCode, code)
			require.Equal(t, tc.message, msg)

			resp, body = do(t, signAs(t, b.newRequest(t, "POST", "/", []byte(form), formHeader), []byte(form), "sts", time.Now(), tc.creds))
			require.Equal(t, 403, resp.StatusCode, string(body))
			require.Contains(t, string(body), "<Code>"+tc.xmlCode+"</Code><Message>"+tc.message+"</Message>")
		})
	}

	// A presigned URL carries the token as X-Amz-Security-Token.
	q := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}, "X-Amz-Expires": {"60"}}
	presign := func(token string) string {
		req := b.newRequest(t, "GET", "/?"+q.Encode(), nil, nil)
		u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: tempSecret, SessionToken: token},
			req, "UNSIGNED-PAYLOAD", "sts", testRegion, time.Now())
		require.NoError(t, err)
		return strings.TrimPrefix(u, b.ts.URL)
	}
	u := presign(tempToken)
	require.Contains(t, u, "X-Amz-Security-Token=")
	resp, body := do(t, b.newRequest(t, "GET", u, nil, nil))
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Contains(t, string(body), "<Arn>arn:aws:sts::"+testAccount+":assumed-role/r/s</Arn>")
	resp, body = do(t, b.newRequest(t, "GET", presign("forged"), nil, nil))
	require.Equal(t, 403, resp.StatusCode)
	require.Contains(t, string(body), "<Code>InvalidClientTokenId</Code>")
}
