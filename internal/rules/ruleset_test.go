package rules

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

const (
	sEq       = mm.RuleStringOperatorEquals
	sNe       = mm.RuleStringOperatorNotEquals
	sStarts   = mm.RuleStringOperatorStartsWith
	sEnds     = mm.RuleStringOperatorEndsWith
	sContains = mm.RuleStringOperatorContains
	isTrue    = mm.RuleBooleanOperatorIsTrue
	isFalse   = mm.RuleBooleanOperatorIsFalse
)

// clientCert makes an MTLS client certificate with one subjectAltName of
// every GeneralName kind the model names.
func clientCert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	dirName, err := asn1.Marshal(pkix.Name{CommonName: "dir", Organization: []string{"Example"}}.ToRDNSequence())
	require.NoError(t, err)
	oid, err := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1})
	require.NoError(t, err)
	san, err := asn1.Marshal([]asn1.RawValue{
		{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte("ops@client.example")},
		{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("mta.client.example")},
		{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dirName},
		{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("spiffe://client.example/mta")},
		{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: net.ParseIP("192.0.2.10").To4()},
		{Class: asn1.ClassContextSpecific, Tag: 8, Bytes: oid[2:]},
	})
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(0x0a1b2c),
		Subject:         pkix.Name{CommonName: "MTA.client.example"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: oidSubjectAltName, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

const testHeader = "Received: from mail.sender.example\r\n" +
	"From: \"Sender Newsletter\" <news@sender.example>\r\n" +
	"Sender: list@sender.example\r\n" +
	"To: alice@corp.example\r\n" +
	"Cc: carol@corp.example,\r\n dave@corp.example\r\n" +
	"Subject: =?UTF-8?Q?Invoice_=E2=82=AC100?=\r\n" +
	"X-OriginatorOrg: tenant.onmicrosoft.com\r\n" +
	"Disposition-Notification-To: news@sender.example\r\n" +
	"\r\n"

func testFacts(t *testing.T) *Facts {
	t.Helper()
	return &Facts{
		Envelope: message.Envelope{
			QueueID:    "q1",
			MailFrom:   "bounce@sender.example",
			Recipients: []string{"alice@corp.example", "bob@corp.example"},
			Size:       2048,
			Conn: message.Conn{
				RemoteIP:   netip.MustParseAddr("40.92.1.5"),
				Helo:       "mail.sender.example",
				TLS:        "TLS1_3",
				ClientCert: clientCert(t),
			},
		},
		Auth: message.Auth{
			SPF: message.Pass, DKIM: message.Fail,
			DMARC: message.Fail, DMARCPolicy: "REJECT",
		},
		Header: readHeader(t, testHeader),
	}
}

func evalOne(t *testing.T, f *Facts, r mm.Rule, opts ...Option) []string {
	t.Helper()
	rs, err := CompileRuleSet([]mm.Rule{r}, opts...)
	require.NoError(t, err)
	ms, err := rs.Evaluate(context.Background(), f)
	require.NoError(t, err)
	if len(ms) == 0 {
		return nil
	}
	require.Len(t, ms, 1)
	return ms[0].Recipients
}

// TestRuleConditions checks every rule condition kind and operator against
// one message with two recipients.
func TestRuleConditions(t *testing.T) {
	t.Parallel()
	f := testFacts(t)
	all := []string{"alice@corp.example", "bob@corp.example"}
	alice, bob := []string{"alice@corp.example"}, []string{"bob@corp.example"}
	lists := &fakeLists{members: map[string][]string{
		"vip":     {"alice@corp.example"},
		"senders": {"bounce@sender.example"},
		"news":    {"news@sender.example"},
		"lists":   {"list@sender.example"},
		"staff":   {"alice@corp.example", "dave@corp.example"},
	}}
	an := &fakeAnalyzer{results: map[string]string{
		"vade/verdict":  "spam",
		"vade/passed":   "false",
		"trend/passed":  "TRUE",
		"trend/verdict": "pass",
	}}
	cases := []struct {
		name string
		cond mm.RuleCondition
		want []string
	}{
		{"mail from equals", rString(mm.RuleStringEmailAttributeMailFrom, sEq, "BOUNCE@sender.example"), all},
		{"mail from not equals", rString(mm.RuleStringEmailAttributeMailFrom, sNe, "bounce@sender.example"), nil},
		{"mail from not equals other", rString(mm.RuleStringEmailAttributeMailFrom, sNe, "x@y.example"), all},
		{"mail from starts with", rString(mm.RuleStringEmailAttributeMailFrom, sStarts, "bounce@"), all},
		{"mail from ends with", rString(mm.RuleStringEmailAttributeMailFrom, sEnds, "@SENDER.example"), all},
		{"mail from contains", rString(mm.RuleStringEmailAttributeMailFrom, sContains, "@send"), all},
		{"helo equals", rString(mm.RuleStringEmailAttributeHelo, sEq, "mail.sender.example"), all},
		{"helo ends with, no", rString(mm.RuleStringEmailAttributeHelo, sEnds, ".other.example"), nil},
		{"recipient equals", rString(mm.RuleStringEmailAttributeRecipient, sEq, "alice@corp.example"), alice},
		{"recipient equals any", rString(mm.RuleStringEmailAttributeRecipient, sEq, "x@corp.example", "Bob@Corp.Example"), bob},
		{"recipient not equals", rString(mm.RuleStringEmailAttributeRecipient, sNe, "alice@corp.example"), bob},
		{"recipient not equals none of", rString(mm.RuleStringEmailAttributeRecipient, sNe, "alice@corp.example", "bob@corp.example"), nil},
		{"recipient starts with", rString(mm.RuleStringEmailAttributeRecipient, sStarts, "b"), bob},
		{"recipient ends with", rString(mm.RuleStringEmailAttributeRecipient, sEnds, "@corp.example"), all},
		{"recipient contains", rString(mm.RuleStringEmailAttributeRecipient, sContains, "lic"), alice},
		{"sender equals", rString(mm.RuleStringEmailAttributeSender, sEq, "list@sender.example"), all},
		{"from equals address", rString(mm.RuleStringEmailAttributeFrom, sEq, "news@sender.example"), all},
		{"from ignores display name", rString(mm.RuleStringEmailAttributeFrom, sContains, "newsletter"), nil},
		{"to equals", rString(mm.RuleStringEmailAttributeTo, sEq, "alice@corp.example"), all},
		{"cc equals second", rString(mm.RuleStringEmailAttributeCc, sEq, "dave@corp.example"), all},
		{"cc not equals, one equal", rString(mm.RuleStringEmailAttributeCc, sNe, "dave@corp.example"), nil},
		{"cc not equals, none equal", rString(mm.RuleStringEmailAttributeCc, sNe, "zed@corp.example"), all},
		{"subject decoded contains", rString(mm.RuleStringEmailAttributeSubject, sContains, "€100"), all},
		{"subject starts with", rString(mm.RuleStringEmailAttributeSubject, sStarts, "invoice"), all},
		{"subject is not raw", rString(mm.RuleStringEmailAttributeSubject, sContains, "=?UTF-8?"), nil},
		{"x-header equals", rHeader("X-OriginatorOrg", sEq, "tenant.onmicrosoft.com"), all},
		{"x-header name case", rHeader("X-ORIGINATORORG", sEq, "Tenant.OnMicrosoft.com"), all},
		{"x-header absent equals", rHeader("X-Missing", sEq, "x"), nil},
		{"x-header absent not equals", rHeader("X-Missing", sNe, "x"), all},
		{"cert cn", rCert(mm.RuleClientCertificateAttributeCn, sEq, "mta.client.example"), all},
		{"cert san rfc822", rCert(mm.RuleClientCertificateAttributeSanRfc822Name, sEq, "ops@client.example"), all},
		{"cert san dns", rCert(mm.RuleClientCertificateAttributeSanDnsName, sEnds, ".client.example"), all},
		{"cert san uri", rCert(mm.RuleClientCertificateAttributeSanUniformResourceIdentifier, sStarts, "spiffe://client.example/"), all},
		{"cert san ip", rCert(mm.RuleClientCertificateAttributeSanIpAddress, sEq, "192.0.2.10"), all},
		{"cert san directory name", rCert(mm.RuleClientCertificateAttributeSanDirectoryName, sEq, "CN=dir,O=Example"), all},
		{"cert san registered id", rCert(mm.RuleClientCertificateAttributeSanRegisteredId, sEq, "1.3.6.1.4.1.99999.1"), all},
		{"cert serial decimal", rCert(mm.RuleClientCertificateAttributeSerialNumber, sEq, "662316"), all},
		{"cert serial hex", rCert(mm.RuleClientCertificateAttributeSerialNumber, sEq, "0A1B2C"), all},
		{"cert serial colon hex", rCert(mm.RuleClientCertificateAttributeSerialNumber, sEq, "0a:1b:2c"), all},
		{"cert serial other", rCert(mm.RuleClientCertificateAttributeSerialNumber, sEq, "1"), nil},
		{"addon string", rAddonString(sEq, "vade", "verdict", "SPAM"), all},
		{"addon string not equals", rAddonString(sNe, "vade", "verdict", "spam"), nil},

		{"read receipt requested", rBool(mm.RuleBooleanEmailAttributeReadReceiptRequested, isTrue), all},
		{"read receipt is false", rBool(mm.RuleBooleanEmailAttributeReadReceiptRequested, isFalse), nil},
		{"tls", rBool(mm.RuleBooleanEmailAttributeTls, isTrue), all},
		{"tls wrapped", rBool(mm.RuleBooleanEmailAttributeTlsWrapped, isTrue), nil},
		{"tls wrapped is false", rBool(mm.RuleBooleanEmailAttributeTlsWrapped, isFalse), all},
		{"addon bool", rAddonBool(isTrue, "trend", "passed"), all},
		{"addon bool false", rAddonBool(isTrue, "vade", "passed"), nil},
		{"addon bool is false", rAddonBool(isFalse, "vade", "passed"), all},
		{"list recipient", rList(mm.RuleAddressListEmailAttributeRecipient, isTrue, "vip"), alice},
		{"list recipient is false", rList(mm.RuleAddressListEmailAttributeRecipient, isFalse, "vip"), bob},
		{"list recipient, second list", rList(mm.RuleAddressListEmailAttributeRecipient, isTrue, "senders", "vip"), alice},
		{"list mail from", rList(mm.RuleAddressListEmailAttributeMailFrom, isTrue, "senders"), all},
		{"list sender", rList(mm.RuleAddressListEmailAttributeSender, isTrue, "lists"), all},
		{"list from", rList(mm.RuleAddressListEmailAttributeFrom, isTrue, "news"), all},
		{"list from, not in", rList(mm.RuleAddressListEmailAttributeFrom, isTrue, "vip"), nil},
		{"list to", rList(mm.RuleAddressListEmailAttributeTo, isTrue, "vip"), all},
		{"list cc (second address)", rList(mm.RuleAddressListEmailAttributeCc, isTrue, "staff"), all},
		{"list cc is false", rList(mm.RuleAddressListEmailAttributeCc, isFalse, "staff"), nil},

		{"size equals", rSize(mm.RuleNumberOperatorEquals, 2048), all},
		{"size equals, no", rSize(mm.RuleNumberOperatorEquals, 2047), nil},
		{"size not equals", rSize(mm.RuleNumberOperatorNotEquals, 2048), nil},
		{"size not equals, yes", rSize(mm.RuleNumberOperatorNotEquals, 1), all},
		{"size less than", rSize(mm.RuleNumberOperatorLessThan, 2049), all},
		{"size less than, equal", rSize(mm.RuleNumberOperatorLessThan, 2048), nil},
		{"size greater than", rSize(mm.RuleNumberOperatorGreaterThan, 2047), all},
		{"size greater than, equal", rSize(mm.RuleNumberOperatorGreaterThan, 2048), nil},
		{"size less or equal", rSize(mm.RuleNumberOperatorLessThanOrEqual, 2048), all},
		{"size less or equal, no", rSize(mm.RuleNumberOperatorLessThanOrEqual, 2047.5), nil},
		{"size greater or equal", rSize(mm.RuleNumberOperatorGreaterThanOrEqual, 2048), all},
		{"size greater or equal, no", rSize(mm.RuleNumberOperatorGreaterThanOrEqual, 2049), nil},

		{"source ip", rIP(mm.RuleIpOperatorCidrMatches, "10.0.0.0/8", "40.92.0.0/15"), all},
		{"source ip bare address", rIP(mm.RuleIpOperatorCidrMatches, "40.92.1.5"), all},
		{"source ip, no", rIP(mm.RuleIpOperatorCidrMatches, "10.0.0.0/8"), nil},
		{"source ip v6 range", rIP(mm.RuleIpOperatorCidrMatches, "2001:db8::/32"), nil},
		{"source ip not", rIP(mm.RuleIpOperatorNotCidrMatches, "40.92.0.0/15"), nil},
		{"source ip not, none", rIP(mm.RuleIpOperatorNotCidrMatches, "10.0.0.0/8", "2001:db8::/32"), all},

		{"spf equals pass", rVerdict(mm.RuleVerdictAttributeSpf, mm.RuleVerdictOperatorEquals, mm.RuleVerdictPass), all},
		{"spf not equals pass", rVerdict(mm.RuleVerdictAttributeSpf, mm.RuleVerdictOperatorNotEquals, mm.RuleVerdictPass), nil},
		{"dkim equals fail", rVerdict(mm.RuleVerdictAttributeDkim, mm.RuleVerdictOperatorEquals, mm.RuleVerdictFail), all},
		{"dkim equals pass or gray", rVerdict(mm.RuleVerdictAttributeDkim, mm.RuleVerdictOperatorEquals, mm.RuleVerdictPass, mm.RuleVerdictGray), nil},
		{"dkim not equals pass nor gray", rVerdict(mm.RuleVerdictAttributeDkim, mm.RuleVerdictOperatorNotEquals, mm.RuleVerdictPass, mm.RuleVerdictGray), all},
		{"dkim not equals pass nor fail", rVerdict(mm.RuleVerdictAttributeDkim, mm.RuleVerdictOperatorNotEquals, mm.RuleVerdictPass, mm.RuleVerdictFail), nil},
		{"addon verdict", rAddonVerdict(mm.RuleVerdictOperatorEquals, "trend", "verdict", mm.RuleVerdictPass), all},

		{"dmarc equals reject", rDmarc(mm.RuleDmarcOperatorEquals, mm.RuleDmarcPolicyReject), all},
		{"dmarc equals none or quarantine", rDmarc(mm.RuleDmarcOperatorEquals, mm.RuleDmarcPolicyNone, mm.RuleDmarcPolicyQuarantine), nil},
		{"dmarc not equals none", rDmarc(mm.RuleDmarcOperatorNotEquals, mm.RuleDmarcPolicyNone), all},
		{"dmarc not equals quarantine nor reject", rDmarc(mm.RuleDmarcOperatorNotEquals, mm.RuleDmarcPolicyQuarantine, mm.RuleDmarcPolicyReject), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := evalOne(t, f, mm.Rule{Conditions: []mm.RuleCondition{tc.cond}, Actions: []mm.RuleAction{archive("a-1")}},
				WithAddressLists(lists), WithAnalyzer(an))
			require.Equal(t, tc.want, got)
		})
	}
}

