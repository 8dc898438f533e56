package smpp

import (
	"fmt"
	"unicode/utf16"
)

// Encoding is how a message's text is carried.
type Encoding string

const (
	// EncodingAuto picks GSM-7 when every character has a GSM-7 form, else
	// UCS-2.
	EncodingAuto Encoding = ""
	// EncodingGSM7 is the GSM 03.38 default alphabet with its extension
	// table, data_coding 0.
	EncodingGSM7 Encoding = "GSM-7"
	// EncodingUCS2 is UCS-2 (UTF-16BE), data_coding 8.
	EncodingUCS2 Encoding = "UCS-2"
)

// data_coding values (5.2.19).
const (
	DataCodingDefault = 0x00 // SMSC default alphabet: GSM 03.38 here
	DataCodingIA5     = 0x01
	DataCodingBinary  = 0x02
	DataCodingLatin1  = 0x03
	DataCodingBinary8 = 0x04
	DataCodingUCS2    = 0x08
)

// Segment sizes (TS 23.040 9.2.3.24.1): a single message carries 140 octets,
// 160 GSM-7 septets or 70 UCS-2 characters; each part of a concatenated
// message gives 6 octets to the user data header, leaving 153 septets or 67
// characters.
const (
	GSM7Single = 160
	GSM7Part   = 153
	UCS2Single = 70
	UCS2Part   = 67
)

// Segments splits text into the parts it is sent in: GSM-7 if every
// character has a GSM-7 form, else UCS-2. Parts never split an escape
// sequence or a surrogate pair. Empty text is one empty part.
func Segments(text string) (Encoding, []string) {
	enc := EncodingUCS2
	if IsGSM7(text) {
		enc = EncodingGSM7
	}
	parts, _ := SplitText(text, enc)
	return enc, parts
}

// SplitText splits text into parts for enc (GSM-7 or UCS-2). It fails if enc
// is GSM-7 and text has a character outside the GSM-7 alphabet.
func SplitText(text string, enc Encoding) ([]string, error) {
	var size func(rune) int
	var single, part int
	switch enc {
	case EncodingGSM7:
		size, single, part = gsmSeptets, GSM7Single, GSM7Part
	case EncodingUCS2:
		size = func(r rune) int { return utf16.RuneLen(r) }
		single, part = UCS2Single, UCS2Part
	default:
		return nil, fmt.Errorf("smpp: unknown encoding %q", enc)
	}
	total := 0
	for _, r := range text {
		n := size(r)
		if n <= 0 {
			return nil, fmt.Errorf("smpp: %q has no %s form", r, enc)
		}
		total += n
	}
	if total <= single {
		return []string{text}, nil
	}
	var parts []string
	start, used := 0, 0
	for i, r := range text {
		n := size(r)
		if used+n > part {
			parts = append(parts, text[start:i])
			start, used = i, 0
		}
		used += n
	}
	return append(parts, text[start:]), nil
}

// concatUDH is the user data header of part seq (from 1) of total parts with
// an 8-bit reference (TS 23.040 9.2.3.24.1).
func concatUDH(ref byte, total, seq int) []byte {
	return []byte{0x05, 0x00, 0x03, ref, byte(total), byte(seq)}
}

// concatInfo is a part's place in a concatenated message.
type concatInfo struct {
	ref        uint16
	total, seq int
}

// parseUDH splits a user data header from ud and finds the concatenation
// element (8-bit reference 0x00 or 16-bit 0x08) in it. It fails if the
// header overruns ud.
func parseUDH(ud []byte) (udh, rest []byte, ci *concatInfo, err error) {
	if len(ud) == 0 || int(ud[0])+1 > len(ud) {
		return nil, nil, nil, fmt.Errorf("user data header overruns the message")
	}
	udh, rest = ud[:int(ud[0])+1], ud[int(ud[0])+1:]
	for ies := udh[1:]; len(ies) > 0; {
		if len(ies) < 2 || int(ies[1])+2 > len(ies) {
			return nil, nil, nil, fmt.Errorf("malformed user data header")
		}
		id, data := ies[0], ies[2:2+int(ies[1])]
		switch {
		case id == 0x00 && len(data) == 3:
			ci = &concatInfo{ref: uint16(data[0]), total: int(data[1]), seq: int(data[2])}
		case id == 0x08 && len(data) == 4:
			ci = &concatInfo{ref: uint16(data[0])<<8 | uint16(data[1]), total: int(data[2]), seq: int(data[3])}
		}
		ies = ies[2+int(ies[1]):]
	}
	if ci != nil && (ci.total == 0 || ci.seq == 0 || ci.seq > ci.total) {
		ci = nil // TS 23.040: such an element is ignored
	}
	return udh, rest, ci, nil
}
