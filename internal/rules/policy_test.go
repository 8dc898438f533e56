package rules

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

const (
	allow = mm.AcceptActionAllow
	deny  = mm.AcceptActionDeny

	cidrMatch    = mm.IngressIpOperatorCidrMatches
	notCidrMatch = mm.IngressIpOperatorNotCidrMatches
)

func conn(ip, tls string) *message.Conn {
	c := &message.Conn{TLS: tls}
	if ip != "" {
		c.RemoteIP = netip.MustParseAddr(ip)
	}
	return c
}

// TestPolicyConditions checks every policy condition kind and operator: a
// policy that denies by default and allows on the one condition allows
// exactly when the condition holds.
func TestPolicyConditions(t *testing.T) {
	t.Parallel()
	lists := &fakeLists{members: map[string][]string{
		"journal": {"journal@example.com"},
		"arn:aws:ses:us-east-1:123456789012:mailmanager-address-list/al-vip": {"ceo@example.com"},
	}}
	an := &fakeAnalyzer{results: map[string]string{
		"abusix/listed":    "true",
		"clean/listed":     "false",
		"weird/listed":     "maybe",
		"spamhaus/dbl":     "phish.example",
		"spamhaus/nothing": "",
	}}
	cases := []struct {
		name string
		cond mm.PolicyCondition
		conn *message.Conn
		rcpt string
		want bool
	}{
		{"ipv4 in", pIP(cidrMatch, "192.0.2.0/24"), conn("192.0.2.7", ""), "a@b.example", true},
		{"ipv4 out", pIP(cidrMatch, "192.0.2.0/24"), conn("198.51.100.7", ""), "a@b.example", false},
		{"ipv4 second of many", pIP(cidrMatch, "10.0.0.0/8", "198.51.100.0/24"), conn("198.51.100.7", ""), "a@b.example", true},
		{"ipv4 host bits ignored", pIP(cidrMatch, "10.1.2.3/8"), conn("10.200.0.1", ""), "a@b.example", true},
		{"ipv4 /32", pIP(cidrMatch, "203.0.113.9/32"), conn("203.0.113.9", ""), "a@b.example", true},
		{"ipv4 mapped client", pIP(cidrMatch, "192.0.2.0/24"), conn("::ffff:192.0.2.7", ""), "a@b.example", true},
		{"ipv4 expr, ipv6 client", pIP(cidrMatch, "0.0.0.0/0"), conn("2001:db8::1", ""), "a@b.example", false},
		{"not ipv4 in", pIP(notCidrMatch, "192.0.2.0/24"), conn("192.0.2.7", ""), "a@b.example", false},
		{"not ipv4 out", pIP(notCidrMatch, "192.0.2.0/24", "10.0.0.0/8"), conn("198.51.100.7", ""), "a@b.example", true},
		{"not ipv4 in second", pIP(notCidrMatch, "192.0.2.0/24", "10.0.0.0/8"), conn("10.9.9.9", ""), "a@b.example", false},
		{"not ipv4, ipv6 client", pIP(notCidrMatch, "192.0.2.0/24"), conn("2001:db8::1", ""), "a@b.example", true},
		{"ipv6 in", pIPv6(cidrMatch, "2001:db8::/32"), conn("2001:db8:1::5", ""), "a@b.example", true},
		{"ipv6 out", pIPv6(cidrMatch, "2001:db8::/32"), conn("2001:db9::5", ""), "a@b.example", false},
		{"ipv6 expr, ipv4 client", pIPv6(cidrMatch, "::/0"), conn("192.0.2.1", ""), "a@b.example", false},
		{"not ipv6 in", pIPv6(notCidrMatch, "2001:db8::/32"), conn("2001:db8::5", ""), "a@b.example", false},
		{"not ipv6 out", pIPv6(notCidrMatch, "2001:db8::/32"), conn("2001:db9::5", ""), "a@b.example", true},
		{"no ip known", pIP(cidrMatch, "0.0.0.0/0"), conn("", ""), "a@b.example", false},

		{"tls min 1.2 on 1.2", pTLS(mm.IngressTlsProtocolOperatorMinimumTlsVersion, mm.IngressTlsProtocolAttributeTls12), conn("192.0.2.1", "TLS1_2"), "a@b.example", true},
		{"tls min 1.2 on 1.3", pTLS(mm.IngressTlsProtocolOperatorMinimumTlsVersion, mm.IngressTlsProtocolAttributeTls12), conn("192.0.2.1", "TLS1_3"), "a@b.example", true},
		{"tls min 1.2 on cleartext", pTLS(mm.IngressTlsProtocolOperatorMinimumTlsVersion, mm.IngressTlsProtocolAttributeTls12), conn("192.0.2.1", ""), "a@b.example", false},
		{"tls min 1.2 on 1.1", pTLS(mm.IngressTlsProtocolOperatorMinimumTlsVersion, mm.IngressTlsProtocolAttributeTls12), conn("192.0.2.1", "TLS1_1"), "a@b.example", false},
		{"tls min 1.3 on 1.2", pTLS(mm.IngressTlsProtocolOperatorMinimumTlsVersion, mm.IngressTlsProtocolAttributeTls13), conn("192.0.2.1", "TLS1_2"), "a@b.example", false},
		{"tls is 1.2 on 1.2", pTLS(mm.IngressTlsProtocolOperatorIs, mm.IngressTlsProtocolAttributeTls12), conn("192.0.2.1", "TLS1_2"), "a@b.example", true},
		{"tls is 1.2 on 1.3", pTLS(mm.IngressTlsProtocolOperatorIs, mm.IngressTlsProtocolAttributeTls12), conn("192.0.2.1", "TLS1_3"), "a@b.example", false},
		{"tls is 1.3 on cleartext", pTLS(mm.IngressTlsProtocolOperatorIs, mm.IngressTlsProtocolAttributeTls13), conn("192.0.2.1", ""), "a@b.example", false},

		{"rcpt equals", pRcpt(mm.IngressStringOperatorEquals, "journal@example.com"), conn("192.0.2.1", ""), "journal@example.com", true},
		{"rcpt equals ignores case", pRcpt(mm.IngressStringOperatorEquals, "journal@example.com"), conn("192.0.2.1", ""), "Journal@EXAMPLE.com", true},
		{"rcpt equals keeps subaddress", pRcpt(mm.IngressStringOperatorEquals, "user@example.com"), conn("192.0.2.1", ""), "user+tag@example.com", false},
		{"rcpt equals any value", pRcpt(mm.IngressStringOperatorEquals, "x@example.com", "y@example.com"), conn("192.0.2.1", ""), "y@example.com", true},
		{"rcpt not equals", pRcpt(mm.IngressStringOperatorNotEquals, "journal@example.com"), conn("192.0.2.1", ""), "other@example.com", true},
		{"rcpt not equals, equal", pRcpt(mm.IngressStringOperatorNotEquals, "journal@example.com"), conn("192.0.2.1", ""), "JOURNAL@example.com", false},
		{"rcpt not equals none of many", pRcpt(mm.IngressStringOperatorNotEquals, "x@example.com", "y@example.com"), conn("192.0.2.1", ""), "y@example.com", false},
		{"rcpt starts with", pRcpt(mm.IngressStringOperatorStartsWith, "app-"), conn("192.0.2.1", ""), "APP-billing@example.com", true},
		{"rcpt starts with, no", pRcpt(mm.IngressStringOperatorStartsWith, "app-"), conn("192.0.2.1", ""), "billing@example.com", false},
		{"rcpt ends with", pRcpt(mm.IngressStringOperatorEndsWith, "@example.com"), conn("192.0.2.1", ""), "user+tag@Example.COM", true},
		{"rcpt ends with, no", pRcpt(mm.IngressStringOperatorEndsWith, "@example.com"), conn("192.0.2.1", ""), "user@example.com.evil.test", false},
		{"rcpt contains", pRcpt(mm.IngressStringOperatorContains, "+"), conn("192.0.2.1", ""), "user+tag@example.com", true},
		{"rcpt contains, no", pRcpt(mm.IngressStringOperatorContains, "+"), conn("192.0.2.1", ""), "user@example.com", false},

		{"in list", pList(mm.IngressBooleanOperatorIsTrue, "journal"), conn("192.0.2.1", ""), "Journal@example.com", true},
		{"in list by ARN, second list", pList(mm.IngressBooleanOperatorIsTrue, "journal", "arn:aws:ses:us-east-1:123456789012:mailmanager-address-list/al-vip"), conn("192.0.2.1", ""), "ceo@example.com", true},
		{"not in list", pList(mm.IngressBooleanOperatorIsTrue, "journal"), conn("192.0.2.1", ""), "x@example.com", false},
		{"is false, not in list", pList(mm.IngressBooleanOperatorIsFalse, "journal"), conn("192.0.2.1", ""), "x@example.com", true},
		{"is false, in list", pList(mm.IngressBooleanOperatorIsFalse, "journal"), conn("192.0.2.1", ""), "journal@example.com", false},

		{"addon true", pAddonBool(mm.IngressBooleanOperatorIsTrue, "abusix", "listed"), conn("192.0.2.1", ""), "a@b.example", true},
		{"addon false", pAddonBool(mm.IngressBooleanOperatorIsTrue, "clean", "listed"), conn("192.0.2.1", ""), "a@b.example", false},
		{"addon is false", pAddonBool(mm.IngressBooleanOperatorIsFalse, "clean", "listed"), conn("192.0.2.1", ""), "a@b.example", true},
		{"addon not a boolean", pAddonBool(mm.IngressBooleanOperatorIsFalse, "weird", "listed"), conn("192.0.2.1", ""), "a@b.example", false},
		{"addon string", pAddonString(mm.IngressStringOperatorEndsWith, "spamhaus", "dbl", ".example"), conn("192.0.2.1", ""), "a@b.example", true},
		{"addon string not equals", pAddonString(mm.IngressStringOperatorNotEquals, "spamhaus", "nothing", "x"), conn("192.0.2.1", ""), "a@b.example", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			an := &fakeAnalyzer{results: an.results}
			p, err := CompilePolicy([]mm.PolicyStatement{stmt(allow, tc.cond)}, deny, nil, WithAddressLists(lists), WithAnalyzer(an))
			require.NoError(t, err)
			ctx := context.Background()
			res, err := p.Evaluate(ctx, tc.conn, tc.rcpt)
			require.NoError(t, err)
			if strings.HasPrefix(tc.name, "addon") {
				// Add-on conditions are judged after DATA: at RCPT the
				// outcome is pending and the recipient accepted.
				require.True(t, res.Pending)
				require.True(t, res.Allow)
				require.True(t, p.NeedsMessage())
				msg := &Message{}
				res, err = p.EvaluateMessage(ctx, tc.conn, tc.rcpt, msg)
				require.NoError(t, err)
				require.Same(t, msg, an.last.Message)
			} else {
				require.False(t, res.Pending)
				require.False(t, p.NeedsMessage())
				require.Equal(t, tc.want, p.RecipientDecision(ctx, tc.conn, tc.rcpt))
				again, err := p.EvaluateMessage(ctx, tc.conn, tc.rcpt, &Message{})
				require.NoError(t, err)
				require.Equal(t, res, again, "no add-on: after DATA as at RCPT")
			}
			require.False(t, res.Pending)
			require.Equal(t, tc.want, res.Allow)
			if tc.want {
				require.Equal(t, 0, res.Statement)
			} else {
				require.Equal(t, -1, res.Statement)
			}
		})
	}
}

