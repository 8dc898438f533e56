package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tidings/tidings/internal/config"
	"github.com/tidings/tidings/internal/mailauth"
)

// newARC helps an operator set up ARC sealing of relayed mail
// (TIDINGS_ARC_DOMAIN, TIDINGS_ARC_SELECTOR, TIDINGS_ARC_KEY): it makes a
// key and prints the DNS record that publishes it. It needs no server.
func newARC() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "arc",
		Short: "Make the key that seals relayed mail with ARC (RFC 8617) and print its DNS record",
	}
	var domain, selector, out, typ string
	var bits int
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Write a new ARC sealing key to --out and print the TXT record to publish and the settings to use",
		Long: `Write a new private key (PEM, PKCS #8, mode 0600) to --out, then print the
TXT record to publish at <selector>._domainkey.<domain> and the settings that
make "tidings serve" seal relayed mail with it. RSA (2048 bits by default) is
what every ARC verifier knows; Ed25519 (RFC 8463) is smaller, but not all
verifiers check it yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := &config.Config{ARCDomain: domain, ARCSelector: selector, ARCKey: out}
			if out == "" {
				return errors.New("--out: the file to write the private key to is required")
			}
			var key crypto.Signer
			switch typ {
			case "rsa":
				if bits < 1024 || bits > 8192 {
					return fmt.Errorf("--bits %d: want 1024 to 8192 (2048 recommended)", bits)
				}
				k, err := rsa.GenerateKey(rand.Reader, bits)
				if err != nil {
					return err
				}
				key = k
			case "ed25519":
				_, k, err := ed25519.GenerateKey(rand.Reader)
				if err != nil {
					return err
				}
				key = k
			default:
				return fmt.Errorf("--type %q: want rsa or ed25519", typ)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return err
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("--out: %w (an existing key is never overwritten)", err)
			}
			if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			// Checked as "tidings serve" will: a bad domain or selector is
			// told now rather than at start-up.
			if _, err := c.ARC(); err != nil {
				os.Remove(out)
				return err
			}
			return printARCRecord(cmd.OutOrStdout(), c)
		},
	}
	keygen.Flags().StringVar(&domain, "domain", "", "signing domain (d=), such as example.com")
	keygen.Flags().StringVar(&selector, "selector", "", "selector (s=), such as arc2025")
	keygen.Flags().StringVar(&out, "out", "", "file to write the private key to (must not exist)")
	keygen.Flags().StringVar(&typ, "type", "rsa", "rsa or ed25519")
	keygen.Flags().IntVar(&bits, "bits", 2048, "RSA key size")

	var rDomain, rSelector, rKey string
	record := &cobra.Command{
		Use:   "record",
		Short: "Print the TXT record of an existing ARC sealing key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printARCRecord(cmd.OutOrStdout(), &config.Config{ARCDomain: rDomain, ARCSelector: rSelector, ARCKey: rKey})
		},
	}
	record.Flags().StringVar(&rDomain, "domain", os.Getenv("TIDINGS_ARC_DOMAIN"), "signing domain (default $TIDINGS_ARC_DOMAIN)")
	record.Flags().StringVar(&rSelector, "selector", os.Getenv("TIDINGS_ARC_SELECTOR"), "selector (default $TIDINGS_ARC_SELECTOR)")
	record.Flags().StringVar(&rKey, "key", os.Getenv("TIDINGS_ARC_KEY"), "PEM private key file (default $TIDINGS_ARC_KEY)")
	cmd.AddCommand(keygen, record)
	return cmd
}

// printARCRecord prints the zone file line publishing c's key and the
// settings that use it.
func printARCRecord(w io.Writer, c *config.Config) error {
	arc, err := c.ARC()
	if err != nil {
		return err
	}
	if arc == nil {
		return errors.New("set --domain, --selector and --key (or TIDINGS_ARC_*)")
	}
	txt, err := mailauth.KeyRecord(arc.Key.Public())
	if err != nil {
		return err
	}
	var parts []string // strings of at most 255 octets (RFC 1035 3.3.14)
	for v := txt; v != ""; {
		n := min(len(v), 255)
		parts, v = append(parts, `"`+v[:n]+`"`), v[n:]
	}
	fmt.Fprintf(w, "# Publish in DNS:\n%s._domainkey.%s. IN TXT ( %s )\n", arc.Selector, arc.Domain, strings.Join(parts, " "))
	fmt.Fprintf(w, "# Then start tidings serve with:\nexport TIDINGS_ARC_DOMAIN=%s\nexport TIDINGS_ARC_SELECTOR=%s\nexport TIDINGS_ARC_KEY=%s\n", arc.Domain, arc.Selector, c.ARCKey)
	return nil
}
