package config

import (
	"strings"
	"testing"
)

func validConfig() *Config {
	c := &Config{}
	for _, v := range c.Vars() {
		*v.Ptr = v.Default
	}
	return c
}

func TestSmarthostValidation(t *testing.T) {
	for _, tc := range []struct {
		host, user, pass string
		wantErr          string
	}{
		{"", "", "", ""},
		{"127.0.0.1:2525", "", "", ""},
		{"smtp.example.com:587", "me", "secret", ""},
		{"[::1]:25", "", "", ""},
		{"smtp.example.com", "", "", "TIDINGS_SMARTHOST"},
		{"smtp.example.com:0", "", "", "port"},
		{"smtp.example.com:70000", "", "", "port"},
		{"bad host:25", "", "", "host name"},
		{"smtp.example.com:587", "me", "", "TIDINGS_SMARTHOST_PASSWORD"},
		{"", "me", "secret", "TIDINGS_SMARTHOST is not"},
	} {
		c := validConfig()
		c.Smarthost, c.SmarthostUser, c.SmarthostPassword = tc.host, tc.user, tc.pass
		err := c.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.host, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q/%q: error %v, want one mentioning %q", tc.host, tc.user, err, tc.wantErr)
		}
	}
}
