// Package config holds the operator's settings: flags with TIDINGS_*
// environment variables as their defaults. A first start with none of them
// set works: SQLite and files under ./tidings-data, loopback addresses.
package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DefaultAccountID is the root account's id when TIDINGS_ACCOUNT_ID is unset.
const DefaultAccountID = "000000000000"

// Config is everything `tidings serve` needs.
type Config struct {
	DataDir     string // TIDINGS_DATA_DIR
	HTTPAddr    string // TIDINGS_HTTP_ADDR: API, health, metrics, console
	SMTPHost    string // TIDINGS_SMTP_HOST: where ingress listeners bind
	SMTPPorts   string // TIDINGS_SMTP_PORTS: "first-last", ports given to ingress points
	DatabaseURL string // TIDINGS_DATABASE_URL: "" ⇒ SQLite in DataDir
	Region      string // TIDINGS_REGION
	AccountID   string // TIDINGS_ACCOUNT_ID: the root account
	// Root key; when both are empty one is generated at first start.
	RootAccessKeyID     string // TIDINGS_ROOT_ACCESS_KEY_ID
	RootSecretAccessKey string // TIDINGS_ROOT_SECRET_ACCESS_KEY
	LogLevel            string // TIDINGS_LOG_LEVEL: debug, info, warn, error
	LogFormat           string // TIDINGS_LOG_FORMAT: text or json
	// NodeID names this process among the nodes sharing a PostgreSQL
	// database, the same across its restarts, so that a restarted node
	// takes back at once the work it held when it died. "" ⇒ derived from
	// the host name and the data directory (see Node).
	NodeID string // TIDINGS_NODE_ID
	// DebugAddr serves Go's profiles (net/http/pprof) when set; keep it
	// on loopback. "" ⇒ off.
	DebugAddr string // TIDINGS_DEBUG_ADDR

	// The gateway.
	Hostname string // TIDINGS_HOSTNAME: name in SMTP greetings, Received, DSNs; "" ⇒ os.Hostname()
	TLSCert  string // TIDINGS_TLS_CERT: PEM certificate (chain) STARTTLS offers; "" ⇒ self-signed in <data dir>/tls
	TLSKey   string // TIDINGS_TLS_KEY: its PEM private key
	DNS      string // TIDINGS_DNS: host:port of the DNS resolver for SPF/DKIM/DMARC and MX; "" ⇒ the system's
	// RelayCA is a PEM file of CA certificates that relays' and the
	// smarthost's certificates may chain to, besides the system's roots
	// (an internal CA of the organisation's mail servers).
	RelayCA string // TIDINGS_RELAY_CA
	// Relay retry schedule: first wait, doubling up to max, give up after.
	RetryFirst  string // TIDINGS_RETRY_FIRST
	RetryMax    string // TIDINGS_RETRY_MAX
	RetryGiveUp string // TIDINGS_RETRY_GIVE_UP

	// The console: a session ends after ConsoleSessionTTL without a
	// request (idle) and ConsoleSessionMax after login (absolute).
	ConsoleSessionTTL string // TIDINGS_CONSOLE_SESSION_TTL
	ConsoleSessionMax string // TIDINGS_CONSOLE_SESSION_MAX

	// Webhooks (internal/events): how long a failing delivery is retried
	// before it goes to its topic's dead letters.
	WebhookGiveUp string // TIDINGS_WEBHOOK_GIVE_UP
	// MasterKey wraps the keys of `tidings kms` (archive encryption):
	// 32 bytes in base64. "" ⇒ <data dir>/master.key, generated at first
	// start. Every node of a cluster needs the same one.
	MasterKey string // TIDINGS_MASTER_KEY
	// Outbound email (the send APIs).
	Smarthost         string // TIDINGS_SMARTHOST: host:port receiving all outbound mail; "" ⇒ direct to the MX hosts
	SmarthostUser     string // TIDINGS_SMARTHOST_USER: AUTH user name at the smarthost (optional)
	SmarthostPassword string // TIDINGS_SMARTHOST_PASSWORD
	// DestinationConcurrency and DestinationRate limit outbound mail per
	// recipient domain: "domain=N" pairs separated by commas, "*=N" for
	// every other domain (and for the smarthost).
	DestinationConcurrency string // TIDINGS_DESTINATION_CONCURRENCY: connections; default 20
	DestinationRate        string // TIDINGS_DESTINATION_RATE: messages a second; default no limit
	// TrackingURL is the public address (http(s)://host[:port][/path])
	// where recipients' mail clients reach Tidings' HTTP listener, for
	// the open pixel and click links of configuration sets with open or
	// click tracking and no CustomRedirectDomain. "" ⇒ the HTTP address.
	TrackingURL string // TIDINGS_TRACKING_URL

	// SMTP submission of outbound email (SES's SMTP interface): host:port
	// of the STARTTLS and the implicit TLS listener, or "off".
	SubmissionAddr  string // TIDINGS_SUBMISSION_ADDR
	SubmissionsAddr string // TIDINGS_SUBMISSIONS_ADDR

	// The SMS carrier: an SMPP 3.4 SMSC. SMPPAddr "" ⇒ no carrier (the
	// simulator carries every message).
	SMPPAddr       string // TIDINGS_SMPP_ADDR: host:port of the SMSC
	SMPPSystemID   string // TIDINGS_SMPP_SYSTEM_ID
	SMPPPassword   string // TIDINGS_SMPP_PASSWORD
	SMPPSystemType string // TIDINGS_SMPP_SYSTEM_TYPE
	SMPPRate       string // TIDINGS_SMPP_RATE: submit_sm per second; "" ⇒ no limit
	SMPPWindow     string // TIDINGS_SMPP_WINDOW: submit_sm awaiting their response at once; "" ⇒ 10
	// Or an HTTP SMS gateway, described by a JSON file (internal/sms/httpcarrier).
	SMSHTTPProvider string // TIDINGS_SMS_HTTP_PROVIDER: path of the gateway description
	// WhatsApp business numbers over the Cloud API, described by a JSON
	// file (internal/sms/whatsapp).
	WhatsAppConfig string // TIDINGS_WHATSAPP_CONFIG: path of the WhatsApp configuration

	// The rspamd that runs the RSPAMD add-on of traffic policies and rules
	// (internal/rspamd): its normal worker's HTTP address, and how long one
	// check may take before the analysis counts as unavailable.
	RspamdURL     string // TIDINGS_RSPAMD_URL
	RspamdTimeout string // TIDINGS_RSPAMD_TIMEOUT

	// ARC sealing (RFC 8617) of the mail the gateway relays: the signing
	// domain, the selector (the key is published at
	// <selector>._domainkey.<domain>) and the PEM private key file. All
	// three or none; none ⇒ relayed mail gets no ARC Set.
	ARCDomain   string // TIDINGS_ARC_DOMAIN
	ARCSelector string // TIDINGS_ARC_SELECTOR
	ARCKey      string // TIDINGS_ARC_KEY
}

