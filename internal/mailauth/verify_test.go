package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/message"
)

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var edKey = sync.OnceValue(func() ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

func rsaRecord() string {
	der, err := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	if err != nil {
		panic(err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

func edRecord() string {
	return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(edKey().Public().(ed25519.PublicKey))
}

const (
	goodIP  = "192.0.2.1"    // allowed by every SPF record below
	otherIP = "198.51.100.7" // allowed by none
)

// authZone is the DNS of the verifier tests:
//
//	example.org        SPF -all but goodIP and mail.example.org's; DMARC
//	                   p=reject sp=quarantine; DKIM keys "rsa" and "ed"
//	mail.example.org   SPF like example.org
//	other.example      SPF pass for goodIP, DKIM key "rsa", no DMARC
//	strict.example     DMARC p=quarantine with strict alignment; SPF on
//	                   bounce.strict.example
//	soft.example       ~all; neutral.example ?all; broken.example SERVFAIL
//	loop.example       eleven a: mechanisms, one past the lookup limit
func authZone() testZone {
	z := testZone{
		TXT: map[string][]string{
			"example.org":                     {"v=spf1 ip4:" + goodIP + " -all"},
			"mail.example.org":                {"v=spf1 ip4:" + goodIP + " -all"},
			"_dmarc.example.org":              {"v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.org"},
			"rsa._domainkey.example.org":      {rsaRecord()},
			"ed._domainkey.example.org":       {edRecord()},
			"other.example":                   {"v=spf1 ip4:" + goodIP + " -all"},
			"rsa._domainkey.other.example":    {rsaRecord()},
			"_dmarc.strict.example":           {"v=DMARC1; p=quarantine; aspf=s; adkim=s"},
			"strict.example":                  {"v=spf1 -all"},
			"bounce.strict.example":           {"v=spf1 ip4:" + goodIP + " -all"},
			"rsa._domainkey.strict.example":   {rsaRecord()},
			"rsa._domainkey.b.strict.example": {rsaRecord()},
			"soft.example":                    {"v=spf1 ~all"},
			"neutral.example":                 {"v=spf1 ?all"},
			"none.example":                    {"not spf"},
			"badrec.example":                  {"v=spf1 frobnicate -all"},
			"_dmarc.badpolicy.example":        {"v=DMARC1; p=whatever"},
			"badpolicy.example":               {"v=spf1 ip4:" + goodIP + " -all"},
		},
		A:        map[string][]string{},
		ServFail: map[string]bool{"broken.example": true, "rsa._domainkey.broken.example": true, "_dmarc.tempfail.example": true},
	}
	var mechs []string
	for i := range 11 {
		name := fmt.Sprintf("h%d.loop.example", i)
		z.A[name] = []string{"203.0.113.1"}
		mechs = append(mechs, "a:"+name)
	}
	z.TXT["loop.example"] = []string{"v=spf1 " + strings.Join(mechs, " ") + " -all"}
	return z
}

type bundle struct {
	dns *testDNS
	v   *Verifier
}

func setup(t *testing.T) *bundle {
	t.Helper()
	srv := startDNS(t, authZone())
	v, err := NewVerifier(Config{AuthservID: "mx.tidings.test", Resolver: newTestResolver(srv)})
	require.NoError(t, err)
	return &bundle{dns: srv, v: v}
}

func plainMessage(from string) string {
	return "From: Alice <" + from + ">\r\n" +
		"To: bob@tidings.test\r\n" +
		"Subject: hello\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
		"Message-ID: <1@example.org>\r\n" +
		"\r\n" +
		"Hello Bob,\r\nsee you.\r\n"
}

func sign(t *testing.T, msg, domain, selector string, key crypto.Signer) string {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	require.NoError(t, err)
	return out.String()
}

func (b *bundle) verify(t *testing.T, ip, mailFrom, msg string) message.Auth {
	t.Helper()
	auth, err := b.v.Verify(t.Context(), Origin{
		RemoteIP: netip.MustParseAddr(ip), Helo: "client.example", MailFrom: mailFrom,
	}, strings.NewReader(msg))
	require.NoError(t, err)
	return auth
}

// unfold removes the folding of a header value (RFC 5322 2.2.3) and turns
// the tabs it leaves into spaces, for comparisons.
func unfold(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", ""), "\t", " ")
}

func TestSPF(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := plainMessage("alice@example.org")
	for _, tc := range []struct {
		name, ip, mailFrom string
		want               message.Verdict
		result             string
	}{
		{"pass", goodIP, "alice@example.org", message.Pass, "spf=pass smtp.mailfrom=alice@example.org"},
		{"pass ipv4-mapped", "::ffff:" + goodIP, "alice@example.org", message.Pass, "spf=pass"},
		{"fail", otherIP, "alice@example.org", message.Fail, "spf=fail smtp.mailfrom=alice@example.org"},
		{"softfail", otherIP, "x@soft.example", message.Gray, "spf=softfail"},
		{"neutral", otherIP, "x@neutral.example", message.Gray, "spf=neutral"},
		{"none", otherIP, "x@none.example", message.Gray, "spf=none"},
		{"nxdomain", otherIP, "x@nowhere.example", message.Gray, "spf=none"},
		{"temperror", otherIP, "x@broken.example", message.ProcessingFailed, "spf=temperror"},
		{"permerror syntax", otherIP, "x@badrec.example", message.ProcessingFailed, "spf=permerror"},
		{"permerror too many lookups", otherIP, "x@loop.example", message.ProcessingFailed, `spf=permerror reason="lookup limit reached"`},
		// RFC 7208 2.4: the null sender is checked on HELO.
		{"null sender", otherIP, "", message.Gray, "spf=none smtp.helo=client.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			auth := b.verify(t, tc.ip, tc.mailFrom, msg)
			require.Equal(t, tc.want, auth.SPF)
			require.Contains(t, unfold(auth.ResultsHeader), tc.result)
		})
	}
}

func TestSPFLookupLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	auth := b.verify(t, otherIP, "x@loop.example", plainMessage("x@loop.example"))
	require.Equal(t, message.ProcessingFailed, auth.SPF)
	// Ten lookups and not one more (RFC 7208 4.6.4).
	for i := range 10 {
		require.Equal(t, 1, b.dns.count("A", fmt.Sprintf("h%d.loop.example", i)))
	}
	require.Zero(t, b.dns.count("A", "h10.loop.example"))
}

func TestSPFNullSenderHelo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	auth, err := b.v.Verify(t.Context(), Origin{RemoteIP: netip.MustParseAddr(goodIP), Helo: "mail.example.org"},
		strings.NewReader(plainMessage("alice@example.org")))
	require.NoError(t, err)
	require.Equal(t, message.Pass, auth.SPF)
	require.Contains(t, unfold(auth.ResultsHeader), "spf=pass smtp.helo=mail.example.org")
	// The HELO domain is aligned with From under relaxed alignment.
	require.Equal(t, message.Pass, auth.DMARC)
}

func TestDKIM(t *testing.T) {
	t.Parallel()
	b := setup(t)
	plain := plainMessage("alice@example.org")
	rsaSigned := sign(t, plain, "example.org", "rsa", rsaKey())
	edSigned := sign(t, plain, "example.org", "ed", edKey())

	for _, tc := range []struct {
		name   string
		msg    string
		want   message.Verdict
		result string
	}{
		{"rsa", rsaSigned, message.Pass, "dkim=pass header.d=example.org header.i=@example.org header.s=rsa header.b="},
		{"ed25519", edSigned, message.Pass, "dkim=pass header.d=example.org header.i=@example.org header.s=ed"},
		{"lf line ends", strings.ReplaceAll(rsaSigned, "\r\n", "\n"), message.Pass, "dkim=pass"},
		{"tampered body", strings.Replace(rsaSigned, "see you", "send money", 1), message.Fail, `dkim=fail reason="body hash did not verify"`},
		{"tampered header", strings.Replace(rsaSigned, "Subject: hello", "Subject: urgent", 1), message.Fail, "dkim=fail"},
		{"no signature", plain, message.Gray, "dkim=none"},
		{"key missing", sign(t, plain, "example.org", "gone", rsaKey()), message.Fail, "dkim=permerror"},
		{"key lookup fails", sign(t, plain, "broken.example", "rsa", rsaKey()), message.ProcessingFailed, "dkim=temperror"},
		// One good signature is enough, whatever the others say.
		{"one of two", sign(t, sign(t, plain, "example.org", "gone", rsaKey()), "example.org", "ed", edKey()), message.Pass, "dkim=permerror"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			auth := b.verify(t, goodIP, "alice@example.org", tc.msg)
			require.Equal(t, tc.want, auth.DKIM, auth.ResultsHeader)
			require.Contains(t, unfold(auth.ResultsHeader), tc.result)
		})
	}
}

