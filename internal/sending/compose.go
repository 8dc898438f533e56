package sending

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/tidings/tidings/internal/model/sesv2"
)

// Limits SES applies.
const (
	MaxRecipients   = 50
	MaxMessageBytes = 40 << 20
	MaxHeaders      = 15
)

// reservedHeaders are built by the composer; a Simple message's Headers
// may not set them (SES refuses them too).
var reservedHeaders = map[string]bool{
	"from": true, "to": true, "cc": true, "bcc": true, "subject": true, "date": true, "message-id": true,
	"mime-version": true, "content-type": true, "content-transfer-encoding": true, "content-disposition": true,
	"reply-to": true, "return-path": true, "dkim-signature": true, "x-ses-configuration-set": true, "x-ses-message-tags": true,
}

// headerNameRe is a field name (RFC 5322 2.2: printable ASCII but colon).
var headerNameRe = regexp.MustCompile(`^[!-9;-~]{1,128}$`)

// checkHeaderValue refuses a value that would end the field early and
// start another (header injection): CR, LF or NUL.
func checkHeaderValue(what, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return reject(ReasonMessageRejected, "%s contains a line break (CR or LF), which would inject a header field", what)
	}
	return nil
}

// encodeWord encodes a header value with non-ASCII text as RFC 2047
// encoded-words (Q encoding, UTF-8).
func encodeWord(v string) string {
	return mime.QEncoding.Encode("utf-8", v)
}

// parseAddress parses one address ("Name <a@b>" or "a@b"), giving the
// error SES gives.
func parseAddress(what, v string) (*mail.Address, error) {
	if err := checkHeaderValue(what, v); err != nil {
		return nil, err
	}
	a, err := mail.ParseAddress(v)
	if err != nil {
		return nil, reject(ReasonBadRequest, "Illegal address in %s: %q: %v", what, v, err)
	}
	if at := strings.LastIndexByte(a.Address, '@'); at <= 0 || !validDomain(a.Address[at+1:]) {
		return nil, reject(ReasonBadRequest, "Illegal address in %s: %q: missing final '@domain'", what, v)
	}
	return a, nil
}