// Var describes one setting, for flags and documentation.
type Var struct {
	Flag, Env, Default, Usage string
	Ptr                       *string
}

// Secret reports whether v holds a credential (a password, secret key,
// master key, or a database URL, which may carry a password): its value is
// never shown in --help.
func (v Var) Secret() bool {
	for _, w := range []string{"PASSWORD", "SECRET", "MASTER_KEY", "DATABASE_URL", "TOKEN"} {
		if strings.Contains(v.Env, w) {
			return true
		}
	}
	return false
}

// Vars lists every setting of c, bound to its fields.
func (c *Config) Vars() []Var {
	return []Var{
		{"data-dir", "TIDINGS_DATA_DIR", "./tidings-data", "directory for the SQLite database, blobs, keys and certificates", &c.DataDir},
		{"http-addr", "TIDINGS_HTTP_ADDR", "127.0.0.1:8025", "address of the HTTP API, health, metrics and console", &c.HTTPAddr},
		{"smtp-host", "TIDINGS_SMTP_HOST", "127.0.0.1", "host the SMTP ingress listeners bind to", &c.SMTPHost},
		{"smtp-ports", "TIDINGS_SMTP_PORTS", "2525-2624", "range of ports given to ingress points that do not ask for one", &c.SMTPPorts},
		{"database-url", "TIDINGS_DATABASE_URL", "", "postgres://… for PostgreSQL; empty for SQLite in the data dir", &c.DatabaseURL},
		{"region", "TIDINGS_REGION", "us-east-1", "AWS region name the API answers as", &c.Region},
		{"account-id", "TIDINGS_ACCOUNT_ID", DefaultAccountID, "12-digit id of the root account", &c.AccountID},
		{"root-access-key-id", "TIDINGS_ROOT_ACCESS_KEY_ID", "", "root access key id (generated at first start when empty)", &c.RootAccessKeyID},
		{"root-secret-access-key", "TIDINGS_ROOT_SECRET_ACCESS_KEY", "", "root secret access key", &c.RootSecretAccessKey},
		{"node-id", "TIDINGS_NODE_ID", "", "name of this node, stable across restarts, unique among the nodes sharing a database (default: host name and a hash of the data dir)", &c.NodeID},
		{"debug-addr", "TIDINGS_DEBUG_ADDR", "", "address serving Go's profiles at /debug/pprof/ (empty: off); keep it on loopback", &c.DebugAddr},
		{"log-level", "TIDINGS_LOG_LEVEL", "info", "debug, info, warn or error", &c.LogLevel},
		{"log-format", "TIDINGS_LOG_FORMAT", "text", "text or json", &c.LogFormat},
		{"hostname", "TIDINGS_HOSTNAME", "", "host name in SMTP greetings, Received headers and DSNs (default: the system's)", &c.Hostname},
		{"tls-cert", "TIDINGS_TLS_CERT", "", "PEM certificate for STARTTLS (default: self-signed, kept in <data dir>/tls)", &c.TLSCert},
		{"tls-key", "TIDINGS_TLS_KEY", "", "PEM private key of --tls-cert", &c.TLSKey},
		{"dns", "TIDINGS_DNS", "", "host:port of the DNS resolver for SPF, DKIM, DMARC and MX lookups (default: the system's)", &c.DNS},
		{"relay-ca", "TIDINGS_RELAY_CA", "", "PEM file of CA certificates trusted, besides the system's, for the TLS certificates of relays and the smarthost", &c.RelayCA},
		{"retry-first", "TIDINGS_RETRY_FIRST", "5m", "wait before the second delivery attempt to a relay; doubles each time", &c.RetryFirst},
		{"retry-max", "TIDINGS_RETRY_MAX", "1h", "longest wait between delivery attempts", &c.RetryMax},
		{"retry-give-up", "TIDINGS_RETRY_GIVE_UP", "120h", "age at which an undeliverable message is returned to its sender", &c.RetryGiveUp},
		{"console-session-ttl", "TIDINGS_CONSOLE_SESSION_TTL", "30m", "a console session ends after this long without a request", &c.ConsoleSessionTTL},
		{"console-session-max", "TIDINGS_CONSOLE_SESSION_MAX", "12h", "a console session ends this long after login, active or not", &c.ConsoleSessionMax},
		{"webhook-give-up", "TIDINGS_WEBHOOK_GIVE_UP", "24h", "how long a failing webhook delivery is retried before it goes to the dead letters", &c.WebhookGiveUp},
		{"master-key", "TIDINGS_MASTER_KEY", "", "base64 of the 32-byte key wrapping the archive encryption keys (default: <data dir>/master.key, generated at first start); prefer the environment variable", &c.MasterKey},
		{"smarthost", "TIDINGS_SMARTHOST", "", "host:port that receives all mail sent through the send APIs (default: deliver to the recipients' MX hosts)", &c.Smarthost},
		{"smarthost-user", "TIDINGS_SMARTHOST_USER", "", "user name for SMTP AUTH at --smarthost (optional)", &c.SmarthostUser},
		{"smarthost-password", "TIDINGS_SMARTHOST_PASSWORD", "", "password for SMTP AUTH at --smarthost", &c.SmarthostPassword},
		{"destination-concurrency", "TIDINGS_DESTINATION_CONCURRENCY", "", "most connections open at once to one recipient domain for mail sent through the send APIs: domain=N pairs separated by commas, *=N for the others and the smarthost (default 20 each)", &c.DestinationConcurrency},
		{"destination-rate", "TIDINGS_DESTINATION_RATE", "", "most messages a second sent to one recipient domain through the send APIs: domain=N pairs separated by commas (N may be a fraction), *=N for the others and the smarthost (default: no limit)", &c.DestinationRate},
		{"tracking-url", "TIDINGS_TRACKING_URL", "", "public http(s) URL of this server's HTTP listener, for open and click tracking links in sent mail (default: the HTTP address)", &c.TrackingURL},
		{"submission-addr", "TIDINGS_SUBMISSION_ADDR", "127.0.0.1:2587", "host:port of the SMTP submission listener with STARTTLS (like SES's port 587/2587), or off", &c.SubmissionAddr},
		{"submissions-addr", "TIDINGS_SUBMISSIONS_ADDR", "127.0.0.1:2465", "host:port of the SMTP submission listener with implicit TLS (like SES's port 465/2465), or off", &c.SubmissionsAddr},
		{"smpp-addr", "TIDINGS_SMPP_ADDR", "", "host:port of the SMPP 3.4 SMSC carrying SMS (empty: no carrier, the simulator carries every message)", &c.SMPPAddr},
		{"smpp-system-id", "TIDINGS_SMPP_SYSTEM_ID", "", "system_id tidings binds to the SMSC with", &c.SMPPSystemID},
		{"smpp-password", "TIDINGS_SMPP_PASSWORD", "", "password of the SMPP bind (at most 8 characters); prefer the environment variable", &c.SMPPPassword},
		{"smpp-system-type", "TIDINGS_SMPP_SYSTEM_TYPE", "", "system_type of the SMPP bind, if the SMSC wants one", &c.SMPPSystemType},
		{"smpp-rate", "TIDINGS_SMPP_RATE", "", "most submit_sm PDUs per second sent to the SMSC (empty: no limit)", &c.SMPPRate},
		{"smpp-window", "TIDINGS_SMPP_WINDOW", "", "most submit_sm PDUs awaiting the SMSC's response at once, as the carrier allows (empty: 10)", &c.SMPPWindow},
		{"sms-http-provider", "TIDINGS_SMS_HTTP_PROVIDER", "", "JSON file describing an HTTP SMS gateway carrying SMS instead of an SMSC (empty: none)", &c.SMSHTTPProvider},
		{"whatsapp-config", "TIDINGS_WHATSAPP_CONFIG", "", "JSON file with the WhatsApp Cloud API token, app secret and business numbers (empty: no WhatsApp)", &c.WhatsAppConfig},
		{"rspamd-url", "TIDINGS_RSPAMD_URL", "http://127.0.0.1:11333", "http:// URL of the rspamd normal worker that runs RSPAMD add-on analyses of traffic policies and rules", &c.RspamdURL},
		{"rspamd-timeout", "TIDINGS_RSPAMD_TIMEOUT", "20s", "longest wait for one rspamd check; past it the analysis is unavailable", &c.RspamdTimeout},
		{"arc-domain", "TIDINGS_ARC_DOMAIN", "", "domain (d=) of the ARC Sets added to relayed mail; with --arc-selector and --arc-key (empty: relayed mail is not sealed)", &c.ARCDomain},
		{"arc-selector", "TIDINGS_ARC_SELECTOR", "", "selector (s=) of the ARC sealing key, published at <selector>._domainkey.<arc domain> (tidings arc keygen prints the record)", &c.ARCSelector},
		{"arc-key", "TIDINGS_ARC_KEY", "", "PEM file of the ARC sealing private key: RSA of at least 1024 bits (2048 recommended) or Ed25519", &c.ARCKey},
	}
}

