package mailauth

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file implements ARC, the Authenticated Received Chain (RFC 8617):
// the validation of the chain a message arrives with, and the sealing of
// a new ARC Set onto a message this server passes on. go-msgauth (v0.7)
// has no ARC and keeps its DKIM canonicalization unexported, so the
// canonicalizations of RFC 6376 3.4 are written here.

// ARC header field names (RFC 8617 4.1).
const (
	arcSeal    = "ARC-Seal"
	arcMsgSig  = "ARC-Message-Signature"
	arcResults = "ARC-Authentication-Results"
	// maxARCInstance: RFC 8617 4.2.1, at most 50 ARC Sets.
	maxARCInstance = 50
)

// ARCResult is the outcome of validating a message's ARC chain (RFC 8617
// 4.4: the chain validation status, cv).
type ARCResult string

const (
	ARCNone ARCResult = "none" // no ARC Sets
	ARCPass ARCResult = "pass"
	ARCFail ARCResult = "fail"
)

// rawField is one header field as written: its name and all of its text,
// from the name to the CRLF (or LF) that ends its last line.
type rawField struct {
	name string
	text string
}

// rawFields splits a raw header section (up to the empty line) into fields.
func rawFields(raw []byte) []rawField {
	var out []rawField
	for len(raw) > 0 {
		end := 0
		for {
			i := bytes.IndexByte(raw[end:], '\n')
			if i < 0 {
				end = len(raw)
				break
			}
			end += i + 1
			if end >= len(raw) || (raw[end] != ' ' && raw[end] != '\t') {
				break
			}
		}
		line := raw[:end]
		raw = raw[end:]
		if t := bytes.TrimRight(line, "\r\n"); len(t) == 0 {
			break // the empty line
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(bytes.TrimSpace(name)) == 0 || bytes.ContainsAny(name, " \t") && len(bytes.TrimRight(name, " \t")) == 0 {
			continue
		}
		out = append(out, rawField{name: string(bytes.TrimRight(name, " \t")), text: string(line)})
	}
	return out
}

// value is the field's value: after the colon, unfolded.
func (f rawField) value() string {
	_, v, _ := strings.Cut(f.text, ":")
	return strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(v))
}

// relaxedHeader is the "relaxed" header canonicalization of RFC 6376
// 3.4.2: the name lowercased, the value unfolded, runs of whitespace
// made one space, whitespace at the ends and around the colon removed.
func relaxedHeader(text string) string {
	name, v, _ := strings.Cut(text, ":")
	v = strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v)
	var b strings.Builder
	space := false
	for _, r := range v {
		if r == ' ' || r == '\t' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + b.String() + "\r\n"
}

// simpleHeader is the "simple" header canonicalization (RFC 6376 3.4.1):
// the field unchanged, with CRLF line ends.
func simpleHeader(text string) string {
	if !strings.HasSuffix(text, "\r\n") && strings.HasSuffix(text, "\n") {
		text = strings.TrimSuffix(text, "\n") + "\r\n"
	}
	return text
}

// stripB removes the value of the b= tag of a signature field, as the
// field is hashed in its own signature (RFC 6376 3.7).
func stripB(text string) string {
	name, v, _ := strings.Cut(text, ":")
	tags := strings.Split(v, ";")
	for i, t := range tags {
		k, _, ok := strings.Cut(t, "=")
		if ok && strings.TrimSpace(k) == "b" {
			eq := strings.Index(t, "=")
			tags[i] = t[:eq+1]
			if strings.HasSuffix(t, "\r\n") && i == len(tags)-1 {
				tags[i] += "\r\n"
			}
		}
	}
	return name + ":" + strings.Join(tags, ";")
}

// tagList parses a tag=value list (RFC 6376 3.2); whitespace is removed
// from values (folding inside b= and bh=). Duplicate tags are an error.
func tagList(v string) (map[string]string, error) {
	out := map[string]string{}
	for spec := range strings.SplitSeq(v, ";") {
		if strings.TrimSpace(spec) == "" {
			continue
		}
		k, val, ok := strings.Cut(spec, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("malformed tag %q", strings.TrimSpace(spec))
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("tag %s= repeated", k)
		}
		out[k] = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, val)
	}
	return out, nil
}

