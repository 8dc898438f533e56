package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSubmission(t *testing.T) {
	t.Parallel()
	c := defaults()
	st, im, err := c.Submission()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:2587", st, "unprivileged by default, like SES's 2587")
	require.Equal(t, "127.0.0.1:2465", im)

	for _, ok := range []struct{ st, im, wantSt, wantIm string }{
		{"off", "OFF", "", ""},
		{"0.0.0.0:587", "off", "0.0.0.0:587", ""},
		{":587", "[::1]:465", ":587", "[::1]:465"},
		{"smtp.example.com:587", "smtp.example.com:465", "smtp.example.com:587", "smtp.example.com:465"},
		{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}, // any free ports
	} {
		c := defaults()
		c.SubmissionAddr, c.SubmissionsAddr = ok.st, ok.im
		require.NoError(t, c.Validate(), ok)
		st, im, err := c.Submission()
		require.NoError(t, err)
		require.Equal(t, ok.wantSt, st)
		require.Equal(t, ok.wantIm, im)
	}
	for _, bad := range []struct{ st, im, want string }{
		{"2587", "off", "TIDINGS_SUBMISSION_ADDR \"2587\": want host:port"},
		{"", "off", "TIDINGS_SUBMISSION_ADDR \"\": want host:port"},
		{"off", "127.0.0.1:smtps", "TIDINGS_SUBMISSIONS_ADDR \"127.0.0.1:smtps\": want host:port"},
		{"127.0.0.1:70000", "off", "port must be within 0-65535"},
		{"bad_host!:587", "off", "want a host name or IP address"},
		{"127.0.0.1:2587", "127.0.0.1:2587", "need a port each"},
		{"no", "off", "or off"},
	} {
		c := defaults()
		c.SubmissionAddr, c.SubmissionsAddr = bad.st, bad.im
		require.ErrorContains(t, c.Validate(), bad.want, bad)
	}
}
