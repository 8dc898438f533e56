package sending_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
)

// leaf is one non-multipart entity of a message, as the standard
// library reads it: its header and its body with the transfer encoding
// undone (the charset is not).
type leaf struct {
	Type    string
	Params  map[string]string
	CTE     string
	Decoded []byte
}

// leaves walks msg with net/mail and mime/multipart (not the code under
// test) and returns its leaf entities in order.
func leaves(t *testing.T, msg []byte) []leaf {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	require.NoError(t, err)
	body, err := io.ReadAll(m.Body)
	require.NoError(t, err)
	var out []leaf
	var walk func(h func(string) string, body []byte)
	walk = func(h func(string) string, body []byte) {
		mt, params, err := mime.ParseMediaType(h("Content-Type"))
		if err != nil {
			mt, params = "text/plain", map[string]string{}
		}
		if strings.HasPrefix(mt, "multipart/") {
			r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for {
				p, err := r.NextRawPart()
				if err == io.EOF {
					return
				}
				require.NoError(t, err)
				b, err := io.ReadAll(p)
				require.NoError(t, err)
				walk(p.Header.Get, b)
			}
		}
		l := leaf{Type: mt, Params: params, CTE: strings.ToLower(h("Content-Transfer-Encoding"))}
		switch l.CTE {
		case "base64":
			l.Decoded, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(body)))
			require.NoError(t, err)
		case "quoted-printable":
			l.Decoded, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
			require.NoError(t, err)
		default:
			l.Decoded = body
		}
		out = append(out, l)
	}
	walk(m.Header.Get, body)
	return out
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// sendRaw sends data as Raw content through the configuration set and
// returns the message as delivered.
func sendRaw(t *testing.T, b *bundle, cs, data string) (string, []byte) {
	t.Helper()
	in := &sesv2.SendEmailRequest{Content: &sesv2.EmailContent{Raw: &sesv2.RawMessage{Data: []byte(data)}}}
	if cs != "" {
		in.ConfigurationSetName = &cs
	}
	out, err := b.svc.SendEmail(b.ctx, in)
	require.NoError(t, err)
	id := *out.MessageId
	var msg []byte
	require.Eventually(t, func() bool {
		for _, m := range b.dl.sent() {
			if bytes.Contains(m, []byte(id)) {
				msg = m
				return true
			}
		}
		return false
	}, 10e9, 20e6)
	return id, msg
}

// bodyOf is the body of a message (after its header).
func bodyOf(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[i+4:]
	}
	return nil
}

const rawHead = `From: News <news@example.com>
To: reader@dest.example
Subject: Spring sale
MIME-Version: 1.0
`

const rawLinks = `<p><a href="https://shop.example/sale?x=1&amp;y=2" ses:tags="campaign:spring;">Sale</a></p>
<p><a ses:no-track href="https://shop.example/private">Private</a> <a href="mailto:help@shop.example">Mail us</a></p>`

// pdf is an attachment whose bytes must come out as they went in.
var pdf = func() string {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i * 7)
	}
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 60 {
		out.WriteString(s[:60] + "\n")
		s = s[60:]
	}
	return out.String() + s + "\n"
}()

var rawShapes = []struct {
	name string
	msg  string
	// kept are pieces of the message that must be delivered byte for
	// byte (attachments, inline images, text parts).
	kept []string
	// cte is the transfer encoding the HTML part must have afterwards.
	cte string
}{
	{name: "SingleHTML", cte: "",
		msg: rawHead + "Content-Type: text/html; charset=utf-8\n\n<html><body>\n" + rawLinks + "\n</body></html>\n"},
	{name: "SingleHTMLLongLine", cte: "quoted-printable",
		// Ten links on one line: tracked, the line is longer than 998
		// octets, so the part turns quoted-printable.
		msg: rawHead + "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 7bit\nX-After: kept in place\n\n<html><body>" +
			strings.Repeat(`<a href="https://shop.example/p">p</a> `, 10) + "</body></html>\n"},
	{name: "Alternative", cte: "quoted-printable",
		kept: []string{"--alt\nContent-Type: text/plain; charset=utf-8\n\nSpring sale: https://shop.example/sale\n--alt\n"},
		msg: rawHead + `Content-Type: multipart/alternative; boundary="alt"

This is a multi-part message.
--alt
Content-Type: text/plain; charset=utf-8

Spring sale: https://shop.example/sale
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><body>
<p>Caf=C3=A9 au lait, tr=C3=A8s bon, a long line that goes on and on and on =
and on</p>
` + rawLinks + `
</body></html>
--alt--
epilogue
`},
	{name: "MixedWithAttachment", cte: "8bit",
		kept: []string{"--mix\nContent-Type: application/pdf; name=\"offer.pdf\"\nContent-Disposition: attachment; filename=\"offer.pdf\"\nContent-Transfer-Encoding: base64\n\n" + pdf + "--mix--\n",
			"--mix\nContent-Type: text/html; name=\"page.html\"\nContent-Disposition: attachment; filename=\"page.html\"\n\n<a href=\"https://shop.example/attached\">attached</a>\n"},
		msg: rawHead + `Content-Type: multipart/mixed; boundary=mix

--mix
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

Spring sale
--alt
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<html><body><p>Café</p>
` + rawLinks + `
</body></html>
--alt--

--mix
Content-Type: text/html; name="page.html"
Content-Disposition: attachment; filename="page.html"

<a href="https://shop.example/attached">attached</a>
--mix
Content-Type: application/pdf; name="offer.pdf"
Content-Disposition: attachment; filename="offer.pdf"
Content-Transfer-Encoding: base64

` + pdf + `--mix--
`},
	{name: "RelatedBase64", cte: "base64",
		kept: []string{"--rel\nContent-Type: image/png\nContent-ID: <logo@shop>\nContent-Disposition: inline\nContent-Transfer-Encoding: base64\n\n" + pdf + "--rel--\n"},
		msg: rawHead + `Content-Type: multipart/related; boundary="rel"; type="text/html"

--rel
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: base64

` + base64.StdEncoding.EncodeToString([]byte("<html><body><img src=\"cid:logo@shop\">\n"+rawLinks+"\n</body></html>")) + `
--rel
Content-Type: image/png
Content-ID: <logo@shop>
Content-Disposition: inline
Content-Transfer-Encoding: base64

` + pdf + `--rel--
`},
	{name: "Latin1", cte: "quoted-printable",
		msg: rawHead + `Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><body><p>Caf=E9 cr=E8me</p>
<a href=3D"https://shop.example/caf=E9" title=3D"&#9731; caf&eacute;">Caf=E9</a>
</body></html>
`},
}

