package gateway

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"
)

func filtered(t testing.TB, in string, drop func(string, []byte) bool) string {
	t.Helper()
	// One byte at a time, to cross every chunk boundary.
	out, err := io.ReadAll(newHeaderFilter(iotest.OneByteReader(strings.NewReader(in)), drop))
	require.NoError(t, err)
	return string(out)
}

func TestHeaderFilterOriginator(t *testing.T) {
	t.Parallel()
	in := "Received: from a\r\n\tby b\r\n" +
		"X-Mail-Manager-Originator-Org: rl-evil\r\n" +
		"x-mail-manager-ORIGINATOR-org:\r\n rl-folded\r\n\tmore\r\n" +
		"X-Mail-Manager-Originator-Org : rl-space-before-colon\r\n" +
		"Subject: X-Mail-Manager-Originator-Org: not a field\r\n" +
		"Authentication-Results: mx.gw.test; spf=pass\r\n" +
		"Authentication-Results:\r\n  MX.GW.TEST (forged, folded); dkim=pass\r\n" +
		"Authentication-Results: other.test; spf=fail\r\n" +
		"\r\n" +
		"X-Mail-Manager-Originator-Org: in the body stays\r\n"
	want := "Received: from a\r\n\tby b\r\n" +
		"Subject: X-Mail-Manager-Originator-Org: not a field\r\n" +
		"Authentication-Results: other.test; spf=fail\r\n" +
		"\r\n" +
		"X-Mail-Manager-Originator-Org: in the body stays\r\n"
	require.Equal(t, want, filtered(t, in, ownResults("mx.gw.test", true)))

	// Without relay, originator fields stay; our forged results still go.
	got := filtered(t, in, ownResults("mx.gw.test", false))
	require.Equal(t, 5, strings.Count(strings.ToLower(got), "x-mail-manager-originator-org"), "3 fields, the subject, the body")
	require.NotContains(t, got, "spf=pass")
}

func TestHeaderFilterEdges(t *testing.T) {
	t.Parallel()
	keep := func(string, []byte) bool { return false }
	dropX := func(name string, _ []byte) bool { return strings.EqualFold(name, "X-Drop") }
	for _, in := range []string{
		"",
		"\r\n",
		"\r\nbody only\r\n",
		"Subject: no body, no end of header",
		"Subject: no body\r\n",
		" continuation first\r\nSubject: x\r\n\r\nb",
		"not a field at all\r\nSubject: x\r\n\r\nb",
		"Subject: bare LF\n\nbody\n",
	} {
		require.Equal(t, in, filtered(t, in, keep), "%q", in)
	}
	require.Equal(t, "A: 1\n\nX-Drop: body\n", filtered(t, "A: 1\nX-Drop: 2\n continued\n\nX-Drop: body\n", dropX))
	require.Equal(t, "A: 1\r\n", filtered(t, "A: 1\r\nX-Drop: last", dropX))

	// A field longer than what the filter holds is judged on what it held.
	long := "X-Drop: " + strings.Repeat("a", 100) + strings.Repeat("\r\n\t"+strings.Repeat("b", 900), 100) + "\r\n"
	require.Equal(t, "A: 1\r\n\r\nb", filtered(t, "A: 1\r\n"+long+"\r\nb", dropX))
	require.Equal(t, "A: 1\r\n"+long+"\r\nb", filtered(t, "A: 1\r\n"+long+"\r\nb", keep))
	line := "X-Long: " + strings.Repeat("c", 100<<10) + "\r\n"
	require.Equal(t, line+"\r\n", filtered(t, line+"\r\n", keep))
}

// FuzzHeaderFilter: the filter never changes what it keeps, and never lets
// a field it drops through.
func FuzzHeaderFilter(f *testing.F) {
	f.Add([]byte("X-Drop: 1\r\nA: 2\r\n\r\nbody"))
	f.Add([]byte("x-drop:\r\n\tfolded\r\nB: b\r\n\r\n"))
	f.Add([]byte("A: 1\nX-DROP : 2\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := io.ReadAll(newHeaderFilter(bytes.NewReader(in), func(string, []byte) bool { return false }))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("keep-all changed the message: %q -> %q (%v)", in, out, err)
		}
		var dropped [][]byte
		out, err = io.ReadAll(newHeaderFilter(bytes.NewReader(in), func(name string, field []byte) bool {
			if strings.EqualFold(name, "X-Drop") {
				dropped = append(dropped, append([]byte(nil), field...))
				return true
			}
			return false
		}))
		if err != nil {
			t.Fatal(err)
		}
		// What is dropped plus what is kept is the input: nothing invented.
		if len(out) > len(in) {
			t.Fatalf("output longer than input")
		}
		hdr := out
		if i := bytes.Index(out, []byte("\r\n\r\n")); i >= 0 {
			hdr = out[:i]
		} else if i := bytes.Index(out, []byte("\n\n")); i >= 0 {
			hdr = out[:i]
		}
		for _, l := range bytes.Split(hdr, []byte("\n")) {
			n, _, ok := bytes.Cut(l, []byte(":"))
			if ok && len(l) > 0 && l[0] != ' ' && l[0] != '\t' && strings.EqualFold(strings.TrimRight(string(n), " \t"), "X-Drop") {
				t.Fatalf("dropped field kept: %q in %q", l, out)
			}
		}
	})
}

func TestHeaderLinesFold(t *testing.T) {
	t.Parallel()
	v := strings.Repeat("word ", 40)
	out := string(headerLines([][2]string{{"X-A", v}, {"Authentication-Results", "h; spf=pass\r\n\tdkim=none"}}))
	for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
		require.LessOrEqual(t, len(l), 78, l)
		require.NotEmpty(t, l, "no empty line in a header:\n%s", out)
	}
	require.Contains(t, out, "Authentication-Results: h; spf=pass\r\n\tdkim=none\r\n")
}

func TestQueueIDs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 6, 7, 8, 9, 123e6, time.UTC)
	var gen queueIDGen
	prev := ""
	for range 1000 {
		id := gen.next(now)
		require.True(t, validQueueID(id), id)
		require.Greater(t, id, prev, "ids of one millisecond sort in order")
		require.Equal(t, now, queueIDTime(id))
		prev = id
	}
	later := gen.next(now.Add(time.Millisecond))
	require.Greater(t, later, prev)
	require.Greater(t, gen.next(now), later, "a clock step back keeps the order")
	require.Less(t, new(queueIDGen).next(time.UnixMilli(0)), "1")
	require.False(t, validQueueID("../../etc/passwd"))
	require.False(t, validQueueID(strings.Repeat("U", 26)))
	require.Equal(t, "spool/2026/05/06/"+prev, blobKey(now, prev))
}

func TestParseReply(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][3]string{
		"550 5.1.1 no such user":   {"550", "5.1.1", "no such user"},
		"451 try later":            {"451", "", "try later"},
		"4.4.2 lost connection":    {"0", "4.4.2", "lost connection"},
		"gave up after 3 attempts": {"0", "", "gave up after 3 attempts"},
	} {
		r := parseReply(in)
		require.Equal(t, want, [3]string{strconv.Itoa(r.Code), r.Enhanced, r.Text}, in)
		require.Equal(t, in, r.String())
	}
}
