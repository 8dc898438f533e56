package sending

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// Open and click tracking of Raw sends (SendEmail with Raw content,
// SendRawEmail, SMTP submission): as SES does when the configuration set
// tracks opens or clicks, every text/html part of the message is
// rewritten by track. The walk works on the bytes of the message: only
// the HTML parts change (their body, and their Content-Transfer-Encoding
// field when 7bit or 8bit lines would grow too long); every other byte —
// header fields in their order, preamble, epilogue, delimiters, other
// parts — is copied as it was.

// maxMIMEDepth bounds the nesting of multiparts the walk follows.
const maxMIMEDepth = 32

// maxLineOctets is the longest line RFC 5322 2.1.1 allows, CRLF excluded.
const maxLineOctets = 998

// trackRaw returns msg (a whole message: header and body) with open and
// click tracking applied to its HTML parts. A message whose MIME
// structure the walk cannot follow is returned as it was.
func (s *Service) trackRaw(c *configSetRecord, id string, msg []byte) []byte {
	if open, click := c.tracking(); !open && !click {
		return msg
	}
	rt := &rawTracker{s: s, c: c, id: id}
	out, changed, err := rt.entity(msg, 0)
	if err != nil {
		s.log.Warn("raw message not tracked: its MIME structure cannot be followed; sent as it was", "message_id", id, "err", err)
		return msg
	}
	for _, e := range rt.skipped {
		s.log.Warn("an HTML part of a raw message not tracked; left as it was", "message_id", id, "err", e)
	}
	if !changed {
		return msg
	}
	return out
}

type rawTracker struct {
	s       *Service
	c       *configSetRecord
	id      string
	skipped []error
}

// entity rewrites the HTML of one entity (header, blank line, body). It
// says whether anything changed; an error means a multipart it cannot
// split.
func (rt *rawTracker) entity(b []byte, depth int) ([]byte, bool, error) {
	if depth > maxMIMEDepth {
		return nil, false, fmt.Errorf("multiparts nested more than %d deep", maxMIMEDepth)
	}
	hdrEnd, ok := headerEnd(b)
	if !ok {
		return b, false, nil // no body
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b[:hdrEnd])))
	if err != nil {
		return nil, false, fmt.Errorf("header: %w", err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt == "" {
		mt = "text/plain" // RFC 2045 5.2
	}
	body := b[hdrEnd:]
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		nb, changed, err := rt.multipart(body, params["boundary"], depth)
		if err != nil || !changed {
			return b, false, err
		}
		return append(append([]byte(nil), b[:hdrEnd]...), nb...), true, nil
	case mt == "text/html":
		if d, _, _ := mime.ParseMediaType(h.Get("Content-Disposition")); strings.EqualFold(d, "attachment") {
			return b, false, nil // an .html file attached, not the message's HTML
		}
		head, nb, err := rt.html(b[:hdrEnd], &h, body, params["charset"])
		if err != nil {
			rt.skipped = append(rt.skipped, err)
			return b, false, nil
		}
		if nb == nil {
			return b, false, nil
		}
		// head may be b's own bytes: a new slice, not an append to it.
		out := make([]byte, 0, len(head)+len(nb))
		return append(append(out, head...), nb...), true, nil
	}
	// Text, attachments, message/rfc822 (a forwarded message is not ours
	// to rewrite): untouched.
	return b, false, nil
}

// headerEnd is the offset of the body of an entity: just past the blank
// line that ends its header. false when there is none.
func headerEnd(b []byte) (int, bool) {
	for pos := 0; pos < len(b); {
		eol := bytes.IndexByte(b[pos:], '\n')
		if eol < 0 {
			return 0, false
		}
		line := b[pos : pos+eol+1]
		pos += eol + 1
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return pos, true
		}
	}
	return 0, false
}

// multipart rewrites the parts of a multipart body (RFC 2046 5.1.1). A
// part is the bytes between the line of a delimiter and the line break
// before the next one (that line break belongs to the delimiter).
func (rt *rawTracker) multipart(body []byte, boundary string, depth int) ([]byte, bool, error) {
	if boundary == "" {
		return nil, false, errors.New("multipart without a boundary")
	}
	dash := []byte("--" + boundary)
	type span struct{ start, end int }
	var parts []span
	partStart := -1
	closed := false
	for pos := 0; pos < len(body) && !closed; {
		eol := bytes.IndexByte(body[pos:], '\n')
		next := len(body)
		if eol >= 0 {
			next = pos + eol + 1
		}
		line := bytes.TrimRight(body[pos:next], "\r\n")
		if bytes.HasPrefix(line, dash) {
			// Transport padding (linear white space) may follow.
			rest := bytes.TrimRight(line[len(dash):], " \t")
			isClose := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || isClose {
				if partStart >= 0 {
					end := pos
					// The line break before the delimiter is the delimiter's.
					if end > partStart && body[end-1] == '\n' {
						end--
						if end > partStart && body[end-1] == '\r' {
							end--
						}
					}
					parts = append(parts, span{partStart, end})
				}
				partStart = next
				closed = isClose
			}
		}
		pos = next
	}
	if !closed {
		return nil, false, fmt.Errorf("the closing delimiter of boundary %q is missing", boundary)
	}
	var out bytes.Buffer
	changed := false
	last := 0
	for _, p := range parts {
		nb, ch, err := rt.entity(body[p.start:p.end], depth+1)
		if err != nil {
			return nil, false, err
		}
		if !ch {
			continue
		}
		changed = true
		out.Write(body[last:p.start])
		out.Write(nb)
		last = p.end
	}
	if !changed {
		return body, false, nil
	}
	out.Write(body[last:])
	return out.Bytes(), true, nil
}