// TestRuleAbsentFacts: attributes a message does not have (no certificate,
// no Subject, null sender, no verdicts, no DMARC record).
func TestRuleAbsentFacts(t *testing.T) {
	t.Parallel()
	f := &Facts{Envelope: message.Envelope{Recipients: []string{"a@corp.example"}}}
	all := []string{"a@corp.example"}
	cases := []struct {
		name string
		cond mm.RuleCondition
		want []string
	}{
		{"cert cn equals", rCert(mm.RuleClientCertificateAttributeCn, sEq, "x"), nil},
		{"cert cn not equals", rCert(mm.RuleClientCertificateAttributeCn, sNe, "x"), all},
		{"subject contains", rString(mm.RuleStringEmailAttributeSubject, sContains, "x"), nil},
		{"subject not equals", rString(mm.RuleStringEmailAttributeSubject, sNe, "x"), all},
		{"null sender not equals", rString(mm.RuleStringEmailAttributeMailFrom, sNe, "x@y.example"), all},
		{"null sender ends with", rString(mm.RuleStringEmailAttributeMailFrom, sEnds, ".example"), nil},
		{"no from", rString(mm.RuleStringEmailAttributeFrom, sEq, "x@y.example"), nil},
		{"no read receipt", rBool(mm.RuleBooleanEmailAttributeReadReceiptRequested, isTrue), nil},
		{"cleartext", rBool(mm.RuleBooleanEmailAttributeTls, isFalse), all},
		{"no spf verdict equals", rVerdict(mm.RuleVerdictAttributeSpf, mm.RuleVerdictOperatorEquals, mm.RuleVerdictPass, mm.RuleVerdictFail, mm.RuleVerdictGray, mm.RuleVerdictProcessingFailed), nil},
		{"no spf verdict not equals", rVerdict(mm.RuleVerdictAttributeSpf, mm.RuleVerdictOperatorNotEquals, mm.RuleVerdictPass), all},
		{"no dmarc record equals none", rDmarc(mm.RuleDmarcOperatorEquals, mm.RuleDmarcPolicyNone), nil},
		{"no dmarc record not equals", rDmarc(mm.RuleDmarcOperatorNotEquals, mm.RuleDmarcPolicyReject), all},
		{"unknown source ip", rIP(mm.RuleIpOperatorCidrMatches, "0.0.0.0/0"), nil},
		{"list mail from, null sender", rList(mm.RuleAddressListEmailAttributeMailFrom, isTrue, "l"), nil},
	}
	lists := &fakeLists{members: map[string][]string{"l": {""}}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := evalOne(t, f, mm.Rule{Conditions: []mm.RuleCondition{tc.cond}, Actions: []mm.RuleAction{archive("a-1")}}, WithAddressLists(lists))
			require.Equal(t, tc.want, got)
		})
	}
}