// EnvDefault returns the environment's value for v, else its default.
func (v Var) EnvDefault() string {
	if s, ok := os.LookupEnv(v.Env); ok {
		return s
	}
	return v.Default
}

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	keyIDRe     = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// Validate checks every setting and says which one is wrong and why.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("TIDINGS_DATA_DIR: must not be empty")
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("TIDINGS_HTTP_ADDR %q: want host:port: %v", c.HTTPAddr, err)
	}
	if c.SMTPHost == "" || strings.ContainsAny(c.SMTPHost, " :/") && net.ParseIP(c.SMTPHost) == nil {
		return fmt.Errorf("TIDINGS_SMTP_HOST %q: want a host name or IP address", c.SMTPHost)
	}
	if _, _, err := c.PortRange(); err != nil {
		return err
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		return fmt.Errorf("TIDINGS_DATABASE_URL: want empty (SQLite) or postgres://…, got %q", redact(c.DatabaseURL))
	}
	if !regionRe.MatchString(c.Region) {
		return fmt.Errorf("TIDINGS_REGION %q: want a region name such as us-east-1", c.Region)
	}
	if !accountIDRe.MatchString(c.AccountID) {
		return fmt.Errorf("TIDINGS_ACCOUNT_ID %q: want 12 digits", c.AccountID)
	}
	if (c.RootAccessKeyID == "") != (c.RootSecretAccessKey == "") {
		return fmt.Errorf("TIDINGS_ROOT_ACCESS_KEY_ID and TIDINGS_ROOT_SECRET_ACCESS_KEY: set both or neither")
	}
	if c.RootAccessKeyID != "" && !keyIDRe.MatchString(c.RootAccessKeyID) {
		return fmt.Errorf("TIDINGS_ROOT_ACCESS_KEY_ID: want 16–128 upper-case letters and digits")
	}
	if c.RootSecretAccessKey != "" && len(c.RootSecretAccessKey) < 16 {
		return fmt.Errorf("TIDINGS_ROOT_SECRET_ACCESS_KEY: want at least 16 characters")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("TIDINGS_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("TIDINGS_LOG_FORMAT %q: want text or json", c.LogFormat)
	}
	if c.NodeID != "" && !nodeIDRe.MatchString(c.NodeID) {
		return fmt.Errorf("TIDINGS_NODE_ID %q: want 1 to 64 letters, digits, '.', '_' or '-'", c.NodeID)
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			return fmt.Errorf("TIDINGS_DEBUG_ADDR %q: want host:port, such as 127.0.0.1:6060: %v", c.DebugAddr, err)
		}
	}
	if c.Hostname != "" && !hostnameRe.MatchString(c.Hostname) {
		return fmt.Errorf("TIDINGS_HOSTNAME %q: want a host name such as mx.example.com", c.Hostname)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("TIDINGS_TLS_CERT and TIDINGS_TLS_KEY: set both or neither")
	}
	for _, f := range []struct{ env, path string }{{"TIDINGS_TLS_CERT", c.TLSCert}, {"TIDINGS_TLS_KEY", c.TLSKey}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %v", f.env, err)
		}
	}
	if c.DNS != "" {
		if _, _, err := net.SplitHostPort(c.DNS); err != nil {
			return fmt.Errorf("TIDINGS_DNS %q: want host:port, such as 127.0.0.1:53: %v", c.DNS, err)
		}
	}
	if _, err := c.Retry(); err != nil {
		return err
	}
	if _, _, err := c.ConsoleSessions(); err != nil {
		return err
	}
	if _, err := c.WebhookGiveUpDuration(); err != nil {
		return err
	}
	if _, err := c.MasterKeyBytes(); err != nil {
		return err
	}
	if _, err := c.RelayRoots(); err != nil {
		return err
	}
	if c.Smarthost != "" {
		host, port, err := net.SplitHostPort(c.Smarthost)
		if err != nil || host == "" {
			return fmt.Errorf("TIDINGS_SMARTHOST %q: want host:port, such as smtp.example.com:587", c.Smarthost)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("TIDINGS_SMARTHOST %q: the port must be a number within 1-65535", c.Smarthost)
		}
		if !hostnameRe.MatchString(strings.Trim(host, "[]")) && net.ParseIP(strings.Trim(host, "[]")) == nil {
			return fmt.Errorf("TIDINGS_SMARTHOST %q: want a host name or IP address before the port", c.Smarthost)
		}
	}
	if c.SmarthostUser != "" && c.Smarthost == "" {
		return fmt.Errorf("TIDINGS_SMARTHOST_USER is set but TIDINGS_SMARTHOST is not")
	}
	if (c.SmarthostUser == "") != (c.SmarthostPassword == "") {
		return fmt.Errorf("TIDINGS_SMARTHOST_USER and TIDINGS_SMARTHOST_PASSWORD: set both or neither")
	}
	if _, err := c.TrackingBase(); err != nil {
		return err
	}
	for _, f := range []struct{ env, path string }{{"TIDINGS_SMS_HTTP_PROVIDER", c.SMSHTTPProvider}, {"TIDINGS_WHATSAPP_CONFIG", c.WhatsAppConfig}} {
		if f.path == "" {
			continue
		}
		if st, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %v", f.env, err)
		} else if st.IsDir() {
			return fmt.Errorf("%s %q: want a JSON file, not a directory", f.env, f.path)
		}
	}
	if c.SMSHTTPProvider != "" && c.SMPPAddr != "" {
		return fmt.Errorf("TIDINGS_SMS_HTTP_PROVIDER and TIDINGS_SMPP_ADDR: set one carrier, not both")
	}
	if _, _, err := c.Submission(); err != nil {
		return err
	}
	if _, _, err := c.Rspamd(); err != nil {
		return err
	}
	if _, err := c.ARC(); err != nil {
		return err
	}
	if _, err := c.DestinationLimitsValue(); err != nil {
		return err
	}
	if _, err := c.SMPPRateValue(); err != nil {
		return err
	}
	if _, err := c.SMPPWindowValue(); err != nil {
		return err
	}
	if c.SMPPAddr == "" {
		if c.SMPPSystemID != "" || c.SMPPPassword != "" || c.SMPPSystemType != "" || c.SMPPRate != "" || c.SMPPWindow != "" {
			return fmt.Errorf("TIDINGS_SMPP_ADDR: set it (host:port of the SMSC) to use the other TIDINGS_SMPP_* settings")
		}
		return nil
	}
	if host, port, err := net.SplitHostPort(c.SMPPAddr); err != nil || host == "" || port == "" {
		return fmt.Errorf("TIDINGS_SMPP_ADDR %q: want host:port of the SMSC, such as smsc.example.com:2775", c.SMPPAddr)
	}
	// The bind's C-Octet Strings (SMPP 3.4 4.1.1), without their NUL.
	for _, f := range []struct {
		env, v string
		max    int
	}{{"TIDINGS_SMPP_SYSTEM_ID", c.SMPPSystemID, 15}, {"TIDINGS_SMPP_PASSWORD", c.SMPPPassword, 8}, {"TIDINGS_SMPP_SYSTEM_TYPE", c.SMPPSystemType, 12}} {
		if len(f.v) > f.max || strings.ContainsRune(f.v, 0) {
			return fmt.Errorf("%s: want at most %d characters (SMPP 3.4 bind)", f.env, f.max)
		}
	}
	if c.SMPPSystemID == "" {
		return fmt.Errorf("TIDINGS_SMPP_SYSTEM_ID: required with TIDINGS_SMPP_ADDR")
	}
	return nil
}

