package archive

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHTMLToText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`<p>Hello <b>World</b></p><p>Second&nbsp;para</p>`:                           "Hello World\nSecond para",
		`<html><head><title>T</title><style>p{}</style></head><body>x</body></html>`: "x",
		`a<script>var s = "<p>no</p>";</script>b`:                                    "ab",
		`<div>one</div><div>two<br>three</div>`:                                      "one\ntwo\nthree",
		`<img src="a.png" alt="Quarterly chart"> after`:                              "Quarterly chart after",
		`x &amp; y &lt;z&gt;`:                                                        "x & y <z>",
		`  spaced    out   `:                                                         "spaced out",
		`<p>unclosed <b>tags`:                                                        "unclosed tags",
	} {
		require.Equal(t, want, htmlToText(in), "%q", in)
	}
}

// FuzzParseMessage: any input parses without panic, and the parser never
// keeps more than its limits.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("From: a@b\r\nSubject: x\r\n\r\nbody\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n"))
	f.Add([]byte(" leading space\r\nno colon\r\n\r\n"))
	f.Add([]byte("Subject: =?utf-8?B?w6k=?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n"))
	f.Add([]byte("Content-Type: text/plain; charset=x-unknown\r\n\r\n\xff\xfe"))
	f.Add([]byte("X-MS-Journal-Report:\r\nContent-Type: multipart/mixed; boundary=j\r\n\r\n--j\r\n\r\nSender: a@b\r\nMessage-Id: <1@b>\r\nBcc: c@d\r\n" +
		"--j\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b\r\nContent-Type: multipart/mixed; boundary=k\r\n\r\n--k\r\n\r\nx\r\n--k--\r\n--j--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := bytes.NewReader(raw)
		p := parseMessage(r)
		_, _ = io.Copy(io.Discard, r)
		if p.text.Len() > maxTextBytes+maxParts || p.html.Len() > maxHTMLBytes+maxParts {
			t.Fatalf("kept %d bytes of text, %d of HTML", p.text.Len(), p.html.Len())
		}
		for _, f := range p.fields {
			if strings.ContainsAny(f.Value, "\r\n") {
				t.Fatalf("folded value %q", f.Value)
			}
		}
		_ = htmlToText(p.html.String())
		Tokens(p.text.String())
	})
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`a "b c" -d from:e subject:"f g" has:attachment after:2024-01-01`, `-`, `"`, `x:"`, `::`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			return
		}
		for _, term := range append(q.Must, q.Not...) {
			if len(term.Tokens) == 0 {
				t.Fatalf("empty term in %q", s)
			}
			for _, tok := range term.Tokens {
				if tok == "" || strings.ContainsAny(tok, " \"'\\:") {
					t.Fatalf("bad token %q in %q", tok, s)
				}
			}
		}
	})
}
