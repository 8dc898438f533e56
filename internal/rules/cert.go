package rules

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// certValues returns the strings a ClientCertificateAttribute names in the
// client certificate of an MTLS ingress point; none without a certificate.
func certValues(c *x509.Certificate, attr mm.RuleClientCertificateAttribute) []string {
	if c == nil {
		return nil
	}
	switch attr {
	case mm.RuleClientCertificateAttributeCn:
		if c.Subject.CommonName == "" {
			return nil
		}
		return []string{c.Subject.CommonName}
	case mm.RuleClientCertificateAttributeSanRfc822Name:
		return c.EmailAddresses
	case mm.RuleClientCertificateAttributeSanDnsName:
		return c.DNSNames
	case mm.RuleClientCertificateAttributeSanUniformResourceIdentifier:
		out := make([]string, len(c.URIs))
		for i, u := range c.URIs {
			out[i] = u.String()
		}
		return out
	case mm.RuleClientCertificateAttributeSanIpAddress:
		out := make([]string, len(c.IPAddresses))
		for i, ip := range c.IPAddresses {
			out[i] = ip.String()
		}
		return out
	case mm.RuleClientCertificateAttributeSanDirectoryName:
		return otherSANs(c, 4)
	case mm.RuleClientCertificateAttributeSanRegisteredId:
		return otherSANs(c, 8)
	case mm.RuleClientCertificateAttributeSerialNumber:
		if c.SerialNumber == nil {
			return nil
		}
		// AWS does not say how the serial is written; any usual form
		// matches: decimal, hex as `openssl x509 -serial` prints it, and
		// colon-separated hex as `openssl x509 -text` does (case is ignored).
		b := c.SerialNumber.Bytes()
		pairs := make([]string, len(b))
		for i := range b {
			pairs[i] = hex.EncodeToString(b[i : i+1])
		}
		return []string{c.SerialNumber.String(), hex.EncodeToString(b), strings.Join(pairs, ":")}
	}
	return nil
}

// otherSANs reads the subjectAltName GeneralNames that crypto/x509 does not
// expose (RFC 5280 4.2.1.6): directoryName [4] (written as an RFC 2253
// string) and registeredID [8] (dotted OID).
func otherSANs(c *x509.Certificate, tag int) []string {
	var out []string
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &seq); err != nil || len(rest) > 0 || !seq.IsCompound {
			return out
		}
		rest := seq.Bytes
		for len(rest) > 0 {
			var gn asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
				return out
			}
			if gn.Class != asn1.ClassContextSpecific || gn.Tag != tag {
				continue
			}
			switch tag {
			case 4: // directoryName is EXPLICIT: the Name is inside
				var rdn pkix.RDNSequence
				if _, err := asn1.Unmarshal(gn.Bytes, &rdn); err != nil {
					continue
				}
				var n pkix.Name
				n.FillFromRDNSequence(&rdn)
				out = append(out, n.String())
			case 8: // registeredID is IMPLICIT: the OID's content octets
				der, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagOID, Bytes: gn.Bytes})
				if err != nil {
					continue
				}
				var oid asn1.ObjectIdentifier
				if _, err := asn1.Unmarshal(der, &oid); err != nil {
					continue
				}
				out = append(out, oid.String())
			}
		}
	}
	return out
}
