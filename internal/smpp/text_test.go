package smpp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGSM7RoundTrip(t *testing.T) {
	t.Parallel()
	s := "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà^{}\\[~]|€\f"
	b, ok := EncodeGSM7(s)
	require.True(t, ok)
	require.Equal(t, s, DecodeGSM7(b))

	b, ok = EncodeGSM7("€[x]")
	require.True(t, ok)
	require.Equal(t, []byte{0x1B, 0x65, 0x1B, 0x3C, 'x', 0x1B, 0x3E}, b)

	_, ok = EncodeGSM7("naïve") // ï is not in the alphabet
	require.False(t, ok)
	require.False(t, IsGSM7("Привет"))
	// An escape before a septet without extension reads as the basic one.
	require.Equal(t, "A", DecodeGSM7([]byte{0x1B, 'A'}))
	require.Equal(t, "a", DecodeGSM7([]byte{'a', 0x1B}))
}

func TestPackSeptets(t *testing.T) {
	t.Parallel()
	// TS 23.038's classic example: "hellohello" packs to E8329BFD4697D9EC37.
	septets, _ := EncodeGSM7("hellohello")
	packed := PackSeptets(septets, 0)
	require.Equal(t, mustHex(t, "E8329BFD4697D9EC37"), packed)
	require.Equal(t, septets, UnpackSeptets(packed, 0)[:10])

	// After a 6-octet header one fill bit aligns the text: 153 septets fill
	// the remaining 134 octets exactly.
	s153, _ := EncodeGSM7(strings.Repeat("x", 153))
	p := PackSeptets(s153, 1)
	require.Len(t, p, 134)
	require.Equal(t, s153, UnpackSeptets(p, 1))
}

func TestUCS2(t *testing.T) {
	t.Parallel()
	s := "Привет 👋"
	b := EncodeUCS2(s)
	require.Len(t, b, 2*(7+2)) // the emoji is a surrogate pair
	require.Equal(t, s, DecodeUCS2(b))
	require.Equal(t, "A\uFFFD", DecodeUCS2([]byte{0, 'A', 0}))
}

func TestSegments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		text  string
		enc   Encoding
		parts []int // length of each part in runes
	}{
		{"empty", "", EncodingGSM7, []int{0}},
		{"160 GSM", strings.Repeat("a", 160), EncodingGSM7, []int{160}},
		{"161 GSM", strings.Repeat("a", 161), EncodingGSM7, []int{153, 8}},
		{"306 GSM", strings.Repeat("a", 306), EncodingGSM7, []int{153, 153}},
		{"80 euros is 160 septets", strings.Repeat("€", 80), EncodingGSM7, []int{80}},
		// 152 septets then a two-septet euro does not fit: it moves whole.
		{"escape not split", strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10), EncodingGSM7, []int{152, 11}},
		{"70 UCS-2", strings.Repeat("ж", 70), EncodingUCS2, []int{70}},
		{"71 UCS-2", strings.Repeat("ж", 71), EncodingUCS2, []int{67, 4}},
		// 66 units then a surrogate pair: the pair moves whole.
		{"surrogate not split", strings.Repeat("ж", 66) + "👋" + strings.Repeat("ж", 5), EncodingUCS2, []int{66, 6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc, parts := Segments(tc.text)
			require.Equal(t, tc.enc, enc)
			var lens []int
			for _, p := range parts {
				lens = append(lens, len([]rune(p)))
			}
			require.Equal(t, tc.parts, lens)
			require.Equal(t, tc.text, strings.Join(parts, ""))
		})
	}
	_, err := SplitText("ж", EncodingGSM7)
	require.Error(t, err)
	parts, err := SplitText("hello", EncodingUCS2)
	require.NoError(t, err)
	require.Equal(t, []string{"hello"}, parts)
}

func TestParseUDH(t *testing.T) {
	t.Parallel()
	udh, rest, ci, err := parseUDH([]byte{0x05, 0x00, 0x03, 0x2A, 0x03, 0x02, 'h', 'i'})
	require.NoError(t, err)
	require.Len(t, udh, 6)
	require.Equal(t, []byte("hi"), rest)
	require.Equal(t, &concatInfo{ref: 0x2A, total: 3, seq: 2}, ci)

	_, _, ci, err = parseUDH([]byte{0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01})
	require.NoError(t, err)
	require.Equal(t, &concatInfo{ref: 0x1234, total: 2, seq: 1}, ci)

	_, _, _, err = parseUDH([]byte{0x09, 0x00})
	require.Error(t, err)
	_, _, _, err = parseUDH([]byte{0x03, 0x00, 0x05, 0x01})
	require.Error(t, err)
	_, _, ci, err = parseUDH([]byte{0x05, 0x00, 0x03, 0x01, 0x02, 0x03}) // seq > total
	require.NoError(t, err)
	require.Nil(t, ci)
}

func TestParseReceiptText(t *testing.T) {
	t.Parallel()
	r, ok := ParseReceiptText("id:0123456789 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello id:x stat:y")
	require.True(t, ok)
	require.Equal(t, "0123456789", r.MessageID)
	require.Equal(t, 1, r.Submitted)
	require.Equal(t, 1, r.Delivered)
	require.Equal(t, "2026-11-25T12:00:00Z", r.SubmitDate.Format("2006-01-02T15:04:05Z07:00"))
	require.Equal(t, "2026-11-25T12:01:00Z", r.DoneDate.Format("2006-01-02T15:04:05Z07:00"))
	require.Equal(t, "DELIVRD", r.Stat)
	require.Equal(t, StateDelivered, r.State)
	require.True(t, r.Final())
	require.Equal(t, "000", r.Err)
	require.Equal(t, "Hello id:x stat:y", r.Text)

	// Case differs, seconds in dates, fields missing.
	r, ok = ParseReceiptText("ID:ab-12 Sub:1 dlvrd:0 Submit date:261125120030 Done date:261125120100 Stat:UNDELIV Err:034 Text:")
	require.True(t, ok)
	require.Equal(t, "ab-12", r.MessageID)
	require.Equal(t, StateUndeliverable, r.State)
	require.Equal(t, 30, r.SubmitDate.Second())
	require.Equal(t, "034", r.Err)

	r, ok = ParseReceiptText("id:7 stat:ENROUTE")
	require.True(t, ok)
	require.False(t, r.Final())

	_, ok = ParseReceiptText("hello there")
	require.False(t, ok)
}
