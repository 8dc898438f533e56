package smtpd

import (
	"bufio"
	"bytes"
	"io"
)

// Rejections of a message by the DATA reader.
var (
	rejectBareNewline = &Reject{550, [3]int{5, 5, 2}, "Message contains a bare CR or LF; lines must end in CRLF (RFC 5321 2.3.8)"}
	rejectSmuggling   = &Reject{550, [3]int{5, 5, 2}, "Non-standard end of data (bare CR or LF around \".\"); only CRLF.CRLF ends a message (RFC 5321 4.1.1.4)"}
	rejectDataLine    = &Reject{550, [3]int{5, 5, 2}, "Message line longer than 1000 octets (RFC 5321 4.5.3.1.6)"}
	rejectTooBig      = &Reject{552, [3]int{5, 3, 4}, "Message size exceeds fixed maximum message size"}
	rejectLoop        = &Reject{554, [3]int{5, 4, 6}, "Too many Received headers: mail loop?"}
)

// maxHops is the most Received headers a message may already carry
// (RFC 5321 6.3; Postfix's hopcount_limit).
const maxHops = 50

// maxDataLine is the longest message line, CRLF excluded (RFC 5321
// 4.5.3.1.6: 1000 octets with it).
const maxDataLine = 998

// dstate is where the DATA reader stands within a line.
type dstate uint8

const (
	dBOL   dstate = iota // at the beginning of a line
	dDot                 // read "." at the beginning of a line
	dDotCR               // read "." CR at the beginning of a line
	dText                // inside a line
	dCR                  // read CR: CRLF or a bare CR, the next octet tells
)

// dataReader reads a message in the DATA phase (RFC 5321 4.1.1.4): it
// removes the dot-stuffing (4.5.2), stops at CRLF "." CRLF and nowhere
// else, counts the size and the line lengths, and fails the message on a
// bare CR or LF (see the package comment). Its output is the message with
// CRLF line endings.
//
// Clean lines (the common case) are checked and copied whole; anything
// else goes through a byte-at-a-time state machine.
type dataReader struct {
	br *bufio.Reader

	cur   []byte // unread input from the last ReadSlice (valid until the next read of br)
	clean []byte // the rest of a checked clean line, to be copied out

	st       dstate
	bolClean bool // the line at hand began after CRLF or at the start of DATA
	lineLen  int  // octets of the current line

	max, size int64 // limit and count of message octets (after un-stuffing)
	raw, cap  int64 // octets read from the wire and the most we read before hanging up
	headers   bool  // still in the header section
	hops      int   // Received headers seen

	viol  *Reject // the message fails; the rest is read and discarded
	fatal *Reject // the stream cannot be trusted; answer and close
	eof   bool    // CRLF "." CRLF seen
	err   error   // transport error
}

func newDataReader(br *bufio.Reader, maxSize int64) *dataReader {
	return &dataReader{
		br:       br,
		bolClean: true,
		headers:  true,
		max:      maxSize,
		// A client that ignores SIZE may send a little more than the
		// limit; one that sends far more is hung up on.
		cap: 2*maxSize + 1<<20,
	}
}

// Read implements io.Reader for the Spooler. After a violation it returns
// the *Reject; after a transport error, that error.
func (r *dataReader) Read(p []byte) (int, error) {
	n := r.run(p, true)
	switch {
	case r.err != nil:
		return n, r.err
	case r.fatal != nil:
		return n, r.fatal
	case r.viol != nil:
		return n, r.viol
	case r.eof && len(r.clean) == 0:
		return n, io.EOF
	}
	return n, nil
}

// drain reads and discards the rest of the message, so that the session
// stays in step with the client whatever the Spooler did.
func (r *dataReader) drain() {
	r.clean = nil
	for !r.done() {
		r.run(nil, false)
	}
}

func (r *dataReader) done() bool {
	return r.eof || r.fatal != nil || r.err != nil
}

