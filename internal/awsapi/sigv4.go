package awsapi

// AWS Signature Version 4 verification, written from the specification
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
// for the header form (Authorization) and the presigned form (X-Amz-*
// query parameters). The signature covers the canonical request:
//
//	METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
//	SignedHeaders \n HexSHA256(payload)
//
// and is keyed by HMAC-SHA256 derived from the secret, the scope date,
// region and service.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
)

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
	scopeTerminator = "aws4_request"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// maxClockSkew is how far X-Amz-Date may be from the server's clock.
	maxClockSkew = 15 * time.Minute
	// maxPresignExpiry is the longest X-Amz-Expires SigV4 allows (7 days).
	maxPresignExpiry = 7 * 24 * time.Hour
)

// authKind classifies a failed verification; each protocol names it in its
// own way (see authCodes).
type authKind int

const (
	authMissing      authKind = iota // no Authorization header nor presigned query
	authIncomplete                   // malformed Authorization / presigned parameters
	authUnknownKey                   // access key or session token not known
	authBadSignature                 // signature, scope or time does not match
	authExpiredToken                 // temporary credentials past their expiration
	authInternal                     // the key lookup failed
)

// authError is a failed verification.
type authError struct {
	kind authKind
	msg  string
	err  error // cause, for authInternal
}

func (e *authError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *authError) Unwrap() error { return e.err }

func authErr(k authKind, format string, args ...any) *authError {
	return &authError{kind: k, msg: fmt.Sprintf(format, args...)}
}

// sigParams are the signature parameters a request claims.
type sigParams struct {
	presigned     bool
	accessKeyID   string
	scopeDate     string // YYYYMMDD
	region        string
	service       string
	terminator    string
	signedHeaders []string
	signature     string
	amzDate       string // ISO 8601 basic, as signed
	time          time.Time
	expires       time.Duration // presigned only; 0 when absent
	token         string
}

func (p *sigParams) scope() string {
	return p.scopeDate + "/" + p.region + "/" + p.service + "/" + p.terminator
}

// hasSignature reports whether r carries any SigV4 authentication.
func hasSignature(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	q := r.URL.Query()
	return q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
}

// claimedScopeService returns the service of the credential scope r claims,
// unverified (awsQuery routing uses it), or "".
func claimedScopeService(r *http.Request) string {
	p, err := parseSigParams(r)
	if err != nil {
		return ""
	}
	return p.service
}

// parseSigParams extracts the signature parameters of r.
func parseSigParams(r *http.Request) (*sigParams, *authError) {
	authz := r.Header.Get("Authorization")
	q := r.URL.Query()
	presigned := q.Has("X-Amz-Algorithm") || q.Has("X-Amz-Credential") || q.Has("X-Amz-Signature")
	switch {
	case authz != "" && presigned:
		return nil, authErr(authIncomplete, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified")
	case authz != "":
		return parseAuthorization(r, authz)
	case presigned:
		return parsePresigned(q)
	}
	return nil, authErr(authMissing, "Missing Authentication Token")
}

func parseAuthorization(r *http.Request, authz string) (*sigParams, *authError) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(authz), " ")
	if alg != sigV4Algorithm {
		return nil, authErr(authIncomplete, "Unsupported Authorization Type: %q; only %s is supported", alg, sigV4Algorithm)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			fields[k] = v
		}
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if fields[k] == "" {
			missing = append(missing, fmt.Sprintf("Authorization header requires '%s' parameter.", k))
		}
	}
	p := &sigParams{}
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(amzDateFormat, v)
		if err != nil {
			return nil, authErr(authIncomplete, "Invalid X-Amz-Date %q: want ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z')", v)
		}
		p.amzDate, p.time = v, t
	} else if v := r.Header.Get("Date"); v != "" {
		// SigV4 allows Date instead of X-Amz-Date; the string to sign
		// still uses the ISO 8601 basic form.
		t, err := http.ParseTime(v)
		if err != nil {
			return nil, authErr(authIncomplete, "Invalid Date header %q", v)
		}
		p.time = t.UTC()
		p.amzDate = p.time.Format(amzDateFormat)
	} else {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return nil, authErr(authIncomplete, "%s", strings.Join(missing, " "))
	}
	if err := p.setCredential(fields["Credential"]); err != nil {
		return nil, err
	}
	p.signedHeaders = strings.Split(fields["SignedHeaders"], ";")
	p.signature = fields["Signature"]
	p.token = r.Header.Get("X-Amz-Security-Token")
	return p, nil
}