func TestPolicyStatementNeedsAllConditions(t *testing.T) {
	t.Parallel()
	p, err := CompilePolicy([]mm.PolicyStatement{
		stmt(allow, pIP(cidrMatch, "192.0.2.0/24"), pRcpt(mm.IngressStringOperatorEndsWith, "@example.com")),
	}, deny, nil)
	require.NoError(t, err)
	ctx := context.Background()
	require.True(t, p.RecipientDecision(ctx, conn("192.0.2.1", ""), "a@example.com"))
	require.False(t, p.RecipientDecision(ctx, conn("192.0.2.1", ""), "a@example.org"))
	require.False(t, p.RecipientDecision(ctx, conn("198.51.100.1", ""), "a@example.com"))
}

// TestPolicyHierarchy: DENY statements are evaluated before ALLOW ones
// whatever their position (eb-filters.html), then the default action.
func TestPolicyHierarchy(t *testing.T) {
	t.Parallel()
	statements := []mm.PolicyStatement{
		stmt(allow, pIP(cidrMatch, "10.0.0.0/8")),
		stmt(allow, pRcpt(mm.IngressStringOperatorEndsWith, "@partner.example")),
		stmt(deny, pRcpt(mm.IngressStringOperatorEquals, "blocked@example.com")),
	}
	ctx := context.Background()
	cases := []struct {
		name      string
		def       mm.AcceptAction
		ip, rcpt  string
		allow     bool
		statement int
	}{
		{"deny wins over earlier allow", deny, "10.1.1.1", "blocked@example.com", false, 2},
		{"deny wins with default allow", allow, "10.1.1.1", "blocked@example.com", false, 2},
		{"first allow", deny, "10.1.1.1", "x@example.com", true, 0},
		{"second allow", deny, "192.0.2.1", "x@partner.example", true, 1},
		{"both allows: first reported", deny, "10.1.1.1", "x@partner.example", true, 0},
		{"default deny", deny, "192.0.2.1", "x@example.com", false, -1},
		{"default allow", allow, "192.0.2.1", "x@example.com", true, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := CompilePolicy(statements, tc.def, nil)
			require.NoError(t, err)
			res, err := p.Evaluate(ctx, conn(tc.ip, ""), tc.rcpt)
			require.NoError(t, err)
			require.Equal(t, tc.allow, res.Allow)
			require.Equal(t, tc.statement, res.Statement)
		})
	}
}