// bodyHasher canonicalizes a body as it is written (RFC 6376 3.4.3 and
// 3.4.4) into a SHA-256 hash, up to limit bytes of canonical body (l=)
// when limit ≥ 0.
type bodyHasher struct {
	relaxed bool
	h       hash.Hash
	limit   int64
	n       int64
	line    []byte
	empty   int  // empty lines held back: trailing ones are dropped
	wrote   bool // a non-empty line was written
}

func newBodyHasher(relaxed bool, limit int64) *bodyHasher {
	return &bodyHasher{relaxed: relaxed, h: sha256.New(), limit: limit}
}

func (b *bodyHasher) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			b.line = append(b.line, p...)
			break
		}
		b.line = append(b.line, p[:i]...)
		b.endLine()
		p = p[i+1:]
	}
	return n, nil
}

func (b *bodyHasher) endLine() {
	line := bytes.TrimSuffix(b.line, []byte("\r"))
	if b.relaxed {
		var c []byte
		space := false
		for _, ch := range line {
			if ch == ' ' || ch == '\t' {
				space = true
				continue
			}
			if space {
				c = append(c, ' ')
			}
			space = false
			c = append(c, ch)
		}
		line = c // trailing whitespace dropped with the last run
	}
	if len(line) == 0 {
		b.empty++
	} else {
		for ; b.empty > 0; b.empty-- {
			b.emit([]byte("\r\n"))
		}
		b.emit(line)
		b.emit([]byte("\r\n"))
		b.wrote = true
	}
	b.line = b.line[:0]
}

func (b *bodyHasher) emit(p []byte) {
	if b.limit >= 0 {
		if b.n >= b.limit {
			return
		}
		p = p[:min(int64(len(p)), b.limit-b.n)]
	}
	b.h.Write(p)
	b.n += int64(len(p))
}

// Sum ends the body and returns its hash.
func (b *bodyHasher) Sum() []byte {
	if len(b.line) > 0 {
		b.endLine()
	}
	if !b.wrote && !b.relaxed {
		// RFC 6376 3.4.3: an empty body is one CRLF in simple.
		b.emit([]byte("\r\n"))
	}
	b.wrote = true
	return b.h.Sum(nil)
}

// arcSet is one instance of the chain.
type arcSet struct {
	seal, sig, results *rawField
	sealTags, sigTags  map[string]string
}

// arcChain gathers the ARC Sets of a header section; ok false (with a
// reason) when they do not form a chain: instances 1 to N, one of each
// field per instance (RFC 8617 5.2, steps 1 and 2).
func arcChain(fields []rawField) (sets []arcSet, reason string) {
	byInst := map[int]*arcSet{}
	maxI := 0
	for i := range fields {
		f := &fields[i]
		kind := strings.ToLower(f.name)
		if kind != strings.ToLower(arcSeal) && kind != strings.ToLower(arcMsgSig) && kind != strings.ToLower(arcResults) {
			continue
		}
		var inst int
		var tags map[string]string
		if kind == strings.ToLower(arcResults) {
			// "i=N; authserv-id; ...": the instance is the first item.
			first, _, _ := strings.Cut(f.value(), ";")
			k, v, _ := strings.Cut(first, "=")
			if strings.TrimSpace(k) != "i" {
				return nil, "ARC-Authentication-Results without i="
			}
			inst, _ = strconv.Atoi(strings.TrimSpace(v))
		} else {
			var err error
			if tags, err = tagList(f.value()); err != nil {
				return nil, f.name + ": " + err.Error()
			}
			inst, _ = strconv.Atoi(tags["i"])
		}
		if inst < 1 || inst > maxARCInstance {
			return nil, fmt.Sprintf("%s with instance %q out of 1 to %d", f.name, tags["i"], maxARCInstance)
		}
		s := byInst[inst]
		if s == nil {
			s = &arcSet{}
			byInst[inst] = s
		}
		var slot **rawField
		switch kind {
		case strings.ToLower(arcSeal):
			slot, s.sealTags = &s.seal, tags
		case strings.ToLower(arcMsgSig):
			slot, s.sigTags = &s.sig, tags
		default:
			slot = &s.results
		}
		if *slot != nil {
			return nil, fmt.Sprintf("two %s fields with i=%d", f.name, inst)
		}
		*slot = f
		maxI = max(maxI, inst)
	}
	if maxI == 0 {
		return nil, ""
	}
	for i := 1; i <= maxI; i++ {
		s := byInst[i]
		if s == nil || s.seal == nil || s.sig == nil || s.results == nil {
			return nil, fmt.Sprintf("ARC Set %d of %d is missing or incomplete", i, maxI)
		}
		sets = append(sets, *s)
	}
	return sets, ""
}