func parseAddresses(what string, vs []string) ([]*mail.Address, error) {
	out := make([]*mail.Address, 0, len(vs))
	for _, v := range vs {
		a, err := parseAddress(what, v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// simpleMessage is the content of a Simple (or rendered Template) send.
type simpleMessage struct {
	From                     *mail.Address
	To, Cc, ReplyTo          []*mail.Address
	Subject                  string
	Text, HTML               string
	TextCharset, HTMLCharset string
	Headers                  []sesv2.MessageHeader
	Attachments              []sesv2.Attachment
}

// composeSimple builds the MIME message (RFC 5322, RFC 2045-2049): a
// text/plain or text/html part, or multipart/alternative of both; wrapped
// in multipart/related with the inline attachments, and in
// multipart/mixed with the others. Non-ASCII header text is RFC 2047
// encoded; text parts are quoted-printable, attachments base64.
func composeSimple(m *simpleMessage, extra [][2]string) ([]byte, error) {
	if len(m.Headers) > MaxHeaders {
		return nil, reject(ReasonBadRequest, "At most %d headers can be given; got %d", MaxHeaders, len(m.Headers))
	}
	if err := checkHeaderValue("Subject", m.Subject); err != nil {
		return nil, err
	}
	for _, f := range m.Headers {
		name, value := str(f.Name), str(f.Value)
		if !headerNameRe.MatchString(name) {
			return nil, reject(ReasonBadRequest, "Invalid header name %q", name)
		}
		if err := checkHeaderValue("The value of header "+name, value); err != nil {
			return nil, err
		}
		if len(value) > 870 {
			return nil, reject(ReasonBadRequest, "The value of header %s is longer than 870 characters", name)
		}
		if reservedHeaders[strings.ToLower(name)] {
			return nil, reject(ReasonBadRequest, "Header %s cannot be set in Headers", name)
		}
	}
	body := textPart("text/plain", m.TextCharset, m.Text)
	switch {
	case m.Text != "" && m.HTML != "":
		body = &part{ctype: "multipart/alternative", parts: []*part{body, textPart("text/html", m.HTMLCharset, m.HTML)}}
	case m.HTML != "":
		body = textPart("text/html", m.HTMLCharset, m.HTML)
	}
	var inline, attached []*part
	for _, a := range m.Attachments {
		p, isInline := attachmentPart(a)
		if isInline {
			inline = append(inline, p)
		} else {
			attached = append(attached, p)
		}
	}
	if len(inline) > 0 {
		body = &part{ctype: "multipart/related", parts: append([]*part{body}, inline...)}
	}
	if len(attached) > 0 {
		body = &part{ctype: "multipart/mixed", parts: append([]*part{body}, attached...)}
	}

	// textproto.Header writes the field added last first: the fields are
	// added from the last to the first wanted.
	var h mail.Header
	body.addFields(&h.Header.Header)
	h.AddRaw([]byte("MIME-Version: 1.0\r\n"))
	for i := len(m.Headers) - 1; i >= 0; i-- {
		f := m.Headers[i]
		h.AddRaw([]byte(str(f.Name) + ": " + encodeWord(str(f.Value)) + "\r\n"))
	}
	for i := len(extra) - 1; i >= 0; i-- {
		if !hasField(m.Headers, extra[i][0]) {
			h.AddRaw([]byte(extra[i][0] + ": " + extra[i][1] + "\r\n"))
		}
	}
	h.SetSubject(m.Subject)
	if len(m.Cc) > 0 {
		h.SetAddressList("Cc", m.Cc)
	}
	if len(m.To) > 0 {
		h.SetAddressList("To", m.To)
	}
	if len(m.ReplyTo) > 0 {
		h.SetAddressList("Reply-To", m.ReplyTo)
	}
	h.SetAddressList("From", []*mail.Address{m.From})

	var buf bytes.Buffer
	mw, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, err
	}
	if err := body.writeBody(mw); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	// A single part ends where its text ends; the message's last line
	// must still end with CRLF (RFC 5322 2.1), as a multipart one does.
	if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
		buf.WriteString("\r\n")
	}
	return buf.Bytes(), nil
}

func hasField(l []sesv2.MessageHeader, name string) bool {
	for _, f := range l {
		if strings.EqualFold(str(f.Name), name) {
			return true
		}
	}
	return false
}

// part is a MIME entity to write.
type part struct {
	ctype  string
	params map[string]string
	header [][2]string
	cte    string
	body   []byte
	parts  []*part
}

func textPart(ctype, charset, text string) *part {
	// The data arrive as Unicode strings and are written as UTF-8,
	// whatever Charset the request named.
	charset = "UTF-8"
	cte := "quoted-printable"
	if isASCII(text) && !hasLongLine(text) {
		cte = "7bit"
	}
	return &part{ctype: ctype, params: map[string]string{"charset": charset}, cte: cte, body: []byte(text)}
}

func hasLongLine(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if len(l) > 900 {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == 0 {
			return false
		}
	}
	return true
}

func attachmentPart(a sesv2.Attachment) (*part, bool) {
	ctype := str(a.ContentType)
	name := str(a.FileName)
	if ctype == "" {
		ctype = mime.TypeByExtension(extOf(name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt, params = "application/octet-stream", map[string]string{}
	}
	params["name"] = name
	disp := "attachment"
	inline := false
	if a.ContentDisposition != nil && strings.EqualFold(string(*a.ContentDisposition), "INLINE") {
		disp, inline = "inline", true
	}
	p := &part{ctype: mt, params: params, cte: "base64", body: a.RawContent}
	if a.ContentTransferEncoding != nil {
		switch strings.ToUpper(string(*a.ContentTransferEncoding)) {
		case "QUOTED_PRINTABLE":
			p.cte = "quoted-printable"
		case "SEVEN_BIT":
			p.cte = "7bit"
		}
	}
	p.header = append(p.header, [2]string{"Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": name})})
	if id := str(a.ContentId); id != "" {
		p.header = append(p.header, [2]string{"Content-ID", "<" + strings.Trim(id, "<>") + ">"})
	}
	if d := str(a.ContentDescription); d != "" {
		p.header = append(p.header, [2]string{"Content-Description", encodeWord(d)})
	}
	return p, inline
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:]
	}
	return ""
}

