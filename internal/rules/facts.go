package rules

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/tidings/tidings/internal/message"
)

// Facts is what a rule set reads about one spooled message.
type Facts struct {
	Envelope message.Envelope
	Auth     message.Auth
	// Header is the message's header section, as ReadHeader returns it:
	// keys in canonical form (textproto.CanonicalMIMEHeaderKey; lookups
	// rely on it), values unfolded, not yet RFC 2047-decoded.
	Header textproto.MIMEHeader
	// Message is the whole message, for add-on conditions; nil makes them
	// fail (PROCESSING_FAILED) for add-ons that read the message.
	Message *Message
}

// MaxHeaderBytes bounds how much of a message ReadHeader reads. Larger header
// sections are cut there; what follows is not seen by rules.
const MaxHeaderBytes = 1 << 20

// ReadHeader reads a message's header section (RFC 5322 2.2) up to the empty
// line that ends it, or MaxHeaderBytes. It accepts what real mail contains:
// CRLF or bare LF line ends, folded lines (unfolded per RFC 5322 2.2.3 by
// removing the line break and keeping the white space), white space before
// the colon (obs-optional, RFC 5322 4.5.8). A line that is no field at all
// (an mbox "From " line, a continuation with nothing to continue, a name
// with spaces or control characters) is skipped rather than failing the
// message. Only read errors are returned.
func ReadHeader(r io.Reader) (textproto.MIMEHeader, error) {
	h := textproto.MIMEHeader{}
	br := bufio.NewReader(io.LimitReader(r, MaxHeaderBytes))
	var name string
	var value []byte
	flush := func() {
		if name != "" {
			h[name] = append(h[name], strings.TrimSpace(string(value)))
		}
		name, value = "", value[:0]
	}
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			flush()
			if errors.Is(err, io.EOF) {
				return h, nil
			}
			return h, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		switch {
		case len(line) == 0:
			flush()
			return h, nil // end of the header section
		case line[0] == ' ' || line[0] == '\t':
			if name != "" {
				value = append(value, line...)
			}
		default:
			flush()
			colon := bytes.IndexByte(line, ':')
			if colon < 0 {
				break
			}
			n := strings.TrimRight(string(line[:colon]), " \t")
			if !validFieldName(n) {
				break
			}
			name = textproto.CanonicalMIMEHeaderKey(n)
			value = append(value[:0], line[colon+1:]...)
		}
		if err != nil {
			flush()
			if errors.Is(err, io.EOF) {
				return h, nil
			}
			return h, err
		}
	}
}

// validFieldName: printable US-ASCII except colon (RFC 5322 2.2, ftext).
func validFieldName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// wordDecoder decodes RFC 2047 encoded words in any charset the WHATWG
// encoding index knows (windows-1252, ISO-2022-JP, GB18030, ...), not only
// the UTF-8 and ISO-8859-1 that mime.WordDecoder knows by itself.
var wordDecoder = &mime.WordDecoder{
	CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(charset)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(input), nil
	},
}

var addrParser = &mail.AddressParser{WordDecoder: wordDecoder}

// DecodeHeaderValue decodes RFC 2047 encoded words; a value that does not
// decode is returned as it is.
func DecodeHeaderValue(v string) string {
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// Subject is the decoded Subject (RFC 2047) of h, "" when there is none. With
// several Subject fields (RFC 5322 3.6 allows one) the first is used.
func Subject(h textproto.MIMEHeader) string {
	return DecodeHeaderValue(h.Get("Subject"))
}

// HeaderValues is every occurrence of the named field, RFC 2047-decoded.
func HeaderValues(h textproto.MIMEHeader, name string) []string {
	vs := h.Values(name)
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = DecodeHeaderValue(v)
	}
	return out
}

// Addresses returns the addr-specs in every occurrence of the named address
// field (From, Sender, To, Cc, ...), without display names. Display names
// never count: in `"ceo@example.com" <x@evil.test>` the address is the
// second. Every occurrence is read: RFC 5322 3.6 allows one From, but a
// message with two must not hide the second from a rule.
//
// A field net/mail cannot parse is scanned leniently: the contents of <...>
// if there are any, else the words that contain an "@".
func Addresses(h textproto.MIMEHeader, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		list, err := addrParser.ParseList(v)
		if err == nil {
			for _, a := range list {
				out = append(out, a.Address)
			}
			continue
		}
		out = append(out, scanAddresses(v)...)
	}
	return out
}

func scanAddresses(v string) []string {
	var out []string
	rest := v
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i+1:], '>')
		if j < 0 {
			break
		}
		if a := strings.TrimSpace(rest[i+1 : i+1+j]); plausibleAddress(a) {
			out = append(out, a)
		}
		rest = rest[i+1+j+1:]
	}
	if len(out) > 0 {
		return out
	}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '<' || r == '>' || r == '"' || r == '(' || r == ')'
	}) {
		if w = strings.Trim(w, "'[]"); plausibleAddress(w) {
			out = append(out, w)
		}
	}
	return out
}

func plausibleAddress(a string) bool {
	at := strings.LastIndexByte(a, '@')
	return at > 0 && at < len(a)-1 && !strings.ContainsAny(a, " \t\r\n\x00")
}
