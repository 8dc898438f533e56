package console

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const inlineMessage = `From: a@ext.example
To: b@corp.example
Subject: Logo
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: multipart/related; boundary="r"

--r
Content-Type: text/html; charset=utf-8

<p><img src="cid:logo1"><img src="cid:logo10"><img src="cid:missing"></p>
--r
Content-Type: image/png
Content-ID: <logo1>
Content-Transfer-Encoding: base64

iVBORw0K
--r
Content-Type: image/gif
Content-ID: <logo10>
Content-Transfer-Encoding: base64

R0lGODlh
--r--
--m
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20..%2F..%2Fx.pdf
Content-Transfer-Encoding: base64

JVBERi0=
--m
Content-Type: application/pdf
Content-Disposition: attachment
Content-Transfer-Encoding: base64

JVBERi0=
--m--
`

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestInlineImages(t *testing.T) {
	t.Parallel()
	imgs := inlineImages(strings.NewReader(crlf(inlineMessage)))
	require.Equal(t, map[string]string{
		"logo1":  "data:image/png;base64,iVBORw0K",
		"logo10": "data:image/gif;base64,R0lGODlh",
	}, imgs)
	got := withInlineImages(`<img src="cid:logo1"><img src="cid:logo10"><img src="cid:missing">`, imgs)
	require.Equal(t, `<img src="data:image/png;base64,iVBORw0K"><img src="data:image/gif;base64,R0lGODlh"><img src="cid:missing">`, got)
}

func TestAttachmentNames(t *testing.T) {
	t.Parallel()
	parts, err := attachments(strings.NewReader(crlf(inlineMessage)), -1, nil)
	require.NoError(t, err)
	require.Len(t, parts, 2)
	require.Equal(t, "x.pdf", parts[0].Name, "the last path element only")
	require.Equal(t, "application/octet-stream", parts[0].Type)
	require.Equal(t, int64(5), parts[0].Size)
	require.Equal(t, "attachment-2", parts[1].Name, "an unnamed attachment")
	require.Equal(t, "application/pdf", parts[1].Type)

	var body string
	_, err = attachments(strings.NewReader(crlf(inlineMessage)), 1, func(p part, r io.Reader) error {
		b, err := io.ReadAll(r)
		body = string(b)
		return err
	})
	require.NoError(t, err)
	require.Equal(t, "%PDF-", body)
}
