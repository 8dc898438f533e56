package smpp

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The GSM 03.38 (3GPP TS 23.038 6.2.1) default alphabet, indexed by septet.
// 0x1B is the escape to the extension table and maps to no character.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// The extension table (TS 23.038 6.2.1.1): each is sent as ESC then the septet.
var gsmExtension = map[byte]rune{
	0x0A: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2F: '\\',
	0x3C: '[', 0x3D: '~', 0x3E: ']', 0x40: '|', 0x65: '€',
}

const gsmEscape = 0x1B

var gsmEncode, gsmEncodeExt = func() (map[rune]byte, map[rune]byte) {
	basic := make(map[rune]byte, 128)
	for i, r := range gsmBasic {
		if i != gsmEscape {
			basic[r] = byte(i)
		}
	}
	ext := make(map[rune]byte, len(gsmExtension))
	for s, r := range gsmExtension {
		ext[r] = s
	}
	return basic, ext
}()

// gsmSeptets is the number of septets r takes in GSM-7: 1, 2 for the
// extension table, 0 if r has no GSM-7 form.
func gsmSeptets(r rune) int {
	if _, ok := gsmEncode[r]; ok {
		return 1
	}
	if _, ok := gsmEncodeExt[r]; ok {
		return 2
	}
	return 0
}

// IsGSM7 reports whether s can be written in the GSM 03.38 default alphabet
// with its extension table.
func IsGSM7(s string) bool {
	for _, r := range s {
		if gsmSeptets(r) == 0 {
			return false
		}
	}
	return true
}

// EncodeGSM7 returns s as GSM 03.38 septets, one per octet (unpacked); ok is
// false if s has a character outside the alphabet and its extension table.
func EncodeGSM7(s string) (septets []byte, ok bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if c, ok := gsmEncode[r]; ok {
			out = append(out, c)
		} else if c, ok := gsmEncodeExt[r]; ok {
			out = append(out, gsmEscape, c)
		} else {
			return nil, false
		}
	}
	return out, true
}

// DecodeGSM7 decodes unpacked GSM 03.38 septets. The high bit of each octet
// is ignored; an escape before a septet the extension table lacks stands for
// the default-alphabet character, as TS 23.038 6.2.1.1 asks of receivers.
func DecodeGSM7(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i] & 0x7F
		if c == gsmEscape {
			if i+1 == len(b) {
				break // a dangling escape carries no character
			}
			i++
			n := b[i] & 0x7F
			if r, ok := gsmExtension[n]; ok {
				sb.WriteRune(r)
				continue
			}
			if n == gsmEscape {
				sb.WriteRune(' ')
				continue
			}
			c = n
		}
		sb.WriteRune(gsmBasic[c])
	}
	return sb.String()
}

// PackSeptets packs septets seven bits each, least significant bit first
// (TS 23.038 6.1.2.1.1), after fill zero bits; the fill aligns septets on a
// septet boundary after a user data header (TS 23.040 9.2.3.24).
func PackSeptets(septets []byte, fill int) []byte {
	bits := fill + 7*len(septets)
	out := make([]byte, (bits+7)/8)
	for i, s := range septets {
		s &= 0x7F
		pos := fill + 7*i
		out[pos/8] |= s << (pos % 8)
		if pos%8 > 1 {
			out[pos/8+1] |= s >> (8 - pos%8)
		}
	}
	return out
}

// UnpackSeptets is the inverse of PackSeptets: every whole septet after fill
// bits. A packed length that leaves seven spare bits yields a final zero
// septet, which the receiver cannot tell from '@' (TS 23.038 6.1.2.3.1).
func UnpackSeptets(b []byte, fill int) []byte {
	bits := 8*len(b) - fill
	if bits < 7 {
		return nil
	}
	n := bits / 7
	out := make([]byte, n)
	for i := range out {
		pos := fill + 7*i
		v := uint16(b[pos/8])
		if pos/8+1 < len(b) {
			v |= uint16(b[pos/8+1]) << 8
		}
		out[i] = byte(v>>(pos%8)) & 0x7F
	}
	return out
}

// EncodeUCS2 returns s in UCS-2 as SMSCs take it with data_coding 8:
// big-endian UTF-16, characters beyond the BMP as surrogate pairs.
func EncodeUCS2(s string) []byte {
	units := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(units))
	for _, u := range units {
		out = append(out, byte(u>>8), byte(u))
	}
	return out
}

// DecodeUCS2 decodes big-endian UTF-16; a trailing odd octet becomes U+FFFD.
func DecodeUCS2(b []byte) string {
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		units = append(units, uint16(b[i])<<8|uint16(b[i+1]))
	}
	s := string(utf16.Decode(units))
	if len(b)%2 == 1 {
		s += string(utf8.RuneError)
	}
	return s
}

// decodeLatin1 decodes ISO-8859-1 (data_coding 3).
func decodeLatin1(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}