// TestRuleUnless: all conditions and none of the unless conditions, per
// recipient (API_Rule).
func TestRuleUnless(t *testing.T) {
	t.Parallel()
	f := testFacts(t)
	all := []string{"alice@corp.example", "bob@corp.example"}
	tlsOn := rBool(mm.RuleBooleanEmailAttributeTls, isTrue)
	tlsOff := rBool(mm.RuleBooleanEmailAttributeTls, isFalse)
	isAlice := rString(mm.RuleStringEmailAttributeRecipient, sEq, "alice@corp.example")
	isBob := rString(mm.RuleStringEmailAttributeRecipient, sEq, "bob@corp.example")
	cases := []struct {
		name          string
		conds, unless []mm.RuleCondition
		want          []string
	}{
		{"no conditions: every recipient", nil, nil, all},
		{"only unless, holds", nil, []mm.RuleCondition{tlsOn}, nil},
		{"only unless, does not hold", nil, []mm.RuleCondition{tlsOff}, all},
		{"only unless, per recipient", nil, []mm.RuleCondition{isAlice}, []string{"bob@corp.example"}},
		{"any unless suffices", nil, []mm.RuleCondition{tlsOff, isBob}, []string{"alice@corp.example"}},
		{"condition and unless", []mm.RuleCondition{tlsOn}, []mm.RuleCondition{isAlice}, []string{"bob@corp.example"}},
		{"condition fails", []mm.RuleCondition{tlsOff}, []mm.RuleCondition{isAlice}, nil},
		{"all conditions needed", []mm.RuleCondition{tlsOn, isAlice}, nil, []string{"alice@corp.example"}},
		{"contradiction", []mm.RuleCondition{isAlice, isBob}, nil, nil},
		{"unless excludes all", []mm.RuleCondition{tlsOn}, []mm.RuleCondition{isAlice, isBob}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := evalOne(t, f, mm.Rule{Conditions: tc.conds, Unless: tc.unless, Actions: []mm.RuleAction{archive("a-1")}})
			require.Equal(t, tc.want, got)
		})
	}
}