// errTempDNS marks a key that could not be fetched for now.
var errTempDNS = errors.New("temporary DNS failure")

// arcKey fetches the public key of s._domainkey.d (the DKIM key record,
// RFC 6376 3.6.1), which ARC signatures use as well.
func (v *Verifier) arcKey(ctx context.Context, d, s string) (crypto.PublicKey, error) {
	if d == "" || s == "" {
		return nil, errors.New("no d= or s=")
	}
	txts, err := v.resolver.LookupTXT(ctx, s+"._domainkey."+d)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("no key at %s._domainkey.%s", s, d)
		}
		return nil, fmt.Errorf("%w: %v", errTempDNS, err)
	}
	if len(txts) == 0 {
		return nil, fmt.Errorf("no key at %s._domainkey.%s", s, d)
	}
	tags, err := tagList(strings.Join(txts, ""))
	if err != nil {
		return nil, fmt.Errorf("key record: %v", err)
	}
	p, err := base64.StdEncoding.DecodeString(tags["p"])
	switch {
	case err != nil:
		return nil, errors.New("key record: p= is not base64")
	case len(p) == 0:
		return nil, errors.New("key revoked (empty p=)")
	}
	switch tags["k"] {
	case "", "rsa":
		if k, err := x509.ParsePKIXPublicKey(p); err == nil {
			if rk, ok := k.(*rsa.PublicKey); ok {
				return rk, nil
			}
			return nil, errors.New("key record: k=rsa but not an RSA key")
		}
		if rk, err := x509.ParsePKCS1PublicKey(p); err == nil {
			return rk, nil
		}
		return nil, errors.New("key record: malformed RSA key")
	case "ed25519":
		if len(p) != ed25519.PublicKeySize {
			return nil, errors.New("key record: malformed Ed25519 key")
		}
		return ed25519.PublicKey(p), nil
	}
	return nil, fmt.Errorf("key record: unknown key type k=%s", tags["k"])
}

// checkSignature verifies sig (b=, base64) over data with the algorithm
// a= (RFC 8617 4.1.1, 4.1.2: rsa-sha256 or ed25519-sha256 of RFC 8463).
func checkSignature(pub crypto.PublicKey, alg, sig string, data []byte) error {
	b, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return errors.New("b= is not base64")
	}
	sum := sha256.Sum256(data)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg != "rsa-sha256" {
			return fmt.Errorf("algorithm %q does not fit an RSA key", alg)
		}
		if k.N.BitLen() < 1024 {
			return errors.New("RSA key shorter than 1024 bits")
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], b) != nil {
			return errors.New("signature does not verify")
		}
	case ed25519.PublicKey:
		if alg != "ed25519-sha256" {
			return fmt.Errorf("algorithm %q does not fit an Ed25519 key", alg)
		}
		if !ed25519.Verify(k, sum[:], b) {
			return errors.New("signature does not verify")
		}
	default:
		return errors.New("unsupported key")
	}
	return nil
}

// amsHeaderData is what an ARC-Message-Signature (as a DKIM-Signature,
// RFC 6376 5.4.2) signs of the header: the fields h= names, each taken
// from the bottom up, then the signature field itself without b='s value.
func amsHeaderData(fields []rawField, sig *rawField, h string, relaxed bool) []byte {
	canon := simpleHeader
	if relaxed {
		canon = relaxedHeader
	}
	used := map[int]bool{}
	var buf bytes.Buffer
	for name := range strings.SplitSeq(h, ":") {
		name = strings.TrimSpace(name)
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, name) && &fields[i] != sig {
				used[i] = true
				buf.WriteString(canon(fields[i].text))
				break
			}
		}
	}
	buf.WriteString(strings.TrimSuffix(canon(stripB(sig.text)), "\r\n"))
	return buf.Bytes()
}