func TestPolicyNoStatements(t *testing.T) {
	t.Parallel()
	for _, def := range []mm.AcceptAction{allow, deny} {
		p, err := CompilePolicy(nil, def, ptr(int64(10<<20)))
		require.NoError(t, err)
		require.Equal(t, int64(10<<20), p.MaxMessageSizeBytes())
		decided, ok := p.ConnectDecision(context.Background(), conn("192.0.2.1", ""))
		require.True(t, decided)
		require.Equal(t, def == allow, ok)
		require.Equal(t, def == allow, p.RecipientDecision(context.Background(), conn("192.0.2.1", ""), "a@b.example"))
	}
	p, err := CompilePolicy(nil, allow, nil)
	require.NoError(t, err)
	require.Zero(t, p.MaxMessageSizeBytes())
}

// TestConnectDecision checks the SMTP staging: decided only when no
// recipient (and no later STARTTLS) could change the outcome.
func TestConnectDecision(t *testing.T) {
	t.Parallel()
	inNet := pIP(cidrMatch, "192.0.2.0/24")
	journal := pRcpt(mm.IngressStringOperatorEquals, "journal@example.com")
	tls12 := pTLS(mm.IngressTlsProtocolOperatorMinimumTlsVersion, mm.IngressTlsProtocolAttributeTls12)
	cases := []struct {
		name       string
		statements []mm.PolicyStatement
		def        mm.AcceptAction
		conn       *message.Conn
		decided    bool
		allow      bool
	}{
		{"ip deny, in", []mm.PolicyStatement{stmt(deny, inNet)}, allow, conn("192.0.2.9", ""), true, false},
		{"ip deny, out", []mm.PolicyStatement{stmt(deny, inNet)}, allow, conn("198.51.100.9", ""), true, true},
		{"ip allow, in", []mm.PolicyStatement{stmt(allow, inNet)}, deny, conn("192.0.2.9", ""), true, true},
		{"ip allow, out", []mm.PolicyStatement{stmt(allow, inNet)}, deny, conn("198.51.100.9", ""), true, false},
		// The case that must not be decided at connect: the IP matches but
		// the statement also needs a recipient.
		{"ip+rcpt deny, ip in: undecided", []mm.PolicyStatement{stmt(deny, inNet, journal)}, allow, conn("192.0.2.9", ""), false, false},
		{"ip+rcpt deny, ip out", []mm.PolicyStatement{stmt(deny, inNet, journal)}, allow, conn("198.51.100.9", ""), true, true},
		{"ip+rcpt allow, ip in: undecided", []mm.PolicyStatement{stmt(allow, inNet, journal)}, deny, conn("192.0.2.9", ""), false, false},
		{"ip+rcpt allow, ip out", []mm.PolicyStatement{stmt(allow, inNet, journal)}, deny, conn("198.51.100.9", ""), true, false},
		{"journaling policy: undecided", []mm.PolicyStatement{stmt(allow, journal)}, deny, conn("192.0.2.9", ""), false, false},
		{"rcpt allow, default allow", []mm.PolicyStatement{stmt(allow, journal)}, allow, conn("192.0.2.9", ""), true, true},
		{"rcpt deny, default deny", []mm.PolicyStatement{stmt(deny, journal)}, deny, conn("192.0.2.9", ""), true, false},
		{"ip allow but rcpt deny: undecided", []mm.PolicyStatement{stmt(allow, inNet), stmt(deny, journal)}, deny, conn("192.0.2.9", ""), false, false},
		{"ip deny beats rcpt allow", []mm.PolicyStatement{stmt(allow, journal), stmt(deny, inNet)}, allow, conn("192.0.2.9", ""), true, false},
		{"ip allow beats rcpt allow", []mm.PolicyStatement{stmt(allow, journal), stmt(allow, inNet)}, deny, conn("192.0.2.9", ""), true, true},
		{"address list: undecided", []mm.PolicyStatement{stmt(allow, pList(mm.IngressBooleanOperatorIsTrue, "l"))}, deny, conn("192.0.2.9", ""), false, false},
		{"add-on: undecided", []mm.PolicyStatement{stmt(deny, pAddonBool(mm.IngressBooleanOperatorIsTrue, "a", "b"))}, allow, conn("192.0.2.9", ""), false, false},
		{"add-on allow, default allow", []mm.PolicyStatement{stmt(allow, pAddonBool(mm.IngressBooleanOperatorIsTrue, "a", "b"))}, allow, conn("192.0.2.9", ""), true, true},
		{"ip deny beats add-on allow", []mm.PolicyStatement{stmt(allow, pAddonBool(mm.IngressBooleanOperatorIsTrue, "a", "b")), stmt(deny, inNet)}, allow, conn("192.0.2.9", ""), true, false},
		{"tls before STARTTLS: undecided", []mm.PolicyStatement{stmt(allow, tls12)}, deny, conn("192.0.2.9", ""), false, false},
		{"tls after STARTTLS", []mm.PolicyStatement{stmt(allow, tls12)}, deny, conn("192.0.2.9", "TLS1_3"), true, true},
		{"old tls after STARTTLS", []mm.PolicyStatement{stmt(allow, tls12)}, deny, conn("192.0.2.9", "TLS1_0"), true, false},
		{"tls and ip out", []mm.PolicyStatement{stmt(allow, tls12, inNet)}, deny, conn("198.51.100.9", ""), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := CompilePolicy(tc.statements, tc.def, nil)
			require.NoError(t, err)
			decided, ok := p.ConnectDecision(context.Background(), tc.conn)
			require.Equal(t, tc.decided, decided)
			if decided {
				require.Equal(t, tc.allow, ok)
			}
		})
	}
}

