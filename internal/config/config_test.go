package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// defaults returns a Config with every setting at its default.
func defaults() *Config {
	c := &Config{}
	for _, v := range c.Vars() {
		*v.Ptr = v.Default
	}
	return c
}

func TestDefaultsValidate(t *testing.T) {
	t.Parallel()
	c := defaults()
	require.NoError(t, c.Validate())
	d, err := c.WebhookGiveUpDuration()
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, d)
}

func TestWebhookGiveUp(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"": 0, "8s": 8 * time.Second, "90m": 90 * time.Minute, "168h": 168 * time.Hour} {
		c := defaults()
		c.WebhookGiveUp = v
		require.NoError(t, c.Validate(), v)
		d, err := c.WebhookGiveUpDuration()
		require.NoError(t, err)
		require.Equal(t, want, d, v)
	}
	for _, v := range []string{"0s", "-1h", "500ms", "169h", "soon", "24"} {
		c := defaults()
		c.WebhookGiveUp = v
		err := c.Validate()
		require.Error(t, err, v)
		require.True(t, strings.HasPrefix(err.Error(), "TIDINGS_WEBHOOK_GIVE_UP"), err.Error())
	}
}

func TestMasterKey(t *testing.T) {
	t.Parallel()
	valid := func() *Config {
		c := &Config{}
		for _, v := range c.Vars() {
			*v.Ptr = v.Default
		}
		return c
	}
	c := valid()
	require.NoError(t, c.Validate())
	k, err := c.MasterKeyBytes()
	require.NoError(t, err)
	require.Nil(t, k)

	c.MasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 0…31
	require.NoError(t, c.Validate())
	k, err = c.MasterKeyBytes()
	require.NoError(t, err)
	require.Len(t, k, 32)
	require.Equal(t, byte(31), k[31])

	for _, bad := range []string{"not base64!", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", strings.Repeat("A", 64)} {
		c.MasterKey = bad
		require.ErrorContains(t, c.Validate(), "TIDINGS_MASTER_KEY", bad)
	}
}

func TestSMPP(t *testing.T) {
	t.Parallel()
	c := defaults()
	require.NoError(t, c.Validate())
	n, err := c.SMPPRateValue()
	require.NoError(t, err)
	require.Zero(t, n)

	n, err = c.SMPPWindowValue()
	require.NoError(t, err)
	require.Equal(t, DefaultSMPPWindow, n)

	c.SMPPAddr, c.SMPPSystemID, c.SMPPPassword, c.SMPPSystemType, c.SMPPRate, c.SMPPWindow = "smsc.example.com:2775", "tidings", "secret", "VMA", "50", "64"
	require.NoError(t, c.Validate())
	n, err = c.SMPPRateValue()
	require.NoError(t, err)
	require.Equal(t, 50, n)
	n, err = c.SMPPWindowValue()
	require.NoError(t, err)
	require.Equal(t, 64, n)

	for name, bad := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no port":        {func(c *Config) { c.SMPPAddr = "smsc.example.com" }, "TIDINGS_SMPP_ADDR"},
		"no host":        {func(c *Config) { c.SMPPAddr = ":2775" }, "TIDINGS_SMPP_ADDR"},
		"no system id":   {func(c *Config) { c.SMPPSystemID = "" }, "TIDINGS_SMPP_SYSTEM_ID"},
		"long system id": {func(c *Config) { c.SMPPSystemID = strings.Repeat("s", 16) }, "TIDINGS_SMPP_SYSTEM_ID"},
		"long password":  {func(c *Config) { c.SMPPPassword = "123456789" }, "TIDINGS_SMPP_PASSWORD"},
		"long type":      {func(c *Config) { c.SMPPSystemType = strings.Repeat("t", 13) }, "TIDINGS_SMPP_SYSTEM_TYPE"},
		"zero rate":      {func(c *Config) { c.SMPPRate = "0" }, "TIDINGS_SMPP_RATE"},
		"fraction rate":  {func(c *Config) { c.SMPPRate = "2.5" }, "TIDINGS_SMPP_RATE"},
		"words rate":     {func(c *Config) { c.SMPPRate = "fast" }, "TIDINGS_SMPP_RATE"},
		"zero window":    {func(c *Config) { c.SMPPWindow = "0" }, "TIDINGS_SMPP_WINDOW"},
		"huge window":    {func(c *Config) { c.SMPPWindow = "1001" }, "TIDINGS_SMPP_WINDOW"},
		"window, no addr": {func(c *Config) {
			c.SMPPAddr, c.SMPPSystemID, c.SMPPPassword, c.SMPPWindow = "", "", "", "20"
		}, "TIDINGS_SMPP_ADDR"},
		"settings, no addr": {func(c *Config) { c.SMPPAddr = "" }, "TIDINGS_SMPP_ADDR"},
	} {
		c := defaults()
		c.SMPPAddr, c.SMPPSystemID, c.SMPPPassword = "127.0.0.1:2775", "tidings", "secret"
		bad.mod(c)
		err := c.Validate()
		require.Error(t, err, name)
		require.True(t, strings.HasPrefix(err.Error(), bad.want), "%s: %v", name, err)
	}
}

func TestSMSProviderFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "gw.json")
	require.NoError(t, os.WriteFile(file, []byte("{}"), 0o600))
	c := defaults()
	c.SMSHTTPProvider, c.WhatsAppConfig = file, file
	require.NoError(t, c.Validate())
	for name, bad := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"missing gateway":  {func(c *Config) { c.SMSHTTPProvider = filepath.Join(dir, "nope.json") }, "TIDINGS_SMS_HTTP_PROVIDER"},
		"gateway dir":      {func(c *Config) { c.SMSHTTPProvider = dir }, "TIDINGS_SMS_HTTP_PROVIDER"},
		"missing whatsapp": {func(c *Config) { c.WhatsAppConfig = filepath.Join(dir, "nope.json") }, "TIDINGS_WHATSAPP_CONFIG"},
		"two carriers": {func(c *Config) {
			c.SMPPAddr, c.SMPPSystemID = "127.0.0.1:2775", "tidings"
		}, "TIDINGS_SMS_HTTP_PROVIDER and TIDINGS_SMPP_ADDR"},
	} {
		c := defaults()
		c.SMSHTTPProvider = file
		bad.mod(c)
		err := c.Validate()
		require.Error(t, err, name)
		require.True(t, strings.HasPrefix(err.Error(), bad.want), "%s: %v", name, err)
	}
}

func TestRelayCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := defaults()
	c.RelayCA = dir + "/missing.pem"
	err := c.Validate()
	require.ErrorContains(t, err, "TIDINGS_RELAY_CA")

	empty := dir + "/empty.pem"
	require.NoError(t, os.WriteFile(empty, []byte("not a certificate\n"), 0o600))
	c.RelayCA = empty
	require.ErrorContains(t, c.Validate(), "no PEM certificate")

	// A real certificate, self-signed for the test.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	require.NoError(t, err)
	good := dir + "/ca.pem"
	require.NoError(t, os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	c.RelayCA = good
	require.NoError(t, c.Validate())
	pool, err := c.RelayRoots()
	require.NoError(t, err)
	require.NotNil(t, pool)
}
