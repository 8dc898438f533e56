package sms

import (
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/require"
)

func TestSegment(t *testing.T) {
	t.Parallel()
	emoji := "😀" // outside the BMP: a surrogate pair
	for _, tc := range []struct {
		name     string
		body     string
		enc      Encoding
		units    int
		segments int
	}{
		{"empty", "", GSM7, 0, 1},
		{"gsm single full", strings.Repeat("a", 160), GSM7, 160, 1},
		{"gsm two", strings.Repeat("a", 161), GSM7, 161, 2},
		{"gsm two full", strings.Repeat("a", 306), GSM7, 306, 2},
		{"gsm three", strings.Repeat("a", 307), GSM7, 307, 3},
		{"gsm basic accents", "àéèùìòÇØøÅåÆæßÉÄÖÑÜ§¿äöñü£¥@$", GSM7, 29, 1},
		{"extension counts two", strings.Repeat("€", 80), GSM7, 160, 1},
		{"extension over", strings.Repeat("€", 81), GSM7, 162, 2},
		// 152 septets then an escape pair: the pair does not split, so the
		// first part holds 152 and the pair starts the second.
		{"escape not split", strings.Repeat("a", 152) + "{" + strings.Repeat("a", 10), GSM7, 164, 2},
		{"escape boundary", strings.Repeat("a", 151) + "[" + strings.Repeat("a", 153), GSM7, 306, 2},
		{"ucs2 single full", strings.Repeat("ж", 70), UCS2, 70, 1},
		{"ucs2 two", strings.Repeat("ж", 71), UCS2, 71, 2},
		{"ucs2 two full", strings.Repeat("ж", 134), UCS2, 134, 2},
		{"ucs2 three", strings.Repeat("ж", 135), UCS2, 135, 3},
		{"one non-gsm char", strings.Repeat("a", 100) + "ç", UCS2, 101, 2},
		{"emoji pairs single", strings.Repeat(emoji, 35), UCS2, 70, 1},
		{"surrogate not split", strings.Repeat("ж", 66) + strings.Repeat(emoji, 3), UCS2, 72, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Segment(tc.body)
			require.Equal(t, Split{Encoding: tc.enc, Units: tc.units, Segments: tc.segments}, got)
		})
	}
}

func FuzzSegment(f *testing.F) {
	for _, s := range []string{"", "hello", "€€€", "ж😀", strings.Repeat("a", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sp := Segment(body)
		require.GreaterOrEqual(t, sp.Segments, 1)
		single, part := 160, 153
		if sp.Encoding == UCS2 {
			single, part = 70, 67
			require.Equal(t, len(utf16.Encode([]rune(body))), sp.Units)
		}
		if sp.Units <= single {
			require.Equal(t, 1, sp.Segments)
		} else {
			// At least the even split, at most one part more per part for
			// characters moved whole.
			require.GreaterOrEqual(t, sp.Segments, (sp.Units+part-1)/part)
			require.LessOrEqual(t, sp.Segments, (sp.Units+part-2)/(part-1)+1)
		}
	})
}
