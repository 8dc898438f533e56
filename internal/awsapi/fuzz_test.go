package awsapi

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// The decoders take untrusted bodies: they must never panic, and must fail
// only with a wire error (a 400 in the protocol's form), never an internal
// error.

func requireWireError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var we *wireError
	if !errors.As(err, &we) || we.status != 400 {
		t.Fatalf("decoder error is not a 400 wire error: %T %v", err, err)
	}
}

func FuzzDecodeQuery(f *testing.F) {
	f.Add("Action=SendEmail&Source=a&Destination.ToAddresses.member.1=x&Tags.member.1.Name=n")
	f.Add("Attributes.entry.1.key=k&Attributes.entry.1.value=v&Flat.1=a&Flat.3=b")
	f.Add("Destination.ToAddresses=&When=2024-01-01T00:00:00Z&Max=-1&Raw=AAAA")
	f.Add("Message.Subject.Data.X.Y=1&Tags.member.0.Name=x&Attributes.entry.x.key=1")
	f.Fuzz(func(t *testing.T, s string) {
		form, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		var in sesSendEmailInput
		requireWireError(t, decodeQuery(form, &in))
	})
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"RuleSetName":"x","Tags":[{"Key":"k"}],"Blob":"AAE=","Count":1,"Ratio":0.5,"Enabled":true}`))
	f.Add([]byte(`{"RuleSetName":1}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var in mmCreateRuleSetInput
		requireWireError(t, decodeJSON(b, &in))
		var out mmGetRuleSetOutput
		requireWireError(t, decodeJSON(b, &out))
	})
}

func FuzzDecodeCBOR(f *testing.F) {
	f.Add([]byte{0xa1, 0x68, 'P', 'a', 'g', 'e', 'S', 'i', 'z', 'e', 0x0a})
	f.Add([]byte{0xbf, 0xff})
	f.Add([]byte{0xa1, 0x6b, 'C', 'r', 'e', 'a', 't', 'e', 'd', 'D', 'a', 't', 'e', 0xc1, 0x1a, 0, 0, 0, 1})
	f.Add([]byte{0x9f, 0x9f, 0x9f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var in mmCreateRuleSetInput
		requireWireError(t, decodeCBOR(b, &in))
		var out mmGetRuleSetOutput
		requireWireError(t, decodeCBOR(b, &out))
	})
}

// FuzzSigV4Parse feeds arbitrary Authorization headers and query strings
// to the signature parser and verifier.
func FuzzSigV4Parse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ses/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "", "20240101T000000Z")
	f.Add("", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Date=x&X-Amz-SignedHeaders=host&X-Amz-Signature=1&X-Amz-Expires=99999999", "")
	f.Add("AWS4-HMAC-SHA256 ,,,=", "a=%zz&&=", "garbage")
	f.Fuzz(func(t *testing.T, authz, rawQuery, date string) {
		req := httptest.NewRequest("POST", "/", bytes.NewReader(nil))
		req.URL.RawQuery = rawQuery
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		if date != "" {
			req.Header["X-Amz-Date"] = []string{date}
		}
		v := verifier{region: testRegion, keys: fakeKeys{}, now: time.Now}
		if _, err := v.verify(req.Context(), req, nil, "ses"); err == nil {
			t.Fatal("a forged request verified")
		}
	})
}

// FuzzRESTRoute matches arbitrary paths against the fake SES v2 templates.
func FuzzRESTRoute(f *testing.F) {
	f.Add("/v2/email/identities/a%40b")
	f.Add("/v2/objects/a/b/%zz")
	f.Add("//v2//email/contact-lists/x/contacts/list")
	f.Fuzz(func(t *testing.T, path string) {
		for _, op := range fakeSESv2.Operations {
			rt, err := compileRoute(&operation{model: op})
			if err != nil {
				t.Fatal(err)
			}
			rt.match(splitPath(path), url.Values{})
		}
	})
}
