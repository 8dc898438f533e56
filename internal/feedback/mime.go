package feedback

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Limits of what the parsers read: reports are small, but the original
// message returned in them may not be, and all of it is untrusted.
const (
	// MaxReportBytes is the most read of one report; the rest is ignored.
	MaxReportBytes = 20 << 20
	maxParts       = 100
	maxDepth       = 5
	maxHeaderBytes = 256 << 10
	maxFields      = 1000
)

// Header is one header field, unfolded, its value as in the message.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// headers is a header block in order.
type headers []Header

// get returns the first value of name (case-insensitive), trimmed.
func (h headers) get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return strings.TrimSpace(f.Value)
		}
	}
	return ""
}

func (h headers) all(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, strings.TrimSpace(f.Value))
		}
	}
	return out
}

// splitMessage splits a message at the first empty line into its header
// block and body. Lines may end in CRLF or LF.
func splitMessage(b []byte) (head, body []byte) {
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return nil, b[2:]
	}
	if bytes.HasPrefix(b, []byte("\n")) {
		return nil, b[1:]
	}
	i := bytes.Index(b, []byte("\n\r\n"))
	j := bytes.Index(b, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return b[:i+1], b[i+3:]
	case j >= 0:
		return b[:j+1], b[j+2:]
	}
	return b, nil
}

// parseHeaders reads a header block leniently: folded lines are joined
// (RFC 5322 2.2.3), lines without a colon are skipped, and at most
// maxHeaderBytes are read.
func parseHeaders(b []byte) headers {
	if len(b) > maxHeaderBytes {
		b = b[:maxHeaderBytes]
	}
	var out headers
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			continue
		}
		if len(out) >= maxFields {
			break
		}
		out = append(out, Header{Name: name, Value: strings.TrimSpace(value)})
	}
	return out
}

// part is one leaf or container of a MIME tree.
type part struct {
	header headers
	ctype  string // lower case, "text/plain" when absent
	params map[string]string
	body   []byte // transfer-decoded
}

// walk parses a message into its parts, depth first, leniently: a part
// that does not parse is kept as text.
func walk(raw []byte) []*part {
	var parts []*part
	var visit func(raw []byte, depth int, defType string)
	visit = func(raw []byte, depth int, defType string) {
		if len(parts) >= maxParts {
			return
		}
		head, body := splitMessage(raw)
		h := parseHeaders(head)
		ct, params, err := mime.ParseMediaType(h.get("Content-Type"))
		if err != nil || ct == "" {
			ct, params = defType, map[string]string{}
		}
		p := &part{header: h, ctype: ct, params: params, body: decodeTransfer(h.get("Content-Transfer-Encoding"), body)}
		parts = append(parts, p)
		if !strings.HasPrefix(ct, "multipart/") || depth >= maxDepth || params["boundary"] == "" {
			return
		}
		def := "text/plain"
		if ct == "multipart/digest" {
			def = "message/rfc822"
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for len(parts) < maxParts {
			np, err := mr.NextRawPart()
			if err != nil {
				return
			}
			b, err := io.ReadAll(io.LimitReader(np, MaxReportBytes))
			if err != nil && len(b) == 0 {
				return
			}
			var hb bytes.Buffer
			for k, vs := range np.Header {
				for _, v := range vs {
					hb.WriteString(k + ": " + v + "\r\n")
				}
			}
			hb.WriteString("\r\n")
			hb.Write(b)
			visit(hb.Bytes(), depth+1, def)
		}
	}
	visit(raw, 0, "text/plain")
	return parts
}

// decodeTransfer undoes a Content-Transfer-Encoding; what does not decode
// is returned as it is.
func decodeTransfer(enc string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil && n == 0 {
			return body
		}
		return out[:n]
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil && len(out) == 0 {
			return body
		}
		return out
	}
	return body
}

// Original is what a report carries of the message it is about: its
// Message-ID and headers, from the returned message or its headers
// (RFC 3464 and RFC 5965's third part), or from lines quoted in the text
// of a non-standard bounce.
type Original struct {
	// MessageID is the Message-ID without angle brackets, "" if unknown.
	MessageID string `json:"messageId,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Subject   string `json:"subject,omitempty"` // RFC 2047 words decoded
	Date      string `json:"date,omitempty"`
	// ReturnPath is the address of the Return-Path field the receiver
	// added (RFC 5321 4.4), "" if the original has none.
	ReturnPath string `json:"returnPath,omitempty"`
	// Headers are all the original's header fields, in order.
	Headers []Header `json:"headers,omitempty"`
	// Complete is true when the whole message was returned, not only its
	// headers.
	Complete bool `json:"complete"`
}

// original builds an Original from a returned message or header block.
func original(raw []byte, complete bool) *Original {
	head, _ := splitMessage(raw)
	if !complete {
		head = raw
	}
	h := parseHeaders(head)
	if len(h) == 0 {
		return nil
	}
	o := &Original{Headers: h, Complete: complete, From: h.get("From"), To: h.get("To"), Date: h.get("Date")}
	o.MessageID = messageID(h.get("Message-ID"))
	if rp := h.get("Return-Path"); rp != "" {
		o.ReturnPath = address(rp)
	}
	o.Subject = h.get("Subject")
	if d, err := new(mime.WordDecoder).DecodeHeader(o.Subject); err == nil {
		o.Subject = d
	}
	return o
}

// messageID returns the id of a Message-ID value without its brackets.
func messageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i+1 : i+j]
		}
	}
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

// address returns the addr-spec of an address field value ("Name <a@b>",
// "a@b", "rfc822;a@b"), lower-casing nothing.
func address(v string) string {
	v = strings.TrimSpace(v)
	if t, rest, ok := strings.Cut(v, ";"); ok && !strings.ContainsAny(t, "@<\"") {
		v = strings.TrimSpace(rest)
	}
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	v = strings.Trim(v, "<> \t")
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		v = v[:i]
	}
	return strings.Trim(v, "<>")
}

// readAll reads at most MaxReportBytes of r.
func readAll(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, MaxReportBytes))
}
