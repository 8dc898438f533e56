package smtpd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestParsePath(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 53) + ".example"
	for _, tc := range []struct {
		in, want, rest string
		null           bool
		err            error
	}{
		{in: "<a@b.example>", want: "a@b.example"},
		{in: "<a@b.example> SIZE=10", want: "a@b.example", rest: " SIZE=10"},
		{in: "<>", null: true, want: ""},
		{in: "<>", err: errAddress},
		{in: "<@a.example,@b.example:user@c.example>", want: "user@c.example"},
		{in: "<@[127.0.0.1]:user@c.example>", err: errAddress}, // At-domain = "@" Domain
		{in: `<"a b"@x.example>`, want: `"a b"@x.example`},
		{in: `<"john"@x.example>`, want: "john@x.example"},
		{in: `<"john.doe"@x.example>`, want: "john.doe@x.example"},
		{in: `<"a\"b\\c"@x.example>`, want: `"a\"b\\c"@x.example`},
		{in: `<"\j"@x.example>`, want: "j@x.example"},
		{in: `<"x@evil.example"@corp.example>`, want: `"x@evil.example"@corp.example`},
		{in: "<user%other.example@x.example>", want: "user%other.example@x.example"},
		{in: "<a!b@x.example>", want: "a!b@x.example"},
		{in: "<{}'~=?#$&*+/^_`|@x.example>", want: "{}'~=?#$&*+/^_`|@x.example"},
		{in: "<a@[127.0.0.1]>", want: "a@[127.0.0.1]"},
		{in: "<a@[ipv6:0:0::1]>", want: "a@[IPv6:::1]"},
		{in: "<a@X-1.Example>", want: "a@X-1.Example"},
		{in: "<jöran@bücher.example>", want: "jöran@bücher.example"},
		{in: "<" + long + ">", want: long},

		{in: "a@b.example", err: errSyntax},
		{in: "<a@b.example", err: errAddress},
		{in: "<a@b.example>>", want: "a@b.example", rest: ">"},
		{in: "<a@b\r.example>", err: errAddress},
		{in: "<a\x00@b.example>", err: errAddress},
		{in: "<a\n@b.example>", err: errAddress},
		{in: "<a@b..example>", err: errAddress},
		{in: "<a..b@x.example>", err: errAddress},
		{in: "<.a@x.example>", err: errAddress},
		{in: "<a.@x.example>", err: errAddress},
		{in: "<a@-b.example>", err: errAddress},
		{in: "<a@b-.example>", err: errAddress},
		{in: "<a@b.example.>", err: errAddress},
		{in: "<a@b_c.example>", err: errAddress},
		{in: "<a b@x.example>", err: errAddress},
		{in: "<@x.example>", err: errAddress},
		{in: "<a@>", err: errAddress},
		{in: "<a>", err: errAddress},
		{in: `<""@x.example>`, err: errAddress},
		{in: "<\"a\x01\"@x.example>", err: errAddress},
		{in: "<\"a\x7f\"@x.example>", err: errAddress},
		{in: "<\"a\\\x01\"@x.example>", err: errAddress},
		{in: "<a@[1.2.3]>", err: errAddress},
		{in: "<a@[1.2.3.256]>", err: errAddress},
		{in: "<a@[01.2.3.4]>", err: errAddress},
		{in: "<a@[IPv6:1.2.3.4]>", err: errAddress},
		{in: "<a@[IPv6:fe80::1%eth0]>", err: errAddress},
		{in: "<a@[tag:stuff]>", err: errAddress},
		{in: "<@a.example:@b.example:c@d.example>", err: errAddress},
		{in: "<@a.example,b.example:c@d.example>", err: errAddress},
		{in: "<@a.example c@d.example>", err: errAddress},
		{in: "<a@b\xc2\x85.example>", err: errAddress},     // C1 control U+0085
		{in: "<a@b\xff.example>", err: errAddress},         // not UTF-8
		{in: "<a\xed\xa0\x80@b.example>", err: errAddress}, // surrogate
		{in: "<a@" + strings.Repeat("b", 64) + ".example>", err: errAddress},
		{in: "<" + strings.Repeat("a", 200) + "@" + strings.Repeat("b.", 30) + "example>", err: errTooLong},
	} {
		got, rest, err := parsePath(tc.in, tc.null)
		if tc.err != nil {
			require.ErrorIs(t, err, tc.err, "%q gave %q", tc.in, got)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, got, "%q", tc.in)
		require.Equal(t, tc.rest, rest, "%q", tc.in)
	}
}

