package mailauth

import (
	"bufio"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestFormatResults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		infos []resinfo
		want  string
	}{
		{"none", nil, "mx.example; none"},
		{"short", []resinfo{{method: "spf", result: "pass", props: []prop{{"smtp.mailfrom", "a@example.org"}}}},
			"mx.example; spf=pass smtp.mailfrom=a@example.org"},
		{"folded between words", []resinfo{
			{method: "spf", result: "pass", props: []prop{{"smtp.mailfrom", "bounce@mail.example.org"}}},
			{method: "dkim", result: "pass", props: []prop{{"header.d", "example.org"}, {"header.s", "sel"}}},
			{method: "dmarc", result: "pass", comment: "p=reject", props: []prop{{"header.from", "example.org"}}},
		}, // The first line leaves room for "Authentication-Results: ".
			"mx.example; spf=pass\r\n" +
				"\tsmtp.mailfrom=bounce@mail.example.org; dkim=pass header.d=example.org\r\n" +
				"\theader.s=sel; dmarc=pass (p=reject) header.from=example.org"},
		{"quoting", []resinfo{{method: "spf", result: "fail", reason: `bad "record"` + "\r\nX-Injected: yes",
			props: []prop{{"smtp.mailfrom", `"john doe"@example.org`}, {"smtp.helo", "[192.0.2.1]"}}}},
			"mx.example; spf=fail\r\n" +
				"\t" + `reason="bad \"record\"X-Injected: yes"` + "\r\n" +
				"\t" + `smtp.mailfrom="\"john doe\"@example.org" smtp.helo="[192.0.2.1]"`},
		{"empty and overlong values are left out", []resinfo{{method: "dkim", result: "none",
			props: []prop{{"header.d", ""}, {"header.i", strings.Repeat("a", maxPvalue+1)}}}},
			"mx.example; dkim=none"},
		{"UTF-8 is kept, invalid bytes are not", []resinfo{{method: "spf", result: "pass",
			props: []prop{{"smtp.mailfrom", "jøran@example.org\xff"}}}},
			"mx.example; spf=pass\r\n\t" + `smtp.mailfrom="jøran@example.org?"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, formatResults("mx.example", tc.infos))
		})
	}
}

func TestIsOwnResults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		own   bool
	}{
		{"mx.example; spf=pass", true},
		{"MX.Example; spf=pass", true},
		{"mx.example 1; none", true},
		{" (forged)\r\n\tmx.example; none", true},
		{`"mx.example"; none`, true},
		{`"mx.\example"; none`, true},
		{"(nested (comment) \\) ) mx.example;", true},
		{"mx.example.evil; spf=pass", false},
		{"other; spf=pass", false},
		{"", false},
		{"(unclosed mx.example", false},
		{`"mx.example`, false},
		{"; spf=pass", false},
	} {
		require.Equal(t, tc.own, IsOwnResults(tc.value, "mx.example"), "%q", tc.value)
	}
}

// checkResultsSyntax asserts what a reader of the header relies on: lines
// within the limits of RFC 5322 2.1.1, no CR or LF but in folds, no control
// characters, balanced quotes, and the authserv-id read back.
func checkResultsSyntax(t *testing.T, v, id string, nresults int) {
	t.Helper()
	for _, line := range strings.Split(v, "\r\n") {
		require.LessOrEqual(t, len(line), 998)
	}
	unfolded := strings.ReplaceAll(v, "\r\n\t", " ")
	require.True(t, utf8.ValidString(unfolded))
	for _, r := range unfolded {
		require.False(t, r < ' ' || r == 0x7f, "control character %q in %q", r, v)
	}
	got, ok := parseAuthservID(unfolded)
	require.True(t, ok, v)
	require.Equal(t, id, got)

	// Count the resinfo separators outside quoted strings and comments.
	semis, inQuote, depth := 0, false, 0
	for i := 0; i < len(unfolded); i++ {
		switch c := unfolded[i]; {
		case c == '\\' && (inQuote || depth > 0):
			i++
		case inQuote:
			inQuote = c != '"'
		case c == '"' && depth == 0:
			inQuote = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ';' && depth == 0:
			semis++
		}
	}
	require.False(t, inQuote, "unbalanced quotes in %q", v)
	require.Zero(t, depth, "unbalanced comment in %q", v)
	require.Equal(t, max(nresults, 1), semis, "%q", v)
}

func FuzzFormatResults(f *testing.F) {
	f.Add("alice@example.org", "client.example", "example.org", "sel", "abcdEFG+/=", "example.org", "bad record")
	f.Add(`"a b"@x`, "[192.0.2.1]", "", "", "", "", "")
	f.Add("a\r\nX-Evil: 1", "h\x00\x7f", "d;e", "s=1", `"`, "(x)", "\\")
	f.Add("ü@bücher.example", "\xff\xfe", strings.Repeat("d", 400), "s", "b", "f", strings.Repeat("é", 100))
	f.Fuzz(func(t *testing.T, mailFrom, helo, d, s, b, from, reason string) {
		infos := []resinfo{
			{method: "spf", result: "pass", reason: reason, props: []prop{{"smtp.mailfrom", mailFrom}, {"smtp.helo", helo}}},
			{method: "dkim", result: "fail", reason: reason, props: []prop{{"header.d", d}, {"header.s", s}, {"header.b", b}}},
			{method: "dmarc", result: "fail", comment: "p=reject", props: []prop{{"header.from", from}}},
		}
		checkResultsSyntax(t, formatResults("mx.tidings.test", infos), "mx.tidings.test", len(infos))
	})
}