func parsePresigned(q url.Values) (*sigParams, *authError) {
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if q.Get(k) == "" {
			return nil, authErr(authIncomplete, "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders' and 'X-Amz-Signature'. Re-examine the query-string parameters.")
		}
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != sigV4Algorithm {
		return nil, authErr(authIncomplete, "Unsupported X-Amz-Algorithm %q; only %s is supported", alg, sigV4Algorithm)
	}
	p := &sigParams{presigned: true}
	v := q.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, v)
	if err != nil {
		return nil, authErr(authIncomplete, "Invalid X-Amz-Date %q: want ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z')", v)
	}
	p.amzDate, p.time = v, t
	if e := q.Get("X-Amz-Expires"); e != "" {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n <= 0 || time.Duration(n)*time.Second > maxPresignExpiry {
			return nil, authErr(authIncomplete, "X-Amz-Expires must be a number of seconds between 1 and %d", int64(maxPresignExpiry/time.Second))
		}
		p.expires = time.Duration(n) * time.Second
	}
	if err := p.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	p.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	p.signature = q.Get("X-Amz-Signature")
	p.token = q.Get("X-Amz-Security-Token")
	return p, nil
}

// setCredential parses AKID/YYYYMMDD/region/service/aws4_request.
func (p *sigParams) setCredential(c string) *authError {
	parts := strings.Split(c, "/")
	if len(parts) != 5 || parts[0] == "" {
		return authErr(authIncomplete, "Credential %q is malformed: want <access key>/<YYYYMMDD>/<region>/<service>/aws4_request", c)
	}
	p.accessKeyID, p.scopeDate, p.region, p.service, p.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	return nil
}

// verifier checks signatures against the keys of a KeyLookup.
type verifier struct {
	region string
	keys   KeyLookup
	now    func() time.Time
}

