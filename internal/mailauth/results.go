package mailauth

import (
	"strings"
	"unicode/utf8"
)

// This file writes and reads the Authentication-Results header field of
// RFC 8601.

// resinfo is one result of the header: method=result, an optional comment,
// a reason and properties (ptype.property=pvalue).
type resinfo struct {
	method  string // "spf", "dkim", "dmarc", "auth": ours, safe tokens
	result  string // "pass", "fail", …: ours, safe tokens
	comment string // ours, from a fixed vocabulary; without parentheses
	reason  string // free text, possibly from the message
	props   []prop
}

type prop struct {
	name  string // "smtp.mailfrom", "header.d", …: ours
	value string // from the message or the session: untrusted
}

const (
	// RFC 5322 2.1.1: lines SHOULD stay within 78 characters and MUST
	// within 998.
	foldAt        = 78
	maxPvalue     = 320 // an address is at most 254 octets (RFC 5321 4.5.3.1.3)
	maxReason     = 120
	resultsPrefix = len("Authentication-Results: ")
)

// formatResults builds the value of an Authentication-Results field. Folding
// whitespace (CRLF and a tab) is inserted between words so that lines stay
// short; unfold by deleting each CRLF. Untrusted text is quoted or dropped so
// that it can neither break the field's syntax nor inject a header line.
func formatResults(authservID string, infos []resinfo) string {
	var words []string // each ends up separated by FWS from the next
	if len(infos) == 0 {
		words = append(words, authservID+";", "none")
	} else {
		words = append(words, authservID+";")
	}
	for i, ri := range infos {
		w := []string{ri.method + "=" + ri.result}
		if ri.comment != "" {
			w = append(w, "("+ri.comment+")")
		}
		if ri.reason != "" {
			reason := ri.reason
			if len(reason) > maxReason {
				reason = truncateUTF8(reason, maxReason)
			}
			w = append(w, "reason="+quoteValue(reason))
		}
		for _, p := range ri.props {
			if v, ok := formatPvalue(p.value); ok {
				w = append(w, p.name+"="+v)
			}
		}
		if i < len(infos)-1 {
			w[len(w)-1] += ";"
		}
		words = append(words, w...)
	}

	var b strings.Builder
	line := resultsPrefix
	for i, w := range words {
		if i > 0 {
			if line+1+len(w) > foldAt {
				b.WriteString("\r\n\t")
				line = 1
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// isTokenChar reports whether c may appear in a MIME token (RFC 2045 5.1):
// any printable ASCII but the tspecials.
func isTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && !strings.ContainsRune(`()<>@,;:\"/[]?=`, rune(c))
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// isAtext reports whether c is atext (RFC 5322 3.2.3).
func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// isDotAtom reports whether s is a dot-atom (RFC 5322 3.2.3), or, with
// domain set, a domain name of letters, digits, hyphens and underscores.
func isDotAtom(s string, domain bool) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if domain && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
			if !domain && !isAtext(c) {
				return false
			}
		}
	}
	return true
}

// formatPvalue writes a property value (RFC 8601 2.2: pvalue = value /
// [[local-part] "@"] domain-name). It reports false for a value not worth
// writing: empty, or too long.
func formatPvalue(s string) (string, bool) {
	if s == "" || len(s) > maxPvalue {
		return "", false
	}
	if isToken(s) {
		return s, true
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		local, domain := s[:i], s[i+1:]
		if (local == "" || isDotAtom(local, false)) && isDotAtom(domain, true) {
			return s, true
		}
	}
	return quoteValue(s), true
}

// quoteValue writes s as a token when it is one, else as a quoted-string
// (RFC 5322 3.2.4, with UTF-8 allowed by RFC 6532). Control characters,
// CR and LF among them, are dropped: they have no business in a result and
// would let a sender inject header lines.
func quoteValue(s string) string {
	if isToken(s) {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "?") {
		switch {
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError:
			continue
		case r == '"' || r == '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// parseAuthservID returns the authserv-id at the start of an
// Authentication-Results value: [CFWS] value, where value is a token or a
// quoted-string (RFC 8601 2.2).
func parseAuthservID(v string) (string, bool) {
	rest, ok := skipCFWS(v)
	if !ok || rest == "" {
		return "", false
	}
	if rest[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(rest); i++ {
			switch c := rest[i]; c {
			case '\\':
				// quoted-pair = "\" (VCHAR / WSP)
				if i+1 >= len(rest) || (rest[i+1] < ' ' && rest[i+1] != '\t') || rest[i+1] == 0x7f {
					return "", false
				}
				i++
				b.WriteByte(rest[i])
			case '"':
				id := b.String()
				return id, id != ""
			case '\r', '\n':
				// Folding inside a quoted-string stands for the
				// whitespace after it; CR and LF themselves are not
				// part of the value.
			default:
				if (c < ' ' && c != '\t') || c == 0x7f {
					return "", false // not qtext (RFC 5322 3.2.4)
				}
				b.WriteByte(c)
			}
		}
		return "", false
	}
	end := 0
	for end < len(rest) && isTokenChar(rest[end]) {
		end++
	}
	if end == 0 {
		return "", false
	}
	return rest[:end], true
}

// skipCFWS skips folding whitespace and comments, which nest and may hold
// quoted pairs (RFC 5322 3.2.2).
func skipCFWS(s string) (string, bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0:
			i++
		case depth > 0, c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return s[i:], true
		}
	}
	return "", depth == 0
}

// IsOwnResults reports whether an Authentication-Results value claims to
// come from authservID. RFC 8601 5: a border MTA removes such fields from
// incoming mail (or renames them), lest a sender forge results that rules or
// users would trust. Comparison is case-insensitive, as for host names.
func IsOwnResults(value, authservID string) bool {
	id, ok := parseAuthservID(value)
	return ok && strings.EqualFold(id, authservID)
}
