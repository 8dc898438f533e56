package sending

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/sesv2"
)

func rawTrackerFixture() (*Service, *configSetRecord) {
	s := &Service{cfg: Config{TrackingKey: []byte("k"), TrackingURL: "http://t.example"}, log: slog.New(slog.DiscardHandler)}
	c := &configSetRecord{Destinations: []sesv2.EventDestination{{Enabled: p(true), MatchingEventTypes: []sesv2.EventType{sesv2.EventTypeOpen, sesv2.EventTypeClick}}}}
	return s, c
}

// TestTrackRawUnfollowable: a message whose MIME structure the walk
// cannot follow (no closing delimiter, no boundary, an HTML part in bad
// base64) is sent as it was, or with only the parts it could follow.
func TestTrackRawUnfollowable(t *testing.T) {
	s, c := rawTrackerFixture()
	for _, msg := range []string{
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<a href=\"https://x.example/\">x</a>\r\n",
		"Content-Type: multipart/alternative\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<a href=\"https://x.example/\">x</a>\r\n--b--\r\n",
		"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n",
		"Content-Type: text/html\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n",
		"Content-Type: text/html\r\n",
		"",
	} {
		require.Equal(t, msg, string(s.trackRaw(c, "0100-id", []byte(msg))))
	}
	// Bad base64 in one HTML part does not stop the other.
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<a href=\"https://x.example/\">x</a>\r\n--b--\r\n"
	out := string(s.trackRaw(c, "0100-id", []byte(msg)))
	require.Contains(t, out, "--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n--b\r\n")
	require.Contains(t, out, `href="http://t.example/_tidings/t/c/`)
	// LF line breaks stay LF; padding after a delimiter is allowed.
	msg = "Content-Type: multipart/alternative; boundary=b\n\n--b  \nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<a href=3D\"https://x.example/\">x</a>\n--b--\n"
	out = string(s.trackRaw(c, "0100-id", []byte(msg)))
	require.Contains(t, out, "=\n")
	require.NotContains(t, out, "\r")
	require.True(t, strings.HasSuffix(out, "\n--b--\n"), out)
}

// FuzzTrackRaw: any input is either returned as it was or rewritten;
// the walk never panics, and a message without "html" is left alone.
func FuzzTrackRaw(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"https://x.example/\">x</a>\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: multipart/related; boundary=i\r\n\r\n--i\r\nContent-Type: text/html; charset=iso-8859-2\r\nContent-Transfer-Encoding: base64\r\n\r\nPGEgaHJlZj0iaHR0cDovL3guZXhhbXBsZS8iPng8L2E+\r\n--i--\r\n--o--\r\n"))
	f.Add([]byte("Content-Type: text/html\n\n<html><body><a href=\"https://x.example/\">x</a></body></html>"))
	s, c := rawTrackerFixture()
	f.Fuzz(func(t *testing.T, msg []byte) {
		out := s.trackRaw(c, "0100-id", msg)
		if !bytes.Contains(bytes.ToLower(msg), []byte("html")) {
			require.Equal(t, msg, out)
		}
	})
}