// sealData is what the ARC-Seal of instance n signs (RFC 8617 5.1.1): the
// ARC Sets 1 to n in order, each as ARC-Authentication-Results,
// ARC-Message-Signature, ARC-Seal, relaxed, the last seal without b='s
// value or its CRLF. A seal with cv=fail covers its own set only
// (RFC 8617 5.1.2).
func sealData(sets []arcSet, n int) []byte {
	from := 0
	if sets[n-1].sealTags["cv"] == string(ARCFail) {
		from = n - 1
	}
	var buf bytes.Buffer
	for i := from; i < n; i++ {
		s := sets[i]
		buf.WriteString(relaxedHeader(s.results.text))
		buf.WriteString(relaxedHeader(s.sig.text))
		if i == n-1 {
			buf.WriteString(strings.TrimSuffix(relaxedHeader(stripB(s.seal.text)), "\r\n"))
		} else {
			buf.WriteString(relaxedHeader(s.seal.text))
		}
	}
	return buf.Bytes()
}

// amsBody returns the body canonicalization and length limit of an
// ARC-Message-Signature's tags.
func amsBody(tags map[string]string) (relaxedHdr, relaxedBody bool, limit int64, err error) {
	c := tags["c"]
	if c == "" {
		c = "simple/simple"
	}
	hc, bc, _ := strings.Cut(c, "/")
	if bc == "" {
		bc = "simple"
	}
	for _, x := range []string{hc, bc} {
		if x != "simple" && x != "relaxed" {
			return false, false, 0, fmt.Errorf("unknown canonicalization %q", c)
		}
	}
	limit = -1
	if l, ok := tags["l"]; ok {
		if limit, err = strconv.ParseInt(l, 10, 64); err != nil || limit < 0 {
			return false, false, 0, fmt.Errorf("bad l=%q", l)
		}
	}
	return hc == "relaxed", bc == "relaxed", limit, nil
}

// arcOutcome is the result of validating a chain.
type arcOutcome struct {
	result ARCResult
	info   resinfo
}

// arcCheck validates the ARC chain of a message (RFC 8617 5.2) whose
// header is raw and whose body hash, with the canonicalization and limit
// of the newest ARC-Message-Signature, is bodyHash (nil when that
// signature could not be read).
type arcCheck struct {
	fields []rawField
	sets   []arcSet
	reason string // why the sets are not a chain
	body   *bodyHasher
}

// newARCCheck reads the ARC Sets of a header section; its body, when not
// nil, is to be fed the message's body.
func newARCCheck(raw []byte) *arcCheck {
	c := &arcCheck{fields: rawFields(raw)}
	c.sets, c.reason = arcChain(c.fields)
	if len(c.sets) > 0 {
		if _, rb, limit, err := amsBody(c.sets[len(c.sets)-1].sigTags); err == nil {
			c.body = newBodyHasher(rb, limit)
		}
	}
	return c
}

func (c *arcCheck) none() bool { return len(c.sets) == 0 && c.reason == "" }

// result validates the chain once the body has been fed.
func (v *Verifier) arcResult(ctx context.Context, c *arcCheck) arcOutcome {
	info := resinfo{method: "arc"}
	fail := func(format string, args ...any) arcOutcome {
		info.result, info.reason = string(ARCFail), fmt.Sprintf(format, args...)
		return arcOutcome{result: ARCFail, info: info}
	}
	if c.none() {
		info.result = string(ARCNone)
		return arcOutcome{result: ARCNone, info: info}
	}
	if c.reason != "" {
		return fail("%s", c.reason)
	}
	n := len(c.sets)
	// RFC 8617 5.2 step 2: a chain already marked failed stays failed;
	// the first seal says cv=none, the others cv=pass.
	if cv := c.sets[n-1].sealTags["cv"]; cv == string(ARCFail) {
		return fail("ARC-Seal i=%d says cv=fail", n)
	}
	for i, s := range c.sets {
		want := string(ARCPass)
		if i == 0 {
			want = string(ARCNone)
		}
		if cv := s.sealTags["cv"]; cv != want {
			return fail("ARC-Seal i=%d has cv=%s, want %s", i+1, cv, want)
		}
		if _, ok := s.sealTags["h"]; ok {
			return fail("ARC-Seal i=%d has an h= tag", i+1) // RFC 8617 4.1.3
		}
	}
	// Step 3: the newest ARC-Message-Signature.
	newest := c.sets[n-1]
	info.props = append(info.props, prop{"header.s", newest.sealTags["s"]}, prop{"header.d", newest.sealTags["d"]})
	if err := v.checkAMS(ctx, c, newest); err != nil {
		return fail("ARC-Message-Signature i=%d: %v", n, err)
	}
	// Steps 4 and 5: every ARC-Seal, newest first.
	for i := n; i >= 1; i-- {
		s := c.sets[i-1]
		pub, err := v.arcKey(ctx, s.sealTags["d"], s.sealTags["s"])
		if err == nil {
			err = checkSignature(pub, s.sealTags["a"], s.sealTags["b"], sealData(c.sets, i))
		}
		if err != nil {
			return fail("ARC-Seal i=%d: %v", i, err)
		}
	}
	info.result = string(ARCPass)
	return arcOutcome{result: ARCPass, info: info}
}