// Submission returns the addresses of the SMTP submission listeners:
// STARTTLS and implicit TLS, "" for one that is off.
func (c *Config) Submission() (startTLS, implicit string, err error) {
	addrs := [2]string{}
	for i, f := range []struct{ env, v string }{{"TIDINGS_SUBMISSION_ADDR", c.SubmissionAddr}, {"TIDINGS_SUBMISSIONS_ADDR", c.SubmissionsAddr}} {
		if strings.EqualFold(f.v, "off") {
			continue
		}
		host, port, err := net.SplitHostPort(f.v)
		p, perr := strconv.Atoi(port)
		switch {
		case err != nil || perr != nil:
			return "", "", fmt.Errorf("%s %q: want host:port, such as 127.0.0.1:2587, or off", f.env, f.v)
		case p < 0 || p > 65535:
			return "", "", fmt.Errorf("%s %q: the port must be within 0-65535", f.env, f.v)
		case host != "" && net.ParseIP(host) == nil && !hostnameRe.MatchString(host):
			return "", "", fmt.Errorf("%s %q: want a host name or IP address before the port (or none, for every address)", f.env, f.v)
		}
		addrs[i] = f.v
	}
	if addrs[0] != "" && addrs[0] == addrs[1] && !strings.HasSuffix(addrs[0], ":0") {
		return "", "", fmt.Errorf("TIDINGS_SUBMISSION_ADDR and TIDINGS_SUBMISSIONS_ADDR are both %q: STARTTLS and implicit TLS need a port each", addrs[0])
	}
	return addrs[0], addrs[1], nil
}

