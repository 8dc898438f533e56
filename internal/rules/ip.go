package rules

import (
	"fmt"
	"net/netip"
)

type family int8

const (
	anyFamily family = iota
	v4Only
	v6Only
)

// ipMatcher is a compiled CIDR condition (CIDR_MATCHES / NOT_CIDR_MATCHES).
// Values are ORed for CIDR_MATCHES; NOT_CIDR_MATCHES holds when the address
// is in none of them (RuleIpExpression, API reference) — it is exactly the
// negation of CIDR_MATCHES, so an address of the other family (an IPv6
// client against IPv4 ranges) does not match the ranges and does satisfy
// NOT_CIDR_MATCHES.
type ipMatcher struct {
	prefixes []netip.Prefix
	negate   bool
}

func newIPMatcher(op string, values []string, fam family) (ipMatcher, error) {
	var m ipMatcher
	switch op {
	case "CIDR_MATCHES":
	case "NOT_CIDR_MATCHES":
		m.negate = true
	default:
		return m, fmt.Errorf("unknown IP operator %q", op)
	}
	if len(values) == 0 {
		return m, fmt.Errorf("no values")
	}
	for _, v := range values {
		p, err := parsePrefix(v)
		if err != nil {
			return m, err
		}
		switch {
		case fam == v4Only && !p.Addr().Is4():
			return m, fmt.Errorf("%q is not an IPv4 CIDR", v)
		case fam == v6Only && !p.Addr().Is6():
			return m, fmt.Errorf("%q is not an IPv6 CIDR", v)
		}
		m.prefixes = append(m.prefixes, p)
	}
	return m, nil
}

// parsePrefix reads "a.b.c.d/n" or "x::/n"; a bare address is taken as a
// single host (RuleIpStringValue's pattern admits one). Host bits are
// cleared, so 10.1.2.3/8 means 10.0.0.0/8.
func parsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR block", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		// ::ffff:a.b.c.d/n+96 is an IPv4 range written the IPv6 way.
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q is not a usable CIDR block", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func (m ipMatcher) match(a netip.Addr) bool {
	a = a.Unmap() // an IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d
	in := false
	if a.IsValid() {
		for _, p := range m.prefixes {
			if p.Contains(a) {
				in = true
				break
			}
		}
	}
	return in != m.negate
}
