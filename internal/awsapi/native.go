package awsapi

import (
	"bytes"
	"io"
	"net/http"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

// NativeAuthenticator verifies SigV4 signatures of requests to Tidings' own
// APIs (under /v1/), so that they take the same keys and the same signing
// code as the AWS-compatible ones: any AWS SigV4 signer works, with the
// credential scope service SigningName.
type NativeAuthenticator struct {
	Server      *Server
	SigningName string // credential scope service, e.g. "ses"
	MaxBody     int64  // body bytes read for the payload hash (default 1 MiB)
}

// Authenticate checks r's signature and returns who signed it. The body is
// read (bounded) and put back for the handler. Errors are fault.AccessDenied
// with a message saying what is wrong.
func (a NativeAuthenticator) Authenticate(r *http.Request) (iam.Principal, error) {
	limit := a.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return iam.Principal{}, fault.Invalidf("reading the request body: %v", err)
		}
		if int64(len(b)) > limit {
			return iam.Principal{}, fault.Invalidf("request body larger than %d bytes", limit)
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	s := a.Server
	v := verifier{region: s.cfg.Region, keys: s.cfg.KeyLookup, now: s.clock}
	p, aerr := v.verify(r.Context(), r, body, a.SigningName)
	if aerr != nil {
		return iam.Principal{}, &fault.Error{Kind: fault.AccessDenied, Message: aerr.msg, Err: aerr}
	}
	return p, nil
}