// DestinationLimits are the limits of outbound mail per recipient domain
// (TIDINGS_DESTINATION_CONCURRENCY and TIDINGS_DESTINATION_RATE); the
// domain "*" holds the others'.
type DestinationLimits struct {
	Conns map[string]int
	Rate  map[string]float64
}

// For returns the limits of domain: its own, else those of "*"; zero for
// the defaults.
func (l DestinationLimits) For(domain string) (conns int, rate float64) {
	conns, ok := l.Conns[domain]
	if !ok {
		conns = l.Conns["*"]
	}
	rate, ok = l.Rate[domain]
	if !ok {
		rate = l.Rate["*"]
	}
	return conns, rate
}

// DestinationLimitsValue parses DestinationConcurrency and DestinationRate.
func (c *Config) DestinationLimitsValue() (DestinationLimits, error) {
	l := DestinationLimits{Conns: map[string]int{}, Rate: map[string]float64{}}
	err := eachLimit("TIDINGS_DESTINATION_CONCURRENCY", c.DestinationConcurrency, "a whole number of connections from 1 to 1000", func(d, v string) bool {
		n, err := strconv.Atoi(v)
		l.Conns[d] = n
		return err == nil && n >= 1 && n <= 1000
	})
	if err != nil {
		return l, err
	}
	err = eachLimit("TIDINGS_DESTINATION_RATE", c.DestinationRate, "messages a second, more than 0 and at most 100000 (0.5 is one every 2 s)", func(d, v string) bool {
		f, err := strconv.ParseFloat(v, 64)
		l.Rate[d] = f
		return err == nil && f > 0 && f <= 100000
	})
	return l, err
}