func FuzzParseAuthservID(f *testing.F) {
	f.Add("mx.example; spf=pass")
	f.Add(`(c) "quoted\"id"; none`)
	f.Add("((((")
	f.Add("\\")
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := parseAuthservID(v)
		if !ok {
			return
		}
		require.NotEmpty(t, id)
		require.NotContains(t, id, "\r")
		require.NotContains(t, id, "\n")
		// A token found is found again when written back.
		if isToken(id) {
			got, ok := parseAuthservID(id + "; none")
			require.True(t, ok)
			require.Equal(t, id, got)
		}
	})
}

func FuzzFromDomains(f *testing.F) {
	f.Add("Alice <alice@example.org>")
	f.Add("a@x.example, b@y.example")
	f.Add("<<alice@example.org")
	f.Add(`"bank@evil" <a@b.example>`)
	f.Add("=?utf-8?q?J=C3=B8ran?= <j@bücher.example>")
	f.Add("@@@.@")
	f.Fuzz(func(t *testing.T, v string) {
		for _, d := range fromDomains([]string{v}) {
			require.NotEmpty(t, d)
			require.False(t, strings.ContainsAny(d, " \t\r\n\"<>()[],;:\\@"), "%q from %q", d, v)
			require.Equal(t, strings.ToLower(d), d)
		}
	})
}

func TestFromDomains(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		from []string
		want []string
	}{
		{[]string{"Alice <alice@Example.ORG>"}, []string{"example.org"}},
		{[]string{"a@x.example, b@X.example."}, []string{"x.example"}},
		{[]string{"a@x.example", "b@y.example"}, []string{"x.example", "y.example"}},
		{[]string{"j@bücher.example"}, []string{"xn--bcher-kva.example"}},
		// Lenient on what net/mail refuses, and including every domain
		// seen: a display name claiming another domain only adds to the
		// checks.
		{[]string{`bank@evil.example <a@b.example`}, []string{"evil.example", "b.example"}},
		{[]string{"undisclosed"}, nil},
	} {
		require.Equal(t, tc.want, fromDomains(tc.from), "%q", tc.from)
	}
}

func TestReadHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, msg, raw string
		fields         []field
	}{
		{"crlf", "A: 1\r\nB: x\r\n  y\r\n\r\nbody", "A: 1\r\nB: x\r\n  y\r\n\r\n",
			[]field{{"A", "1"}, {"B", "x  y"}}},
		{"lf", "A: 1\nB:2\n\nbody", "A: 1\nB:2\n\n", []field{{"A", "1"}, {"B", "2"}}},
		{"no body", "A: 1\r\n", "A: 1\r\n\r\n", []field{{"A", "1"}}},
		{"no body, no final newline", "A: 1", "A: 1\r\n\r\n", []field{{"A", "1"}}},
		{"garbage line skipped", "junk\r\nA: 1\r\n\r\n", "junk\r\nA: 1\r\n\r\n", []field{{"A", "1"}}},
		{"empty", "", "\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, fields, err := readHeader(newBufReader(tc.msg), 1<<10)
			require.NoError(t, err)
			require.Equal(t, tc.raw, string(raw))
			require.Equal(t, tc.fields, fields)
		})
	}
	_, _, err := readHeader(newBufReader("A: "+strings.Repeat("x", 2000)+"\r\n\r\n"), 1<<10)
	require.ErrorIs(t, err, errHeaderTooLarge)
}

// newBufReader returns a reader with a small buffer, so that long lines
// cross buffer boundaries.
func newBufReader(s string) *bufio.Reader {
	return bufio.NewReaderSize(strings.NewReader(s), 16)
}

func FuzzReadHeader(f *testing.F) {
	f.Add("From: a@example.org\r\nDKIM-Signature: v=1;\r\n b=x\r\n\r\nbody", 64)
	f.Add("A: 1\n\n", 4)
	f.Add("\r\r\n", 1)
	f.Add(": \r\n \r\n", 1000)
	f.Fuzz(func(t *testing.T, msg string, limit int) {
		limit = max(1, limit%4096)
		raw, fields, err := readHeader(newBufReader(msg), limit)
		if err != nil {
			require.ErrorIs(t, err, errHeaderTooLarge)
			return
		}
		require.LessOrEqual(t, len(raw), limit+4)
		// The header read is the start of the message, closed by an
		// empty line, added if the message had none.
		require.True(t, strings.HasSuffix(string(raw), "\n\n") || strings.HasSuffix(string(raw), "\n\r\n") ||
			string(raw) == "\r\n" || string(raw) == "\n", "%q", raw)
		// Else the whole message was header, and the verifier closed it.
		if !strings.HasPrefix(msg, string(raw)) {
			rest, ok := strings.CutPrefix(string(raw), msg)
			require.True(t, ok, "%q is not the start of %q", raw, msg)
			require.Contains(t, []string{"\r\n", "\r\n\r\n"}, rest)
		}
		for _, f := range fields {
			require.NotContains(t, f.name, ":")
			require.NotContains(t, f.value, "\n")
		}
	})
}
