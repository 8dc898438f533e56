package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Certificate returns the certificate STARTTLS offers: the one in certFile
// and keyFile (PEM) when they are given, else a self-signed one kept in dir
// (generated at first start as dir/cert.pem and dir/key.pem, for hostname,
// valid ten years). generated reports a certificate made now.
//
// A self-signed certificate is what most MTAs offer to each other: SMTP
// between servers encrypts opportunistically and does not verify names
// (RFC 3207 4.1, RFC 7435), so it protects against passive eavesdropping.
// Clients that verify (MTA-STS, DANE, AUTH submission) need a certificate
// from a CA: configure TIDINGS_TLS_CERT and TIDINGS_TLS_KEY.
func Certificate(certFile, keyFile, dir, hostname string) (cert tls.Certificate, generated bool, err error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return cert, false, errors.New("gateway: TLS needs both a certificate and a key file")
		}
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return cert, false, fmt.Errorf("gateway: TLS certificate: %w", err)
		}
		return cert, false, nil
	}
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert, err = tls.LoadX509KeyPair(cf, kf)
	if err == nil {
		return cert, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return cert, false, fmt.Errorf("gateway: TLS certificate in %s: %w", dir, err)
	}
	certPEM, keyPEM, err := selfSigned(hostname, time.Now())
	if err != nil {
		return cert, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cert, false, fmt.Errorf("gateway: %w", err)
	}
	// The key first, private; the certificate last, so that a crash in
	// between leaves no certificate without its key.
	if err := writeFileSync(kf, keyPEM, 0o600); err != nil {
		return cert, false, err
	}
	if err := writeFileSync(cf, certPEM, 0o644); err != nil {
		return cert, false, err
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return cert, err == nil, err
}

func selfSigned(hostname string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"Tidings (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(hostname); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{hostname}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), nil
}

func writeFileSync(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("gateway: write %s: %w", path, err)
	}
	return nil
}