// eachLimit calls set with each domain=value pair of list; set reports
// whether the value is valid, which want describes.
func eachLimit(env, list, want string, set func(domain, value string) bool) error {
	if strings.TrimSpace(list) == "" {
		return nil
	}
	for _, pair := range strings.Split(list, ",") {
		d, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if !ok || (d != "*" && !hostnameRe.MatchString(d)) {
			return fmt.Errorf("%s: %q is not domain=N (such as gmail.com=5, or *=20 for the other domains)", env, strings.TrimSpace(pair))
		}
		if !set(d, strings.TrimSpace(v)) {
			return fmt.Errorf("%s: the value of %s, %q, is not %s", env, d, strings.TrimSpace(v), want)
		}
	}
	return nil
}

// SMPPRateValue parses SMPPRate: a whole number of submits per second
// from 1 to 100000; empty is 0 (no limit).
func (c *Config) SMPPRateValue() (int, error) {
	if c.SMPPRate == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(c.SMPPRate)
	if err != nil || n < 1 || n > 100000 {
		return 0, fmt.Errorf("TIDINGS_SMPP_RATE %q: want a whole number of submits per second from 1 to 100000", c.SMPPRate)
	}
	return n, nil
}

// SMPPWindowValue parses SMPPWindow: a whole number of outstanding
// submit_sm from 1 to 1000; empty is the default, 10.
func (c *Config) SMPPWindowValue() (int, error) {
	if c.SMPPWindow == "" {
		return DefaultSMPPWindow, nil
	}
	n, err := strconv.Atoi(c.SMPPWindow)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("TIDINGS_SMPP_WINDOW %q: want a whole number of outstanding submits from 1 to 1000", c.SMPPWindow)
	}
	return n, nil
}