// TestRawTracking: the HTML parts of Raw messages of every common shape
// get the open pixel and tracked links (ses:no-track and mailto links
// left alone, the ses:tags attribute gone), in their transfer encoding
// and charset; every other part is delivered byte for byte, and the DKIM
// signature (made after tracking) verifies.
func TestRawTracking(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sending.Config) { c.TrackingURL = "http://track.example.test" })
	b.verifiedDomain(t, "example.com")
	trackingSet(t, b, "engage", "OPEN", "CLICK")
	for _, tc := range rawShapes {
		t.Run(tc.name, func(t *testing.T) {
			id, msg := sendRaw(t, b, "engage", crlf(tc.msg))
			verifyDKIM(t, b, "example.com", msg)
			for _, k := range tc.kept {
				require.Contains(t, string(msg), crlf(k), "a part other than the HTML changed")
			}
			var html []leaf
			for _, l := range leaves(t, msg) {
				if l.Type == "text/html" && !bytes.Contains(l.Decoded, []byte("attached")) {
					html = append(html, l)
				}
			}
			require.Len(t, html, 1)
			h := html[0]
			require.Equal(t, tc.cte, h.CTE)
			doc := string(h.Decoded)
			require.Regexp(t, pixelRe, doc)
			clicks := clickRe.FindAllStringSubmatch(doc, -1)
			require.NotEmpty(t, clicks, doc)
			require.NotContains(t, doc, "ses:tags")
			for _, c := range clicks {
				// Each link's token names this message.
				rec := httptestDo(b.svc.TrackingHandler(), strings.TrimPrefix(c[1], "http://track.example.test"))
				require.Equal(t, http.StatusFound, rec)
			}
			if strings.Contains(tc.msg, "ses:no-track") {
				require.Len(t, clicks, 1, doc)
				require.Contains(t, doc, `<a ses:no-track href="https://shop.example/private">`)
				require.Contains(t, doc, `href="mailto:help@shop.example"`)
			}
			for _, line := range strings.Split(string(msg), "\r\n") {
				require.LessOrEqual(t, len(line), 998)
			}
			switch tc.name {
			case "SingleHTMLLongLine":
				require.Len(t, clicks, 10)
				// The field changed where it was.
				require.Contains(t, string(msg), "Content-Transfer-Encoding: quoted-printable\r\nX-After: kept in place\r\n")
			case "Alternative":
				require.Contains(t, doc, "Café au lait, très bon, a long line that goes on and on and on and on")
				require.Contains(t, string(msg), "--alt--\r\nepilogue\r\n")
			case "MixedWithAttachment":
				require.Contains(t, doc, "<p>Café</p>")
			case "RelatedBase64":
				require.Contains(t, doc, `<img src="cid:logo@shop">`)
			case "Latin1":
				require.Equal(t, "iso-8859-1", h.Params["charset"])
				require.Contains(t, doc, "<p>Caf\xe9 cr\xe8me</p>", "the part stays in its charset")
				// The rewritten tag is written in the part's charset; a
				// character it lacks is an entity again.
				require.Contains(t, doc, `title="&#9731; caf`+"\xe9"+`">Caf`+"\xe9</a>")
				require.NotContains(t, doc, "shop.example/caf")
			}
			_ = id
		})
	}
}

// TestRawTrackingOff: without OPEN or CLICK destinations, or without an
// HTML part, a Raw message's body is delivered as it was sent.
func TestRawTrackingOff(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sending.Config) { c.TrackingURL = "http://track.example.test" })
	b.verifiedDomain(t, "example.com")
	b.configSetWithEvents(t, "plain")
	trackingSet(t, b, "engage", "OPEN", "CLICK")
	for _, tc := range rawShapes {
		_, msg := sendRaw(t, b, "plain", crlf(tc.msg))
		want := crlf(tc.msg[strings.Index(tc.msg, "\n\n")+2:])
		require.Equal(t, want, string(bodyOf(msg)), tc.name)
	}
	text := crlf(rawHead + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhttps://shop.example/\n--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + pdf + "--b--\n")
	_, msg := sendRaw(t, b, "engage", text)
	require.Equal(t, text[strings.Index(text, "\r\n\r\n")+4:], string(bodyOf(msg)))
}