// TestConnectDecisionAgreesWithRecipients: over random policies, whenever
// ConnectDecision decides, every recipient gets the same answer.
func TestConnectDecisionAgreesWithRecipients(t *testing.T) {
	t.Parallel()
	lists := &fakeLists{members: map[string][]string{"l": {"b@x.example"}}}
	conds := []mm.PolicyCondition{
		pIP(cidrMatch, "192.0.2.0/24"),
		pIP(notCidrMatch, "192.0.2.0/25"),
		pRcpt(mm.IngressStringOperatorEquals, "a@x.example"),
		pRcpt(mm.IngressStringOperatorNotEquals, "a@x.example"),
		pRcpt(mm.IngressStringOperatorEndsWith, "@x.example"),
		pList(mm.IngressBooleanOperatorIsTrue, "l"),
		pTLS(mm.IngressTlsProtocolOperatorMinimumTlsVersion, mm.IngressTlsProtocolAttributeTls12),
	}
	ips := []string{"192.0.2.1", "192.0.2.200", "198.51.100.1"}
	rcpts := []string{"a@x.example", "b@x.example", "c@y.example"}
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	decidedSeen := 0
	for i := 0; i < 2000; i++ {
		statements, def := randomPolicy(rng, conds)
		p, err := CompilePolicy(statements, def, nil, WithAddressLists(lists))
		require.NoError(t, err)
		for _, ip := range ips {
			for _, tls := range []string{"", "TLS1_3"} {
				decided, ok := p.ConnectDecision(ctx, conn(ip, tls))
				if !decided {
					continue
				}
				decidedSeen++
				// A decision on a cleartext connection must also hold if the
				// client upgrades with STARTTLS before RCPT.
				for _, after := range []string{tls, "TLS1_3"} {
					for _, r := range rcpts {
						require.Equal(t, ok, p.RecipientDecision(ctx, conn(ip, after), r),
							"policy %d ip %s tls %q→%q rcpt %s", i, ip, tls, after, r)
					}
				}
			}
		}
	}
	require.Greater(t, decidedSeen, 100)
}