// DefaultSMPPWindow is the SMPP window without TIDINGS_SMPP_WINDOW: the
// usual default of SMSC accounts (and Kannel's max-pending-submits). An
// SMSC refuses submits beyond the window its operator set
// (ESME_RTHROTTLED), so a larger one is for the carrier to grant. One bind
// carries at most window / round trip submits per second: 500/s with 10
// over a 20 ms link.
const DefaultSMPPWindow = 10

// ConsoleSessions parses ConsoleSessionTTL (idle) and ConsoleSessionMax
// (absolute); empty ones are zero (the console's defaults, 30m and 12h).
func (c *Config) ConsoleSessions() (idle, absolute time.Duration, err error) {
	for _, f := range []struct {
		env, v string
		d      *time.Duration
	}{{"TIDINGS_CONSOLE_SESSION_TTL", c.ConsoleSessionTTL, &idle}, {"TIDINGS_CONSOLE_SESSION_MAX", c.ConsoleSessionMax, &absolute}} {
		if f.v == "" {
			continue
		}
		d, err := time.ParseDuration(f.v)
		if err != nil || d <= 0 {
			return 0, 0, fmt.Errorf("%s %q: want a positive duration such as 30m or 12h", f.env, f.v)
		}
		*f.d = d
	}
	if idle > 0 && absolute > 0 && idle > absolute {
		return 0, 0, fmt.Errorf("TIDINGS_CONSOLE_SESSION_TTL (%s) must not be longer than TIDINGS_CONSOLE_SESSION_MAX (%s)", idle, absolute)
	}
	return idle, absolute, nil
}

// MaxWebhookGiveUp bounds TIDINGS_WEBHOOK_GIVE_UP: the event log keeps
// events a week, and a delivery needs its event.
const MaxWebhookGiveUp = 7 * 24 * time.Hour

// Rspamd returns the base URL of rspamd's normal worker (no trailing
// slash; the client appends /checkv2) and the timeout of one check, from
// 1s to 10m.
func (c *Config) Rspamd() (base string, timeout time.Duration, err error) {
	u, err := url.Parse(c.RspamdURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", 0, fmt.Errorf("TIDINGS_RSPAMD_URL %q: want an http:// URL such as http://127.0.0.1:11333", c.RspamdURL)
	}
	if u.User != nil {
		return "", 0, fmt.Errorf("TIDINGS_RSPAMD_URL %q: must not carry a user or password", redact(c.RspamdURL))
	}
	timeout, err = time.ParseDuration(c.RspamdTimeout)
	if err != nil || timeout < time.Second || timeout > 10*time.Minute {
		return "", 0, fmt.Errorf("TIDINGS_RSPAMD_TIMEOUT %q: want a duration from 1s to 10m, such as 20s", c.RspamdTimeout)
	}
	return strings.TrimSuffix(u.String(), "/"), timeout, nil
}

// WebhookGiveUpDuration parses WebhookGiveUp: a duration from 1s to 7
// days; empty is 0 (the events package's default, 24h).
func (c *Config) WebhookGiveUpDuration() (time.Duration, error) {
	if c.WebhookGiveUp == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.WebhookGiveUp)
	if err != nil || d < time.Second || d > MaxWebhookGiveUp {
		return 0, fmt.Errorf("TIDINGS_WEBHOOK_GIVE_UP %q: want a duration from 1s to 168h, such as 24h", c.WebhookGiveUp)
	}
	return d, nil
}

// RelayRoots returns the system's roots with the certificates of RelayCA
// added; nil (the system's roots) when RelayCA is unset.
func (c *Config) RelayRoots() (*x509.CertPool, error) {
	if c.RelayCA == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(c.RelayCA)
	if err != nil {
		return nil, fmt.Errorf("TIDINGS_RELAY_CA: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TIDINGS_RELAY_CA %s: no PEM certificate in it", c.RelayCA)
	}
	return pool, nil
}

// MasterKeyBytes decodes MasterKey; nil when it is unset.
func (c *Config) MasterKeyBytes() ([]byte, error) {
	if c.MasterKey == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.MasterKey))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("TIDINGS_MASTER_KEY: want 32 bytes in base64 (openssl rand -base64 32)")
	}
	return k, nil
}

var hostnameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// RetrySchedule is the relay retry schedule of the settings.
type RetrySchedule struct{ First, Max, GiveUp time.Duration }

