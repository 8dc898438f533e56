package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// Queue ids are ULIDs (https://github.com/ulid/spec): 48 bits of Unix
// milliseconds then 80 random bits, in Crockford's base32, 26 characters.
// They sort by arrival, need no coordination between nodes (80 random bits
// make a collision within one millisecond negligible), and are safe in an
// SMTP reply, a file name and a blob key.
//
// Within one process the ids of one millisecond are made monotonic, as the
// spec describes, by incrementing the random part, so that ids handed out
// by a node sort in the order it accepted the messages.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idGen makes the queue ids of this process.
var idGen queueIDGen

type queueIDGen struct {
	mu       sync.Mutex
	lastMS   uint64
	hi       uint16 // top 16 of the 80 random bits
	lo       uint64 // bottom 64
	haveLast bool
}

// NewQueueID returns a fresh queue id for a message received at t.
func NewQueueID(t time.Time) string { return idGen.next(t) }

func (g *queueIDGen) next(t time.Time) string {
	ms := uint64(t.UnixMilli())
	g.mu.Lock()
	if g.haveLast && ms <= g.lastMS {
		// Same millisecond (or a clock step back): keep the order.
		ms = g.lastMS
		g.lo++
		if g.lo == 0 {
			g.hi++
		}
	} else {
		var b [10]byte
		_, _ = rand.Read(b[:])
		g.hi = binary.BigEndian.Uint16(b[:2])
		g.lo = binary.BigEndian.Uint64(b[2:])
		g.lastMS, g.haveLast = ms, true
	}
	hi, lo := g.hi, g.lo
	g.mu.Unlock()

	var raw [16]byte
	raw[0] = byte(ms >> 40)
	raw[1] = byte(ms >> 32)
	raw[2] = byte(ms >> 24)
	raw[3] = byte(ms >> 16)
	raw[4] = byte(ms >> 8)
	raw[5] = byte(ms)
	binary.BigEndian.PutUint16(raw[6:8], hi)
	binary.BigEndian.PutUint64(raw[8:], lo)
	return encodeULID(raw)
}

// encodeULID writes 128 bits as 26 base32 characters, the first carrying
// only the top 3 bits (2 bits of padding in front).
func encodeULID(raw [16]byte) string {
	var out [26]byte
	// Treat raw as a 130-bit number with two leading zero bits.
	var acc uint64
	bits := 2 // the padding
	i := 0
	for _, b := range raw {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[i] = crockford[(acc>>uint(bits))&31]
			i++
		}
	}
	return string(out[:])
}

// validQueueID reports whether s has the shape of a queue id, so that the
// CLI and blob keys never take anything else.
func validQueueID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return false
		}
	}
	return true
}

// ValidQueueID is validQueueID for the command line.
func ValidQueueID(s string) bool { return validQueueID(s) }

// queueIDTime returns the time in a queue id.
func queueIDTime(id string) time.Time {
	var ms uint64
	for i := 0; i < 10 && i < len(id); i++ {
		v := uint64(0)
		for j := 0; j < len(crockford); j++ {
			if crockford[j] == id[i] {
				v = uint64(j)
				break
			}
		}
		ms = ms<<5 | v
	}
	// 10 characters hold 50 bits: the top 2 are padding.
	return time.UnixMilli(int64(ms)).UTC()
}