func TestPolicyAddressListFailure(t *testing.T) {
	t.Parallel()
	lists := &fakeLists{fail: true}
	p, err := CompilePolicy([]mm.PolicyStatement{stmt(allow, pList(mm.IngressBooleanOperatorIsTrue, "l"))}, deny, nil, WithAddressLists(lists))
	require.NoError(t, err)
	res, err := p.Evaluate(context.Background(), conn("192.0.2.1", ""), "a@b.example")
	require.ErrorContains(t, err, "store down")
	require.False(t, res.Allow)
	require.False(t, p.RecipientDecision(context.Background(), conn("192.0.2.1", ""), "a@b.example"))
}

func TestPolicyUnjudgeableConditions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// No analyzer: the add-on condition does not hold, whatever its operator,
	// and a warning says so — at compile time and at each evaluation.
	for _, op := range []mm.IngressBooleanOperator{mm.IngressBooleanOperatorIsTrue, mm.IngressBooleanOperatorIsFalse} {
		p, err := CompilePolicy([]mm.PolicyStatement{stmt(allow, pAddonBool(op, "abusix", "listed"))}, deny, nil)
		require.NoError(t, err)
		require.Len(t, p.Warnings(), 1)
		res, err := p.EvaluateMessage(ctx, conn("192.0.2.1", ""), "a@b.example", nil)
		require.NoError(t, err)
		require.False(t, res.Allow)
		require.True(t, res.Unavailable, "a deny that may be the missing add-on's doing")
		require.Len(t, res.Warnings, 1)
		require.Contains(t, res.Warnings[0], "no add-on analyzer")
	}
	// A failing add-on does not stop mail: warning, condition false.
	an := &fakeAnalyzer{fail: true}
	p, err := CompilePolicy([]mm.PolicyStatement{stmt(deny, pAddonBool(mm.IngressBooleanOperatorIsTrue, "abusix", "listed"))}, allow, nil, WithAnalyzer(an))
	require.NoError(t, err)
	require.Empty(t, p.Warnings())
	res, err := p.Evaluate(ctx, conn("192.0.2.1", ""), "rcpt@b.example")
	require.NoError(t, err)
	require.True(t, res.Pending)
	require.Zero(t, an.calls, "no add-on runs before DATA")
	res, err = p.EvaluateMessage(ctx, conn("192.0.2.1", ""), "rcpt@b.example", &Message{})
	require.NoError(t, err)
	require.True(t, res.Allow)
	require.True(t, res.Unavailable)
	require.Len(t, res.Warnings, 1)
	require.Contains(t, res.Warnings[0], "add-on unreachable; the condition does not hold")
	require.Equal(t, "rcpt@b.example", an.last.Recipient)
	require.Nil(t, an.last.Facts)
	// No address lists configured: the condition does not hold either way.
	for _, op := range []mm.IngressBooleanOperator{mm.IngressBooleanOperatorIsTrue, mm.IngressBooleanOperatorIsFalse} {
		p, err := CompilePolicy([]mm.PolicyStatement{stmt(allow, pList(op, "l"))}, deny, nil)
		require.NoError(t, err)
		res, err := p.Evaluate(ctx, conn("192.0.2.1", ""), "a@b.example")
		require.NoError(t, err)
		require.False(t, res.Allow)
		require.NotEmpty(t, res.Warnings)
	}
}

