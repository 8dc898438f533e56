package mailauth

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// errHeaderTooLarge is reported when the header section exceeds the limit
// and so is not held in memory.
var errHeaderTooLarge = errors.New("header section too large")

// field is one header field, unfolded.
type field struct {
	name  string // as written, without surrounding space
	value string // unfolded (CRLF removed), trimmed
}

// readHeader reads the header section of a message (RFC 5322 2.1) from br,
// up to and including the empty line that ends it, and returns its raw bytes
// and its fields. The raw bytes always end with an empty line, added when the
// message has no body, so that a DKIM verifier fed raw and then the rest of
// br sees a well-formed message.
func readHeader(br *bufio.Reader, limit int) (raw []byte, fields []field, err error) {
	var buf bytes.Buffer
	for {
		line, err := br.ReadSlice('\n')
		long := false
		for errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the reader's buffer: keep reading it.
			long = true
			if buf.Len()+len(line) > limit {
				return nil, nil, errHeaderTooLarge
			}
			buf.Write(line)
			line, err = br.ReadSlice('\n')
		}
		if buf.Len()+len(line) > limit {
			return nil, nil, errHeaderTooLarge
		}
		buf.Write(line)
		if err == io.EOF {
			// A message without a body, or cut short: close the header.
			if buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
				buf.WriteString("\r\n")
			}
			buf.WriteString("\r\n")
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if !long && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			break // the empty line
		}
	}
	raw = buf.Bytes()
	return raw, parseFields(raw), nil
}

// parseFields splits a raw header section into unfolded fields. Lines that
// are neither a field nor a continuation are skipped, as verifiers do.
func parseFields(raw []byte) []field {
	var fields []field
	for len(raw) > 0 {
		var line []byte
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			line, raw = raw, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n := len(fields); n > 0 {
				// RFC 5322 2.2.3: unfolding removes the CRLF only.
				fields[n-1].value += string(line)
			}
			continue
		}
		name, value, ok := strings.Cut(string(line), ":")
		if !ok {
			continue
		}
		fields = append(fields, field{name: strings.TrimSpace(name), value: value})
	}
	for i := range fields {
		fields[i].value = strings.TrimSpace(fields[i].value)
	}
	return fields
}

// fromDomains returns the distinct domains of the addresses in the From
// fields (the RFC 5322.From author domains of RFC 7489 3.1), normalised by
// normalizeDomain. A From that net/mail cannot parse is scanned for anything
// after an "@", so that a malformed header cannot slip by DMARC: extra
// domains only ever make the check stricter.
func fromDomains(values []string) []string {
	var out []string
	add := func(d string) {
		d = normalizeDomain(d)
		if d == "" || strings.ContainsAny(d, " \t\"<>()[],;:\\@") {
			return
		}
		for _, o := range out {
			if o == d {
				return
			}
		}
		out = append(out, d)
	}
	for _, v := range values {
		if addrs, err := mail.ParseAddressList(v); err == nil {
			for _, a := range addrs {
				if i := strings.LastIndexByte(a.Address, '@'); i >= 0 {
					add(a.Address[i+1:])
				}
			}
			continue
		}
		for rest := v; ; {
			i := strings.IndexByte(rest, '@')
			if i < 0 {
				break
			}
			rest = rest[i+1:]
			end := strings.IndexFunc(rest, func(r rune) bool {
				return !(r == '.' || r == '-' || r == '_' || r >= 0x80 ||
					'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
			})
			if end < 0 {
				end = len(rest)
			}
			add(rest[:end])
		}
	}
	return out
}

// normalizeDomain lower-cases a domain, drops a trailing dot and turns an
// internationalised name into its A-labels (RFC 5891), so that domains
// compare equal and can be looked up. It returns "" for what cannot be a
// domain.
func normalizeDomain(d string) string {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" || !utf8.ValidString(d) {
		return ""
	}
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		d = a
	}
	return strings.ToLower(d)
}

// domainOf returns the normalised domain of an address, "" when it has none.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return normalizeDomain(addr[i+1:])
}

// tagValue returns the value of tag in a DKIM tag list (RFC 6376 3.2), with
// whitespace removed, or "".
func tagValue(list, tag string) string {
	for _, spec := range strings.Split(list, ";") {
		k, v, ok := strings.Cut(spec, "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Map(func(r rune) rune {
				if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
					return -1
				}
				return r
			}, v)
		}
	}
	return ""
}
