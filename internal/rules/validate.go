package rules

import (
	"strings"
	"unicode/utf8"

	"github.com/tidings/tidings/internal/fault"
)

// Limits of the Mail Manager model (shapes HeaderName, HeaderValue,
// EmailAddress).
const (
	MaxHeaderNameLen  = 64
	MaxHeaderValueLen = 128
	MaxRecipientLen   = 254
)

// ValidateHeaderName checks an AddHeader name: the model's HeaderName shape,
// [xX]-[a-zA-Z0-9-]+ of 1–64 characters. AWS only lets rules add X- headers,
// so a rule can never forge Received, From, DKIM-Signature or
// Authentication-Results; the character set also keeps out the colon, white
// space, CR, LF and NUL that would let a name inject a second field.
func ValidateHeaderName(name string) error {
	if len(name) < 3 || len(name) > MaxHeaderNameLen {
		return fault.Invalidf("header name %q must be 3 to %d characters", name, MaxHeaderNameLen)
	}
	if name[0] != 'x' && name[0] != 'X' || name[1] != '-' {
		return fault.Invalidf("header name %q must start with X-", name)
	}
	for i := 2; i < len(name); i++ {
		if c := name[i]; !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return fault.Invalidf("header name %q may hold only letters, digits and hyphens", name)
		}
	}
	return nil
}

// ValidateHeaderValue checks an AddHeader value: 1–128 characters (the
// model's HeaderValue), valid UTF-8 (RFC 6532 3.2), and no control
// characters but HTAB — above all no CR or LF, which would end the field and
// let the value inject header fields or the body (RFC 5322 2.2), and no NUL
// (RFC 5322 2.2 excludes it; many MTAs truncate at it).
func ValidateHeaderValue(value string) error {
	n := utf8.RuneCountInString(value)
	if n < 1 || n > MaxHeaderValueLen {
		return fault.Invalidf("header value must be 1 to %d characters", MaxHeaderValueLen)
	}
	if !utf8.ValidString(value) {
		return fault.Invalidf("header value is not valid UTF-8")
	}
	for _, r := range value {
		if r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fault.Invalidf("header value may not contain control characters (found %U)", r)
		}
	}
	return nil
}

// ValidateRecipient checks a ReplaceRecipient address: a bare addr-spec
// (RFC 5321 4.1.2 Mailbox, no display name, no angle brackets) as the model's
// EmailAddress shape allows it — local part of [a-zA-Z0-9._+-] as a
// dot-atom (RFC 5322 3.4.1: no leading, trailing or doubled dot) of at most
// 64 octets (RFC 5321 4.5.3.1.1), a domain of LDH labels (RFC 1035 2.3.1) of
// at most 255 octets, 254 in all. That excludes CR, LF, NUL and white space
// (no command or header injection when the address is written into RCPT TO
// or a header) and the quoted local parts, source routes, "%" and "!" of
// old relay tricks.
func ValidateRecipient(addr string) error {
	bad := func(why string) error { return fault.Invalidf("%q is not a valid recipient: %s", addr, why) }
	if len(addr) > MaxRecipientLen {
		return bad("too long")
	}
	at := strings.IndexByte(addr, '@')
	if at < 0 || strings.IndexByte(addr[at+1:], '@') >= 0 {
		return bad("it must hold exactly one @")
	}
	local, domain := addr[:at], addr[at+1:]
	if local == "" || len(local) > 64 {
		return bad("the local part must be 1 to 64 characters")
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return bad("misplaced dot in the local part")
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; !(c == '.' || c == '_' || c == '+' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return bad("the local part may hold only letters, digits and . _ + -")
		}
	}
	if !ldhDomain(domain) {
		return bad("the domain is not a host name")
	}
	return nil
}

// ldhDomain: dot-separated labels of letters, digits and inner hyphens,
// 1–63 octets each, at least two labels (a recipient needs a routable name).
func ldhDomain(d string) bool {
	if len(d) == 0 || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}
