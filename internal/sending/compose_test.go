package sending

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/sesv2"
)

func p[T any](v T) *T { return &v }

// TestComposeStructure: text and HTML alternatives inside related (with
// an inline image) inside mixed (with an attachment); non-ASCII header
// text encoded; the result parses back to what went in.
func TestComposeStructure(t *testing.T) {
	from := &mail.Address{Name: "Zoë Sender", Address: "zoe@example.com"}
	msg, err := composeSimple(&simpleMessage{
		From:    from,
		To:      []*mail.Address{{Address: "a@dest.example"}},
		Cc:      []*mail.Address{{Name: "Ç", Address: "c@dest.example"}},
		ReplyTo: []*mail.Address{{Address: "reply@example.com"}},
		Subject: "Grüße — your receipt",
		Text:    "Grüße\nline two " + strings.Repeat("x", 1000),
		HTML:    `<p>Grüße <img src="cid:logo"></p>`,
		Headers: []sesv2.MessageHeader{{Name: p("List-Unsubscribe"), Value: p("<https://u.example/x>")}, {Name: p("X-Note"), Value: p("café")}},
		Attachments: []sesv2.Attachment{
			{FileName: p("logo.png"), RawContent: []byte("\x89PNG..."), ContentDisposition: p(sesv2.AttachmentContentDisposition("INLINE")), ContentId: p("logo")},
			{FileName: p("receipt.pdf"), RawContent: bytes.Repeat([]byte{0, 1, 2, 255}, 100), ContentDescription: p("Reçu")},
		},
	}, [][2]string{{"Date", "Wed, 25 Nov 2026 23:45:54 +0000"}, {"Message-ID", "<id@tidings.test>"}, {"Feedback-ID", "a:b:c:d"}})
	require.NoError(t, err)
	hdr, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	require.True(t, isASCII(string(hdr)), "the header section is ASCII:\n%s", hdr)
	require.True(t, bytes.HasPrefix(msg, []byte("From: ")), "From comes first:\n%s", hdr)
	for _, want := range []string{"\r\nMessage-ID: <id@tidings.test>\r\n", "\r\nFeedback-ID: a:b:c:d\r\n", "\r\nMIME-Version: 1.0\r\n", "\r\nList-Unsubscribe: <https://u.example/x>\r\n", "X-Note: =?utf-8?q?caf=C3=A9?="} {
		require.Contains(t, string(hdr), want)
	}

	mr, err := mail.CreateReader(bytes.NewReader(msg))
	require.NoError(t, err)
	subj, err := mr.Header.Subject()
	require.NoError(t, err)
	require.Equal(t, "Grüße — your receipt", subj)
	froms, err := mr.Header.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, "Zoë Sender", froms[0].Name)

	ent, err := message.Read(bytes.NewReader(msg))
	require.NoError(t, err)
	var types []string
	var text, attach string
	require.NoError(t, ent.Walk(func(path []int, e *message.Entity, err error) error {
		require.NoError(t, err)
		mt, _, _ := e.Header.ContentType()
		types = append(types, mt)
		if e.MultipartReader() == nil {
			b, err := io.ReadAll(e.Body)
			require.NoError(t, err)
			switch {
			case mt == "text/plain":
				text = string(b)
			case mt == "application/pdf":
				attach = string(b)
				d, params, _ := e.Header.ContentDisposition()
				require.Equal(t, "attachment", d)
				require.Equal(t, "receipt.pdf", params["filename"])
			case mt == "image/png":
				require.Equal(t, "<logo>", e.Header.Get("Content-Id"))
				d, _, _ := e.Header.ContentDisposition()
				require.Equal(t, "inline", d)
			}
		}
		return nil
	}))
	require.Equal(t, []string{"multipart/mixed", "multipart/related", "multipart/alternative", "text/plain", "text/html", "image/png", "application/pdf"}, types)
	require.Equal(t, "Grüße\r\nline two "+strings.Repeat("x", 1000), text)
	require.Equal(t, string(bytes.Repeat([]byte{0, 1, 2, 255}, 100)), attach)
	for _, l := range strings.Split(string(msg), "\r\n") {
		require.LessOrEqual(t, len(l), 998, "RFC 5322 2.1.1 line length")
	}
}

func TestParseRawErrors(t *testing.T) {
	for name, raw := range map[string]string{
		"Empty":         "",
		"NoFields":      "\r\nbody",
		"BadFieldLine":  "From a@b.example\r\n\r\nbody",
		"OpenMultipart": "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nx\r\n",
		"BadBase64Part": "From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--B--\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseRaw([]byte(raw))
			r, ok := err.(*Rejection)
			require.True(t, ok, "%v", err)
			require.Equal(t, ReasonMessageRejected, r.Reason)
		})
	}
	m, err := parseRaw([]byte("From: a@b.example\r\nSubject: ok\r\n\r\nbody\r\n"))
	require.NoError(t, err)
	out, err := m.bytes()
	require.NoError(t, err)
	require.Equal(t, "From: a@b.example\r\nSubject: ok\r\n\r\nbody\r\n", string(out))
}

func TestFeedbackIDAndSimulator(t *testing.T) {
	require.Equal(t, "a-b-c", feedbackField("a:b c"))
	require.Equal(t, stableID("1", "us-east-1"), stableID("1", "us-east-1"))
	require.NotEqual(t, stableID("1", "us-east-1"), stableID("2", "us-east-1"))
	require.Equal(t, simSuccess, simulated("success+abc@simulator.amazonses.com"))
	require.Equal(t, simBounce, simulated("BOUNCE@Simulator.AmazonSES.com"))
	require.Equal(t, simSuppressionList, simulated("suppressionlist@simulator.amazonses.com"))
	require.Equal(t, simNone, simulated("success@example.com"))
}

func FuzzParseRaw(f *testing.F) {
	f.Add([]byte("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nx\r\n--B--\r\n"))
	f.Add([]byte("Subject: =?utf-8?q?x?=\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseRaw(data)
		if err == nil {
			if _, err := m.bytes(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestComposeEndsWithCRLF: a message's last line ends with CRLF, single
// part or multipart.
func TestComposeEndsWithCRLF(t *testing.T) {
	from := &mail.Address{Address: "a@example.com"}
	for _, m := range []*simpleMessage{
		{From: from, Subject: "s", Text: "hello"},
		{From: from, Subject: "s", Text: "hello\n"},
		{From: from, Subject: "s", HTML: "<p>hello</p>"},
		{From: from, Subject: "s", Text: "hello", HTML: "<p>hello</p>"},
	} {
		msg, err := composeSimple(m, nil)
		require.NoError(t, err)
		require.True(t, bytes.HasSuffix(msg, []byte("\r\n")), "%q", msg)
		require.False(t, bytes.HasSuffix(msg, []byte("\r\n\r\n\r\n")), "%q", msg)
	}
}
