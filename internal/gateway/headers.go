package gateway

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/tidings/tidings/internal/mailauth"
)

// OriginatorHeader is set on every relayed message to the relay's id,
// replacing any incoming field of that name, so that a downstream server
// can tell mail this gateway relayed from mail that merely claims it (the
// EchoSpoofing defence, SCENARIOS.md #2).
const OriginatorHeader = "X-Mail-Manager-Originator-Org"

// maxHeldField bounds how much of one header field the filter holds to
// judge it; a longer field is judged on what was held.
const maxHeldField = 64 << 10

// headerFilter streams a message, removing the header fields drop says
// to. Each field (its first line and its continuation lines, RFC 5322
// 2.2.3) is held until the next one starts, so that a folded field is
// removed whole; nothing else is held. The body passes untouched.
type headerFilter struct {
	br   *bufio.Reader
	drop func(name string, field []byte) bool

	field    []byte // the field being read
	name     string
	decided  int8 // 0: holding; 1: keep (streaming); 2: drop (streaming)
	midLine  bool // the last chunk did not end the line
	inBody   bool
	out      []byte
	pending  []byte // out's backing store, reused
	finalErr error
}

func newHeaderFilter(r io.Reader, drop func(name string, field []byte) bool) *headerFilter {
	return &headerFilter{br: bufio.NewReaderSize(r, 16<<10), drop: drop}
}

func (f *headerFilter) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.finalErr != nil {
			return 0, f.finalErr
		}
		if f.inBody {
			return f.br.Read(p)
		}
		f.step()
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

func (f *headerFilter) emit(b []byte) {
	if len(f.out) == 0 {
		f.pending = f.pending[:0]
	}
	f.pending = append(f.pending, b...)
	f.out = f.pending
}

// flush ends the current field: it is written unless dropped.
func (f *headerFilter) flush() {
	if f.decided == 0 && len(f.field) > 0 && !f.drop(f.name, f.field) {
		f.emit(f.field)
	}
	f.field, f.name, f.decided = f.field[:0], "", 0
	if cap(f.field) > maxHeldField {
		f.field = nil
	}
}

// add appends a chunk of the current field.
func (f *headerFilter) add(chunk []byte) {
	switch f.decided {
	case 1:
		f.emit(chunk)
		return
	case 2:
		return
	}
	f.field = append(f.field, chunk...)
	if len(f.field) > maxHeldField {
		if f.drop(f.name, f.field) {
			f.decided = 2
		} else {
			f.decided = 1
			f.emit(f.field)
		}
	}
}

func (f *headerFilter) step() {
	line, err := f.br.ReadSlice('\n')
	if len(line) > 0 {
		cont := f.midLine
		f.midLine = line[len(line)-1] != '\n'
		switch {
		case cont:
			f.add(line)
		case string(line) == "\r\n" || string(line) == "\n":
			// RFC 5322 2.1: the empty line ends the header section.
			f.flush()
			f.emit(line)
			f.inBody = true
		case line[0] == ' ' || line[0] == '\t':
			if len(f.field) == 0 && f.decided == 0 {
				// A continuation with nothing to continue: keep it as is.
				f.emit(line)
			} else {
				f.add(line)
			}
		default:
			f.flush()
			name := line
			if i := bytes.IndexByte(line, ':'); i >= 0 {
				name = line[:i]
			} else {
				name = nil
			}
			f.name = strings.TrimRight(string(name), " \t")
			f.field = append(f.field[:0], line...)
		}
	}
	switch {
	case err == nil, err == bufio.ErrBufferFull:
	case err == io.EOF:
		f.flush()
		f.inBody = true // nothing left; Read returns EOF from br
	default:
		f.flush()
		f.finalErr = err
	}
}

// fieldValue returns the unfolded value of a header field (after the
// colon, line breaks removed).
func fieldValue(field []byte) string {
	i := bytes.IndexByte(field, ':')
	if i < 0 {
		return ""
	}
	v := field[i+1:]
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return strings.TrimSpace(string(v))
}

// ownResults returns the drop function that removes the
// Authentication-Results fields claiming to come from authservID: RFC 8601
// 5 asks a border MTA to remove them from incoming mail, lest a sender
// forge verdicts that downstream filters or users trust. With originator
// set, every X-Mail-Manager-Originator-Org field goes too, folded or not,
// whatever its case.
func ownResults(authservID string, originator bool) func(name string, field []byte) bool {
	return func(name string, field []byte) bool {
		switch {
		case originator && strings.EqualFold(name, OriginatorHeader):
			return true
		case strings.EqualFold(name, "Authentication-Results"):
			return mailauth.IsOwnResults(fieldValue(field), authservID)
		}
		return false
	}
}

// headerLines renders header fields as wire lines. Names and values were
// validated (rules.ValidateHeaderName/Value, the relay id's pattern), so no
// CR or LF is in them but in the Authentication-Results value, which
// mailauth folds itself; other values longer than the line limit are
// folded at white space (RFC 5322 2.2.3).
func headerLines(fields [][2]string) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		line := f[0] + ": " + f[1]
		if !strings.Contains(f[1], "\n") {
			// Folded already (mailauth folds Authentication-Results)
			// otherwise.
			line = fold(line)
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// fold breaks a field longer than 78 octets at white space (RFC 5322
// 2.1.1), continuation lines starting with a tab.
func fold(line string) string {
	if len(line) <= 78 {
		return line
	}
	var b strings.Builder
	for len(line) > 78 {
		i := strings.LastIndexAny(line[:78], " \t")
		if i <= 0 {
			j := strings.IndexAny(line[78:], " \t")
			if j < 0 {
				break
			}
			i = 78 + j
		}
		b.WriteString(line[:i])
		b.WriteString("\r\n\t")
		line = strings.TrimLeft(line[i:], " \t")
	}
	b.WriteString(line)
	return b.String()
}
