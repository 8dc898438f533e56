package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// exportedIdent turns a shape or member name into an exported Go
// identifier. Botocore names are already PascalCase except a few
// (sts: "accessKeyIdType", member "arn"): the first letter is upper-cased
// and characters that cannot appear in an identifier become '_'.
func exportedIdent(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r < 0x80 && (unicode.IsLetter(r) || r == '_'):
			if i == 0 {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
		case r < 0x80 && unicode.IsDigit(r):
			if i == 0 {
				b.WriteString("X")
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" || s[0] == '_' {
		s = "X" + s
	}
	return s
}

// lowerFirst gives the member name as AWS prints it in validation paths:
// "RuleSetName" becomes "ruleSetName".
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// enumPascal derives the Pascal-case suffix of an enum constant from its
// value: the value is cut into words at every character that is not an
// ASCII letter or digit; a word with no lower-case letter ("ACTIVE",
// "TLS1") is title-cased ("Active", "Tls1"), a word that has some
// ("IPv4", "ReadOnly") keeps its case and only gets an upper-case first
// letter. "TLS1_2" → "Tls12", "us-east-1" → "UsEast1", "UTF-8" → "Utf8".
func enumPascal(v string) string {
	words := strings.FieldsFunc(v, func(r rune) bool {
		return !(r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	})
	var b strings.Builder
	for _, w := range words {
		if strings.ToUpper(w) == w {
			w = strings.ToLower(w)
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	if b.Len() == 0 {
		return "Value"
	}
	return b.String()
}

// idents hands out unique identifiers: a name already taken gets the
// first free numeric suffix (Foo, Foo2, Foo3, ...).
type idents map[string]bool

func (ids idents) unique(name string) string {
	if !ids[name] {
		ids[name] = true
		return name
	}
	for n := 2; ; n++ {
		c := name + strconv.Itoa(n)
		if !ids[c] {
			ids[c] = true
			return c
		}
	}
}

// patternRewrites holds RE2 equivalents of model patterns that use
// lookaround, which RE2 has no syntax for. Each rewrite accepts exactly
// the strings the original accepts when matched against the whole value
// (TestPatternRewrites checks both on sample inputs).
var patternRewrites = map[string]string{
	// pinpoint-sms-voice-v2 ContextValue: non-empty, no leading or
	// trailing whitespace.
	`(?!\s)^[\s\S]+(?<!\s)`: `\S(?:[\s\S]*\S)?`,
	// pinpoint-sms-voice-v2 KeywordMessage: not only whitespace.
	`(?!\s*$)[\s\S]+`: `[\s\S]*\S[\s\S]*`,
}

var javaUnicodeEscape = regexp.MustCompile(`\\u([0-9a-fA-F]{4})([0-9a-fA-F]{0,2})`)

// translatePattern turns a model pattern (Java / ECMAScript syntax) into a
// Go regexp that must match the whole value, as AWS applies patterns to the
// whole member value.
//
//   - \uXXXX becomes \x{XXXX}. A run of 5 or 6 hex digits that names a
//     supplementary code point (sts arnType: \u10000-\u10FFFF) is read as
//     that code point, as the model means it.
//   - lookaround patterns use the hand-checked rewrites above.
//   - the result is wrapped in ^(?:...)$, so that it matches whole values.
func translatePattern(p string) (string, error) {
	g, ok := patternRewrites[p]
	if !ok {
		g = javaUnicodeEscape.ReplaceAllStringFunc(p, func(m string) string {
			sub := javaUnicodeEscape.FindStringSubmatch(m)
			if sub[2] != "" {
				if cp, err := strconv.ParseUint(sub[1]+sub[2], 16, 32); err == nil && cp >= 0x10000 && cp <= 0x10FFFF {
					return fmt.Sprintf(`\x{%X}`, cp)
				}
			}
			return `\x{` + sub[1] + `}` + sub[2]
		})
	}
	// Wrapped even when the model anchors it: "^a|b$" is anchored only in
	// appearance.
	g = "^(?:" + g + ")$"
	if _, err := regexp.Compile(g); err != nil {
		return "", err
	}
	return g, nil
}