// TestCentralGateway is SCENARIOS.md #1: archive everything, relay to Google
// or Microsoft by recipient domain, app mailboxes on a subdomain elsewhere.
func TestCentralGateway(t *testing.T) {
	t.Parallel()
	rs, err := CompileRuleSet([]mm.Rule{
		{Name: ptr("archive-all"), Actions: []mm.RuleAction{archive("a-all")}},
		{
			Name:       ptr("apps"),
			Conditions: []mm.RuleCondition{rString(mm.RuleStringEmailAttributeRecipient, sEnds, "@apps.corp.example")},
			Actions:    []mm.RuleAction{{WriteToS3: &mm.S3Action{S3Bucket: ptr("inbound-apps"), RoleArn: ptr("r")}}, drop()},
		},
		{
			Name:       ptr("google"),
			Conditions: []mm.RuleCondition{rString(mm.RuleStringEmailAttributeRecipient, sEnds, "@eu.corp.example")},
			Actions:    []mm.RuleAction{relay("rl-google")},
		},
		{
			Name:       ptr("microsoft"),
			Conditions: []mm.RuleCondition{rString(mm.RuleStringEmailAttributeRecipient, sEnds, "@us.corp.example")},
			Actions:    []mm.RuleAction{relay("rl-m365")},
		},
	})
	require.NoError(t, err)
	f := testFacts(t)
	f.Envelope.Recipients = []string{"ann@eu.corp.example", "bill@US.corp.example", "bot@apps.corp.example", "cat@eu.corp.example"}
	out, err := rs.Outcome(context.Background(), f)
	require.NoError(t, err)
	require.Len(t, out.Matches, 4)
	require.Equal(t, "archive-all", out.Matches[0].Name)
	require.Equal(t, f.Envelope.Recipients, out.Matches[0].Recipients)
	require.Equal(t, []string{"bot@apps.corp.example"}, out.Matches[1].Recipients)
	require.Equal(t, 2, out.Matches[2].Rule)
	require.Equal(t, []string{"ann@eu.corp.example", "cat@eu.corp.example"}, out.Matches[2].Recipients)
	require.Equal(t, "rl-google", *out.Matches[2].Steps[0].Action.Relay.Relay)
	require.Equal(t, []string{"bill@US.corp.example"}, out.Matches[3].Recipients)
	require.Equal(t, []string{"ann@eu.corp.example", "bill@US.corp.example", "cat@eu.corp.example"}, out.Recipients)
}