func TestDMARC(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, ip, mailFrom, msg string
		want                    message.Verdict
		policy, result          string
	}{
		{"aligned spf", goodIP, "alice@example.org", plainMessage("alice@example.org"),
			message.Pass, "REJECT", "dmarc=pass (p=reject) header.from=example.org"},
		{"relaxed spf: subdomain of From's organisation", goodIP, "bounce@mail.example.org", plainMessage("alice@example.org"),
			message.Pass, "REJECT", "dmarc=pass"},
		{"aligned dkim, spf fails", otherIP, "alice@example.org", sign(t, plainMessage("alice@example.org"), "example.org", "ed", edKey()),
			message.Pass, "REJECT", "dmarc=pass"},
		{"unaligned: spf and dkim pass for another domain", goodIP, "bounce@other.example",
			sign(t, plainMessage("alice@example.org"), "other.example", "rsa", rsaKey()),
			message.Fail, "REJECT", "dmarc=fail (p=reject) header.from=example.org"},
		{"nothing passes", otherIP, "alice@example.org", plainMessage("alice@example.org"),
			message.Fail, "REJECT", "dmarc=fail"},
		{"subdomain policy from the organisational domain", otherIP, "x@sub.example.org", plainMessage("alice@sub.example.org"),
			message.Fail, "QUARANTINE", "dmarc=fail (p=quarantine) header.from=sub.example.org"},
		{"strict spf: subdomain is not aligned", goodIP, "x@bounce.strict.example", plainMessage("a@strict.example"),
			message.Fail, "QUARANTINE", "dmarc=fail"},
		{"strict dkim: subdomain is not aligned", otherIP, "x@strict.example", sign(t, plainMessage("a@strict.example"), "b.strict.example", "rsa", rsaKey()),
			message.Fail, "QUARANTINE", "dmarc=fail"},
		{"strict dkim: same domain", otherIP, "x@strict.example", sign(t, plainMessage("a@strict.example"), "strict.example", "rsa", rsaKey()),
			message.Pass, "QUARANTINE", "dmarc=pass"},
		{"no record", goodIP, "x@other.example", plainMessage("a@other.example"),
			message.Gray, "", "dmarc=none header.from=other.example"},
		{"lookup fails", goodIP, "x@other.example", plainMessage("a@tempfail.example"),
			message.ProcessingFailed, "", "dmarc=temperror"},
		{"malformed record", goodIP, "x@badpolicy.example", plainMessage("a@badpolicy.example"),
			message.ProcessingFailed, "", "dmarc=permerror"},
		{"no From", goodIP, "x@other.example", "Subject: x\r\n\r\nbody\r\n",
			message.Gray, "", "dmarc=none"},
		// A second From cannot hide a failing author domain (RFC 7489 6.6.1).
		{"two From fields", goodIP, "x@other.example", "From: a@other.example\r\n" + plainMessage("alice@example.org"),
			message.Fail, "REJECT", "dmarc=fail"},
		{"two authors", goodIP, "x@other.example", plainMessage("a@other.example>, <alice@example.org"),
			message.Fail, "REJECT", "dmarc=fail"},
		{"unparseable From", goodIP, "x@other.example", "From: <<alice@example.org\r\n\r\nx\r\n",
			message.Fail, "REJECT", "dmarc=fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			auth := b.verify(t, tc.ip, tc.mailFrom, tc.msg)
			require.Equal(t, tc.want, auth.DMARC, auth.ResultsHeader)
			require.Equal(t, tc.policy, auth.DMARCPolicy)
			require.Contains(t, unfold(auth.ResultsHeader), tc.result)
		})
	}
}

