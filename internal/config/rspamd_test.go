package config

import (
	"strings"
	"testing"
	"time"
)

func TestRspamdValidation(t *testing.T) {
	for _, tc := range []struct {
		url, timeout string
		wantBase     string
		wantTimeout  time.Duration
		wantErr      string
	}{
		{"http://127.0.0.1:11333", "20s", "http://127.0.0.1:11333", 20 * time.Second, ""},
		{"http://rspamd.internal:11333/", "1s", "http://rspamd.internal:11333", time.Second, ""},
		{"https://rspamd.example.com/scan", "2m", "https://rspamd.example.com/scan", 2 * time.Minute, ""},
		{"", "20s", "", 0, "TIDINGS_RSPAMD_URL"},
		{"127.0.0.1:11333", "20s", "", 0, "want an http:// URL"},
		{"ftp://127.0.0.1:11333", "20s", "", 0, "want an http:// URL"},
		{"http://127.0.0.1:11333/?x=1", "20s", "", 0, "want an http:// URL"},
		{"http://u:secret@127.0.0.1:11333", "20s", "", 0, "must not carry a user"},
		{"http://127.0.0.1:11333", "", "", 0, "TIDINGS_RSPAMD_TIMEOUT"},
		{"http://127.0.0.1:11333", "500ms", "", 0, "from 1s to 10m"},
		{"http://127.0.0.1:11333", "1h", "", 0, "from 1s to 10m"},
		{"http://127.0.0.1:11333", "soon", "", 0, "from 1s to 10m"},
	} {
		c := validConfig()
		c.RspamdURL, c.RspamdTimeout = tc.url, tc.timeout
		err := c.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q %q: %v", tc.url, tc.timeout, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q %q: error %v, want one mentioning %q", tc.url, tc.timeout, err, tc.wantErr)
		case tc.wantErr != "" && strings.Contains(err.Error(), "secret"):
			t.Errorf("%q: the error shows the password: %v", tc.url, err)
		case tc.wantErr == "":
			base, timeout, _ := c.Rspamd()
			if base != tc.wantBase || timeout != tc.wantTimeout {
				t.Errorf("%q %q: got %q %v, want %q %v", tc.url, tc.timeout, base, timeout, tc.wantBase, tc.wantTimeout)
			}
		}
	}
}