// run reads input and, with emit, writes message octets to p until p is
// full or input would block; without emit it consumes until the end.
func (r *dataReader) run(p []byte, emit bool) int {
	n := 0
	for !emit || n < len(p) {
		if len(r.clean) > 0 {
			k := copy(p[n:], r.clean)
			r.clean = r.clean[k:]
			n += k
			continue
		}
		if r.done() || (emit && r.viol != nil) {
			break
		}
		if len(r.cur) == 0 {
			if r.br.Buffered() == 0 {
				if emit && n > 0 {
					break // return what we have rather than wait for more
				}
				if _, err := r.br.Peek(1); err != nil { // one read
					if err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					r.err = err
					break
				}
			}
			// Take the next line if it is all buffered, otherwise what
			// there is: a client waiting after "\r.\r" must get its
			// answer. The slice stays valid until the next read.
			line, _ := r.br.Peek(r.br.Buffered())
			whole := false
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line, whole = line[:i+1], true
			}
			r.br.Discard(len(line))
			r.raw += int64(len(line))
			if r.raw > r.cap {
				r.fatal = r.viol
				if r.fatal == nil {
					r.fatal = rejectTooBig
				}
				break
			}
			if whole && r.st == dBOL && r.bolClean && r.cleanLine(line) {
				if emit && r.viol == nil {
					r.clean = line
				}
				continue
			}
			r.cur = line
		}
		// The slow path: one octet at a time.
		c := r.cur[0]
		r.cur = r.cur[1:]
		if out, ok := r.step(c); ok {
			r.size++
			if r.size > r.max {
				r.violate(rejectTooBig)
			}
			if emit && r.viol == nil {
				p[n] = out
				n++
			}
		}
	}
	return n
}

// cleanLine checks a complete line read at the beginning of a line after
// CRLF. If it is clean (no leading dot, no CR but the final CRLF) it is
// accounted for and cleanLine returns true; otherwise nothing is consumed.
func (r *dataReader) cleanLine(line []byte) bool {
	l := len(line)
	if l < 2 || line[0] == '.' || bytes.IndexByte(line, '\r') != l-2 {
		return false
	}
	if l-2 > maxDataLine {
		r.violate(rejectDataLine)
	}
	if r.headers {
		if l == 2 {
			r.headers = false
		} else if l > 9 && bytes.EqualFold(line[:9], []byte("Received:")) {
			r.hops++
			if r.hops > maxHops {
				r.violate(rejectLoop)
			}
		}
	}
	r.size += int64(l)
	if r.size > r.max {
		r.violate(rejectTooBig)
	}
	return true
}

// step advances the state machine by one octet and returns the octet to
// emit, if any.
func (r *dataReader) step(c byte) (byte, bool) {
	switch r.st {
	case dBOL:
		switch c {
		case '.':
			r.st = dDot
			return 0, false
		case '\r':
			r.st = dCR
			return c, true
		case '\n':
			r.violate(rejectBareNewline)
			r.newLine(false)
			return c, true
		}
		r.st = dText
		r.lineLen = 1
		return c, true
	case dDot:
		switch {
		case c == '\r' && r.bolClean:
			r.st = dDotCR
			return 0, false
		case c == '\r' || c == '\n':
			// "." ended by a bare LF, or "." CR after a bare CR or LF:
			// whatever comes next, an end of data by some other server's
			// rules. Decided now, so that a client waiting for an answer
			// gets one.
			r.fatal = rejectSmuggling
			return 0, false
		}
		// RFC 5321 4.5.2: the first dot of a line with more on it is
		// removed.
		r.st = dText
		r.lineLen = 1
		return c, true
	case dDotCR:
		if c == '\n' {
			r.eof = true // CRLF "." CRLF
			return 0, false
		}
		// CRLF "." CR followed by anything but LF.
		r.fatal = rejectSmuggling
		return 0, false
	case dText:
		switch c {
		case '\r':
			r.st = dCR
			return c, true
		case '\n':
			r.violate(rejectBareNewline)
			r.newLine(false)
			return c, true
		}
		r.lineLen++
		if r.lineLen > maxDataLine {
			r.violate(rejectDataLine)
		}
		return c, true
	default: // dCR
		if c == '\n' {
			r.newLine(true)
			return c, true
		}
		// The CR was bare; it ended a line and c begins the next one.
		r.violate(rejectBareNewline)
		r.newLine(false)
		return r.step(c)
	}
}

func (r *dataReader) newLine(afterCRLF bool) {
	if afterCRLF && r.lineLen == 0 && r.st == dCR {
		r.headers = false // the empty line after the header section
	}
	r.st = dBOL
	r.bolClean = afterCRLF
	r.lineLen = 0
}

// violate records the first reason the message fails.
func (r *dataReader) violate(rej *Reject) {
	if r.viol == nil {
		r.viol = rej
	}
}
