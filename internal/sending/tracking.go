package sending

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/tidings/tidings/internal/model/sesv2"
)

// Open and click tracking (SES "Configuring open and click tracking"): a
// message sent with a configuration set that has an enabled event
// destination for OPEN or CLICK events gets, in its HTML, an invisible
// pixel and links that go through Tidings' HTTP listener. Fetching the
// pixel publishes an Open event; following a link publishes a Click
// event and redirects to the original URL. The rewriting happens before
// DKIM signing, so the signature covers it.
//
// The pixel and link URLs carry a token: the message id (and for a link
// its URL and tags) signed with HMAC-SHA256 under a key every node shares,
// so that no one can make Tidings redirect elsewhere or record events for
// a message they did not receive.

// TrackPrefix is the path of tracking URLs: TrackPrefix+"o/<token>" is the
// open pixel, TrackPrefix+"c/<token>" a link.
const TrackPrefix = "/_tidings/t/"

// trackToken is what a tracking URL carries.
type trackToken struct {
	MessageID string              `json:"m"`
	Link      string              `json:"u,omitempty"`
	Tags      map[string][]string `json:"t,omitempty"`
}

const tokenMACLen = 16

func (s *Service) signToken(kind string, t trackToken) string {
	payload, _ := json.Marshal(t)
	m := hmac.New(sha256.New, s.cfg.TrackingKey)
	m.Write([]byte(kind))
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil)[:tokenMACLen])
}

func (s *Service) readToken(kind, tok string) (trackToken, bool) {
	var t trackToken
	p, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 16<<10 {
		return t, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return t, false
	}
	m := hmac.New(sha256.New, s.cfg.TrackingKey)
	m.Write([]byte(kind))
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)[:tokenMACLen]) {
		return t, false
	}
	if json.Unmarshal(payload, &t) != nil || t.MessageID == "" {
		return t, false
	}
	return t, true
}

// tracking says whether messages of the set get an open pixel and
// tracked links: an enabled event destination must want those events.
func (c *configSetRecord) tracking() (open, click bool) {
	if c == nil {
		return false, false
	}
	for _, d := range c.Destinations {
		if !deref(d.Enabled) {
			continue
		}
		open = open || containsType(d.MatchingEventTypes, sesv2.EventTypeOpen)
		click = click || containsType(d.MatchingEventTypes, sesv2.EventTypeClick)
	}
	return open, click
}

// trackingBases are the URL prefixes of the pixel and of links: the
// set's CustomRedirectDomain (https per its HttpsPolicy: REQUIRE for
// both, REQUIRE_OPEN_ONLY for the pixel; the operator points that domain
// at Tidings' HTTP listener), else TrackingURL, else BaseURL.
func (s *Service) trackingBases(c *configSetRecord) (openBase, clickBase string) {
	if t := c.TrackingOptions; t != nil && str(t.CustomRedirectDomain) != "" {
		d := strings.ToLower(str(t.CustomRedirectDomain))
		openScheme, clickScheme := "http://", "http://"
		switch deref(t.HttpsPolicy) {
		case sesv2.HttpsPolicyRequire:
			openScheme, clickScheme = "https://", "https://"
		case sesv2.HttpsPolicyRequireOpenOnly:
			openScheme = "https://"
		}
		return openScheme + d + TrackPrefix, clickScheme + d + TrackPrefix
	}
	base := s.cfg.TrackingURL
	if base == "" {
		base = s.cfg.BaseURL
	}
	base = strings.TrimSuffix(base, "/") + TrackPrefix
	return base, base
}

// linkTagRe is one name:value pair of a ses:tags attribute (SES: letters,
// digits, underscores and dashes).
var linkTagRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// parseLinkTags reads a ses:tags attribute, "name:value;name:value;".
func parseLinkTags(v string) map[string][]string {
	var out map[string][]string
	for _, kv := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), ":")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || !linkTagRe.MatchString(k) || !linkTagRe.MatchString(val) {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = append(out[k], val)
	}
	return out
}

