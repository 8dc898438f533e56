package archive

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenization is done here, once, for both databases: the index gets
// tokens, never text, so that SQLite and PostgreSQL find the same
// messages for the same query whatever their own tokenizers would do.
//
// A token is a run of letters and digits, lower-cased, with diacritics
// removed ("Café" → "cafe") and a few letters spelled out ("ß" → "ss"). Han, Hiragana, Katakana and Hangul characters
// are tokens of one character each (those scripts do not put spaces
// between words, so a phrase of characters finds the word). Everything
// else separates tokens. Tokens longer than MaxTokenLen bytes (base64
// debris, long hashes) are dropped.

// MaxTokenLen is the longest token indexed, in bytes.
const MaxTokenLen = 64

// Tokens returns the tokens of s.
func Tokens(s string) []string {
	return appendTokens(nil, s, -1)
}

// appendTokens appends the tokens of s to dst, at most max of them (no
// bound when max < 0).
func appendTokens(dst []string, s string, max int) []string {
	if s == "" {
		return dst
	}
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 && b.Len() <= MaxTokenLen && (max < 0 || len(dst) < max) {
			dst = append(dst, b.String())
		}
		b.Reset()
	}
	letter := func(r rune) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining mark: the diacritic of the letter before.
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			r = unicode.ToLower(r)
			if f, ok := letterFolds[r]; ok {
				b.WriteString(f)
			} else {
				b.WriteRune(r)
			}
		default:
			flush()
		}
	}
	// NFKC first: full-width and compatibility forms become plain letters
	// ("ﬁ" → "fi") while kana keep their voicing marks ("で" stays).
	var it norm.Iter
	it.InitString(norm.NFKC, s)
	var dec []byte
	for !it.Done() && (max < 0 || len(dst) < max) {
		seg := it.Next()
		for len(seg) > 0 {
			r, n := utf8.DecodeRune(seg)
			seg = seg[n:]
			switch {
			case r < utf8.RuneSelf:
				if 'A' <= r && r <= 'Z' {
					r += 'a' - 'A'
				}
				if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
					b.WriteByte(byte(r))
				} else {
					flush()
				}
			case r == utf8.RuneError && n <= 1:
				flush()
			case isSplitScript(r):
				flush()
				b.WriteRune(r)
				flush()
			default:
				// Then the letter alone decomposed, its marks dropped
				// ("é" → "e").
				dec = norm.NFD.AppendString(dec[:0], string(r))
				for len(dec) > 0 {
					d, m := utf8.DecodeRune(dec)
					dec = dec[m:]
					letter(d)
				}
			}
		}
	}
	flush()
	return dst
}

// letterFolds spells Latin letters that have no decomposition the way
// people type them without the key ("Grüße" is found by "grusse").
var letterFolds = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d", 'þ': "th", 'ı': "i",
}

func isSplitScript(r rune) bool {
	return r >= 0x1100 && (unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul))
}

// Fold is how Mail Manager filters compare text: CONTAINS is a substring
// test on folded strings (lower case; invalid UTF-8 and NUL replaced).
func Fold(s string) string {
	return strings.ToLower(clean(s))
}

// clean makes s storable in any database: valid UTF-8, no NUL.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// NewDocument builds the index document of a message from its fields,
// bounded to MaxIndexTokens tokens in all (the body is cut first).
func NewDocument(subject string, sender, recipients []string, attachments []string, body string) *Document {
	d := &Document{}
	left := MaxIndexTokens
	d.Subject = appendTokens(nil, subject, left)
	left -= len(d.Subject)
	for _, s := range sender {
		d.Sender = appendTokens(d.Sender, s, len(d.Sender)+left)
	}
	left -= len(d.Sender)
	for _, s := range recipients {
		d.Recipients = appendTokens(d.Recipients, s, len(d.Recipients)+left)
	}
	left -= len(d.Recipients)
	for _, a := range attachments {
		d.Body = appendTokens(d.Body, a, len(d.Body)+left)
	}
	d.Body = appendTokens(d.Body, body, len(d.Body)+left)
	return d
}