func TestParseAddress(t *testing.T) {
	t.Parallel()
	a, err := ParseAddress(`"a b"@x.example`, false)
	require.NoError(t, err)
	require.Equal(t, `"a b"@x.example`, a)
	for _, bad := range []string{"", "a", "a@b\r\nRCPT TO:<x@y>", "<a@b.example>", "a@b.example ", "a@b.example\x00"} {
		_, err := ParseAddress(bad, true)
		require.Error(t, err, "%q", bad)
	}
	_, err = ParseAddress("jöran@x.example", false)
	require.ErrorIs(t, err, errNonASCII)
	_, err = ParseAddress("jöran@x.example", true)
	require.NoError(t, err)
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	ps, err := parseParams(" size=10  BODY=8BITMIME SMTPUTF8")
	require.NoError(t, err)
	require.Equal(t, []param{{"SIZE", "10", true}, {"BODY", "8BITMIME", true}, {"SMTPUTF8", "", false}}, ps)
	for _, bad := range []string{"x", " =1", " -A=1", " A=", " A=b=c", " A=\x01", " A=1 a=2", " A_B=1"} {
		_, err := parseParams(bad)
		require.Error(t, err, "%q", bad)
	}
}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct{ in, verb, arg string }{
		{"mail FROM:<a@b>", "MAIL", "FROM:<a@b>"},
		{"StartTLS", "STARTTLS", ""},
		{"STARTTLSX", "", ""},
		{"QUIT", "QUIT", ""},
		{"QUIT ", "QUIT", ""},
		{"XXXXXXXXXXXX y", "", "y"},
		{"", "", ""},
		{" NOOP", "", "NOOP"},
	} {
		verb, arg := splitCommand([]byte(tc.in))
		require.Equal(t, tc.verb, verb, "%q", tc.in)
		require.Equal(t, tc.arg, string(arg), "%q", tc.in)
	}
	line := []byte("RCPT TO:<a@b.example>")
	allocs := testing.AllocsPerRun(100, func() { splitCommand(line) })
	require.Zero(t, allocs)
}

// readData runs the DATA reader over in, with the given reads, and returns
// the output and the reader.
func readData(t *testing.T, in string, max int64, oneByte bool) (string, *dataReader) {
	t.Helper()
	var src io.Reader = strings.NewReader(in)
	if oneByte {
		src = iotest.OneByteReader(src)
	}
	dr := newDataReader(bufio.NewReaderSize(src, readBufSize), max)
	var out bytes.Buffer
	_, err := io.Copy(&out, dr)
	dr.drain()
	if err != nil && dr.err == nil && dr.viol == nil && dr.fatal == nil {
		t.Fatalf("unexpected error %v", err)
	}
	return out.String(), dr
}

func TestDataReader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, out string
		rest          string // left unread after the message
		viol, fatal   *Reject
		max           int64
	}{
		{name: "empty", in: ".\r\nQUIT\r\n", rest: "QUIT\r\n"},
		{name: "plain", in: "a\r\nb\r\n.\r\nNOOP\r\n", out: "a\r\nb\r\n", rest: "NOOP\r\n"},
		{name: "stuffed", in: "..\r\n...x\r\n.y\r\n.\r\n", out: ".\r\n..x\r\ny\r\n"},
		{name: "empty lines", in: "\r\n\r\n.\r\n", out: "\r\n\r\n"},
		{name: "dot not at line start", in: "a.\r\n a\r\n.\r\n", out: "a.\r\n a\r\n"},
		{name: "max line", in: strings.Repeat("x", 998) + "\r\n.\r\n", out: strings.Repeat("x", 998) + "\r\n"},
		{name: "long line", in: strings.Repeat("x", 999) + "\r\n.\r\n", viol: rejectDataLine},
		{name: "very long line", in: strings.Repeat("x", 30000) + "\r\n.\r\n", viol: rejectDataLine},
		{name: "too big", in: strings.Repeat("0123456789\r\n", 10) + ".\r\nNOOP\r\n", viol: rejectTooBig, rest: "NOOP\r\n", max: 100},
		{name: "just fits", in: strings.Repeat("0123456789\r\n", 10) + ".\r\n", out: strings.Repeat("0123456789\r\n", 10), max: 120},
		{name: "bare LF", in: "a\nb\r\n.\r\nNOOP\r\n", viol: rejectBareNewline, rest: "NOOP\r\n"},
		{name: "bare CR", in: "a\rb\r\n.\r\n", viol: rejectBareNewline},
		{name: "bare CR at line start", in: "\r.x\r\n.\r\n", viol: rejectBareNewline},
		{name: "CRCRLF", in: "a\r\r\n.\r\n", viol: rejectBareNewline},
		{name: "LF.LF", in: "a\n.\nb\r\n.\r\n", fatal: rejectSmuggling},
		{name: "LF.CRLF", in: "a\n.\r\nb\r\n.\r\n", fatal: rejectSmuggling},
		{name: "CRLF.LF", in: "a\r\n.\nb\r\n.\r\n", fatal: rejectSmuggling},
		{name: "CR.CR", in: "a\r.\rb\r\n.\r\n", fatal: rejectSmuggling},
		{name: "CRLF.CR", in: "a\r\n.\rb\r\n.\r\n", fatal: rejectSmuggling},
		{name: "start .LF", in: ".\nb\r\n.\r\n", fatal: rejectSmuggling},
		{name: "truncated", in: "a\r\nb\r\n"},
	} {
		for _, oneByte := range []bool{false, true} {
			max := tc.max
			if max == 0 {
				max = 1 << 20
			}
			out, dr := readData(t, tc.in, max, oneByte)
			rest, _ := io.ReadAll(dr.br)
			switch {
			case tc.fatal != nil:
				require.Equal(t, tc.fatal, dr.fatal, tc.name)
			case tc.viol != nil:
				require.Nil(t, dr.fatal, tc.name)
				require.Equal(t, tc.viol, dr.viol, tc.name)
				require.True(t, dr.eof, tc.name)
				require.Equal(t, tc.rest, string(rest), tc.name)
			case tc.name == "truncated":
				require.ErrorIs(t, dr.err, io.ErrUnexpectedEOF)
			default:
				require.Nil(t, dr.viol, tc.name)
				require.Nil(t, dr.fatal, tc.name)
				require.True(t, dr.eof, tc.name)
				require.Equal(t, tc.out, out, tc.name)
				require.Equal(t, tc.rest, string(rest), tc.name)
				require.Equal(t, int64(len(tc.out)), dr.size, tc.name)
			}
		}
	}
}