// verify authenticates r (whose body has been read into body) as a call to
// service (the credential-scope name, e.g. "ses") and returns the signer.
func (v *verifier) verify(ctx context.Context, r *http.Request, body []byte, service string) (iam.Principal, *authError) {
	p, aerr := parseSigParams(r)
	if aerr != nil {
		return iam.Principal{}, aerr
	}
	if aerr := v.checkScope(p, service); aerr != nil {
		return iam.Principal{}, aerr
	}
	if aerr := v.checkTime(p); aerr != nil {
		return iam.Principal{}, aerr
	}
	if !containsString(p.signedHeaders, "host") {
		return iam.Principal{}, authErr(authBadSignature, "'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}
	secret, principal, aerr := v.lookup(ctx, p)
	if aerr != nil {
		return iam.Principal{}, aerr
	}
	hashes, aerr := payloadHashes(r, p, body)
	if aerr != nil {
		return iam.Principal{}, aerr
	}
	key := signingKey(secret, p.scopeDate, p.region, p.service)
	want := strings.ToLower(p.signature)
	headers := canonicalHeaders(r, p.signedHeaders)
	query := canonicalQuery(r.URL.RawQuery, p.presigned)
	var first struct{ creq, sts string }
	for _, path := range canonicalURIs(rawPath(r)) {
		for _, h := range hashes {
			creq := r.Method + "\n" + path + "\n" + query + "\n" + headers + "\n" + strings.Join(p.signedHeaders, ";") + "\n" + h
			sts := stringToSign(p, creq)
			got := hex.EncodeToString(hmacSHA256(key, sts))
			if hmac.Equal([]byte(got), []byte(want)) {
				return principal, nil
			}
			if first.creq == "" {
				first.creq, first.sts = creq, sts
			}
		}
	}
	// As AWS does, show the canonical forms: they name nothing secret and
	// tell a client author exactly where the signer differs.
	return iam.Principal{}, authErr(authBadSignature,
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n",
		first.creq, first.sts)
}

// regionPattern matches AWS region names: us-east-1, eu-central-2,
// us-gov-west-1, cn-north-1, ap-southeast-4.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+){1,2}-[0-9]{1,2}$`)

func (v *verifier) checkScope(p *sigParams, service string) *authError {
	if p.terminator != scopeTerminator {
		return authErr(authBadSignature, "Credential should be scoped with a valid terminator: '%s', not '%s'.", scopeTerminator, p.terminator)
	}
	// Any well-formed region is accepted, the signature checked for the
	// one the client named: one Tidings serves every region its clients
	// ask for (scripts often fix one: region_name='us-west-2'), naming its
	// own (TIDINGS_REGION) in the ARNs it answers.
	if p.region != v.region && !regionPattern.MatchString(p.region) {
		return authErr(authBadSignature, "Credential should be scoped to a valid region, not '%s'.", p.region)
	}
	if p.service != service {
		return authErr(authBadSignature, "Credential should be scoped to correct service: '%s'.", service)
	}
	if p.scopeDate != p.amzDate[:8] {
		return authErr(authBadSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", p.scopeDate, p.amzDate[:8], p.amzDate)
	}
	return nil
}

func (v *verifier) checkTime(p *sigParams) *authError {
	now := v.now().UTC()
	nowS := now.Format(amzDateFormat)
	if p.presigned && p.expires > 0 {
		if end := p.time.Add(p.expires); now.After(end) {
			return authErr(authBadSignature, "Signature expired: %s is now earlier than %s (%s - %d sec.)",
				end.Format(amzDateFormat), nowS, nowS, int64(p.expires/time.Second))
		}
	} else if earliest := now.Add(-maxClockSkew); p.time.Before(earliest) {
		return authErr(authBadSignature, "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			p.amzDate, earliest.Format(amzDateFormat), nowS)
	}
	if latest := now.Add(maxClockSkew); p.time.After(latest) {
		return authErr(authBadSignature, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			p.amzDate, latest.Format(amzDateFormat), nowS)
	}
	return nil
}

const (
	invalidTokenMsg = "The security token included in the request is invalid."
	expiredTokenMsg = "The security token included in the request is expired"
)

func (v *verifier) lookup(ctx context.Context, p *sigParams) (string, iam.Principal, *authError) {
	if v.keys == nil {
		return "", iam.Principal{}, authErr(authUnknownKey, invalidTokenMsg)
	}
	var (
		secret    string
		principal iam.Principal
		err       error
	)
	if p.token != "" {
		sk, ok := v.keys.(SessionKeyLookup)
		if !ok {
			return "", iam.Principal{}, authErr(authUnknownKey, invalidTokenMsg)
		}
		secret, principal, err = sk.LookupSessionKey(ctx, p.accessKeyID, p.token)
	} else {
		secret, principal, err = v.keys.LookupAccessKey(ctx, p.accessKeyID)
	}
	switch {
	case fault.Is(err, fault.NotFound):
		return "", iam.Principal{}, authErr(authUnknownKey, invalidTokenMsg)
	case errors.Is(err, iam.ErrExpiredToken):
		return "", iam.Principal{}, authErr(authExpiredToken, expiredTokenMsg)
	case err != nil:
		return "", iam.Principal{}, &authError{kind: authInternal, msg: "access key lookup", err: err}
	case secret == "":
		return "", iam.Principal{}, authErr(authUnknownKey, invalidTokenMsg)
	}
	if principal.AccessKeyID == "" {
		principal.AccessKeyID = p.accessKeyID
	}
	return secret, principal, nil
}

// payloadHashes returns the payload hashes the signature may have used.
func payloadHashes(r *http.Request, p *sigParams, body []byte) ([]string, *authError) {
	sum := sha256.Sum256(body)
	computed := hex.EncodeToString(sum[:])
	claimed := r.Header.Get("X-Amz-Content-Sha256")
	if p.presigned {
		if c := r.URL.Query().Get("X-Amz-Content-Sha256"); c != "" {
			claimed = c
		}
	}
	switch {
	case claimed == "" && p.presigned:
		// A presigned URL is signed before there is a body: clients use
		// UNSIGNED-PAYLOAD; some hash the (empty) body instead.
		return []string{unsignedPayload, computed}, nil
	case claimed == "":
		return []string{computed}, nil
	case claimed == unsignedPayload && p.presigned:
		return []string{claimed}, nil
	case claimed == unsignedPayload:
		return nil, authErr(authBadSignature, "UNSIGNED-PAYLOAD is not accepted in the X-Amz-Content-Sha256 header of this API: sign the payload.")
	case strings.EqualFold(claimed, computed):
		return []string{claimed}, nil
	}
	return nil, authErr(authBadSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
}

func stringToSign(p *sigParams, canonicalRequest string) string {
	h := sha256.Sum256([]byte(canonicalRequest))
	return sigV4Algorithm + "\n" + p.amzDate + "\n" + p.scope() + "\n" + hex.EncodeToString(h[:])
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, scopeTerminator)
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// rawPath is the path of r as it came on the wire, still percent-encoded.
func rawPath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// canonicalURIs returns the canonical URI of a wire path: non-S3 services
// encode each segment of the (already encoded) path once more, after
// removing empty and dot segments (RFC 3986 5.2.4) as botocore and the
// JavaScript SDK do. A client that signs the path as sent (the Go SDK)
// differs only for such paths: that form is returned second.
func canonicalURIs(raw string) []string {
	norm := normalizePath(raw)
	out := []string{uriEncode(norm, false)}
	if raw != norm && raw != "" {
		out = append(out, uriEncode(raw, false))
	}
	return out
}

func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	out := "/" + strings.Join(segs, "/")
	if strings.HasSuffix(p, "/") && len(segs) > 0 {
		out += "/"
	}
	return out
}

// canonicalQuery sorts the parameters by encoded name, then value, each
// URI-encoded (space as %20). X-Amz-Signature is left out of a presigned
// request's.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for piece := range strings.SplitSeq(raw, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		k, v = queryUnescape(k), queryUnescape(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, kv{uriEncode(k, true), uriEncode(v, true)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func queryUnescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// uriEncode percent-encodes every byte but the unreserved characters of
// RFC 3986 (A-Z a-z 0-9 - _ . ~), with upper-case hex; '/' is kept unless
// encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// canonicalHeaders renders the signed headers, "name:value\n" each, values
// trimmed with inner runs of spaces folded, repeated headers joined by ','.
func canonicalHeaders(r *http.Request, names []string) string {
	var b strings.Builder
	for _, n := range names {
		var values []string
		switch n {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = r.Header.Values("Content-Length")
			if len(values) == 0 && r.ContentLength >= 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			values = r.TransferEncoding
		default:
			values = r.Header.Values(n)
		}
		b.WriteString(n)
		b.WriteByte(':')
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(foldSpaces(v))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func foldSpaces(v string) string {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
