package config

import (
	"strings"
	"testing"
)

func TestTrackingURLValidation(t *testing.T) {
	for _, tc := range []struct {
		in, want, wantErr string
	}{
		{"", "", ""},
		{"https://track.example.com", "https://track.example.com", ""},
		{"https://track.example.com/", "https://track.example.com", ""},
		{"http://127.0.0.1:8025/tidings/", "http://127.0.0.1:8025/tidings", ""},
		{"track.example.com", "", "TIDINGS_TRACKING_URL"},
		{"ftp://track.example.com", "", "http:// or https://"},
		{"https://", "", "http:// or https://"},
		{"https://user:pw@track.example.com", "", "http:// or https://"},
		{"https://track.example.com/?a=b", "", "no query"},
		{"https://track.example.com/#x", "", "no query"},
	} {
		c := validConfig()
		c.TrackingURL = tc.in
		err := c.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one mentioning %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "":
			if got, _ := c.TrackingBase(); got != tc.want {
				t.Errorf("%q: base %q, want %q", tc.in, got, tc.want)
			}
		}
	}
}