func (v *Verifier) checkAMS(ctx context.Context, c *arcCheck, s arcSet) error {
	t := s.sigTags
	rh, _, _, err := amsBody(t)
	if err != nil {
		return err
	}
	if c.body == nil {
		return errors.New("body not checked")
	}
	if strings.Contains(strings.ToLower(":"+t["h"]+":"), ":arc-seal:") {
		return errors.New("h= names ARC-Seal") // RFC 8617 4.1.2
	}
	bh, err := base64.StdEncoding.DecodeString(t["bh"])
	if err != nil || !bytes.Equal(bh, c.body.Sum()) {
		return errors.New("body hash does not match")
	}
	pub, err := v.arcKey(ctx, t["d"], t["s"])
	if err != nil {
		return err
	}
	return checkSignature(pub, t["a"], t["b"], amsHeaderData(c.fields, s.sig, t["h"], rh))
}

// Sealer adds ARC Sets to the messages this server passes on (RFC 8617
// 5.1), signed with Key for Selector._domainkey.Domain.
type Sealer struct {
	Domain   string
	Selector string
	// Key is an *rsa.PrivateKey (rsa-sha256) or an ed25519.PrivateKey
	// (ed25519-sha256).
	Key crypto.Signer
	// AuthservID names the sealer in the ARC-Authentication-Results.
	AuthservID string
	Now        func() time.Time
}

// sealHeaders are the fields the ARC-Message-Signature covers, when
// present (RFC 6376 5.4.1's recommendation, with the DKIM-Signature
// fields RFC 8617 4.1.2 asks for). Authentication-Results and the ARC
// fields are never covered (RFC 8617 4.1.2): downstream ADMDs remove the
// former, and the latter are the seal's.
var sealHeaders = []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "DKIM-Signature"}

// ErrNotSealed is wrapped by the error of a Seal that may add no ARC Set
// (the message goes on without one): the chain already ends with a seal
// saying cv=fail (RFC 8617 5.1: nothing is to be added to it), it holds
// the 50 sets RFC 8617 4.2.1 allows, or its status is unknown.
var ErrNotSealed = errors.New("mailauth: no ARC Set may be added")

