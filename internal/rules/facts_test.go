package rules

import (
	"errors"
	"io"
	"net/textproto"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func readHeader(t *testing.T, s string) textproto.MIMEHeader {
	t.Helper()
	h, err := ReadHeader(strings.NewReader(s))
	require.NoError(t, err)
	return h
}

func TestReadHeader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want textproto.MIMEHeader
	}{
		{
			"crlf and body",
			"From: a@b.example\r\nTo: c@d.example\r\n\r\nTo: not-a-header@body.example\r\n",
			textproto.MIMEHeader{"From": {"a@b.example"}, "To": {"c@d.example"}},
		},
		{
			"bare lf",
			"Subject: hi\nX-Originatororg: t.example\n\nbody",
			textproto.MIMEHeader{"Subject": {"hi"}, "X-Originatororg": {"t.example"}},
		},
		{
			"folded (RFC 5322 2.2.3)",
			"Subject: a long\r\n  subject\r\n\tcontinued\r\nTo: x@y.example,\r\n z@y.example\r\n\r\n",
			textproto.MIMEHeader{"Subject": {"a long  subject\tcontinued"}, "To": {"x@y.example, z@y.example"}},
		},
		{
			"repeated fields keep order",
			"Received: one\r\nReceived: two\r\nFrom: a@b.example\r\nFrom: c@d.example\r\n\r\n",
			textproto.MIMEHeader{"Received": {"one", "two"}, "From": {"a@b.example", "c@d.example"}},
		},
		{
			"key case canonical",
			"x-originatororg: tenant.example\r\nDISPOSITION-NOTIFICATION-TO: a@b.example\r\n\r\n",
			textproto.MIMEHeader{"X-Originatororg": {"tenant.example"}, "Disposition-Notification-To": {"a@b.example"}},
		},
		{
			"space before colon (obs)",
			"Subject : spaced\r\n\r\n",
			textproto.MIMEHeader{"Subject": {"spaced"}},
		},
		{
			"mbox From line and junk skipped",
			"From sender@example.com Mon Jan  1 00:00:00 2024\r\nnot a field\r\nBad Name: x\r\nSubject: kept\r\n\r\n",
			textproto.MIMEHeader{"Subject": {"kept"}},
		},
		{
			"continuation with nothing to continue",
			"  orphan\r\nSubject: s\r\n\r\n",
			textproto.MIMEHeader{"Subject": {"s"}},
		},
		{
			"continuation of a skipped line is skipped",
			"Bad Name: x\r\n more\r\nSubject: s\r\n\r\n",
			textproto.MIMEHeader{"Subject": {"s"}},
		},
		{
			"no blank line, no final newline",
			"Subject: only headers",
			textproto.MIMEHeader{"Subject": {"only headers"}},
		},
		{
			"empty value",
			"X-Empty:\r\nX-Spaces:   \r\n\r\n",
			textproto.MIMEHeader{"X-Empty": {""}, "X-Spaces": {""}},
		},
		{"empty input", "", textproto.MIMEHeader{}},
		{"body only", "\r\nhello", textproto.MIMEHeader{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, readHeader(t, tc.in))
		})
	}
}

func TestReadHeaderLimit(t *testing.T) {
	t.Parallel()
	big := "Subject: s\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes) + "\r\nX-After: lost\r\n\r\n"
	h := readHeader(t, big)
	require.Equal(t, "s", h.Get("Subject"))
	require.Empty(t, h.Values("X-After"))
	require.LessOrEqual(t, len(h.Get("X-Big")), MaxHeaderBytes)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk gone") }

func TestReadHeaderError(t *testing.T) {
	t.Parallel()
	_, err := ReadHeader(io.MultiReader(strings.NewReader("Subject: s\r\n"), failingReader{}))
	require.ErrorContains(t, err, "disk gone")
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header string
		field  string
		want   []string
	}{
		{"plain", "From: a@b.example\r\n", "From", []string{"a@b.example"}},
		{"display name", "From: \"Alice A.\" <alice@b.example>\r\n", "From", []string{"alice@b.example"}},
		{"address-looking display name does not count", "From: \"ceo@corp.example\" <x@evil.test>\r\n", "From", []string{"x@evil.test"}},
		{"several From fields all count", "From: a@b.example\r\nFrom: c@d.example\r\n", "From", []string{"a@b.example", "c@d.example"}},
		{"mailbox list", "From: a@b.example, \"B\" <b@b.example>\r\n", "From", []string{"a@b.example", "b@b.example"}},
		{"folded list", "To: a@b.example,\r\n\t\"Bee\" <b@b.example>,\r\n c@b.example\r\n", "To", []string{"a@b.example", "b@b.example", "c@b.example"}},
		{"group", "To: team: a@b.example, b@b.example;, c@b.example\r\n", "To", []string{"a@b.example", "b@b.example", "c@b.example"}},
		{"empty group", "To: undisclosed-recipients:;\r\n", "To", nil},
		{"encoded display name", "From: =?UTF-8?Q?J=C3=B6rg?= <jorg@b.example>\r\n", "From", []string{"jorg@b.example"}},
		{"encoded display name, other charset", "From: =?windows-1252?Q?Ren=E9?= <rene@b.example>\r\n", "From", []string{"rene@b.example"}},
		{"comment", "From: a@b.example (Alice)\r\n", "From", []string{"a@b.example"}},
		{"cc", "Cc: <c@d.example>\r\n", "Cc", []string{"c@d.example"}},
		{"sender", "Sender: s@d.example\r\n", "Sender", []string{"s@d.example"}},
		{"absent", "Subject: x\r\n", "From", nil},
		// Tolerance: fields net/mail rejects still yield their addresses.
		{"unquoted address display name", "From: ceo@corp.example <x@evil.test>\r\n", "From", []string{"x@evil.test"}},
		{"unbalanced quote", "From: \"Alice <alice@b.example>\r\n", "From", []string{"alice@b.example"}},
		{"semicolon separated", "To: a@b.example; c@d.example\r\n", "To", []string{"a@b.example", "c@d.example"}},
		{"trailing dot local part", "From: john.@b.example\r\n", "From", []string{"john.@b.example"}},
		{"garbage", "From: no address here\r\n", "From", nil},
		{"empty brackets", "From: <>\r\n", "From", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := readHeader(t, tc.header+"\r\n")
			require.Equal(t, tc.want, Addresses(h, tc.field))
		})
	}
}

func TestSubjectDecoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, header, want string
	}{
		{"plain", "Subject: Quarterly report", "Quarterly report"},
		{"utf-8 q", "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=", "Grüße"},
		{"utf-8 b", "Subject: =?utf-8?B?8J+OiSBwYXJ0eQ==?=", "🎉 party"},
		{"iso-8859-1", "Subject: =?ISO-8859-1?Q?caf=E9?=", "café"},
		{"windows-1252", "Subject: =?windows-1252?Q?=80100?=", "€100"},
		{"iso-2022-jp", "Subject: =?ISO-2022-JP?B?GyRCJEskWyRzJDQbKEI=?=", "にほんご"},
		{"adjacent words join (RFC 2047 6.2)", "Subject: =?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"},
		{"folded encoded words", "Subject: =?UTF-8?Q?Hello?=\r\n =?UTF-8?Q?_World?=", "Hello World"},
		{"mixed", "Subject: Re: =?UTF-8?Q?caf=C3=A9?= tonight", "Re: café tonight"},
		{"unknown charset left as is", "Subject: =?x-klingon?Q?abc?=", "=?x-klingon?Q?abc?="},
		{"broken encoding left as is", "Subject: =?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?="},
		{"first of two", "Subject: one\r\nSubject: two", "one"},
		{"absent", "From: a@b.example", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Subject(readHeader(t, tc.header+"\r\n\r\n")))
		})
	}
}

func TestHeaderValues(t *testing.T) {
	t.Parallel()
	h := readHeader(t, "X-Tag: =?UTF-8?Q?na=C3=AFve?=\r\nx-tag: plain\r\n\r\n")
	require.Equal(t, []string{"naïve", "plain"}, HeaderValues(h, "X-TAG"))
	require.Empty(t, HeaderValues(h, "X-Other"))
}

// FuzzHeader feeds arbitrary bytes to the header reader and the address and
// subject extraction that rules run on untrusted mail.
func FuzzHeader(f *testing.F) {
	for _, s := range []string{
		"From: a@b.example\r\nTo: c@d.example\r\n\r\nbody",
		"Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n =?ISO-2022-JP?B?GyRCJEskWyRzJDQbKEI=?=\r\n\r\n",
		"From: \"ceo@corp.example\" <x@evil.test>\r\nFrom: y@evil.test\r\n\r\n",
		"To: team: a@b.example, b@b.example;, <c@b.example>\r\nCc: \"unbalanced <u@b.example>\r\n",
		"From sender Mon Jan  1\r\n  orphan\r\nBad Name: x\r\nSubject : s\n\n",
		"X-OriginatorOrg: tenant.onmicrosoft.com\r\nDisposition-Notification-To: <a@b>\r\n",
		"From: =?utf-8?b?\r\n\r\n",
		"\x00:\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(strings.NewReader(string(data)))
		if err != nil {
			t.Fatalf("ReadHeader on a reader that cannot fail: %v", err)
		}
		for k, vs := range h {
			if k != textproto.CanonicalMIMEHeaderKey(k) || !validFieldName(k) {
				t.Fatalf("bad key %q", k)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\n") || strings.TrimSpace(v) != v {
					t.Fatalf("value %q of %s not unfolded and trimmed", v, k)
				}
			}
		}
		for _, field := range []string{"From", "To", "Cc", "Sender"} {
			for _, a := range Addresses(h, field) {
				if !strings.Contains(a, "@") && a != "" {
					// net/mail may return addresses without "@"? It must not.
					t.Fatalf("%s address %q has no @", field, a)
				}
				if strings.ContainsAny(a, "\r\n") {
					t.Fatalf("%s address %q holds a line break", field, a)
				}
			}
		}
		s := Subject(h)
		if utf8.ValidString(h.Get("Subject")) && !utf8.ValidString(s) {
			t.Fatalf("decoding made invalid UTF-8 from %q", h.Get("Subject"))
		}
		_ = HeaderValues(h, "X-OriginatorOrg")
	})
}