// TestEchoSpoofing is SCENARIOS.md #2: mail from a shared platform is only
// trusted when it comes from the platform's IPs AND carries the tenant's
// X-OriginatorOrg header.
func TestEchoSpoofing(t *testing.T) {
	t.Parallel()
	rs, err := CompileRuleSet([]mm.Rule{{
		Name: ptr("tenant-relay"),
		Conditions: []mm.RuleCondition{
			rIP(mm.RuleIpOperatorCidrMatches, "40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17"),
			rHeader("X-OriginatorOrg", sEq, "contoso.onmicrosoft.com"),
		},
		Unless:  []mm.RuleCondition{rVerdict(mm.RuleVerdictAttributeDkim, mm.RuleVerdictOperatorEquals, mm.RuleVerdictFail)},
		Actions: []mm.RuleAction{addHeader("X-Tenant-Verified", "contoso"), relay("rl-onprem")},
	}})
	require.NoError(t, err)
	cases := []struct {
		name, ip, header string
		dkim             message.Verdict
		match            bool
	}{
		{"tenant from platform", "40.107.22.1", "X-OriginatorOrg: contoso.onmicrosoft.com\r\n", message.Pass, true},
		{"header name and value case", "40.92.9.9", "x-originatororg: Contoso.OnMicrosoft.com\r\n", message.Pass, true},
		{"other tenant on the platform", "40.107.22.1", "X-OriginatorOrg: fabrikam.onmicrosoft.com\r\n", message.Pass, false},
		{"no tenant header", "40.107.22.1", "", message.Pass, false},
		{"right header, wrong IP", "203.0.113.5", "X-OriginatorOrg: contoso.onmicrosoft.com\r\n", message.Pass, false},
		{"both tenants' headers", "40.107.22.1", "X-OriginatorOrg: fabrikam.onmicrosoft.com\r\nX-OriginatorOrg: contoso.onmicrosoft.com\r\n", message.Pass, true},
		{"folded header", "40.107.22.1", "X-OriginatorOrg:\r\n contoso.onmicrosoft.com\r\n", message.Pass, true},
		{"look-alike suffix", "40.107.22.1", "X-OriginatorOrg: contoso.onmicrosoft.com.evil.test\r\n", message.Pass, false},
		{"unless DKIM fails", "40.107.22.1", "X-OriginatorOrg: contoso.onmicrosoft.com\r\n", message.Fail, false},
		{"ipv4-mapped source", "::ffff:40.107.22.1", "X-OriginatorOrg: contoso.onmicrosoft.com\r\n", message.Pass, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &Facts{
				Envelope: message.Envelope{
					MailFrom: "user@contoso.example", Recipients: []string{"user@corp.example"},
					Conn: message.Conn{RemoteIP: netip.MustParseAddr(tc.ip)},
				},
				Auth:   message.Auth{DKIM: tc.dkim},
				Header: readHeader(t, "From: user@contoso.example\r\n"+tc.header+"\r\n"),
			}
			ms, err := rs.Evaluate(context.Background(), f)
			require.NoError(t, err)
			if !tc.match {
				require.Empty(t, ms)
				return
			}
			require.Len(t, ms, 1)
			require.Equal(t, []string{"user@corp.example"}, ms[0].Recipients)
			require.Len(t, ms[0].Steps, 2)
			require.Equal(t, "rl-onprem", *ms[0].Steps[1].Action.Relay.Relay)
		})
	}
}

