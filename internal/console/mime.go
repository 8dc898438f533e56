package console

import (
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode the charsets of attachment names
)

// part is an attachment of a message.
type part struct {
	Name string // file name, "" made into attachment-<n>
	Type string // media type to serve it as
	Size int64  // decoded size (listing only)
}

// Bounds of the MIME walk (as internal/archive's parser).
const (
	maxParts = 1000
	maxDepth = 20
)

// attachments walks a message's MIME parts in order and lists its
// attachments: parts with Content-Disposition attachment, or with a file
// name, that are not multipart. With want >= 0 it calls fn with the
// want-th attachment's decoded body and stops there; with want < 0 it
// lists them all, with their sizes. A message too broken to walk gives
// what was found before the break, and the error.
func attachments(r io.Reader, want int, fn func(p part, body io.Reader) error) ([]part, error) {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, err
	}
	w := &walker{want: want, fn: fn}
	err = w.walk(e, 0)
	if errors.Is(err, errFound) {
		err = nil
	}
	return w.found, err
}

var errFound = errors.New("found")

type walker struct {
	want  int
	fn    func(part, io.Reader) error
	found []part
	parts int
}

func (w *walker) walk(e *message.Entity, depth int) error {
	w.parts++
	if w.parts > maxParts || depth > maxDepth {
		return errors.New("too many or too deeply nested MIME parts")
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return err
			}
			if err := w.walk(p, depth+1); err != nil {
				return err
			}
		}
	}
	mediaType, params, _ := e.Header.ContentType()
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if !strings.EqualFold(disp, "attachment") && name == "" {
		return nil
	}
	if mediaType == "message/rfc822" && name == "" {
		name = "message.eml"
	}
	p := part{Name: fileName(name, len(w.found)), Type: serveType(mediaType, e)}
	idx := len(w.found)
	if idx == w.want {
		w.found = append(w.found, p)
		if err := w.fn(p, e.Body); err != nil {
			return err
		}
		return errFound
	}
	if w.want < 0 {
		n, err := io.Copy(io.Discard, e.Body)
		if err != nil {
			return err
		}
		p.Size = n
	}
	w.found = append(w.found, p)
	return nil
}

// fileName keeps the last path element of a sender's file name, without
// control characters; an unnamed attachment is attachment-<n>.
func fileName(name string, n int) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return '_'
		}
		return r
	}, name)
	name = path.Base(strings.TrimSpace(name))
	if name == "." || name == "/" || name == "" || name == ".." {
		return "attachment-" + strconv.Itoa(n+1)
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// serveType is the media type an attachment is served as: its declared
// type when it is well formed, else application/octet-stream. Text parts
// are decoded to UTF-8 by the walk (go-message converts charsets), and say
// so.
func serveType(mediaType string, e *message.Entity) string {
	if mediaType == "" || !strings.Contains(mediaType, "/") {
		return "application/octet-stream"
	}
	if _, _, err := mime.ParseMediaType(mediaType); err != nil {
		return "application/octet-stream"
	}
	if strings.HasPrefix(mediaType, "text/") {
		if _, params, _ := e.Header.ContentType(); params["charset"] != "" {
			return mediaType + "; charset=utf-8"
		}
	}
	return mediaType
}

// Bounds of the inline images put into an HTML body.
const (
	maxInlineImage = 5 << 20
	maxInlineTotal = 20 << 20
)

// inlineImages returns the image parts of a message that have a
// Content-ID (RFC 2392), by Content-ID without its angle brackets, as
// data: URIs, so that an HTML body's cid: references can show under a CSP
// that allows data: images only. Images beyond the bounds are left out.
func inlineImages(r io.Reader) map[string]string {
	e, err := message.Read(r)
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil
	}
	out := map[string]string{}
	total, parts := 0, 0
	var walk func(e *message.Entity, depth int)
	walk = func(e *message.Entity, depth int) {
		parts++
		if parts > maxParts || depth > maxDepth {
			return
		}
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
					return
				}
				walk(p, depth+1)
			}
		}
		mediaType, _, _ := e.Header.ContentType()
		id := strings.Trim(strings.TrimSpace(e.Header.Get("Content-Id")), "<>")
		if id == "" || !strings.HasPrefix(mediaType, "image/") || strings.ContainsAny(mediaType, `"'<>; `) {
			return
		}
		b, err := io.ReadAll(io.LimitReader(e.Body, maxInlineImage+1))
		if err != nil || len(b) > maxInlineImage || total+len(b) > maxInlineTotal {
			return
		}
		total += len(b)
		out[id] = "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(b)
	}
	walk(e, 0)
	return out
}

// withInlineImages replaces the cid: references of an HTML body with the
// images' data: URIs, longest Content-ID first (so that cid:a1 does not
// match inside cid:a10).
func withInlineImages(html string, images map[string]string) string {
	ids := make([]string, 0, len(images))
	for id := range images {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return len(b) - len(a) })
	for _, id := range ids {
		html = strings.ReplaceAll(html, "cid:"+id, images[id])
	}
	return html
}