// html tracks one text/html body: it undoes the transfer encoding and
// the charset, applies track, and encodes the result again, with its
// header (the Content-Transfer-Encoding field changed if it had to
// change). nil body when tracking changed nothing.
func (rt *rawTracker) html(head []byte, h *textproto.Header, body []byte, charset string) ([]byte, []byte, error) {
	nl := "\r\n"
	if !bytes.Contains(head, []byte("\r\n")) && bytes.Contains(head, []byte("\n")) {
		nl = "\n" // keep the line breaks the message uses
	}
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	var doc []byte
	switch cte {
	case "base64":
		dec, err := base64.StdEncoding.DecodeString(stripSpace(body))
		if err != nil {
			return nil, nil, fmt.Errorf("base64 HTML part: %w", err)
		}
		doc = dec
	case "quoted-printable":
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return nil, nil, fmt.Errorf("quoted-printable HTML part: %w", err)
		}
		doc = dec
	case "", "7bit", "8bit", "binary":
		doc = body
	default:
		return nil, nil, fmt.Errorf("HTML part in unknown transfer encoding %q", cte)
	}

	// The HTML is rewritten in UTF-8; a part in another charset is
	// converted and back (characters the charset lacks, which only
	// entities could have brought, stay entities).
	var enc encoding.Encoding
	if cs := strings.ToLower(strings.TrimSpace(charset)); cs != "" && cs != "utf-8" && cs != "utf8" && cs != "us-ascii" && cs != "ascii" {
		if e, err := htmlindex.Get(cs); err == nil {
			if u, err := e.NewDecoder().Bytes(doc); err == nil {
				if back, err := e.NewEncoder().Bytes(u); err == nil && bytes.Equal(back, doc) {
					enc, doc = e, u
				}
			}
		}
		// An unknown or lossy charset: tracked as bytes, which keeps
		// everything but the <a> tags rewritten as it was.
	}
	tracked := []byte(rt.s.track(rt.c, rt.id, string(doc)))
	if bytes.Equal(tracked, doc) {
		return nil, nil, nil
	}
	if enc != nil {
		b, err := encoding.HTMLEscapeUnsupported(enc.NewEncoder()).Bytes(tracked)
		if err != nil {
			return nil, nil, fmt.Errorf("HTML part back to %s: %w", charset, err)
		}
		tracked = b
	}

	switch cte {
	case "base64":
		return head, encodeBase64Lines(tracked, nl, bytes.HasSuffix(body, []byte("\n"))), nil
	case "quoted-printable":
		return head, encodeQP(tracked, nl), nil
	}
	if longestLine(tracked) <= maxLineOctets {
		return head, tracked, nil
	}
	// A tracked link made a line longer than SMTP carries: quoted-
	// printable keeps the lines short (RFC 2045 6.7).
	return setTransferEncoding(head, "quoted-printable", nl), encodeQP(tracked, nl), nil
}

func stripSpace(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, string(b))
}

// encodeBase64Lines encodes b in lines of 76 characters (RFC 2045 6.8).
func encodeBase64Lines(b []byte, nl string, finalBreak bool) []byte {
	s := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(s) > 76 {
		out.WriteString(s[:76])
		out.WriteString(nl)
		s = s[76:]
	}
	out.WriteString(s)
	if finalBreak {
		out.WriteString(nl)
	}
	return out.Bytes()
}

// encodeQP encodes b as quoted-printable (RFC 2045 6.7), its line breaks
// kept as hard line breaks.
func encodeQP(b []byte, nl string) []byte {
	var out bytes.Buffer
	w := quotedprintable.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	res := out.Bytes()
	if nl == "\n" {
		res = bytes.ReplaceAll(res, []byte("\r\n"), []byte("\n"))
	}
	return res
}

func longestLine(b []byte) int {
	longest := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := b
		if i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if n := len(bytes.TrimSuffix(line, []byte("\r"))); n > longest {
			longest = n
		}
	}
	return longest
}

// setTransferEncoding sets the Content-Transfer-Encoding field of a raw
// header block (its blank line included): the field is replaced where it
// is, or added last. The other fields keep their bytes and order.
func setTransferEncoding(head []byte, cte, nl string) []byte {
	field := []byte("Content-Transfer-Encoding: " + cte + nl)
	var out bytes.Buffer
	found := false
	for pos := 0; pos < len(head); {
		// One field: its first line and its continuation lines.
		end := pos
		for {
			eol := bytes.IndexByte(head[end:], '\n')
			if eol < 0 {
				end = len(head)
				break
			}
			end += eol + 1
			if end >= len(head) || (head[end] != ' ' && head[end] != '\t') {
				break
			}
		}
		f := head[pos:end]
		pos = end
		if len(bytes.TrimRight(f, "\r\n")) == 0 { // the blank line
			if !found {
				out.Write(field)
			}
			out.Write(f)
			continue
		}
		name, _, _ := bytes.Cut(f, []byte(":"))
		if strings.EqualFold(strings.TrimSpace(string(name)), "Content-Transfer-Encoding") {
			if !found {
				out.Write(field)
				found = true
			}
			continue
		}
		out.Write(f)
	}
	return out.Bytes()
}