// TestDropAndReplace: Drop and ReplaceRecipient change the recipients seen
// by the rule's later actions and by later rules (eb-rules.html).
func TestDropAndReplace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := testFacts(t)
	f.Envelope.Recipients = []string{"alice@corp.example", "bob@corp.example", "eve@corp.example"}
	isEve := rString(mm.RuleStringEmailAttributeRecipient, sEq, "eve@corp.example")
	isAlice := rString(mm.RuleStringEmailAttributeRecipient, sEq, "alice@corp.example")

	t.Run("drop some", func(t *testing.T) {
		t.Parallel()
		rs, err := CompileRuleSet([]mm.Rule{
			{Conditions: []mm.RuleCondition{isEve}, Actions: []mm.RuleAction{archive("quarantine"), drop(), archive("after")}},
			{Actions: []mm.RuleAction{relay("rl")}},
		})
		require.NoError(t, err)
		out, err := rs.Outcome(ctx, f)
		require.NoError(t, err)
		require.Len(t, out.Matches, 2)
		steps := out.Matches[0].Steps
		require.Equal(t, []string{"eve@corp.example"}, steps[0].Recipients)
		require.Equal(t, []string{"eve@corp.example"}, steps[1].Recipients)
		require.Empty(t, steps[2].Recipients)
		require.Equal(t, []string{"alice@corp.example", "bob@corp.example"}, out.Matches[1].Recipients)
		require.Equal(t, []string{"alice@corp.example", "bob@corp.example"}, out.Recipients)
	})
	t.Run("drop all stops", func(t *testing.T) {
		t.Parallel()
		rs, err := CompileRuleSet([]mm.Rule{
			{Actions: []mm.RuleAction{drop()}},
			{Actions: []mm.RuleAction{relay("rl")}},
		})
		require.NoError(t, err)
		out, err := rs.Outcome(ctx, f)
		require.NoError(t, err)
		require.Len(t, out.Matches, 1)
		require.Empty(t, out.Recipients)
	})
	t.Run("replace some", func(t *testing.T) {
		t.Parallel()
		rs, err := CompileRuleSet([]mm.Rule{
			{Conditions: []mm.RuleCondition{isAlice}, Actions: []mm.RuleAction{archive("before"), replace("alice@eu.corp.example", "bob@corp.example"), relay("rl-eu")}},
			{Conditions: []mm.RuleCondition{rString(mm.RuleStringEmailAttributeRecipient, sEnds, "@eu.corp.example")}, Actions: []mm.RuleAction{archive("eu")}},
			{Conditions: []mm.RuleCondition{isAlice}, Actions: []mm.RuleAction{archive("never")}},
		})
		require.NoError(t, err)
		out, err := rs.Outcome(ctx, f)
		require.NoError(t, err)
		require.Len(t, out.Matches, 2)
		steps := out.Matches[0].Steps
		require.Equal(t, []string{"alice@corp.example"}, steps[0].Recipients)
		require.Equal(t, []string{"alice@corp.example"}, steps[1].Recipients)
		require.Equal(t, []string{"alice@eu.corp.example", "bob@corp.example"}, steps[2].Recipients)
		require.Equal(t, []string{"alice@eu.corp.example"}, out.Matches[1].Recipients)
		// bob was already a recipient: not added twice.
		require.Equal(t, []string{"bob@corp.example", "eve@corp.example", "alice@eu.corp.example"}, out.Recipients)
	})
	t.Run("no recipients, no matches", func(t *testing.T) {
		t.Parallel()
		rs, err := CompileRuleSet([]mm.Rule{{Actions: []mm.RuleAction{archive("a")}}})
		require.NoError(t, err)
		ms, err := rs.Evaluate(ctx, &Facts{})
		require.NoError(t, err)
		require.Empty(t, ms)
	})
}

func TestRuleOrderAndAllMatches(t *testing.T) {
	t.Parallel()
	rs, err := CompileRuleSet([]mm.Rule{
		{Name: ptr("one"), Actions: []mm.RuleAction{addHeader("X-One", "1")}},
		{Name: ptr("two"), Conditions: []mm.RuleCondition{rSize(mm.RuleNumberOperatorGreaterThan, 1e9)}, Actions: []mm.RuleAction{archive("big")}},
		{Name: ptr("three"), Actions: []mm.RuleAction{addHeader("X-Three", "3"), relay("rl")}},
	})
	require.NoError(t, err)
	ms, err := rs.Evaluate(context.Background(), testFacts(t))
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, "one", ms[0].Name)
	require.Equal(t, 0, ms[0].Rule)
	require.Equal(t, "three", ms[1].Name)
	require.Equal(t, 2, ms[1].Rule)
	require.Len(t, ms[1].Steps, 2)
}

// TestRuleLookupsOncePerMessage: message-wide conditions and address-list
// lookups are not repeated for each recipient or rule.
func TestRuleLookupsOncePerMessage(t *testing.T) {
	t.Parallel()
	lists := &fakeLists{members: map[string][]string{"l": {"news@sender.example"}}}
	an := &fakeAnalyzer{results: map[string]string{"a/f": "true"}}
	inList := rList(mm.RuleAddressListEmailAttributeFrom, isTrue, "l")
	addon := rAddonBool(isTrue, "a", "f")
	rs, err := CompileRuleSet([]mm.Rule{
		{Conditions: []mm.RuleCondition{inList, addon}, Actions: []mm.RuleAction{archive("a")}},
		{Conditions: []mm.RuleCondition{inList, addon}, Actions: []mm.RuleAction{archive("b")}},
	}, WithAddressLists(lists), WithAnalyzer(an))
	require.NoError(t, err)
	f := testFacts(t)
	f.Envelope.Recipients = []string{"a@corp.example", "b@corp.example", "c@corp.example"}
	ms, err := rs.Evaluate(context.Background(), f)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, 1, lists.calls)
	require.Equal(t, 1, an.calls)
	require.Same(t, f, an.last.Facts)
	require.Empty(t, an.last.Recipient)
}

func TestRuleLookupFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := testFacts(t)

	// An address-list failure fails the evaluation: it must be retried, not
	// half-applied.
	rs, err := CompileRuleSet([]mm.Rule{{Conditions: []mm.RuleCondition{rList(mm.RuleAddressListEmailAttributeRecipient, isTrue, "l")}, Actions: []mm.RuleAction{archive("a")}}},
		WithAddressLists(&fakeLists{fail: true}))
	require.NoError(t, err)
	_, err = rs.Evaluate(ctx, f)
	require.ErrorContains(t, err, "store down")

	// No address lists, no analyzer: the conditions do not hold, whatever
	// the operator, and warnings say why.
	for _, c := range []mm.RuleCondition{
		rList(mm.RuleAddressListEmailAttributeFrom, isTrue, "l"),
		rList(mm.RuleAddressListEmailAttributeFrom, isFalse, "l"),
		rAddonBool(isTrue, "a", "f"),
		rAddonBool(isFalse, "a", "f"),
		rAddonString(sNe, "a", "f", "x"),
		rAddonVerdict(mm.RuleVerdictOperatorNotEquals, "a", "f", mm.RuleVerdictPass),
	} {
		rs, err := CompileRuleSet([]mm.Rule{{Conditions: []mm.RuleCondition{c}, Actions: []mm.RuleAction{archive("a")}}})
		require.NoError(t, err)
		out, err := rs.Outcome(ctx, f)
		require.NoError(t, err)
		require.Empty(t, out.Matches)
		require.Len(t, out.Warnings, 1)
	}
	rs, err = CompileRuleSet([]mm.Rule{{Conditions: []mm.RuleCondition{rAddonBool(isTrue, "a", "f")}, Actions: []mm.RuleAction{archive("a")}}})
	require.NoError(t, err)
	require.Len(t, rs.Warnings(), 1)

	// A failing add-on: its verdict is PROCESSING_FAILED; boolean and string
	// conditions do not hold.
	an := &fakeAnalyzer{fail: true}
	for _, tc := range []struct {
		cond  mm.RuleCondition
		match bool
	}{
		{rAddonVerdict(mm.RuleVerdictOperatorEquals, "a", "f", mm.RuleVerdictProcessingFailed), true},
		{rAddonVerdict(mm.RuleVerdictOperatorNotEquals, "a", "f", mm.RuleVerdictPass), true},
		{rAddonVerdict(mm.RuleVerdictOperatorEquals, "a", "f", mm.RuleVerdictPass), false},
		{rAddonBool(isFalse, "a", "f"), false},
		{rAddonString(sNe, "a", "f", "x"), false},
	} {
		got := evalOne(t, f, mm.Rule{Conditions: []mm.RuleCondition{tc.cond}, Actions: []mm.RuleAction{archive("a")}}, WithAnalyzer(an))
		require.Equal(t, tc.match, got != nil)
	}
}

func TestRuleSetConcurrentUse(t *testing.T) {
	t.Parallel()
	lists := &fakeLists{members: map[string][]string{"vip": {"alice@corp.example"}}}
	rs, err := CompileRuleSet([]mm.Rule{
		{Conditions: []mm.RuleCondition{rList(mm.RuleAddressListEmailAttributeRecipient, isTrue, "vip")}, Actions: []mm.RuleAction{replace("alice@eu.corp.example")}},
		{Actions: []mm.RuleAction{relay("rl")}},
	}, WithAddressLists(lists))
	require.NoError(t, err)
	f := testFacts(t)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Go(func() {
			out, err := rs.Outcome(context.Background(), f)
			require.NoError(t, err)
			require.Equal(t, []string{"bob@corp.example", "alice@eu.corp.example"}, out.Matches[1].Recipients)
		})
	}
	wg.Wait()
	require.Equal(t, []string{"alice@corp.example", "bob@corp.example"}, f.Envelope.Recipients, "facts are not modified")
}

