package delivery

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Reply
		err  bool
	}{
		{"250 ok\r\n", Reply{Code: 250, Text: "ok"}, false},
		{"250\r\n", Reply{Code: 250}, false},
		{"550 5.1.1 <x@y>: user unknown\r\n", Reply{Code: 550, Enhanced: "5.1.1", Text: "<x@y>: user unknown"}, false},
		{"451-4.3.0 first\r\n451-4.3.0 second\r\n451 4.3.0 third\r\n", Reply{Code: 451, Enhanced: "4.3.0", Text: "first second third"}, false},
		{"250-mx.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n", Reply{Code: 250, Text: "mx.test PIPELINING SIZE 100"}, false},
		{"550 4.1.1 class mismatch\r\n", Reply{Code: 550, Text: "4.1.1 class mismatch"}, false},
		{"250 2.0.0\r\n", Reply{Code: 250, Enhanced: "2.0.0"}, false},
		{"250 1.2.3.4 is your address\r\n", Reply{Code: 250, Text: "1.2.3.4 is your address"}, false},
		{"550 5.7.1000 too long a detail\r\n", Reply{Code: 550, Text: "5.7.1000 too long a detail"}, false},
		{"250 bare LF ok\n", Reply{Code: 250, Text: "bare LF ok"}, false},
		{"250 ctl\x01chars\r\n", Reply{Code: 250, Text: "ctl chars"}, false},
		{"250-a\r\n550 b\r\n", Reply{}, true},
		{"25\r\n", Reply{}, true},
		{"abc ok\r\n", Reply{}, true},
		{"199 low\r\n", Reply{}, true},
		{"250xok\r\n", Reply{}, true},
		{"250-unterminated", Reply{}, true},
		{"", Reply{}, true},
		{"250 " + strings.Repeat("x", 5000) + "\r\n", Reply{}, true},
		{strings.Repeat("250-x\r\n", 200) + "250 x\r\n", Reply{}, true},
	} {
		got, err := readReply(bufio.NewReaderSize(strings.NewReader(tc.in), readBufSize), nil)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("readReply(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestEHLOExtensions(t *testing.T) {
	t.Parallel()
	var lines []string
	in := "250-mx.test greets you\r\n250-PIPELINING\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n250-AUTH=LOGIN\r\n250-AUTH CRAM-MD5 PLAIN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n"
	if _, err := readReply(bufio.NewReader(strings.NewReader(in)), &lines); err != nil {
		t.Fatal(err)
	}
	var e extensions
	for _, l := range lines[1:] {
		e.parse(l)
	}
	want := extensions{pipelining: true, starttls: true, eightBitMIME: true, smtputf8: true, size: true, maxSize: 35882577, authPlain: true, authLogin: true}
	if e != want {
		t.Fatalf("extensions = %+v, want %+v", e, want)
	}
}

func dotEncode(in []string) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	d := dotWriter{w: w}
	for _, p := range in {
		d.Write([]byte(p))
	}
	d.close()
	w.Flush()
	return b.String()
}

func TestDotWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"a\r\nb\r\n"}, "a\r\nb\r\n.\r\n"},
		{[]string{"no final newline"}, "no final newline\r\n.\r\n"},
		{[]string{""}, ".\r\n"},
		{[]string{".\r\n"}, "..\r\n.\r\n"},
		{[]string{"a\r\n.b\r\n..c\r\n"}, "a\r\n..b\r\n...c\r\n.\r\n"},
		{[]string{"a\r", "\n.", "b"}, "a\r\n..b\r\n.\r\n"}, // CRLF split across writes
		{[]string{"a\n.\nb"}, "a\r\n..\r\nb\r\n.\r\n"},     // bare LF
		{[]string{"a\r.\rb"}, "a\r\n..\r\nb\r\n.\r\n"},     // bare CR: the <CR>.<CR> smuggling form
		{[]string{"a\r\r\nb"}, "a\r\n\r\nb\r\n.\r\n"},
		{[]string{"x", ".y"}, "x.y\r\n.\r\n"}, // a dot inside a line stays single
	} {
		if got := dotEncode(tc.in); got != tc.want {
			t.Errorf("dotWriter(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzDotWriter checks the properties the wire relies on, whatever the input
// and however it is split: only CRLF line ends, exactly one end-of-data
// marker, at the end, and the content recovered by undoing dot-stuffing.
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"a\r\nb", ".\r\n", "\r.\r", "\n.\n", "\r\n.\r\n", "..", "x\r"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		n := int(split)%(len(in)+1) + 0
		out := dotEncode([]string{string(in[:n]), string(in[n:])})
		if !strings.HasSuffix(out, "\r\n.\r\n") && out != ".\r\n" {
			t.Fatalf("no end-of-data marker: %q", out)
		}
		body := strings.TrimSuffix(out, ".\r\n")
		lines := strings.SplitAfter(body, "\r\n")
		var got strings.Builder
		for _, l := range lines {
			if l == "" {
				continue
			}
			if strings.ContainsAny(strings.TrimSuffix(l, "\r\n"), "\r\n") || !strings.HasSuffix(l, "\r\n") {
				t.Fatalf("bare CR or LF in %q", l)
			}
			if l == ".\r\n" {
				t.Fatalf("end-of-data marker inside the data: %q", out)
			}
			got.WriteString(strings.TrimPrefix(l, "."))
		}
		// The content is the input with line ends normalised.
		norm := strings.NewReplacer("\r\n", "\r\n", "\r", "\r\n", "\n", "\r\n").Replace(string(in))
		if norm != "" && !strings.HasSuffix(norm, "\r\n") {
			norm += "\r\n"
		}
		if got.String() != norm {
			t.Fatalf("round trip: %q -> %q, want %q", in, got.String(), norm)
		}
	})
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "550-5.1.1 a\r\n550 5.1.1 b\r\n", "250-x\r\n250 y\n", "421 4.4.2 bye\r\n", "2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var lines []string
		r, err := readReply(bufio.NewReaderSize(bytes.NewReader(in), readBufSize), &lines)
		if err != nil {
			return
		}
		if r.Code < 200 || r.Code > 599 || len(lines) == 0 || len(lines) > maxReplyLines+1 {
			t.Fatalf("reply %+v from %q", r, in)
		}
		if strings.ContainsAny(r.Text, "\r\n") {
			t.Fatalf("line break in text %q", r.Text)
		}
		if r.Enhanced != "" && r.Enhanced[0] != byte('0'+r.Code/100) {
			t.Fatalf("enhanced class mismatch %+v", r)
		}
	})
}
