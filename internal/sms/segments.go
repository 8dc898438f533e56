package sms

import (
	"unicode/utf16"
)

// Encoding is how a text travels over SMS.
type Encoding string

const (
	// GSM7 is the GSM 03.38 default alphabet, 7 bits a character; the
	// characters of its extension table take two (an escape and the
	// character).
	GSM7 Encoding = "GSM"
	// UCS2 is UTF-16, 16 bits a code unit; characters outside the BMP take
	// two code units.
	UCS2 Encoding = "UCS2"
)

// 3GPP TS 23.038 6.2.1: the default alphabet. Each rune is one septet.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// 3GPP TS 23.038 6.2.1.1: the extension table, reached by the escape
// septet 0x1B, so two septets each. (Form feed is in it too.)
const gsmExtended = "\f^{}\\[~]|€"

var gsmBasicSet, gsmExtSet = runeSet(gsmBasic), runeSet(gsmExtended)

func runeSet(s string) map[rune]bool {
	m := map[rune]bool{}
	for _, r := range s {
		m[r] = true
	}
	return m
}

// Segment sizes: a single SMS carries 140 octets, 160 GSM-7 septets or 70
// UCS-2 units; a concatenated one loses 6 octets to its user data header
// (3GPP TS 23.040 9.2.3.24.1), leaving 153 septets or 67 units a part.
const (
	gsmSingle, gsmPart = 160, 153
	ucsSingle, ucsPart = 70, 67
)

// Split describes how body travels: its encoding, its length in that
// encoding's units (septets or UTF-16 code units) and the number of SMS
// segments. A part never splits an escape sequence or a surrogate pair.
type Split struct {
	Encoding Encoding
	Units    int
	Segments int
}

// Segment computes the Split of body.
func Segment(body string) Split {
	septets, gsm := 0, true
	for _, r := range body {
		switch {
		case gsmBasicSet[r]:
			septets++
		case gsmExtSet[r]:
			septets += 2
		default:
			gsm = false
		}
		if !gsm {
			break
		}
	}
	if gsm {
		return Split{Encoding: GSM7, Units: septets, Segments: countParts(body, GSM7, septets)}
	}
	units := len(utf16.Encode([]rune(body)))
	return Split{Encoding: UCS2, Units: units, Segments: countParts(body, UCS2, units)}
}

func countParts(body string, enc Encoding, total int) int {
	single, part := gsmSingle, gsmPart
	if enc == UCS2 {
		single, part = ucsSingle, ucsPart
	}
	if total == 0 {
		return 1
	}
	if total <= single {
		return 1
	}
	// Fill parts greedily, moving a character that does not fit whole
	// (an escape pair, a surrogate pair) to the next part.
	parts, used := 1, 0
	for _, r := range body {
		w := 1
		if enc == GSM7 && gsmExtSet[r] {
			w = 2
		}
		if enc == UCS2 && r > 0xFFFF {
			w = 2
		}
		if used+w > part {
			parts++
			used = 0
		}
		used += w
	}
	return parts
}