func TestCompileRuleSetErrors(t *testing.T) {
	t.Parallel()
	two := rSize(mm.RuleNumberOperatorEquals, 1)
	two.DmarcExpression = rDmarc(mm.RuleDmarcOperatorEquals, mm.RuleDmarcPolicyNone).DmarcExpression
	twoActions := archive("a")
	twoActions.Drop = &mm.DropAction{}
	strTwo := rString(mm.RuleStringEmailAttributeFrom, sEq, "x")
	strTwo.StringExpression.Evaluate.MimeHeaderAttribute = ptr("X-A")
	ok := []mm.RuleAction{archive("a")}
	cases := []struct {
		name string
		rule mm.Rule
		want string
	}{
		{"no actions", mm.Rule{}, "no actions"},
		{"empty condition", mm.Rule{Conditions: []mm.RuleCondition{{}}, Actions: ok}, "exactly one expression"},
		{"two expressions", mm.Rule{Conditions: []mm.RuleCondition{two}, Actions: ok}, "exactly one expression"},
		{"bad unless", mm.Rule{Unless: []mm.RuleCondition{{}}, Actions: ok}, "unless condition 0"},
		{"two string operands", mm.Rule{Conditions: []mm.RuleCondition{strTwo}, Actions: ok}, "exactly one of"},
		{"bad string attribute", mm.Rule{Conditions: []mm.RuleCondition{rString("BODY", sEq, "x")}, Actions: ok}, "unknown attribute"},
		{"bad string operator", mm.Rule{Conditions: []mm.RuleCondition{rString(mm.RuleStringEmailAttributeFrom, "LIKE", "x")}, Actions: ok}, "unknown string operator"},
		{"no string values", mm.Rule{Conditions: []mm.RuleCondition{rString(mm.RuleStringEmailAttributeFrom, sEq)}, Actions: ok}, "no values"},
		{"non-X header", mm.Rule{Conditions: []mm.RuleCondition{rHeader("Subject", sEq, "x")}, Actions: ok}, "X- header"},
		{"header with colon", mm.Rule{Conditions: []mm.RuleCondition{rHeader("X-A:b", sEq, "x")}, Actions: ok}, "X- header"},
		{"bad cert attribute", mm.Rule{Conditions: []mm.RuleCondition{rCert("ISSUER", sEq, "x")}, Actions: ok}, "certificate attribute"},
		{"bad boolean attribute", mm.Rule{Conditions: []mm.RuleCondition{rBool("HAS_ATTACHMENTS", isTrue)}, Actions: ok}, "unknown attribute"},
		{"bad boolean operator", mm.Rule{Conditions: []mm.RuleCondition{rBool(mm.RuleBooleanEmailAttributeTls, "IS")}, Actions: ok}, "unknown operator"},
		{"bad list attribute", mm.Rule{Conditions: []mm.RuleCondition{rList("BCC", isTrue, "l")}, Actions: ok}, "unknown attribute"},
		{"no lists", mm.Rule{Conditions: []mm.RuleCondition{rList(mm.RuleAddressListEmailAttributeTo, isTrue)}, Actions: ok}, "no address lists"},
		{"bad number operator", mm.Rule{Conditions: []mm.RuleCondition{rSize("APPROX", 1)}, Actions: ok}, "unknown operator"},
		{"bad cidr", mm.Rule{Conditions: []mm.RuleCondition{rIP(mm.RuleIpOperatorCidrMatches, "10.0.0.0/40")}, Actions: ok}, "not a CIDR"},
		{"bad ip operator", mm.Rule{Conditions: []mm.RuleCondition{rIP("IN", "10.0.0.0/8")}, Actions: ok}, "unknown IP operator"},
		{"bad verdict", mm.Rule{Conditions: []mm.RuleCondition{rVerdict(mm.RuleVerdictAttributeSpf, mm.RuleVerdictOperatorEquals, "NEUTRAL")}, Actions: ok}, "unknown verdict"},
		{"bad verdict attribute", mm.Rule{Conditions: []mm.RuleCondition{rVerdict("ARC", mm.RuleVerdictOperatorEquals, mm.RuleVerdictPass)}, Actions: ok}, "unknown attribute"},
		{"bad verdict operator", mm.Rule{Conditions: []mm.RuleCondition{rVerdict(mm.RuleVerdictAttributeSpf, "IN", mm.RuleVerdictPass)}, Actions: ok}, "unknown operator"},
		{"bad dmarc policy", mm.Rule{Conditions: []mm.RuleCondition{rDmarc(mm.RuleDmarcOperatorEquals, "p=reject")}, Actions: ok}, "unknown policy"},
		{"bad dmarc operator", mm.Rule{Conditions: []mm.RuleCondition{rDmarc("IN", mm.RuleDmarcPolicyReject)}, Actions: ok}, "unknown operator"},
		{"no dmarc values", mm.Rule{Conditions: []mm.RuleCondition{rDmarc(mm.RuleDmarcOperatorEquals)}, Actions: ok}, "no values"},
		{"empty action", mm.Rule{Actions: []mm.RuleAction{{}}}, "exactly one action"},
		{"two actions in one", mm.Rule{Actions: []mm.RuleAction{twoActions}}, "exactly one action"},
		{"add header not X-", mm.Rule{Actions: []mm.RuleAction{addHeader("Received", "x")}}, "must start with X-"},
		{"add header CRLF in name", mm.Rule{Actions: []mm.RuleAction{addHeader("X-A\r\nBcc", "x")}}, "letters, digits"},
		{"add header CRLF in value", mm.Rule{Actions: []mm.RuleAction{addHeader("X-A", "x\r\nBcc: victim@example.com")}}, "control characters"},
		{"replace with injection", mm.Rule{Actions: []mm.RuleAction{replace("a@b.example>\r\nRCPT TO:<c@d.example")}}, "not a valid recipient"},
		{"replace with bad address", mm.Rule{Actions: []mm.RuleAction{replace("nobody")}}, "not a valid recipient"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := CompileRuleSet([]mm.Rule{{Actions: ok}, tc.rule})
			require.Error(t, err)
			require.True(t, fault.Is(err, fault.Invalid), "%v", err)
			require.Contains(t, err.Error(), "rule 1")
			require.Contains(t, err.Error(), tc.want)
		})
	}
	rs, err := CompileRuleSet([]mm.Rule{{Actions: []mm.RuleAction{{ReplaceRecipient: &mm.ReplaceRecipientAction{}}}}})
	require.NoError(t, err)
	require.Len(t, rs.Warnings(), 1)
	require.True(t, strings.Contains(rs.Warnings()[0], "ReplaceRecipient"))
}