// addFields adds the MIME fields of p to h, so that they are written in
// the order Content-Type, Content-Transfer-Encoding, the others. A
// multipart's boundary is chosen here, so that the writer keeps the order.
func (p *part) addFields(h *textproto.Header) {
	for i := len(p.header) - 1; i >= 0; i-- {
		h.Add(p.header[i][0], p.header[i][1])
	}
	if p.parts == nil {
		h.Add("Content-Transfer-Encoding", p.cte)
	} else if p.params["boundary"] == "" {
		if p.params == nil {
			p.params = map[string]string{}
		}
		p.params["boundary"] = randomToken(32)
	}
	h.Add("Content-Type", mime.FormatMediaType(p.ctype, p.params))
}

func (p *part) headerOf() message.Header {
	var h textproto.Header
	p.addFields(&h)
	return message.Header{Header: h}
}

func (p *part) writeBody(mw *message.Writer) error {
	if p.parts == nil {
		_, err := mw.Write(p.body)
		return err
	}
	for _, c := range p.parts {
		cw, err := mw.CreatePart(c.headerOf())
		if err != nil {
			return err
		}
		if err := c.writeBody(cw); err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
	}
	return nil
}

// rawMessage is a Raw send after parsing.
type rawMessage struct {
	Header textproto.Header
	Body   []byte // everything after the header section
}

// parseRaw parses a raw message (RFC 5322 with MIME) and checks its MIME
// structure by reading every part; a malformed message is rejected with
// the parse error, as SES does.
func parseRaw(data []byte) (*rawMessage, error) {
	if len(data) == 0 {
		return nil, reject(ReasonMessageRejected, "Empty message")
	}
	br := bufio.NewReader(bytes.NewReader(data))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, reject(ReasonMessageRejected, "Malformed MIME message: header: %v", err)
	}
	if h.Len() == 0 {
		return nil, reject(ReasonMessageRejected, "Malformed MIME message: no header fields")
	}
	rest, _ := io.ReadAll(br)
	ent, err := message.Read(bytes.NewReader(data))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, reject(ReasonMessageRejected, "Malformed MIME message: %v", err)
	}
	if ent != nil {
		err = ent.Walk(func(_ []int, e *message.Entity, err error) error {
			if err != nil {
				return err
			}
			if e.MultipartReader() == nil {
				_, err = io.Copy(io.Discard, e.Body)
			}
			return err
		})
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			mt, _, _ := ent.Header.ContentType()
			if strings.HasPrefix(mt, "multipart/") {
				return nil, reject(ReasonMessageRejected, "Malformed MIME message: reading the parts of the %s body: %v (is the closing boundary missing?)", mt, err)
			}
			return nil, reject(ReasonMessageRejected, "Malformed MIME message: %v", err)
		}
	}
	return &rawMessage{Header: h, Body: rest}, nil
}

func (r *rawMessage) bytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := textproto.WriteHeader(&buf, r.Header); err != nil {
		return nil, err
	}
	buf.Write(r.Body)
	return buf.Bytes(), nil
}

// stableID is the third field of Feedback-ID: the same for every message
// of an account in a region, opaque.
func stableID(acct, region string) string {
	sum := sha256.Sum256([]byte(acct + ":" + region))
	return region + "." + hex.EncodeToString(sum[:6])
}

// feedbackField cleans a Feedback-ID field: the header separates fields by
// colons, so a colon (or space) in a tag value becomes "-".
func feedbackField(v string) string {
	return strings.Map(func(r rune) rune {
		if r == ':' || r <= ' ' || r >= 0x7f {
			return '-'
		}
		return r
	}, v)
}

func messageIDHeader(id, host string) string { return "<" + id + "@" + host + ">" }

func dateHeader(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }
