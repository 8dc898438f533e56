package smtpd

import (
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Errors of path and parameter parsing.
var (
	errSyntax   = errors.New("syntax error")
	errAddress  = errors.New("malformed address")
	errTooLong  = errors.New("path too long")
	errNonASCII = errors.New("non-ASCII address without SMTPUTF8")
)

// Limits of RFC 5321 4.5.3.1.
const (
	maxPath   = 256 // 4.5.3.1.3, including the angle brackets
	maxDomain = 255 // 4.5.3.1.2
	maxLabel  = 63  // RFC 1035 2.3.4
)

// ParseAddress checks that s is a mailbox (RFC 5321 4.1.2, "local@domain"
// without angle brackets; with smtputf8, the RFC 6531 extensions) and
// returns its canonical form: the local part unquoted when quoting is not
// needed (4.1.2: the forms are equivalent), quoted with minimal escaping
// otherwise; the domain as written. "%", "!" and quoted "@" are kept
// literally; nothing is interpreted as a route.
func ParseAddress(s string, smtputf8 bool) (string, error) {
	p := pathParser{s: s, utf8: true}
	addr, err := p.mailbox()
	if err != nil {
		return "", err
	}
	if p.i != len(s) {
		return "", errAddress
	}
	if !smtputf8 && !isASCII(addr) {
		return "", errNonASCII
	}
	return addr, nil
}

// parsePath parses a Path at the start of s (RFC 5321 4.1.2):
//
//	Path = "<" [ A-d-l ":" ] Mailbox ">"
//
// and returns the canonical mailbox and what follows the path. A source
// route (A-d-l) is checked and dropped (4.1.1.3, C.6). With nullOK, "<>"
// (the null reverse-path) gives "". Non-ASCII is parsed here; the caller
// rejects it unless the client said SMTPUTF8, which it may say after the
// path.
func parsePath(s string, nullOK bool) (addr, rest string, err error) {
	if strings.HasPrefix(s, "<>") && nullOK {
		return "", s[2:], nil
	}
	p := pathParser{s: s, utf8: true}
	if !p.take('<') {
		return "", "", errSyntax
	}
	if p.peek() == '@' {
		// A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain
		for {
			if !p.take('@') {
				return "", "", errAddress
			}
			if _, err := p.domain(); err != nil {
				return "", "", err
			}
			if p.take(':') {
				break
			}
			if !p.take(',') {
				return "", "", errAddress
			}
		}
	}
	addr, err = p.mailbox()
	if err != nil {
		return "", "", err
	}
	if !p.take('>') {
		return "", "", errAddress
	}
	if p.i > maxPath {
		return "", "", errTooLong
	}
	return addr, s[p.i:], nil
}

// pathParser is a cursor over a path.
type pathParser struct {
	s    string
	i    int
	utf8 bool
}

func (p *pathParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *pathParser) take(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// mailbox parses Mailbox = Local-part "@" ( Domain / address-literal ).
func (p *pathParser) mailbox() (string, error) {
	local, err := p.localPart()
	if err != nil {
		return "", err
	}
	if !p.take('@') {
		return "", errAddress
	}
	start := p.i
	var dom string
	if p.peek() == '[' {
		dom, err = p.addressLiteral()
	} else {
		dom, err = p.domain()
	}
	if err != nil {
		return "", err
	}
	if p.i-start > maxDomain {
		return "", errTooLong
	}
	return local + "@" + dom, nil
}

// localPart parses Local-part = Dot-string / Quoted-string and returns it
// in canonical form.
func (p *pathParser) localPart() (string, error) {
	if p.peek() != '"' {
		start := p.i
		if err := p.dotString(); err != nil {
			return "", err
		}
		return p.s[start:p.i], nil
	}
	// Quoted-string = DQUOTE *QcontentSMTP DQUOTE
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", errAddress
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			v := b.String()
			if v == "" {
				return "", errAddress
			}
			if isDotString(v) {
				return v, nil // the quotes were not needed
			}
			return quoteLocal(v), nil
		case c == '\\':
			// quoted-pairSMTP = %d92 %d32-126
			if p.i+1 >= len(p.s) || p.s[p.i+1] < 32 || p.s[p.i+1] > 126 {
				return "", errAddress
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c >= 32 && c <= 126:
			// qtextSMTP = %d32-33 / %d35-91 / %d93-126
			b.WriteByte(c)
			p.i++
		case c >= 0x80 && p.utf8:
			n, ok := p.utf8Char()
			if !ok {
				return "", errAddress
			}
			b.WriteString(p.s[p.i : p.i+n])
			p.i += n
		default:
			return "", errAddress
		}
	}
}

// dotString parses Dot-string = Atom *("." Atom).
func (p *pathParser) dotString() error {
	for {
		n := p.atom()
		if n == 0 {
			return errAddress
		}
		if p.peek() != '.' {
			return nil
		}
		p.i++
	}
}

// atom parses Atom = 1*atext (RFC 6531: atext =/ UTF8-non-ascii) and
// returns its length.
func (p *pathParser) atom() int {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c < 0x80 {
			if !isAtext(c) {
				break
			}
			p.i++
			continue
		}
		if !p.utf8 {
			break
		}
		n, ok := p.utf8Char()
		if !ok {
			break
		}
		p.i += n
	}
	return p.i - start
}