func TestCompilePolicyErrors(t *testing.T) {
	t.Parallel()
	two := pIP(cidrMatch, "192.0.2.0/24")
	two.StringExpression = pRcpt(mm.IngressStringOperatorEquals, "a@b.example").StringExpression
	badAttr := pIP(cidrMatch, "192.0.2.0/24")
	badAttr.IpExpression.Evaluate.Attribute = ptr(mm.IngressIpv4Attribute("RECIPIENT"))
	cases := []struct {
		name       string
		statements []mm.PolicyStatement
		def        mm.AcceptAction
		max        *int64
		want       string
	}{
		{"bad default", nil, "MAYBE", nil, "default action"},
		{"negative size", nil, allow, ptr(int64(-1)), "negative"},
		{"no conditions", []mm.PolicyStatement{stmt(allow)}, deny, nil, "no conditions"},
		{"bad action", []mm.PolicyStatement{stmt("PERMIT", two)}, deny, nil, "exactly one"},
		{"bad action 2", []mm.PolicyStatement{stmt("PERMIT", pIP(cidrMatch, "192.0.2.0/24"))}, deny, nil, "unknown action"},
		{"empty condition", []mm.PolicyStatement{stmt(allow, mm.PolicyCondition{})}, deny, nil, "exactly one"},
		{"two expressions", []mm.PolicyStatement{stmt(allow, two)}, deny, nil, "exactly one"},
		{"bad cidr", []mm.PolicyStatement{stmt(allow, pIP(cidrMatch, "192.0.2.0/33"))}, deny, nil, "not a CIDR"},
		{"v6 in v4 expression", []mm.PolicyStatement{stmt(allow, pIP(cidrMatch, "2001:db8::/32"))}, deny, nil, "not an IPv4"},
		{"v4 in v6 expression", []mm.PolicyStatement{stmt(allow, pIPv6(cidrMatch, "192.0.2.0/24"))}, deny, nil, "not an IPv6"},
		{"no cidrs", []mm.PolicyStatement{stmt(allow, pIP(cidrMatch))}, deny, nil, "no values"},
		{"bad ip operator", []mm.PolicyStatement{stmt(allow, pIP("IN", "192.0.2.0/24"))}, deny, nil, "unknown IP operator"},
		{"bad ip attribute", []mm.PolicyStatement{stmt(allow, badAttr)}, deny, nil, "SENDER_IP"},
		{"bad tls version", []mm.PolicyStatement{stmt(allow, pTLS(mm.IngressTlsProtocolOperatorIs, "SSL3"))}, deny, nil, "TLS version"},
		{"bad string operator", []mm.PolicyStatement{stmt(allow, pRcpt("MATCHES", "x"))}, deny, nil, "unknown string operator"},
		{"no string values", []mm.PolicyStatement{stmt(allow, pRcpt(mm.IngressStringOperatorEquals))}, deny, nil, "no values"},
		{"no address lists", []mm.PolicyStatement{stmt(allow, pList(mm.IngressBooleanOperatorIsTrue))}, deny, nil, "no address lists"},
		{"bad boolean operator", []mm.PolicyStatement{stmt(allow, pList("IS", "l"))}, deny, nil, "unknown operator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := CompilePolicy(tc.statements, tc.def, tc.max)
			require.Error(t, err)
			require.True(t, fault.Is(err, fault.Invalid), "%v", err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestJournalingPolicy is SCENARIOS.md #4: a policy that rejects anything
// not addressed to the journaling address, written both ways.
func TestJournalingPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for i, p := range []struct {
		statements []mm.PolicyStatement
		def        mm.AcceptAction
	}{
		{[]mm.PolicyStatement{stmt(allow, pRcpt(mm.IngressStringOperatorEquals, "journal@example.com"))}, deny},
		{[]mm.PolicyStatement{stmt(deny, pRcpt(mm.IngressStringOperatorNotEquals, "journal@example.com"))}, allow},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			pol, err := CompilePolicy(p.statements, p.def, nil)
			require.NoError(t, err)
			decided, _ := pol.ConnectDecision(ctx, conn("192.0.2.1", ""))
			require.False(t, decided)
			require.True(t, pol.RecipientDecision(ctx, conn("192.0.2.1", ""), "journal@example.com"))
			require.False(t, pol.RecipientDecision(ctx, conn("192.0.2.1", ""), "someone@example.com"))
			require.False(t, pol.RecipientDecision(ctx, conn("192.0.2.1", ""), "journal@example.com.evil.test"))
		})
	}
}

// TestRecipientDecisionAgreesWithMessage: over random policies with add-on
// conditions, whatever is decided before DATA (at connect, or at RCPT when
// not Pending) is what the policy decides with the message.
func TestRecipientDecisionAgreesWithMessage(t *testing.T) {
	t.Parallel()
	lists := &fakeLists{members: map[string][]string{"l": {"b@x.example"}}}
	an := &fakeAnalyzer{results: map[string]string{"spam/is_spam": "true", "ham/is_spam": "false"}}
	conds := []mm.PolicyCondition{
		pIP(cidrMatch, "192.0.2.0/24"),
		pRcpt(mm.IngressStringOperatorEquals, "a@x.example"),
		pList(mm.IngressBooleanOperatorIsTrue, "l"),
		pAddonBool(mm.IngressBooleanOperatorIsTrue, "spam", "is_spam"),
		pAddonBool(mm.IngressBooleanOperatorIsTrue, "ham", "is_spam"),
		pAddonString(mm.IngressStringOperatorEquals, "spam", "is_spam", "true"),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	pending, decided := 0, 0
	for i := 0; i < 2000; i++ {
		statements, def := randomPolicy(rng, conds)
		p, err := CompilePolicy(statements, def, nil, WithAddressLists(lists), WithAnalyzer(an))
		require.NoError(t, err)
		for _, ip := range []string{"192.0.2.1", "198.51.100.1"} {
			c := conn(ip, "")
			atConnect, connectAllow := p.ConnectDecision(ctx, c)
			for _, r := range []string{"a@x.example", "b@x.example", "c@y.example"} {
				final, err := p.EvaluateMessage(ctx, c, r, &Message{})
				require.NoError(t, err)
				require.False(t, final.Pending)
				if atConnect {
					require.Equal(t, connectAllow, final.Allow, "policy %d ip %s rcpt %s", i, ip, r)
				}
				res, err := p.Evaluate(ctx, c, r)
				require.NoError(t, err)
				if res.Pending {
					pending++
					require.True(t, res.Allow, "a pending recipient is accepted")
					continue
				}
				decided++
				require.Equal(t, res.Allow, final.Allow, "policy %d ip %s rcpt %s", i, ip, r)
			}
		}
	}
	require.Greater(t, pending, 100)
	require.Greater(t, decided, 100)
}

// randomPolicy draws up to three statements of one or two of conds, and a
// default action.
func randomPolicy(rng *rand.Rand, conds []mm.PolicyCondition) ([]mm.PolicyStatement, mm.AcceptAction) {
	var statements []mm.PolicyStatement
	for n := rng.IntN(4); n > 0; n-- {
		var cs []mm.PolicyCondition
		for k := 1 + rng.IntN(2); k > 0; k-- {
			cs = append(cs, conds[rng.IntN(len(conds))])
		}
		statements = append(statements, stmt([]mm.AcceptAction{allow, deny}[rng.IntN(2)], cs...))
	}
	return statements, []mm.AcceptAction{allow, deny}[rng.IntN(2)]
}
