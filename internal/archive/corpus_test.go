package archive_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"strings"
)

// A corpus of varied messages, made here so that every case is visible
// in the test: plain text, multipart/alternative, HTML only, attachments,
// encoded non-ASCII headers, quoted-printable, nested parts, a forwarded
// message, and broken ones.

type sample struct {
	name string
	raw  []byte
	// What the archive must make of it.
	subject   string
	from      string
	to        string
	text      string // contained in the text body ("" none expected)
	html      string // contained in the HTML body
	attach    []string
	malformed bool
	words     []string // found by a native search for each
}

func crlf(s string) []byte {
	s = strings.TrimPrefix(s, "\n")
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

func corpus() []sample {
	pdf := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("%PDF-1.4 binary \x00\x01\x02"), 40))
	return []sample{
		{
			name: "plain",
			raw: crlf(`
Received: from mx.ext.example (mx.ext.example [192.0.2.10]) by gw.corp.example; Mon, 2 Mar 2026 09:00:00 +0000
Received: from laptop by mx.ext.example; Mon, 2 Mar 2026 08:59:59 +0000
From: Alice Martin <alice@ext.example>
To: Bob <bob@corp.example>
Cc: carol@corp.example
Subject: Quarterly budget review
Date: Mon, 2 Mar 2026 09:00:00 +0000
Message-ID: <plain-1@ext.example>
In-Reply-To: <earlier@corp.example>
X-Mailer: TestMailer 2.0
X-Original-Mailer: Outlook 16
X-Priority: 1 (Highest)

Hello Bob,

the quarterly budget spreadsheet needs a second look before Friday.
`),
			subject: "Quarterly budget review", from: "Alice Martin <alice@ext.example>", to: "Bob <bob@corp.example>",
			text: "quarterly budget spreadsheet", words: []string{"spreadsheet", "from:alice", `"second look"`},
		},
		{
			name: "alternative",
			raw: crlf(`
From: news@shop.example
To: bob@corp.example
Subject: Spring sale
Date: Tue, 3 Mar 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Everything is 20% off this week =E2=80=94 caf=C3=A9 beans included.
--alt
Content-Type: text/html; charset=utf-8

<html><head><style>.x{color:red}</style></head><body><p>Everything is <b>20% off</b></p><script>track()</script></body></html>
--alt--
`),
			subject: "Spring sale", from: "news@shop.example", to: "bob@corp.example",
			text: "café beans included", html: "<b>20% off</b>", words: []string{"cafe", "beans"},
		},
		{
			name: "html-only",
			raw: crlf(`
From: alerts@monitor.example
To: ops@corp.example
Subject: Disk almost full
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><title>ignored title</title></head><body><h1>Warning</h1><p>Volume <i>data=
</i> is 95&nbsp;% full. Gr=FC=DFe.</p><img src=3D"x.png" alt=3D"chart"></body></html>
`),
			subject: "Disk almost full", from: "alerts@monitor.example", to: "ops@corp.example",
			html: "Gr\u00fc\u00dfe", words: []string{"volume", "chart", "grusse", "-title"},
		},
		{
			name: "attachment",
			raw: crlf(`
From: billing@vendor.example
To: accounts@corp.example
Subject: Invoice 2026-031
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

--mix
Content-Type: text/plain

Your invoice is attached.
--mix
Content-Type: application/pdf; name="invoice-2026-031.pdf"
Content-Disposition: attachment; filename="invoice-2026-031.pdf"
Content-Transfer-Encoding: base64

` + wrap(pdf) + `
--mix--
`),
			subject: "Invoice 2026-031", from: "billing@vendor.example", to: "accounts@corp.example",
			text: "Your invoice is attached.", attach: []string{"invoice-2026-031.pdf"},
			words: []string{"has:attachment invoice", "pdf", "2026"},
		},
		{
			name: "non-ascii headers",
			raw: crlf(`
From: =?UTF-8?Q?Zo=C3=AB_M=C3=BCller?= <zoe@applicant.example>
To: =?ISO-8859-1?Q?J=F6rg?= <jobs@corp.example>
Subject: =?UTF-8?B?UsOpc3Vtw6kgZsO8ciBkaWUgU3RlbGxl?=
Content-Type: multipart/mixed; boundary=b1

--b1
Content-Type: multipart/alternative; boundary=b2

--b2
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Anbei mein Lebenslauf. Grüße, Zoë
--b2
Content-Type: text/html; charset=utf-8

<p>Anbei mein <em>Lebenslauf</em>.</p>
--b2--
--b1
Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document
Content-Disposition: attachment; filename*=UTF-8''Zo%C3%AB%20M%C3%BCller%20CV.docx
Content-Transfer-Encoding: base64

UEsDBBQ=
--b1
Content-Type: image/png
Content-Disposition: inline
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--b1--
`),
			subject: "Résumé für die Stelle", from: "Zoë Müller <zoe@applicant.example>", to: "Jörg <jobs@corp.example>",
			text: "Lebenslauf", html: "<em>Lebenslauf</em>", attach: []string{"Zoë Müller CV.docx"},
			words: []string{"resume", "subject:stelle", "from:zoe", "muller cv", "lebenslauf", "to:jorg"},
		},
		{
			name: "forwarded",
			raw: crlf(`
From: bob@corp.example
To: alice@ext.example
Subject: Fwd: contract
Content-Type: multipart/mixed; boundary="fw"

--fw
Content-Type: text/plain

See the contract below.
--fw
Content-Type: message/rfc822

From: legal@corp.example
Subject: contract

Signed contract text.
--fw--
`),
			subject: "Fwd: contract", from: "bob@corp.example", to: "alice@ext.example",
			text: "See the contract below.", attach: []string{""}, words: []string{"contract"},
		},
		{
			name: "truncated multipart",
			raw: crlf(`
From: broken@ext.example
To: bob@corp.example
Subject: Cut short
Content-Type: multipart/mixed; boundary="cut"

--cut
Content-Type: text/plain

This part arrives, the rest was lost in transit
--cut
Content-Type: application/octet-stream; name="data.bin"
Content-Transfer-Encoding: base64

AAAA`),
			subject: "Cut short", from: "broken@ext.example", to: "bob@corp.example",
			text: "rest was lost", attach: []string{"data.bin"}, malformed: true, words: []string{"transit"},
		},
		{
			name:    "garbage header",
			raw:     []byte("this is not a header line\nFrom: odd@ext.example\nSubject: odd one\n\nbody with bare LF lines\nand a second line\n"),
			subject: "odd one", from: "odd@ext.example",
			text: "bare LF lines", malformed: true, words: []string{"bare"},
		},
		{
			name: "bad base64",
			raw: crlf(`
From: enc@ext.example
Subject: bad encoding
Content-Type: text/plain
Content-Transfer-Encoding: base64

!!!! not base64 at all ####
`),
			subject: "bad encoding", from: "enc@ext.example", malformed: true,
		},
		{
			name:    "no body",
			raw:     crlf("From: empty@ext.example\nSubject: headers only\n"),
			subject: "headers only", from: "empty@ext.example",
		},
	}
}

// wrap folds base64 at 76 columns (RFC 2045 6.8).
func wrap(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// generated returns n plain messages of a fixed seed, for volume: varied
// senders, subjects and words, some with an attachment.
func generated(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed))
	senders := []string{"alice@ext.example", "bob@corp.example", "carol@corp.example", "dave@vendor.example"}
	topics := []string{"budget", "roadmap", "hiring", "offsite", "security", "invoice"}
	words := strings.Fields("the a of meeting plan please review update draft final numbers team week next call notes")
	out := make([][]byte, n)
	for i := range out {
		from := senders[r.IntN(len(senders))]
		topic := topics[r.IntN(len(topics))]
		var body strings.Builder
		for range 20 + r.IntN(60) {
			body.WriteString(words[r.IntN(len(words))] + " ")
		}
		subject := mime.QEncoding.Encode("utf-8", fmt.Sprintf("%s %d", topic, i))
		msg := fmt.Sprintf("From: %s\nTo: team@corp.example\nSubject: %s\nMessage-ID: <gen-%d@test>\n\n%s\n", from, subject, i, body.String())
		out[i] = crlf(msg)
	}
	return out
}
