package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
)

// TestRawTracking: boto3 sends Raw MIME messages through a configuration
// set that tracks opens and clicks — one with SES v1 send_raw_email (the
// HTML part in base64), one with sesv2 send_email Raw (quoted-printable,
// the set named by X-SES-CONFIGURATION-SET) — each multipart/mixed with
// text and HTML alternatives and a PDF attachment. The delivered HTML has
// the pixel and a tracked link (the ses:no-track link left alone) in its
// transfer encoding, the attachment arrives byte for byte, the DKIM
// signature covers the rewritten message (OpenDKIM), and fetching the
// pixel and the link of each message gives an Open and a Click event for
// it at the webhook.
func TestRawTracking(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{})
	domain := "shop.example.test"
	verifyDomainByDNS(t, s, z, domain)
	hooks := startReceiver(t, map[string][]int{})
	topic := webhookTopic(t, s, "raw-engagement", hooks.url+"/engagement")

	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account)
	script := scriptPath("e2e", "py", "tracking.py")
	out, errOut, code := run(t, env, nil, pythonBin, script, "sendraw", domain, topic, "reader@dest.test")
	if code != 0 {
		t.Fatalf("tracking.py sendraw: exit %d\n%s%s", code, out, errOut)
	}
	var sent struct{ V1, V2, Attachment string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &sent); err != nil || sent.V1 == "" || sent.V2 == "" {
		t.Fatalf("tracking.py sendraw: %q", out)
	}
	attachment, _ := base64.StdEncoding.DecodeString(sent.Attachment)

	for _, c := range []struct{ name, id, cte, tag string }{
		{"SESv1", sent.V1, "base64", "raw1"},
		{"SESv2", sent.V2, "quoted-printable", "raw2"},
	} {
		m := sink.waitFor(t, c.name, containing(c.id))
		if out, err := opendkimVerifyOrSkip(t, z, m.Data); err != nil {
			t.Errorf("%s: opendkim-testmsg: %v\n%s\n%s", c.name, err, out, m.Data)
		}
		var html string
		var pdf []byte
		for _, l := range mimeLeaves(t, m.Data) {
			switch l.typ {
			case "text/html":
				if l.cte != c.cte {
					t.Errorf("%s: the HTML part is %q, want it kept in %s", c.name, l.cte, c.cte)
				}
				html = string(l.body)
			case "application/pdf", "application/octet-stream":
				pdf = l.body
			}
		}
		if !bytes.Equal(pdf, attachment) {
			t.Errorf("%s: the attachment changed (%d bytes, want %d)", c.name, len(pdf), len(attachment))
		}
		pixel := regexp.MustCompile(`<img alt="" src="(` + regexp.QuoteMeta(s.URL) + `/_tidings/t/o/[^"]+)"`).FindStringSubmatch(html)
		links := regexp.MustCompile(`href="(`+regexp.QuoteMeta(s.URL)+`/_tidings/t/c/[^"]+)"`).FindAllStringSubmatch(html, -1)
		if pixel == nil || len(links) != 1 {
			t.Fatalf("%s: want a pixel and one tracked link at %s:\n%s", c.name, s.URL, html)
		}
		if !strings.Contains(html, `<a ses:no-track href="https://shop.example.test/account">`) {
			t.Errorf("%s: the ses:no-track link was changed:\n%s", c.name, html)
		}

		out, errOut, code := run(t, env, nil, pythonBin, script, "fetch", pixel[1], links[0][1])
		if code != 0 {
			t.Fatalf("tracking.py fetch: exit %d\n%s%s", code, out, errOut)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); err != nil {
			t.Fatalf("tracking.py fetch: %q", out)
		}
		eqAt(t, got, "pixel.status", 200)
		eqAt(t, got, "click.status", 302)
		eqAt(t, got, "click.location", "https://shop.example.test/sale?ref=mail&n=1")

		evs := eventsOf(t, hooks, "/engagement", "Open", "Click")
		for _, typ := range []string{"Open", "Click"} {
			eqAt(t, evs[typ], "mail.messageId", c.id)
			eqAt(t, evs[typ], "mail.tags.campaign.0", c.tag)
			eqAt(t, evs[typ], "mail.tags.ses:configuration-set.0", "raw-engagement")
		}
		eqAt(t, evs["Click"], "click.link", "https://shop.example.test/sale?ref=mail&n=1")
		eqAt(t, evs["Click"], "click.linkTags.campaign.0", "spring")
		eqAt(t, evs["Open"], "open.userAgent", "Tidings-E2E-Mail/1.0")
	}
}

// mimeLeaf is a non-multipart entity of a delivered message, its
// transfer encoding undone.
type mimeLeaf struct {
	typ, cte string
	body     []byte
}

// mimeLeaves walks a message with the standard library's MIME readers.
func mimeLeaves(t *testing.T, msg []byte) []mimeLeaf {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("delivered message: %v", err)
	}
	body, _ := io.ReadAll(m.Body)
	var out []mimeLeaf
	var walk func(get func(string) string, body []byte)
	walk = func(get func(string) string, body []byte) {
		mt, params, err := mime.ParseMediaType(get("Content-Type"))
		if err != nil {
			mt = "text/plain"
		}
		if strings.HasPrefix(mt, "multipart/") {
			r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for {
				p, err := r.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("delivered message: %v", err)
				}
				b, _ := io.ReadAll(p)
				walk(p.Header.Get, b)
			}
		}
		l := mimeLeaf{typ: mt, cte: strings.ToLower(get("Content-Transfer-Encoding")), body: body}
		switch l.cte {
		case "base64":
			l.body, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(body)))
		case "quoted-printable":
			l.body, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		}
		if err != nil {
			t.Fatalf("delivered message: %s part: %v", mt, err)
		}
		out = append(out, l)
	}
	walk(m.Header.Get, body)
	return out
}
