package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rsa512 is a key too short to seal with (openssl genrsa 512).
const rsa512 = `-----BEGIN PRIVATE KEY-----
MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAtJDXlYVRiXAICjEg
l891Kr++cnME6KZ5Bc08gE0lEXLTsG8DzTyNByK9cMG9AGgGDP1ft43r4sRK8ZVO
3QVEowIDAQABAkEAkhiHdgEyocM1nhl1x58hq/8Mdsm9dQgM77bJdv30OhKTpL92
opXiRgIhywc8RMHm4W9BXHDQEqnHjIYIvyARgQIhAOX0yKPs7qjxVdLmUh0nJKZY
9FmgseJHY6fFjpg76MZhAiEAyQQP1h5yCZuE+4xkIzkudiLy7YbdNomD6I5SmcDd
YYMCIQCrJ92qvTAJyM7zUYCuuDK8KZt9lnCwFiijeBShVH32IQIgKoVQcEOabcvW
8nr9B7Jl0JmN946qpomqPHw2ns18Rs8CIQDjhFhvxDED3PbKpKTwnXJDyF2JZgR2
B2Y2TYKJHRp7Bg==
-----END PRIVATE KEY-----
`

func TestARCValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rk)
	rsaPKCS8 := write("rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	rsaPKCS1 := write("rsa1.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	ed8, _ := x509.MarshalPKCS8PrivateKey(ek)
	edKey := write("ed.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ed8}))
	short := write("short.pem", []byte(rsa512))
	pub := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")}))
	junk := write("junk.pem", []byte("not a key"))

	for _, tc := range []struct {
		domain, selector, key string
		wantErr               string
	}{
		{"", "", "", ""},
		{"example.com", "arc1", rsaPKCS8, ""},
		{"example.com.", "arc.2025", rsaPKCS1, ""},
		{"example.com", "ed", edKey, ""},
		{"example.com", "", "", "TIDINGS_ARC_SELECTOR: required"},
		{"", "arc1", rsaPKCS8, "TIDINGS_ARC_DOMAIN: required"},
		{"example.com", "arc1", "", "TIDINGS_ARC_KEY: required"},
		{"localhost", "arc1", rsaPKCS8, "TIDINGS_ARC_DOMAIN"},
		{"bad domain.com", "arc1", rsaPKCS8, "TIDINGS_ARC_DOMAIN"},
		{"example.com", "arc_1", rsaPKCS8, "TIDINGS_ARC_SELECTOR"},
		{"example.com", "arc1", filepath.Join(dir, "missing.pem"), "TIDINGS_ARC_KEY"},
		{"example.com", "arc1", short, "TIDINGS_ARC_KEY"},
		{"example.com", "arc1", pub, "TIDINGS_ARC_KEY"},
		{"example.com", "arc1", junk, "TIDINGS_ARC_KEY"},
	} {
		c := validConfig()
		c.ARCDomain, c.ARCSelector, c.ARCKey = tc.domain, tc.selector, tc.key
		err := c.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q %q %q: %v", tc.domain, tc.selector, tc.key, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q %q %q: error %v, want one mentioning %q", tc.domain, tc.selector, filepath.Base(tc.key), err, tc.wantErr)
		}
		if err != nil || tc.domain == "" {
			continue
		}
		a, err := c.ARC()
		if err != nil || a == nil || a.Domain != "example.com" || a.Selector != tc.selector || a.Key == nil {
			t.Errorf("ARC() = %+v, %v", a, err)
		}
	}
	if a, err := validConfig().ARC(); a != nil || err != nil {
		t.Errorf("ARC() with nothing set = %+v, %v; want nil (off)", a, err)
	}
}