// track rewrites the HTML of message id: every http(s) link of an <a> or
// <area> element without a ses:no-track attribute goes through a click
// URL (its ses:tags attribute becomes the link tags of the Click event
// and is removed), and the open pixel goes before </body> (or at the end).
// The rest of the HTML is copied as it was.
func (s *Service) track(c *configSetRecord, id, doc string) string {
	open, click := c.tracking()
	if !open && !click {
		return doc
	}
	openBase, clickBase := s.trackingBases(c)
	var out bytes.Buffer
	z := html.NewTokenizer(strings.NewReader(doc))
	bodyEnd := -1
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := z.Raw()
		if tt == html.EndTagToken {
			if name, _ := z.TagName(); atom.Lookup(name) == atom.Body {
				bodyEnd = out.Len()
			}
			out.Write(raw)
			continue
		}
		if !click || (tt != html.StartTagToken && tt != html.SelfClosingTagToken) {
			out.Write(raw)
			continue
		}
		raw = append([]byte(nil), raw...)
		tok := z.Token()
		if tok.DataAtom != atom.A && tok.DataAtom != atom.Area {
			out.Write(raw)
			continue
		}
		href, tags, noTrack := -1, "", false
		for i, a := range tok.Attr {
			switch a.Key {
			case "href":
				href = i
			case "ses:tags":
				tags = a.Val
			case "ses:no-track":
				noTrack = true
			}
		}
		if href < 0 || noTrack {
			out.Write(raw)
			continue
		}
		link := strings.TrimSpace(tok.Attr[href].Val)
		if l := strings.ToLower(link); !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
			out.Write(raw)
			continue
		}
		tok.Attr[href].Val = clickBase + "c/" + s.signToken("c", trackToken{MessageID: id, Link: link, Tags: parseLinkTags(tags)})
		attrs := tok.Attr[:0]
		for _, a := range tok.Attr {
			if a.Key != "ses:tags" {
				attrs = append(attrs, a)
			}
		}
		tok.Attr = attrs
		out.WriteString(tok.String())
	}
	result := out.String()
	if open {
		pixel := `<img alt="" src="` + openBase + "o/" + s.signToken("o", trackToken{MessageID: id}) +
			`" width="1" height="1" style="display:block;width:1px;height:1px;border:0" />`
		if bodyEnd >= 0 {
			result = result[:bodyEnd] + pixel + result[bodyEnd:]
		} else {
			result += pixel
		}
	}
	return result
}

type openEvent struct {
	IPAddress string `json:"ipAddress"`
	Timestamp string `json:"timestamp"`
	UserAgent string `json:"userAgent"`
}

type clickEvent struct {
	IPAddress string              `json:"ipAddress"`
	Link      string              `json:"link"`
	LinkTags  map[string][]string `json:"linkTags,omitempty"`
	Timestamp string              `json:"timestamp"`
	UserAgent string              `json:"userAgent"`
}

// pixelGIF is a transparent 1×1 GIF.
var pixelGIF = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

// TrackingHandler serves the open pixel and the click redirects. A token
// that does not verify is 404; a verified link redirects even when its
// message is no longer known (its row purged after KeepDone), without
// an event.
func (s *Service) TrackingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, TrackPrefix)
		kind, tok, _ := strings.Cut(rest, "/")
		if kind != "o" && kind != "c" {
			http.NotFound(w, r)
			return
		}
		t, ok := s.readToken(kind, tok)
		if !ok || (kind == "c" && t.Link == "") {
			http.NotFound(w, r)
			return
		}
		ip := r.RemoteAddr
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		now := s.now()
		ev := &Event{}
		if kind == "o" {
			ev.EventType, ev.Open = "Open", &openEvent{IPAddress: ip, Timestamp: sesTime(now), UserAgent: r.UserAgent()}
		} else {
			ev.EventType, ev.Click = "Click", &clickEvent{IPAddress: ip, Link: t.Link, LinkTags: t.Tags, Timestamp: sesTime(now), UserAgent: r.UserAgent()}
		}
		s.recordEngagement(r.Context(), t.MessageID, ev)
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		if kind == "c" {
			http.Redirect(w, r, t.Link, http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "image/gif")
		_, _ = w.Write(pixelGIF)
	})
}

// recordEngagement publishes an Open or Click event of a message; a
// message no longer known is logged only.
func (s *Service) recordEngagement(ctx context.Context, id string, ev *Event) {
	// The recipient's request must not cut the event short.
	ctx = context.WithoutCancel(ctx)
	m, err := s.st.GetMessage(ctx, id)
	if err != nil {
		s.log.Info("engagement with a message no longer known; no event", "message_id", id, "event", ev.EventType, "err", err)
		return
	}
	var meta messageMeta
	if err := json.Unmarshal(m.Meta, &meta); err != nil {
		s.log.Warn("message metadata unreadable; no event", "message_id", id, "err", err)
		return
	}
	ev.Mail = meta.Mail
	s.publishFor(ctx, m.AccountID, &meta, ev)
}
