package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	nettextproto "net/textproto"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode every charset IANA names
	"github.com/emersion/go-message/textproto"
)

// Limits of what the parser keeps of one message. The raw message is
// always stored whole; these bound memory and the index.
const (
	maxHeaderBytes = 1 << 20 // a header block larger than this is cut
	maxTextBytes   = 1 << 20 // text/plain kept for the index and content
	maxHTMLBytes   = 2 << 20 // text/html kept
	maxParts       = 1000    // MIME parts walked
	maxDepth       = 20      // multipart nesting followed
)

// field is one header field as it appears in the message, unfolded.
type field struct {
	Key   string // canonical ("Message-Id")
	Value string // raw, unfolded; RFC 2047 words not decoded
}

// parsed is what one pass over a message yields.
type parsed struct {
	fields []field
	header message.Header

	text        strings.Builder // text/plain parts, joined
	html        strings.Builder // text/html parts, joined
	attachments []string        // file names ("" for an unnamed one)
	hasAttach   bool
	malformed   bool
	problems    []string
	parts       int

	// level is 0 for the message, 1 for the message/rfc822 attached to
	// it that is parsed too (inner): a journal report's original.
	level   int
	inner   *parsed
	journal *Journal // set by detectJournal
}

func (p *parsed) problem(format string, args ...any) {
	p.malformed = true
	if len(p.problems) < 10 {
		p.problems = append(p.problems, fmt.Sprintf(format, args...))
	}
}

// parseMessage reads a message from r, leniently: whatever it cannot
// parse makes the message malformed and the rest is still read. It reads r
// to its end only as far as the MIME structure goes; the caller drains it.
func parseMessage(r io.Reader) *parsed {
	p := parseAt(r, 0)
	p.detectJournal()
	return p
}

func parseAt(r io.Reader, level int) *parsed {
	p := &parsed{level: level}
	br := bufio.NewReaderSize(r, 64<<10)
	block, err := readHeaderBlock(br)
	if err != nil && !errors.Is(err, io.EOF) {
		p.problem("reading the header: %v", err)
	}
	h := p.parseHeader(block)
	p.header = message.Header{Header: h}
	if len(p.fields) == 0 {
		p.problem("no header fields")
	}
	if errors.Is(err, io.EOF) && !bytes.HasSuffix(block, []byte("\n\n")) && !bytes.HasSuffix(block, []byte("\n\r\n")) {
		// RFC 5322 2.1: the header ends with an empty line, then the
		// body; a message without one is cut short (or has no body).
		if len(block) > 0 && !bytes.HasSuffix(block, []byte("\n")) {
			p.problem("message ends inside its header")
		}
	}
	e, err := message.New(p.header, br)
	if err != nil && !message.IsUnknownCharset(err) {
		p.problem("top-level body: %v", err)
	}
	if e != nil {
		p.walk(e, 0)
	}
	return p
}

// readHeaderBlock reads the header up to and including the empty line
// that ends it, at most maxHeaderBytes.
func readHeaderBlock(br *bufio.Reader) ([]byte, error) {
	var block []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A very long line: keep reading it.
			block = append(block, line...)
			if len(block) > maxHeaderBytes {
				return block, errors.New("header larger than 1 MiB")
			}
			continue
		}
		block = append(block, line...)
		if err != nil {
			return block, err
		}
		if len(block) > maxHeaderBytes {
			return block, errors.New("header larger than 1 MiB")
		}
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			return block, nil
		}
	}
}

// parseHeader splits a header block into fields, skipping (and noting)
// lines that are not fields.
func (p *parsed) parseHeader(block []byte) textproto.Header {
	var raws [][]byte
	var cur []byte
	flush := func() {
		if cur == nil {
			return
		}
		i := bytes.IndexByte(cur, ':')
		if i <= 0 || !validKey(bytes.TrimRight(cur[:i], " \t")) {
			p.problem("malformed header line %q", truncate(string(cur), 60))
		} else {
			raws = append(raws, cur)
		}
		cur = nil
	}
	for len(block) > 0 {
		var line []byte
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			line, block = block, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // the empty line ending the header
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				p.problem("header starts with a continuation line")
				continue
			}
			cur = append(cur, "\r\n"...)
			cur = append(cur, line...)
			continue
		}
		flush()
		cur = append([]byte(nil), line...)
	}
	flush()
	var h textproto.Header
	// textproto.Header keeps fields last first (as its ReadHeader does),
	// so that Get returns the first one of the message.
	for i := len(raws) - 1; i >= 0; i-- {
		kv := append(raws[i], "\r\n"...)
		h.AddRaw(kv)
	}
	for _, kv := range raws {
		i := bytes.IndexByte(kv, ':')
		k := nettextproto.CanonicalMIMEHeaderKey(string(bytes.TrimRight(kv[:i], " \t")))
		p.fields = append(p.fields, field{Key: k, Value: unfold(string(kv[i+1:]))})
	}
	return h
}