// FuzzParsePath: whatever the input, an accepted path gives a mailbox with
// no control characters, valid UTF-8, and a canonical form that parses to
// itself.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"<a@b.example>", "<>", "<@a,@b:c@d>", `<"a b"@c>`, "<a@[1.2.3.4]>", "<a@[IPv6:::1]>", "<jö@ü.example> SMTPUTF8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addr, rest, err := parsePath(s, true)
		if err != nil {
			return
		}
		if !strings.HasSuffix(s, rest) {
			t.Fatalf("rest %q is not a suffix of %q", rest, s)
		}
		checkAddress(t, addr)
		if addr == "" {
			return
		}
		again, err := ParseAddress(addr, true)
		if err != nil || again != addr {
			t.Fatalf("canonical %q of %q parses to %q, %v", addr, s, again, err)
		}
	})
}

func checkAddress(t *testing.T, addr string) {
	if !utf8.ValidString(addr) {
		t.Fatalf("invalid UTF-8 in %q", addr)
	}
	for _, r := range addr {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Fatalf("control character %U in %q", r, addr)
		}
	}
}

// FuzzCommand parses command lines as the session does.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		"MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME",
		"RCPT TO:<postmaster>",
		"rcpt to: <@x,@y:u@z>",
		"EHLO [127.0.0.1]",
		"STARTTLS",
		"AUTH PLAIN AGFwcABzM2NyZXQ=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		verb, arg := splitCommand([]byte(line))
		if verb != "" && verbs[verb] != verb {
			t.Fatalf("verb %q", verb)
		}
		for _, prefix := range []string{"FROM:", "TO:"} {
			addr, params, err := parseMailRcpt(string(arg), prefix, prefix == "FROM:")
			if err != nil {
				continue
			}
			checkAddress(t, addr)
			for _, p := range params {
				if p.key == "" || strings.ContainsAny(p.key+p.value, " =\r\n\x00") {
					t.Fatalf("param %+v", p)
				}
			}
		}
		if validHelo(string(arg)) && strings.ContainsAny(string(arg), " \r\n\t\x00()") {
			t.Fatalf("HELO %q accepted", arg)
		}
	})
}

// FuzzDataReader: whatever the client sends, a message the reader accepts
// has only CRLF line endings, and stuffing it again gives back exactly the
// octets that were read.
func FuzzDataReader(f *testing.F) {
	for _, s := range []string{
		"a\r\nb\r\n.\r\n", "..x\r\n.\r\n", "a\n.\nb\r\n.\r\n", "a\r.\rb\r\n.\r\n",
		"a\r\n.\nb\r\n.\r\n", ".\r\n", "\r\n\r\n.\r\n", "Received: x\r\n\r\n.\r\n",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, oneByte bool) {
		out, dr := readData(t, in, 1<<20, oneByte)
		if dr.fatal != nil || dr.viol != nil || dr.err != nil {
			return
		}
		if !dr.eof {
			t.Fatal("no end and no error")
		}
		if bytes.Contains([]byte(strings.ReplaceAll(out, "\r\n", "")), []byte{'\r'}) ||
			bytes.Contains([]byte(strings.ReplaceAll(out, "\r\n", "")), []byte{'\n'}) {
			t.Fatalf("bare CR or LF in accepted output %q", out)
		}
		// The message is the input up to the first "." CRLF line, with
		// the leading dot of each line removed (RFC 5321 4.5.2).
		var want strings.Builder
		for _, l := range strings.SplitAfter(in, "\r\n") {
			if l == ".\r\n" {
				break
			}
			want.WriteString(strings.TrimPrefix(l, "."))
		}
		if want.String() != out {
			t.Fatalf("input %q: output %q, want %q", in, out, want.String())
		}
	})
}