func TestResultsHeaderOfVerify(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := sign(t, plainMessage("alice@example.org"), "example.org", "rsa", rsaKey())
	auth, err := b.v.Verify(t.Context(), Origin{
		RemoteIP: netip.MustParseAddr(goodIP), Helo: "client.example", MailFrom: "alice@example.org", AuthUser: "alice",
	}, strings.NewReader(msg))
	require.NoError(t, err)
	require.Equal(t, message.Auth{SPF: message.Pass, DKIM: message.Pass, DMARC: message.Pass, DMARCPolicy: "REJECT",
		ARC: "none", ResultsHeader: auth.ResultsHeader}, auth)

	re := regexp.MustCompile(`^mx\.tidings\.test; auth=pass smtp\.auth=alice; spf=pass smtp\.mailfrom=alice@example\.org; ` +
		`dkim=pass header\.d=example\.org header\.i=@example\.org header\.s=rsa header\.b=("[A-Za-z0-9+/]{8}"|[A-Za-z0-9+]{8}); ` +
		`dmarc=pass \(p=reject\) header\.from=example\.org; arc=none$`)
	require.Regexp(t, re, unfold(auth.ResultsHeader))
	for i, line := range strings.Split(auth.ResultsHeader, "\r\n") {
		if i == 0 {
			line = "Authentication-Results: " + line
		}
		require.LessOrEqual(t, len(line), foldAt)
	}
	require.True(t, IsOwnResults(auth.ResultsHeader, "MX.tidings.test"))
	require.False(t, IsOwnResults(auth.ResultsHeader, "other.test"))
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bodyReader produces a body of n bytes without holding it.
func bodyReader(n int64) io.Reader {
	line := strings.Repeat("x", 76) + "\r\n"
	return io.LimitReader(&repeatReader{s: line}, n)
}

type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

func TestStreaming(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const size = 16 << 20
	header := "From: alice@example.org\r\nTo: bob@tidings.test\r\nSubject: big\r\n\r\n"

	// Sign a body that is never held: the signer streams it too.
	signer, err := dkim.NewSigner(&dkim.SignOptions{Domain: "example.org", Selector: "ed", Signer: edKey()})
	require.NoError(t, err)
	_, err = io.Copy(signer, io.MultiReader(strings.NewReader(header), bodyReader(size)))
	require.NoError(t, err)
	require.NoError(t, signer.Close())

	src := &countingReader{r: io.MultiReader(strings.NewReader(signer.Signature()+header), bodyReader(size))}
	auth, err := b.v.Verify(t.Context(), Origin{RemoteIP: netip.MustParseAddr(goodIP), MailFrom: "alice@example.org"}, src)
	require.NoError(t, err)
	require.Equal(t, message.Pass, auth.DKIM)
	require.Greater(t, src.n, int64(size), "the whole body went through the body hash")

	// Without a signature the body is not read at all.
	src = &countingReader{r: io.MultiReader(strings.NewReader(header), bodyReader(size))}
	auth, err = b.v.Verify(t.Context(), Origin{RemoteIP: netip.MustParseAddr(goodIP), MailFrom: "alice@example.org"}, src)
	require.NoError(t, err)
	require.Equal(t, message.Gray, auth.DKIM)
	require.Less(t, src.n, int64(1<<20))
}

func TestHeaderTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v, err := NewVerifier(Config{AuthservID: "mx.tidings.test", Resolver: b.v.resolver, MaxHeaderBytes: 4096})
	require.NoError(t, err)
	// One endless header line: the verifier stops at the limit.
	src := &countingReader{r: io.MultiReader(strings.NewReader("From: alice@example.org\r\nX-Long: "), bodyReader(32<<20))}
	auth, err := v.Verify(t.Context(), Origin{RemoteIP: netip.MustParseAddr(goodIP), MailFrom: "alice@example.org"}, src)
	require.NoError(t, err)
	require.Equal(t, message.Pass, auth.SPF)
	require.Equal(t, message.ProcessingFailed, auth.DKIM)
	require.Equal(t, message.ProcessingFailed, auth.DMARC)
	require.Less(t, src.n, int64(1<<20))
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestVerifyReadError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := sign(t, plainMessage("alice@example.org"), "example.org", "rsa", rsaKey())
	// The header reads fine, the body fails half way.
	r := io.MultiReader(strings.NewReader(msg[:len(msg)-10]), failingReader{})
	_, err := b.v.Verify(t.Context(), Origin{RemoteIP: netip.MustParseAddr(goodIP), MailFrom: "alice@example.org"}, r)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)

	_, err = b.v.Verify(t.Context(), Origin{RemoteIP: netip.MustParseAddr(goodIP)}, failingReader{})
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestNewVerifierAuthservID(t *testing.T) {
	t.Parallel()
	_, err := NewVerifier(Config{AuthservID: "bad id;"})
	require.Error(t, err)
	v, err := NewVerifier(Config{})
	require.NoError(t, err)
	require.NotEmpty(t, v.AuthservID())
}

func TestOriginOf(t *testing.T) {
	t.Parallel()
	env := &message.Envelope{MailFrom: "a@example.org", Conn: message.Conn{
		RemoteIP: netip.MustParseAddr(goodIP), Helo: "h.example", AuthUser: "u"}}
	require.Equal(t, Origin{RemoteIP: netip.MustParseAddr(goodIP), Helo: "h.example", MailFrom: "a@example.org", AuthUser: "u"}, OriginOf(env))
}

func TestVerifyCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.v.Verify(ctx, Origin{RemoteIP: netip.MustParseAddr(goodIP), MailFrom: "alice@example.org"},
		strings.NewReader(plainMessage("alice@example.org")))
	require.ErrorIs(t, err, context.Canceled)
}
