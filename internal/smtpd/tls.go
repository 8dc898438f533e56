package smtpd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
)

// fipsSuites are the cipher suites a FIPS ingress point negotiates: ECDHE
// key exchange with AES-GCM (NIST SP 800-52r2 3.3.1), for TLS 1.2 and 1.3.
var fipsSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_AES_128_GCM_SHA256,
	tls.TLS_AES_256_GCM_SHA384,
}

// serverTLSConfig derives the STARTTLS configuration from the endpoint's.
func serverTLSConfig(ep *Endpoint) *tls.Config {
	if ep.TLSConfig == nil {
		return nil
	}
	c := ep.TLSConfig.Clone()
	if ep.TLSPolicy == TLSFIPS {
		c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
		// crypto/tls ignores CipherSuites for TLS 1.3; afterHandshake
		// checks the suite that was actually chosen.
		c.CipherSuites = fipsSuites[:4]
		c.CurvePreferences = []tls.CurveID{tls.CurveP256, tls.CurveP384, tls.CurveP521}
	}
	if ep.RequireClientCert != nil {
		// Ask for a certificate but verify it ourselves after the
		// handshake, so that a client without a good one gets an SMTP
		// answer (550 5.7.1) rather than a TLS alert.
		c.ClientAuth = tls.RequestClientCert
		c.ClientCAs = ep.RequireClientCert
	}
	return c
}

// fipsOK reports whether a negotiated session meets the FIPS policy.
func fipsOK(st *tls.ConnectionState) bool {
	return st.Version >= tls.VersionTLS12 && slices.Contains(fipsSuites, st.CipherSuite)
}

// tlsVersionName names a protocol version as the Mail Manager model does.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLS1_0"
	case tls.VersionTLS11:
		return "TLS1_1"
	case tls.VersionTLS12:
		return "TLS1_2"
	case tls.VersionTLS13:
		return "TLS1_3"
	}
	return "UNKNOWN"
}

var errNoClientCert = errors.New("no client certificate")

// verifyClientCert verifies the client's certificate chain against pool
// for client authentication and returns the leaf.
func verifyClientCert(st *tls.ConnectionState, pool *x509.CertPool) (*x509.Certificate, error) {
	if len(st.PeerCertificates) == 0 {
		return nil, errNoClientCert
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, err
	}
	return leaf, nil
}
