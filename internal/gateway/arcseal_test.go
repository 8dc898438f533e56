package gateway_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/mailauth"
	"github.com/tidings/tidings/internal/mailauth/dkimpy"
)

// Test keys, made once: 2048-bit RSA keys take a while to generate.
var arcKeys = sync.OnceValues(func() (crypto.Signer, crypto.Signer) {
	k1, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	k2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k1, k2
})

// dkimpyARC validates msg's ARC chain with dkimpy, an implementation
// independent of Tidings', which looks the keys up at dnsAddr.
func dkimpyARC(t *testing.T, dnsAddr string, msg []byte) dkimpy.Verdict {
	t.Helper()
	require.NoError(t, dkimpy.Available())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := dkimpy.ARC(ctx, dnsAddr, msg)
	require.NoError(t, err)
	return v
}

// TestARCSealRelay: with a Sealer, relayed mail arrives with an ARC Set
// that dkimpy validates: i=1 cv=none on a message without a chain, i=2
// cv=pass on top of a valid set, i=2 cv=fail on a chain broken on the
// way (covering its own set only); a chain that already ends in cv=fail
// is relayed without a new set.
func TestARCSealRelay(t *testing.T) {
	t.Parallel()
	ours, upstreamKey := arcKeys()
	ourRec, err := mailauth.KeyRecord(ours.Public())
	require.NoError(t, err)
	upRec, err := mailauth.KeyRecord(upstreamKey.Public())
	require.NoError(t, err)
	b := setup(t, setupOpts{
		sealer: &mailauth.Sealer{Domain: "seal.test", Selector: "tidings", Key: ours, AuthservID: hostname},
		txt: map[string]string{
			"tidings._domainkey.seal.test":  ourRec,
			"fwd._domainkey.forwarder.test": upRec,
		},
	})
	relay := b.relay("onprem", b.sink)
	rs := b.ruleSet("inbound", fmt.Sprintf(`[{"Name":"tag-relay","Actions":[
		{"AddHeader":{"HeaderName":"X-Tidings-Gateway","HeaderValue":"checked"}},
		{"Relay":{"Relay":%q,"MailFrom":"PRESERVE"}}]}]`, relay))
	_, addr := b.ingressPoint("inbound-mx", "OPEN", rs, b.allowAll(), "")
	upstream := &mailauth.Sealer{Domain: "forwarder.test", Selector: "fwd", Key: upstreamKey, AuthservID: "mx.forwarder.test"}

	relayed := func(t *testing.T, msg string) []byte {
		t.Helper()
		n := len(b.sink.messages())
		_, err := send(t, addr, "alice@sender.test", []string{"bob@corp.test"}, msg)
		require.NoError(t, err)
		return b.sink.wait(t, n+1)[n].data
	}

	t.Run("NoChain", func(t *testing.T) {
		m := relayed(t, body)
		seal := headerValues(m, "ARC-Seal")
		require.Len(t, seal, 1)
		require.True(t, strings.HasPrefix(seal[0], "i=1; a=rsa-sha256; cv=none; d=seal.test; s=tidings;"), seal[0])
		require.True(t, bytes.HasPrefix(m, []byte("ARC-Seal: i=1;")), "the set is on top:\n%s", m)
		// The AAR carries the results of our Authentication-Results.
		ar := headerValues(m, "Authentication-Results")
		require.Len(t, ar, 1)
		_, results, _ := strings.Cut(ar[0], ";")
		aar := headerValues(m, "ARC-Authentication-Results")
		require.Equal(t, []string{"i=1; " + hostname + ";" + results}, aar)
		require.Contains(t, aar[0], "arc=none")
		// The AMS covers the fields this gateway added, not
		// Authentication-Results.
		ams := headerValues(m, "ARC-Message-Signature")
		require.Len(t, ams, 1)
		require.Contains(t, ams[0], "h=from:to:subject:message-id:x-mail-manager-originator-org:x-tidings-gateway;")

		v := dkimpyARC(t, b.dnsAddr, m)
		require.Equal(t, "pass", v.CV, "dkimpy: %s\n%s", v.Reason, m)
		require.Len(t, v.Sets, 1)

		// A field the gateway added, changed after the seal: dkimpy
		// fails the chain.
		v = dkimpyARC(t, b.dnsAddr, bytes.Replace(m, []byte("X-Tidings-Gateway: checked"), []byte("X-Tidings-Gateway: forged"), 1))
		require.Equal(t, "fail", v.CV, v.Reason)
	})

	t.Run("OnValidChain", func(t *testing.T) {
		set, err := upstream.Seal(strings.NewReader(body), "spf=pass smtp.mailfrom=alice@sender.test", mailauth.ARCNone)
		require.NoError(t, err)
		m := relayed(t, strings.Join(set, "")+body)
		seal := headerValues(m, "ARC-Seal")
		require.Len(t, seal, 2)
		require.True(t, strings.HasPrefix(seal[0], "i=2; a=rsa-sha256; cv=pass; d=seal.test; s=tidings;"), seal[0])
		require.Contains(t, headerValues(m, "ARC-Authentication-Results")[0], "arc=pass header.s=fwd header.d=forwarder.test")

		v := dkimpyARC(t, b.dnsAddr, m)
		require.Equal(t, "pass", v.CV, "dkimpy: %s\n%s", v.Reason, m)
		require.Len(t, v.Sets, 2)
		require.Equal(t, "seal.test", v.Sets[0].ASDomain)
		require.Equal(t, "forwarder.test", v.Sets[1].ASDomain)
	})

	t.Run("OnBrokenChain", func(t *testing.T) {
		set, err := upstream.Seal(strings.NewReader(body), "spf=pass", mailauth.ARCNone)
		require.NoError(t, err)
		// Changed after the upstream seal: the chain fails here.
		m := relayed(t, strings.Join(set, "")+strings.Replace(body, "bye", "so long", 1))
		seal := headerValues(m, "ARC-Seal")
		require.Len(t, seal, 2)
		require.True(t, strings.HasPrefix(seal[0], "i=2; a=rsa-sha256; cv=fail; d=seal.test;"), seal[0])
		require.Contains(t, headerValues(m, "ARC-Authentication-Results")[0], "arc=fail")

		// dkimpy: the chain ends with our cv=fail, whose AMS verifies.
		v := dkimpyARC(t, b.dnsAddr, m)
		require.Empty(t, v.CV, "dkimpy: %s", v.Reason)
		require.Contains(t, v.Reason, "ARC-Seal[2] reported failure")
		require.Equal(t, 2, v.Sets[0].Instance)
		require.True(t, v.Sets[0].AMSValid, "%+v", v.Sets[0])
		// A cv=fail seal covers its own set only (RFC 8617 5.1.2): alone,
		// without the upstream set, dkimpy finds it valid.
		own := dropFields(m, func(f []byte) bool {
			return bytes.HasPrefix(f, []byte("ARC-")) && bytes.Contains(f, []byte(": i=1;"))
		})
		require.Len(t, headerValues(own, "ARC-Seal"), 1)
		v = dkimpyARC(t, b.dnsAddr, own)
		require.NotEmpty(t, v.Sets, v.Reason)
		require.Equal(t, 2, v.Sets[0].Instance)
		require.True(t, v.Sets[0].ASValid, "dkimpy: the cv=fail seal alone: %+v %s", v.Sets[0], v.Reason)

		// Relayed once more, the failed chain gets no further set.
		again := relayed(t, string(m))
		require.Len(t, headerValues(again, "ARC-Seal"), 2)
	})
}

// dropFields removes from msg's header the fields (with their folded
// lines) drop picks.
func dropFields(msg []byte, drop func(field []byte) bool) []byte {
	hdr, rest, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	var out []byte
	var field []byte
	flush := func() {
		if len(field) > 0 && !drop(field) {
			out = append(out, field...)
		}
		field = nil
	}
	for _, line := range bytes.SplitAfter(append(hdr, "\r\n"...), []byte("\r\n")) {
		if len(line) > 0 && line[0] != ' ' && line[0] != '\t' {
			flush()
		}
		field = append(field, line...)
	}
	flush()
	return append(append(out, "\r\n"...), rest...)
}