// Retry parses RetryFirst, RetryMax and RetryGiveUp; empty ones are zero
// (the delivery package's defaults: 5m, 1h, 5 days).
func (c *Config) Retry() (RetrySchedule, error) {
	var r RetrySchedule
	for _, f := range []struct {
		env, v string
		d      *time.Duration
	}{{"TIDINGS_RETRY_FIRST", c.RetryFirst, &r.First}, {"TIDINGS_RETRY_MAX", c.RetryMax, &r.Max}, {"TIDINGS_RETRY_GIVE_UP", c.RetryGiveUp, &r.GiveUp}} {
		if f.v == "" {
			continue
		}
		d, err := time.ParseDuration(f.v)
		if err != nil || d <= 0 {
			return r, fmt.Errorf("%s %q: want a positive duration such as 5m or 120h", f.env, f.v)
		}
		*f.d = d
	}
	return r, nil
}

// PortRange parses SMTPPorts.
func (c *Config) PortRange() (first, last int, err error) {
	a, b, ok := strings.Cut(c.SMTPPorts, "-")
	if !ok {
		b = a
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return 0, 0, fmt.Errorf("TIDINGS_SMTP_PORTS %q: want first-last, within 1-65535", c.SMTPPorts)
	}
	return first, last, nil
}

func redact(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

var nodeIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Node returns the node id: TIDINGS_NODE_ID, else the host name and a
// hash of the data directory's absolute path, which stays the same across
// restarts and differs between two processes on one host.
func (c *Config) Node() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			return r
		}
		return '-'
	}, host)
	if len(host) > 48 {
		host = host[:48]
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		dir = c.DataDir
	}
	sum := sha256.Sum256([]byte(dir))
	return host + "-" + hex.EncodeToString(sum[:4])
}

// TrackingBase parses TrackingURL: an absolute http or https URL with a
// host and no query or fragment, returned without a trailing slash; ""
// when unset.
func (c *Config) TrackingBase() (string, error) {
	if c.TrackingURL == "" {
		return "", nil
	}
	u, err := url.Parse(c.TrackingURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("TIDINGS_TRACKING_URL %q: want an http:// or https:// URL such as https://track.example.com", c.TrackingURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("TIDINGS_TRACKING_URL %q: must have no query or fragment", c.TrackingURL)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// ARCSealing is the ARC sealing setting: the key signs for
// Selector._domainkey.Domain.
type ARCSealing struct {
	Domain, Selector string
	Key              crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey
}

// ARC reads the ARC sealing setting: nil when none of TIDINGS_ARC_DOMAIN,
// TIDINGS_ARC_SELECTOR and TIDINGS_ARC_KEY is set; an error naming the
// setting when only some are, or one is wrong.
func (c *Config) ARC() (*ARCSealing, error) {
	if c.ARCDomain == "" && c.ARCSelector == "" && c.ARCKey == "" {
		return nil, nil
	}
	for _, f := range []struct{ env, v string }{{"TIDINGS_ARC_DOMAIN", c.ARCDomain}, {"TIDINGS_ARC_SELECTOR", c.ARCSelector}, {"TIDINGS_ARC_KEY", c.ARCKey}} {
		if f.v == "" {
			return nil, fmt.Errorf("%s: required to seal relayed mail with ARC; set TIDINGS_ARC_DOMAIN, TIDINGS_ARC_SELECTOR and TIDINGS_ARC_KEY together, or none of them", f.env)
		}
	}
	domain := strings.TrimSuffix(c.ARCDomain, ".")
	if !hostnameRe.MatchString(domain) || !strings.Contains(domain, ".") || len(domain) > 253 {
		return nil, fmt.Errorf("TIDINGS_ARC_DOMAIN %q: want a domain name such as example.com", c.ARCDomain)
	}
	if !hostnameRe.MatchString(c.ARCSelector) /* a sub-domain (RFC 6376 3.1) */ || len(c.ARCSelector)+len("._domainkey.")+len(domain) > 253 {
		return nil, fmt.Errorf("TIDINGS_ARC_SELECTOR %q: want a selector such as arc2025 (letters, digits, '-', labels separated by '.')", c.ARCSelector)
	}
	key, err := ReadSigningKey(c.ARCKey)
	if err != nil {
		return nil, fmt.Errorf("TIDINGS_ARC_KEY: %v", err)
	}
	return &ARCSealing{Domain: domain, Selector: c.ARCSelector, Key: key}, nil
}

// ReadSigningKey reads a PEM private key for DKIM-style signatures: RSA
// (PKCS #1 or PKCS #8) of at least 1024 bits, or Ed25519 (PKCS #8).
func ReadSigningKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block in it (want an RSA or Ed25519 private key)", path)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: a PEM %q block; want an unencrypted \"PRIVATE KEY\" (PKCS #8) or \"RSA PRIVATE KEY\"", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < 1024 {
			return nil, fmt.Errorf("%s: an RSA key of %d bits; verifiers refuse keys under 1024 bits (RFC 8301 3.2), use 2048", path, bits)
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("%s: a %T; want an RSA or Ed25519 private key", path, key)
}