// Seal reads msg (header, empty line, body) and returns the header
// fields of its next ARC Set, to put at the top of the message in the
// order returned (ARC-Seal, ARC-Message-Signature,
// ARC-Authentication-Results), each with its CRLF. results is the
// Authentication-Results payload after the authserv-id ("spf=pass ...")
// and chain what validating the message's chain on receipt gave: a chain
// that failed is sealed with cv=fail, covering the new set only (RFC
// 8617 5.1.2). The ARC-Message-Signature covers the fields of
// sealHeaders and those named in sign (the fields this server added),
// when present. The body is read once and hashed as it is read; the
// header section is held in memory (at most 1 MiB). An error wrapping
// ErrNotSealed says no set may be added.
func (s *Sealer) Seal(msg io.Reader, results string, chain ARCResult, sign ...string) ([]string, error) {
	raw, rest, err := splitMessage(msg)
	if err != nil {
		return nil, err
	}
	fields := rawFields(raw)
	sets, reason := arcChain(fields)
	n := len(sets) + 1
	switch {
	case reason != "":
		// Sets that are not a chain: count the highest instance anyway.
		n = 0
		for _, f := range fields {
			if strings.EqualFold(f.name, arcSeal) {
				if t, err := tagList(f.value()); err == nil {
					i, _ := strconv.Atoi(t["i"])
					n = max(n, i)
				}
			}
		}
		n++
		chain = ARCFail
	case len(sets) > 0 && sets[len(sets)-1].sealTags["cv"] == string(ARCFail):
		return nil, fmt.Errorf("%w: the chain ends with ARC-Seal i=%d saying cv=fail (RFC 8617 5.1)", ErrNotSealed, len(sets))
	case len(sets) > 0 && chain != ARCPass && chain != ARCFail:
		return nil, fmt.Errorf("%w: the message has %d ARC Set(s) but its chain was not validated", ErrNotSealed, len(sets))
	}
	if n > maxARCInstance {
		return nil, fmt.Errorf("%w: the message has %d ARC Sets, the most RFC 8617 4.2.1 allows", ErrNotSealed, n-1)
	}
	if len(sets) == 0 && chain != ARCFail {
		chain = ARCNone
	}
	alg := "rsa-sha256"
	if _, ok := s.Key.Public().(ed25519.PublicKey); ok {
		alg = "ed25519-sha256"
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := strconv.FormatInt(now().Unix(), 10)

	body := newBodyHasher(true, -1)
	if _, err := io.Copy(body, rest); err != nil {
		return nil, err
	}
	bh := base64.StdEncoding.EncodeToString(body.Sum())
	var h []string
	seen := map[string]bool{}
	for _, name := range append(slices.Clone(sealHeaders), sign...) {
		name = strings.ToLower(strings.TrimSpace(name))
		if seen[name] || name == "" || name == "authentication-results" || strings.HasPrefix(name, "arc-") || strings.ContainsAny(name, ": \t;") {
			continue
		}
		seen[name] = true
		for _, f := range fields {
			if strings.EqualFold(f.name, name) {
				h = append(h, name)
			}
		}
	}
	aar := rawField{name: arcResults, text: fmt.Sprintf("%s: i=%d; %s; %s\r\n", arcResults, n, s.AuthservID, results)}
	amsText := fmt.Sprintf("%s: i=%d; a=%s; c=relaxed/relaxed; d=%s; s=%s; t=%s;\r\n\th=%s;\r\n\tbh=%s;\r\n\tb=\r\n",
		arcMsgSig, n, alg, s.Domain, s.Selector, t, strings.Join(h, ":"), bh)
	ams := rawField{name: arcMsgSig, text: amsText}
	sig, err := s.sign(amsHeaderData(fields, &ams, strings.Join(h, ":"), true))
	if err != nil {
		return nil, err
	}
	ams.text = strings.TrimSuffix(amsText, "\r\n") + fold(sig) + "\r\n"

	sealText := fmt.Sprintf("%s: i=%d; a=%s; cv=%s; d=%s; s=%s; t=%s;\r\n\tb=\r\n", arcSeal, n, alg, chain, s.Domain, s.Selector, t)
	all := append(sets, arcSet{results: &aar, sig: &ams, seal: &rawField{name: arcSeal, text: sealText},
		sealTags: map[string]string{"cv": string(chain)}})
	sig, err = s.sign(sealData(all, len(all)))
	if err != nil {
		return nil, err
	}
	sealText = strings.TrimSuffix(sealText, "\r\n") + fold(sig) + "\r\n"
	return []string{sealText, ams.text, aar.text}, nil
}

func (s *Sealer) sign(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	var sig []byte
	var err error
	if _, ok := s.Key.Public().(ed25519.PublicKey); ok {
		sig, err = s.Key.Sign(nil, sum[:], crypto.Hash(0))
	} else {
		sig, err = s.Key.Sign(nil, sum[:], crypto.SHA256)
	}
	if err != nil {
		return "", fmt.Errorf("mailauth: ARC signing: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// fold writes a base64 value over lines of at most 72 characters.
func fold(v string) string {
	var b strings.Builder
	for len(v) > 72 {
		b.WriteString(v[:72] + "\r\n\t ")
		v = v[72:]
	}
	b.WriteString(v)
	return b.String()
}

// splitMessage reads the header section of msg and returns it with the
// reader of the body.
func splitMessage(msg io.Reader) ([]byte, io.Reader, error) {
	br := bufio.NewReaderSize(msg, 32<<10)
	raw, _, err := readHeader(br, 1<<20)
	if err != nil {
		return nil, nil, err
	}
	return raw, br, nil
}

// isNotFound reports whether a DNS error says the name has no record
// (NXDOMAIN or no data), as against a failure to ask.
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// KeyRecord returns the TXT record that publishes pub at
// <selector>._domainkey.<domain> for verifiers of the seals it signs
// (RFC 6376 3.6.1; k=ed25519 as RFC 8463 3 has it).
func KeyRecord(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	return "", fmt.Errorf("mailauth: %T is not an RSA or Ed25519 public key", pub)
}