// utf8Char checks the non-ASCII character at p.i: valid UTF-8 and not a C1
// control. It does not advance.
func (p *pathParser) utf8Char() (int, bool) {
	r, n := utf8.DecodeRuneInString(p.s[p.i:])
	if r == utf8.RuneError || r < 0xa0 {
		return 0, false
	}
	return n, true
}

// domain parses Domain = sub-domain *("." sub-domain), where
// sub-domain = Let-dig [Ldh-str] (RFC 6531: or a U-label).
func (p *pathParser) domain() (string, error) {
	start := p.i
	for {
		ls := p.i
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c < 0x80 {
				if !isLetDig(c) && c != '-' {
					break
				}
				p.i++
				continue
			}
			if !p.utf8 {
				break
			}
			n, ok := p.utf8Char()
			if !ok {
				return "", errAddress
			}
			p.i += n
		}
		label := p.s[ls:p.i]
		if label == "" || len(label) > maxLabel || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errAddress
		}
		if p.peek() != '.' {
			break
		}
		p.i++
	}
	if p.i-start > maxDomain {
		return "", errTooLong
	}
	return p.s[start:p.i], nil
}

// addressLiteral parses "[" IPv4-address-literal / IPv6-address-literal "]"
// (RFC 5321 4.1.3). General address literals have no registered tag and
// are refused.
func (p *pathParser) addressLiteral() (string, error) {
	end := strings.IndexByte(p.s[p.i:], ']')
	if end < 0 {
		return "", errAddress
	}
	lit := p.s[p.i+1 : p.i+end]
	var canon string
	if v6, ok := cutPrefixFold(lit, "IPv6:"); ok {
		a, err := netip.ParseAddr(v6)
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return "", errAddress
		}
		canon = "[IPv6:" + a.String() + "]"
	} else {
		a, err := netip.ParseAddr(lit)
		if err != nil || !a.Is4() {
			return "", errAddress
		}
		canon = "[" + a.String() + "]"
	}
	p.i += end + 1
	return canon, nil
}

// isAtext reports whether c is an ASCII atext character (RFC 5322 3.2.3).
// "%" and "!" are atext: they are ordinary characters of a local part.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isLetDig(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isDotString reports whether v can be written as a Dot-string.
func isDotString(v string) bool {
	p := pathParser{s: v, utf8: true}
	return p.dotString() == nil && p.i == len(v)
}

// quoteLocal writes v as a Quoted-string, escaping only '"' and '\'.
func quoteLocal(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// cutPrefixFold is strings.CutPrefix, ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func hasPrefixFold(s, prefix string) bool {
	_, ok := cutPrefixFold(s, prefix)
	return ok
}

// param is one ESMTP parameter of MAIL or RCPT.
type param struct {
	key   string // upper case
	value string
	set   bool // "=value" was present
}

// parseParams parses *( SP esmtp-param ) (RFC 5321 4.1.2):
//
//	esmtp-param   = esmtp-keyword ["=" esmtp-value]
//	esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//	esmtp-value   = 1*(%d33-60 / %d62-126)
//
// Repeated keywords are an error.
func parseParams(s string) ([]param, error) {
	var ps []param
	for s != "" {
		if s[0] != ' ' {
			return nil, errSyntax
		}
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		tok := s
		if i := strings.IndexByte(s, ' '); i >= 0 {
			tok, s = s[:i], s[i:]
		} else {
			s = ""
		}
		key, value, set := strings.Cut(tok, "=")
		if key == "" || !isLetDig(key[0]) {
			return nil, errSyntax
		}
		for i := 1; i < len(key); i++ {
			if !isLetDig(key[i]) && key[i] != '-' {
				return nil, errSyntax
			}
		}
		if set {
			if value == "" {
				return nil, errSyntax
			}
			for i := 0; i < len(value); i++ {
				if c := value[i]; c < 33 || c > 126 || c == '=' {
					return nil, errSyntax
				}
			}
		}
		key = strings.ToUpper(key)
		for _, q := range ps {
			if q.key == key {
				return nil, errSyntax
			}
		}
		ps = append(ps, param{key: key, value: value, set: set})
	}
	return ps, nil
}

// parseMailRcpt parses the argument of MAIL ("FROM:" path params) or RCPT
// ("TO:" path params). Spaces after the colon are tolerated, as most
// servers do; the angle brackets are not optional.
func parseMailRcpt(arg, prefix string, nullOK bool) (addr string, params []param, err error) {
	rest, ok := cutPrefixFold(arg, prefix)
	if !ok {
		return "", nil, errSyntax
	}
	rest = strings.TrimLeft(rest, " ")
	addr, rest, err = parsePath(rest, nullOK)
	if err != nil {
		return "", nil, err
	}
	params, err = parseParams(rest)
	if err != nil {
		return "", nil, err
	}
	return addr, params, nil
}

// validHelo checks an EHLO/HELO argument: a domain or an address literal
// (RFC 5321 4.1.1.1), with underscores tolerated in domains because real
// hosts have them. It ends up in the Received header.
func validHelo(h string) bool {
	if h == "" || len(h) > maxDomain {
		return false
	}
	if h[0] == '[' {
		p := pathParser{s: h}
		_, err := p.addressLiteral()
		return err == nil && p.i == len(h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > maxLabel {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isLetDig(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}
