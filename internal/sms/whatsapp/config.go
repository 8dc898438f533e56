package whatsapp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Config is the WhatsApp Business Platform connection, read from a JSON
// file (Load):
//
//	{
//	  "baseUrl": "https://graph.facebook.com",
//	  "apiVersion": "v21.0",
//	  "accessToken": "EAAG…",
//	  "appSecret": "…",
//	  "verifyToken": "a string you choose",
//	  "numbers": [
//	    {"phoneNumberId": "106540352242922", "phoneNumber": "+15550783881", "accountId": "000000000000"}
//	  ]
//	}
//
// Each number is a WhatsApp business phone number of Meta's (phoneNumberId
// is Meta's id of it), added at start to the Tidings account accountId as
// an ACTIVE phone number: SendTextMessage and SendMediaMessage from it go
// to WhatsApp. appSecret verifies the X-Hub-Signature-256 of the webhook
// Meta posts to {Tidings}/v1/sms/webhooks/whatsapp; verifyToken answers
// its GET hub.challenge handshake.
type Config struct {
	BaseURL     string   `json:"baseUrl"`    // default https://graph.facebook.com
	APIVersion  string   `json:"apiVersion"` // default v21.0
	AccessToken string   `json:"accessToken"`
	AppSecret   string   `json:"appSecret"`
	VerifyToken string   `json:"verifyToken"`
	Numbers     []Number `json:"numbers"`
}

// Number is one business phone number.
type Number struct {
	PhoneNumberID string `json:"phoneNumberId"`
	PhoneNumber   string `json:"phoneNumber"`
	AccountID     string `json:"accountId"`
}

var (
	versionRe = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)
	digitsRe  = regexp.MustCompile(`^[0-9]{1,32}$`)
	e164Re    = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
)

// Load reads and checks a configuration file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse reads and checks a configuration; errors name the field.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("not a WhatsApp configuration: %w", err)
	}
	if c.BaseURL == "" {
		c.BaseURL = "https://graph.facebook.com"
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("baseUrl %q: want an https:// URL such as https://graph.facebook.com", c.BaseURL)
	}
	if c.APIVersion == "" {
		c.APIVersion = "v21.0"
	}
	if !versionRe.MatchString(c.APIVersion) {
		return nil, fmt.Errorf("apiVersion %q: want a Graph API version such as v21.0", c.APIVersion)
	}
	if c.AccessToken == "" {
		return nil, fmt.Errorf("accessToken: required (a system user access token with whatsapp_business_messaging)")
	}
	if len(c.AppSecret) < 16 {
		return nil, fmt.Errorf("appSecret: required (the Meta app's secret, which signs the webhook)")
	}
	if len(c.VerifyToken) < 8 {
		return nil, fmt.Errorf("verifyToken: required, at least 8 characters (answered in the webhook's hub.challenge handshake)")
	}
	if len(c.Numbers) == 0 {
		return nil, fmt.Errorf("numbers: list at least one business phone number")
	}
	ids, nums := map[string]bool{}, map[string]bool{}
	for i, n := range c.Numbers {
		switch {
		case !digitsRe.MatchString(n.PhoneNumberID):
			return nil, fmt.Errorf("numbers[%d].phoneNumberId %q: want Meta's numeric phone number id", i, n.PhoneNumberID)
		case !e164Re.MatchString(n.PhoneNumber):
			return nil, fmt.Errorf("numbers[%d].phoneNumber %q: want an E.164 number such as +15550783881", i, n.PhoneNumber)
		case !accountRe.MatchString(n.AccountID):
			return nil, fmt.Errorf("numbers[%d].accountId %q: want the 12-digit Tidings account holding the number", i, n.AccountID)
		case ids[n.PhoneNumberID]:
			return nil, fmt.Errorf("numbers[%d].phoneNumberId %s: listed twice", i, n.PhoneNumberID)
		case nums[n.PhoneNumber]:
			return nil, fmt.Errorf("numbers[%d].phoneNumber %s: listed twice", i, n.PhoneNumber)
		}
		ids[n.PhoneNumberID], nums[n.PhoneNumber] = true, true
	}
	return &c, nil
}