// validKey: RFC 5322 2.2, printable US-ASCII but the colon.
func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

// unfold undoes RFC 5322 2.2.3 folding and trims the value.
// A stray CR or LF (not part of a fold) becomes a space.
func unfold(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	v = strings.ReplaceAll(v, "\r", " ")
	return strings.TrimSpace(v)
}

// walk reads one entity and, for a multipart one, its parts.
func (p *parsed) walk(e *message.Entity, depth int) {
	p.parts++
	if p.parts > maxParts {
		p.problem("more than %d MIME parts", maxParts)
		return
	}
	mediaType, params, err := e.Header.ContentType()
	if err != nil && e.Header.Get("Content-Type") != "" {
		// RFC 2045 5.2: a bad Content-Type is taken as text/plain.
		p.problem("bad Content-Type %q", truncate(e.Header.Get("Content-Type"), 60))
		mediaType = "text/plain"
	}
	if mediaType == "" {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if params["boundary"] == "" {
			p.problem("%s without a boundary", mediaType)
			p.readText(e, "text/plain")
			return
		}
		if depth >= maxDepth {
			p.problem("multipart nested more than %d deep", maxDepth)
			return
		}
		mr := e.MultipartReader()
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil && (part == nil || !(message.IsUnknownCharset(err) || message.IsUnknownEncoding(err))) {
				p.problem("%s: %v", mediaType, err)
				return
			}
			if message.IsUnknownEncoding(err) {
				p.problem("unknown Content-Transfer-Encoding %q", part.Header.Get("Content-Transfer-Encoding"))
			}
			p.walk(part, depth+1)
		}
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	name = decodeWords(name)
	isAttachment := strings.EqualFold(disp, "attachment") || name != "" || mediaType == "message/rfc822"
	switch {
	case mediaType == "message/rfc822" && p.level == 0 && p.inner == nil:
		// The first attached message is parsed too: if this is a
		// journal report, it is the original (see detectJournal).
		p.hasAttach = true
		p.attachments = append(p.attachments, name)
		p.inner = parseAt(e.Body, 1)
		p.drain(e)
	case isAttachment:
		p.hasAttach = true
		p.attachments = append(p.attachments, name)
		p.drain(e)
	case mediaType == "text/plain" || mediaType == "text/html":
		p.readText(e, mediaType)
	default:
		p.drain(e)
	}
}

// readText appends the decoded body of e to the text or the HTML.
func (p *parsed) readText(e *message.Entity, mediaType string) {
	dst, limit := &p.text, maxTextBytes
	if mediaType == "text/html" {
		dst, limit = &p.html, maxHTMLBytes
	}
	room := limit - dst.Len()
	var b []byte
	var err error
	if room > 0 {
		b, err = io.ReadAll(io.LimitReader(e.Body, int64(room)))
	}
	if err == nil {
		_, err = io.Copy(io.Discard, e.Body)
	}
	if err != nil {
		p.problem("%s body: %v", mediaType, err)
	}
	if len(b) > 0 {
		if dst.Len() > 0 {
			dst.WriteString("\n")
		}
		dst.WriteString(strings.ToValidUTF8(string(b), "\uFFFD"))
	}
}

// drain reads a part's body to check its encoding.
func (p *parsed) drain(e *message.Entity) {
	if _, err := io.Copy(io.Discard, e.Body); err != nil {
		p.problem("part body: %v", err)
	}
}

// Header values.

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	if message.CharsetReader == nil {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	return message.CharsetReader(charset, input)
}}

// decodeWords decodes RFC 2047 encoded words, leaving s as it is when it
// cannot.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// get returns the first field named key, raw.
func (p *parsed) get(key string) string {
	for _, f := range p.fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}

// text returns the first field named key, RFC 2047 decoded.
func (p *parsed) textField(key string) string { return decodeWords(p.get(key)) }

// all returns every field named key, in message order.
func (p *parsed) all(key string) []string {
	var out []string
	for _, f := range p.fields {
		if strings.EqualFold(f.Key, key) {
			out = append(out, f.Value)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
