package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"regexp"
	"strings"
	"testing"
)

// TestTracking: boto3 makes a configuration set with OPEN and CLICK event
// types and sends an HTML message through it; the delivered message has
// an open pixel and a tracked link (the ses:no-track one left alone), and
// its DKIM signature covers them (OpenDKIM); urllib fetches the pixel and
// the link as a mail client would: an Open and a Click event reach the
// webhook subscriber of the set's topic, and the link answers 302 to the
// original URL. A forged link is refused.
func TestTracking(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{})
	domain := "shop.example.test"
	verifyDomainByDNS(t, s, z, domain)
	hooks := startReceiver(t, map[string][]int{})
	topic := webhookTopic(t, s, "engagement", hooks.url+"/engagement")

	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account)
	script := scriptPath("e2e", "py", "tracking.py")
	out, errOut, code := run(t, env, nil, pythonBin, script, "send", domain, topic, "reader@dest.test")
	if code != 0 {
		t.Fatalf("tracking.py send: exit %d\n%s%s", code, out, errOut)
	}
	var sent struct{ MessageId string }
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &sent); err != nil || sent.MessageId == "" {
		t.Fatalf("tracking.py send: %q", out)
	}
	m := sink.waitFor(t, "with tracking", containing(sent.MessageId))
	if out, err := opendkimVerifyOrSkip(t, z, m.Data); err != nil {
		t.Errorf("opendkim-testmsg: %v\n%s\n%s", err, out, m.Data)
	}
	html := decodedHTML(t, m.Data)
	pixel := regexp.MustCompile(`<img alt="" src="(` + regexp.QuoteMeta(s.URL) + `/_tidings/t/o/[^"]+)"`).FindStringSubmatch(html)
	links := regexp.MustCompile(`href="(`+regexp.QuoteMeta(s.URL)+`/_tidings/t/c/[^"]+)"`).FindAllStringSubmatch(html, -1)
	if pixel == nil || len(links) != 1 {
		t.Fatalf("want a pixel and one tracked link at %s:\n%s", s.URL, html)
	}
	if !strings.Contains(html, `<a ses:no-track href="https://shop.example.test/account">`) {
		t.Errorf("the ses:no-track link was changed:\n%s", html)
	}

	out, errOut, code = run(t, env, nil, pythonBin, script, "fetch", pixel[1], links[0][1])
	if code != 0 {
		t.Fatalf("tracking.py fetch: exit %d\n%s%s", code, out, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); err != nil {
		t.Fatalf("tracking.py fetch: %q", out)
	}
	eqAt(t, got, "pixel.status", 200)
	eqAt(t, got, "pixel.type", "image/gif")
	eqAt(t, got, "pixel.gif", true)
	eqAt(t, got, "click.status", 302)
	eqAt(t, got, "click.location", "https://shop.example.test/sale?ref=mail&n=1")
	eqAt(t, got, "forged", 404)

	evs := eventsOf(t, hooks, "/engagement", "Open", "Click")
	open := evs["Open"]
	eqAt(t, open, "mail.messageId", sent.MessageId)
	eqAt(t, open, "mail.tags.campaign.0", "spring")
	eqAt(t, open, "open.userAgent", "Tidings-E2E-Mail/1.0")
	eqAt(t, open, "open.ipAddress", "127.0.0.1")
	click := evs["Click"]
	eqAt(t, click, "mail.messageId", sent.MessageId)
	eqAt(t, click, "click.link", "https://shop.example.test/sale?ref=mail&n=1")
	eqAt(t, click, "click.linkTags.campaign.0", "spring")
	checkTimestamp(t, click, "click.timestamp")
}

// decodedHTML returns the text/html part of a delivered message, its
// transfer encoding undone.
func decodedHTML(t *testing.T, msg []byte) string {
	t.Helper()
	s := string(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")))
	i := strings.Index(strings.ToLower(s), "content-type: text/html")
	if i < 0 {
		t.Fatalf("no HTML part:\n%s", msg)
	}
	part := s[i:]
	head, body, _ := strings.Cut(part, "\n\n")
	if j := strings.Index(body, "\n--"); j >= 0 {
		body = body[:j]
	}
	if strings.Contains(strings.ToLower(head), "quoted-printable") {
		b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return body
}
