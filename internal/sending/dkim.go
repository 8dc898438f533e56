package sending

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/tidings/tidings/internal/fault"
)

// Easy DKIM, the selector scheme of a self-hosted SES.
//
// AWS answers CreateEmailIdentity for a domain with three tokens and asks
// for three CNAME records <token>._domainkey.<domain> pointing into
// amazonses.com, where AWS publishes its keys. Tidings has no zone of its
// own to point into, so the tokens are the selectors themselves: Tidings
// makes one RSA-2048 key per domain and the domain publishes three TXT
// records
//
//	<token>._domainkey.<domain>  TXT  "v=DKIM1; k=rsa; p=<public key>"
//
// all three holding the same public key (GET /_tidings/dkim/<account>/
// <domain> prints them in zone-file form). Messages are signed with the
// first token as selector (s=), and the verification job checks that
// record; the other two are spares for a later key rotation, as AWS keeps.
const (
	easyDKIMBits = 2048
	tokenLen     = 32
)

// dkimKey is the signing key of a domain identity.
type dkimKey struct {
	// Origin is AWS_SES (Easy DKIM) or EXTERNAL (BYODKIM).
	Origin string `json:"origin"`
	// Tokens: the three selectors of Easy DKIM, or the one BYODKIM
	// selector.
	Tokens []string `json:"tokens"`
	// PrivateKey is PKCS#8 DER, base64.
	PrivateKey string `json:"private_key"`
	Bits       int    `json:"bits"`
}

func (k *dkimKey) selector() string {
	if k == nil || len(k.Tokens) == 0 {
		return ""
	}
	return k.Tokens[0]
}

// signers keeps the parsed keys: parsing and checking an RSA-2048 key costs
// about what signing with it does, and every send signs. Keyed by the
// encoded key itself, so a rotated key is a new entry; emptied when it
// holds more keys than any account plausibly signs with.
var signers struct {
	sync.Mutex
	m map[string]crypto.Signer
}

const maxCachedSigners = 1024

func (k *dkimKey) signer() (crypto.Signer, error) {
	signers.Lock()
	sg, ok := signers.m[k.PrivateKey]
	signers.Unlock()
	if ok {
		return sg, nil
	}
	sg, err := k.parse()
	if err != nil {
		return nil, err
	}
	signers.Lock()
	if signers.m == nil || len(signers.m) >= maxCachedSigners {
		signers.m = map[string]crypto.Signer{}
	}
	signers.m[k.PrivateKey] = sg
	signers.Unlock()
	return sg, nil
}

func (k *dkimKey) parse() (crypto.Signer, error) {
	der, err := base64.StdEncoding.DecodeString(k.PrivateKey)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	sg, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	return sg, nil
}

// publicRecord is the TXT record value to publish (RFC 6376 3.6.1).
func (k *dkimKey) publicRecord() (string, error) {
	sg, err := k.signer()
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(sg.Public())
	if err != nil {
		return "", err
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
}

func newEasyDKIM() (*dkimKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, easyDKIMBits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	k := &dkimKey{Origin: "AWS_SES", PrivateKey: base64.StdEncoding.EncodeToString(der), Bits: easyDKIMBits}
	for range 3 {
		k.Tokens = append(k.Tokens, randomToken(tokenLen))
	}
	return k, nil
}

// randomToken returns n lower-case letters and digits, the shape of the
// tokens AWS returns (valid DNS labels).
func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// parseBYODKIM checks a user's private key (BYODKIM): SES takes the
// base64 of the DER key (PKCS#1 or PKCS#8, the PEM body without its
// armor lines); a whole PEM block is accepted too. RSA of 1024 to 2048
// bits, as SES.
func parseBYODKIM(selector, private string) (*dkimKey, error) {
	if selector == "" || private == "" {
		return nil, fault.Invalidf("DomainSigningSelector and DomainSigningPrivateKey are required for EXTERNAL signing attributes")
	}
	var der []byte
	if blk, _ := pem.Decode([]byte(private)); blk != nil {
		der = blk.Bytes
	} else {
		clean := strings.Join(strings.Fields(private), "")
		var err error
		if der, err = base64.StdEncoding.DecodeString(clean); err != nil {
			return nil, fault.Invalidf("DomainSigningPrivateKey is not base64: %v", err)
		}
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else if k8, err8 := x509.ParsePKCS8PrivateKey(der); err8 == nil {
		rk, ok := k8.(*rsa.PrivateKey)
		if !ok {
			return nil, fault.Invalidf("DomainSigningPrivateKey must be an RSA key, not %T", k8)
		}
		key = rk
	} else {
		return nil, fault.Invalidf("DomainSigningPrivateKey is not an RSA private key (PKCS#1 or PKCS#8 DER): %v", err)
	}
	bits := key.N.BitLen()
	if bits < 1024 || bits > 2048 {
		return nil, fault.Invalidf("DomainSigningPrivateKey has %d bits; the key length must be between 1024 and 2048 bits", bits)
	}
	if err := key.Validate(); err != nil {
		return nil, fault.Invalidf("DomainSigningPrivateKey is not a valid RSA key: %v", err)
	}
	der8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &dkimKey{Origin: "EXTERNAL", Tokens: []string{strings.ToLower(selector)}, PrivateKey: base64.StdEncoding.EncodeToString(der8), Bits: bits}, nil
}

// signedHeaders are the fields the signature covers when present (RFC
// 6376 5.4.1 recommends From, To, Subject, Date, Message-ID; Feedback-ID
// and List-Unsubscribe* as the issue asks, so they cannot be altered or
// added by a relay without breaking the signature).
var signedHeaders = []string{"From", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
	"Feedback-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "In-Reply-To", "References"}

// sign prepends a DKIM-Signature (relaxed/relaxed, rsa-sha256) by domain
// to msg.
func sign(msg []byte, domain string, k *dkimKey) ([]byte, error) {
	sg, err := k.signer()
	if err != nil {
		return nil, fmt.Errorf("DKIM key of %s: %w", domain, err)
	}
	present := presentFields(msg)
	var keys []string
	for _, h := range signedHeaders {
		if present[strings.ToLower(h)] {
			keys = append(keys, h)
		}
	}
	var out bytes.Buffer
	out.Grow(len(msg) + 1024)
	err = dkim.Sign(&out, bytes.NewReader(msg), &dkim.SignOptions{
		Domain:                 domain,
		Selector:               k.selector(),
		Signer:                 sg,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return nil, fmt.Errorf("DKIM signing by %s: %w", domain, err)
	}
	return out.Bytes(), nil
}

// presentFields returns the lower-cased names of the header fields of msg.
func presentFields(msg []byte) map[string]bool {
	out := map[string]bool{}
	hdr := msg
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		hdr = msg[:i+2]
	}
	for _, line := range bytes.Split(hdr, []byte("\r\n")) {
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if name, _, ok := bytes.Cut(line, []byte(":")); ok {
			out[strings.ToLower(strings.TrimSpace(string(name)))] = true
		}
	}
	return out
}
