package sending_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/sending"
)

// htmlPart returns the decoded text/html part of msg.
func htmlPart(t *testing.T, msg []byte) string {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(msg))
	require.NoError(t, err)
	for {
		p, err := r.NextPart()
		require.NoError(t, err, "no HTML part")
		if h, ok := p.Header.(*mail.InlineHeader); ok {
			if ct, _, _ := h.ContentType(); ct == "text/html" {
				b, err := io.ReadAll(p.Body)
				require.NoError(t, err)
				return string(b)
			}
		}
	}
}

func trackingSet(t *testing.T, b *bundle, name string, types ...sesv2.EventType) {
	t.Helper()
	_, err := b.svc.CreateConfigurationSet(b.ctx, &sesv2.CreateConfigurationSetRequest{ConfigurationSetName: &name})
	require.NoError(t, err)
	_, err = b.svc.CreateConfigurationSetEventDestination(b.ctx, &sesv2.CreateConfigurationSetEventDestinationRequest{
		ConfigurationSetName: &name, EventDestinationName: ptr("hook"),
		EventDestination: &sesv2.EventDestinationDefinition{Enabled: ptr(true), MatchingEventTypes: types,
			SnsDestination: &sesv2.SnsDestination{TopicArn: ptr("arn:aws:sns:us-east-1:" + acct + ":engagement")}},
	})
	require.NoError(t, err)
}

const trackedHTML = `<html><body><p>Hello</p>
<a href="https://shop.example/sale?x=1&amp;y=2" ses:tags="campaign:spring;variant:b;">Sale</a>
<a ses:no-track href="https://shop.example/private">Private</a>
<a href="mailto:help@shop.example">Mail us</a>
<a href="#top">Top</a>
</body></html>`

var (
	pixelRe = regexp.MustCompile(`<img alt="" src="(http://track\.example\.test/_tidings/t/o/[^"]+)"`)
	clickRe = regexp.MustCompile(`href="(http://track\.example\.test/_tidings/t/c/[^"]+)"`)
)

// TestOpenAndClickTracking: with OPEN and CLICK event types, the HTML
// part gets a pixel and tracked links (ses:no-track, mailto and fragment
// links left alone), the message is signed as rewritten, a fetch of the
// pixel is an Open event and a link a Click event with its tags and a
// 302 to the original URL; a forged token is refused.
func TestOpenAndClickTracking(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *sending.Config) { c.TrackingURL = "http://track.example.test" })
	b.verifiedDomain(t, "example.com")
	trackingSet(t, b, "engage", "OPEN", "CLICK")
	in := simple("news@example.com", "reader@dest.example")
	in.ConfigurationSetName = ptr("engage")
	in.Content.Simple.Body.Html.Data = ptr(trackedHTML)
	out, err := b.svc.SendEmail(b.ctx, in)
	require.NoError(t, err)
	id := *out.MessageId
	require.Eventually(t, func() bool { return len(b.dl.sent()) == 1 }, 10e9, 20e6)
	msg := b.dl.sent()[0]
	verifyDKIM(t, b, "example.com", msg)
	h := htmlPart(t, msg)

	pix := pixelRe.FindStringSubmatch(h)
	require.NotNil(t, pix, h)
	require.Less(t, strings.Index(h, pix[0]), strings.Index(h, "</body>"), "the pixel goes before </body>")
	clicks := clickRe.FindAllStringSubmatch(h, -1)
	require.Len(t, clicks, 1, h)
	require.Contains(t, h, `<a ses:no-track href="https://shop.example/private">`)
	require.Contains(t, h, `href="mailto:help@shop.example"`)
	require.Contains(t, h, `href="#top"`)
	require.NotContains(t, h, "ses:tags")
	require.NotContains(t, h, "shop.example/sale")

	handler := b.svc.TrackingHandler()
	path := func(u string) string { return strings.TrimPrefix(u, "http://track.example.test") }
	req := httptest.NewRequest("GET", path(pix[1]), nil)
	req.Header.Set("User-Agent", "Mail/1.0")
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	require.Equal(t, "image/gif", rec.Header().Get("Content-Type"))

	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", path(clicks[0][1]), nil))
	require.Equal(t, http.StatusFound, rec.Code)
	require.Equal(t, "https://shop.example/sale?x=1&y=2", rec.Header().Get("Location"))

	evs := b.waitEvents(t, 2)
	opens, clk := byType(evs, "Open"), byType(evs, "Click")
	require.Len(t, opens, 1)
	require.Len(t, clk, 1)
	require.Equal(t, id, opens[0]["mail"].(map[string]any)["messageId"])
	o := opens[0]["open"].(map[string]any)
	require.Equal(t, "Mail/1.0", o["userAgent"])
	require.Equal(t, "192.0.2.1", o["ipAddress"])
	c := clk[0]["click"].(map[string]any)
	require.Equal(t, "https://shop.example/sale?x=1&y=2", c["link"])
	require.Equal(t, map[string]any{"campaign": []any{"spring"}, "variant": []any{"b"}}, c["linkTags"])

	// A token altered or moved from a pixel to a link does not verify.
	tok := clicks[0][1][strings.LastIndex(clicks[0][1], "/")+1:]
	bad := []byte(tok)
	bad[3] ^= 1
	require.Equal(t, 404, httptestDo(handler, sending.TrackPrefix+"c/"+string(bad)))
	require.Equal(t, 404, httptestDo(handler, sending.TrackPrefix+"o/"+tok))
	require.Equal(t, 404, httptestDo(handler, sending.TrackPrefix+"x/"+tok))
}

// TestTrackingOnlyWhenAsked: without OPEN/CLICK destinations the HTML is
// left as it is; with only OPEN, links are not rewritten; a custom
// redirect domain with HttpsPolicy REQUIRE gives https URLs on it.
func TestTrackingOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedDomain(t, "example.com")
	b.configSetWithEvents(t, "plain")
	trackingSet(t, b, "opens", "OPEN")
	_, err := b.svc.PutConfigurationSetTrackingOptions(b.ctx, &sesv2.PutConfigurationSetTrackingOptionsRequest{
		ConfigurationSetName: ptr("opens"), CustomRedirectDomain: ptr("Click.Example.com"), HttpsPolicy: ptr(sesv2.HttpsPolicyRequire)})
	require.NoError(t, err)
	for i, cs := range []string{"plain", "opens"} {
		in := simple("news@example.com", "reader@dest.example")
		in.ConfigurationSetName = ptr(cs)
		in.Content.Simple.Body.Html.Data = ptr(trackedHTML)
		_, err := b.svc.SendEmail(b.ctx, in)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(b.dl.sent()) == i+1 }, 10e9, 20e6)
	}
	msgs := b.dl.sent()
	h0, h1 := htmlPart(t, msgs[0]), htmlPart(t, msgs[1])
	if strings.Contains(h0, "_tidings/t/") {
		h0, h1 = h1, h0 // delivery order
	}
	require.Equal(t, strings.ReplaceAll(trackedHTML, "\n", "\r\n"), h0)
	require.Contains(t, h1, `<img alt="" src="https://click.example.com/_tidings/t/o/`)
	require.Contains(t, h1, `href="https://shop.example/sale?x=1&amp;y=2"`)
}
