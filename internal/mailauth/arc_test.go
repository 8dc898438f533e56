package mailauth

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// seal adds an ARC Set to msg as a forwarder would: it validates the
// chain msg carries (with b's verifier), changes the message with edit
// (nil: none), then seals it with the result.
func (b *bundle) seal(t *testing.T, msg string, edit func(string) string, domain, selector string, key crypto.Signer) string {
	t.Helper()
	auth := b.verify(t, goodIP, "list@"+domain, msg)
	if edit != nil {
		msg = edit(msg)
	}
	s := &Sealer{Domain: domain, Selector: selector, Key: key, AuthservID: "mx." + domain,
		Now: func() time.Time { return time.Unix(1700000000, 0) }}
	_, results, _ := strings.Cut(auth.ResultsHeader, "; ")
	set, err := s.Seal(strings.NewReader(msg), results, ARCResult(auth.ARC))
	require.NoError(t, err)
	require.Len(t, set, 3)
	return strings.Join(set, "") + msg
}

// TestARCChain: chains built here by sealers with keys the test DNS
// serves. A message without ARC fields is arc=none; one sealed once or
// twice passes, even when a hop changed the message before sealing (the
// point of ARC: DKIM fails, the chain vouches for what the first hop
// saw); a change after the last seal, a tampered older set, broken
// instance numbers, a missing key or a chain marked failed fail.
func TestARCChain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	orig := sign(t, plainMessage("alice@example.org"), "example.org", "rsa", rsaKey())

	require.Equal(t, "none", b.verify(t, goodIP, "alice@example.org", orig).ARC)
	require.Contains(t, unfold(b.verify(t, goodIP, "alice@example.org", orig).ResultsHeader), "; arc=none")

	// Hop 1: a forwarder at other.example (RSA) seals what it received.
	one := b.seal(t, orig, nil, "other.example", "rsa", rsaKey())
	require.Contains(t, one, "ARC-Seal: i=1; a=rsa-sha256; cv=none; d=other.example; s=rsa;")
	require.Contains(t, one, "ARC-Authentication-Results: i=1; mx.other.example; spf=")
	a := b.verify(t, goodIP, "x@other.example", one)
	require.Equal(t, "pass", a.ARC, a.ResultsHeader)
	require.Contains(t, unfold(a.ResultsHeader), "arc=pass header.s=rsa header.d=other.example")

	// A mailing list changes the subject and the body (DKIM breaks), then
	// seals with Ed25519 at example.org: the chain still passes.
	list := func(m string) string {
		return strings.Replace(m, "Subject: hello", "Subject: [list] hello", 1) + "-- \r\nlist footer\r\n"
	}
	two := b.seal(t, one, list, "example.org", "ed", edKey())
	require.Contains(t, two, "ARC-Seal: i=2; a=ed25519-sha256; cv=pass; d=example.org; s=ed;")
	a = b.verify(t, goodIP, "x@example.org", two)
	require.Equal(t, "pass", a.ARC, a.ResultsHeader)
	require.Contains(t, unfold(a.ResultsHeader), "dkim=fail")

	// Refolded and re-spaced headers still pass (relaxed canonicalization).
	refolded := strings.Replace(two, "Subject: [list] hello", "Subject:   [list]\r\n\thello  ", 1)
	require.Equal(t, "pass", b.verify(t, goodIP, "x@example.org", refolded).ARC)

	fails := []struct{ name, msg, reason string }{
		{"body changed after the last seal", two + "appended\r\n", "ARC-Message-Signature i=2: body hash does not match"},
		{"signed header changed after the last seal", strings.Replace(two, "Subject: [list] hello", "Subject: [list] bye", 1),
			"ARC-Message-Signature i=2: signature does not verify"},
		{"older set tampered", strings.Replace(two, "ARC-Authentication-Results: i=1; mx.other.example;",
			"ARC-Authentication-Results: i=1; mx.other.example; dkim=pass;", 1), "ARC-Seal i=2: signature does not verify"},
		{"instance missing", strings.NewReplacer("ARC-Seal: i=1;", "ARC-Seal: i=3;").Replace(two), "ARC Set 1 of 3 is missing or incomplete"},
		{"instance gap", strings.NewReplacer("ARC-Seal: i=2;", "ARC-Seal: i=3;", "ARC-Message-Signature: i=2;", "ARC-Message-Signature: i=3;",
			"ARC-Authentication-Results: i=2;", "ARC-Authentication-Results: i=3;").Replace(two), "ARC Set 2 of 3 is missing or incomplete"},
		{"duplicate instance", "ARC-Authentication-Results: i=1; forged; spf=pass\r\n" + two, "two ARC-Authentication-Results fields with i=1"},
		{"instance out of range", strings.Replace(one, "ARC-Seal: i=1;", "ARC-Seal: i=51;", 1), "out of 1 to 50"},
		{"incomplete set", strings.Replace(one, "ARC-Message-Signature: i=1;", "X-Was-ARC-Message-Signature: i=1;", 1),
			"ARC Set 1 of 1 is missing or incomplete"},
		{"first seal claims cv=pass", strings.Replace(one, "cv=none", "cv=pass", 1), "ARC-Seal i=1 has cv=pass, want none"},
		{"seal with h=", strings.Replace(one, "cv=none;", "cv=none; h=from;", 1), "ARC-Seal i=1 has an h= tag"},
	}
	for _, tc := range fails {
		t.Run(tc.name, func(t *testing.T) {
			a := b.verify(t, goodIP, "x@example.org", tc.msg)
			require.Equal(t, "fail", a.ARC, a.ResultsHeader)
			require.Contains(t, unfold(a.ResultsHeader), "arc=fail")
			require.Contains(t, unfold(a.ResultsHeader), tc.reason)
		})
	}

	// A key that is not published.
	s := &Sealer{Domain: "nokey.example", Selector: "rsa", Key: rsaKey(), AuthservID: "mx.nokey.example"}
	set, err := s.Seal(strings.NewReader(orig), "spf=pass", ARCNone)
	require.NoError(t, err)
	a = b.verify(t, goodIP, "x@example.org", strings.Join(set, "")+orig)
	require.Equal(t, "fail", a.ARC)
	require.Contains(t, unfold(a.ResultsHeader), "no key at rsa._domainkey.nokey.example")

	// A hop that finds the chain broken seals it with cv=fail, covering
	// its own set only; the chain stays failed, and no one seals after.
	broken := two + "appended\r\n"
	failed := b.seal(t, broken, nil, "other.example", "rsa", rsaKey())
	require.Contains(t, failed, "ARC-Seal: i=3; a=rsa-sha256; cv=fail;")
	a = b.verify(t, goodIP, "x@example.org", failed)
	require.Equal(t, "fail", a.ARC)
	require.Contains(t, unfold(a.ResultsHeader), "ARC-Seal i=3 says cv=fail")
	set, err = (&Sealer{Domain: "example.org", Selector: "ed", Key: edKey(), AuthservID: "x"}).Seal(strings.NewReader(failed), "spf=pass", ARCFail)
	require.ErrorIs(t, err, ErrNotSealed)
	require.ErrorContains(t, err, "ARC-Seal i=3 saying cv=fail")
	require.Nil(t, set)

	// Sets whose status is unknown (a message checked before ARC was)
	// are not sealed on.
	_, err = (&Sealer{Domain: "example.org", Selector: "ed", Key: edKey(), AuthservID: "x"}).Seal(strings.NewReader(two), "spf=pass", "")
	require.ErrorIs(t, err, ErrNotSealed)

	// Fifty sets are the most (RFC 8617 4.2.1): the 51st is not added.
	full := orig
	sealer := &Sealer{Domain: "example.org", Selector: "ed", Key: edKey(), AuthservID: "x"}
	for i := 1; i <= 50; i++ {
		cv := ARCPass
		if i == 1 {
			cv = ARCNone
		}
		set, err := sealer.Seal(strings.NewReader(full), "spf=pass", cv)
		require.NoError(t, err, "set %d", i)
		full = strings.Join(set, "") + full
	}
	require.Equal(t, "pass", b.verify(t, goodIP, "x@example.org", full).ARC)
	_, err = sealer.Seal(strings.NewReader(full), "spf=pass", ARCPass)
	require.ErrorIs(t, err, ErrNotSealed)
	require.ErrorContains(t, err, "50 ARC Sets")
}

// TestSealCovers: the ARC-Message-Signature covers the fields named to
// Seal besides the usual ones, each occurrence, and never
// Authentication-Results or ARC fields (RFC 8617 4.1.2).
func TestSealCovers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	msg := "X-Added: one\r\nX-Added: two\r\nAuthentication-Results: mx.example.org; spf=pass\r\n" + plainMessage("alice@example.org")
	s := &Sealer{Domain: "other.example", Selector: "rsa", Key: rsaKey(), AuthservID: "mx.other.example"}
	set, err := s.Seal(strings.NewReader(msg), "spf=pass", ARCNone, "x-added", "Authentication-Results", "ARC-Seal", "X-Absent")
	require.NoError(t, err)
	ams := unfold(set[1])
	require.Contains(t, ams, "h=from:to:subject:date:message-id:x-added:x-added;")
	sealed := strings.Join(set, "") + msg
	require.Equal(t, "pass", b.verify(t, goodIP, "x@other.example", sealed).ARC)
	// A covered field changed breaks the AMS.
	require.Equal(t, "fail", b.verify(t, goodIP, "x@other.example", strings.Replace(sealed, "X-Added: two", "X-Added: 2", 1)).ARC)
	// Authentication-Results is not covered: a downstream ADMD may drop it.
	require.Equal(t, "pass", b.verify(t, goodIP, "x@other.example", strings.Replace(sealed, "Authentication-Results: mx.example.org; spf=pass\r\n", "", 1)).ARC)
}

// TestBodyCanonicalization checks the body hashes against RFC 6376
// 3.4.5's example and the empty-body rules.
func TestBodyCanonicalization(t *testing.T) {
	t.Parallel()
	canon := func(relaxed bool, body string, limit int64) string {
		var got strings.Builder
		h := &bodyHasher{relaxed: relaxed, h: recordHash{&got}, limit: limit}
		// Written in small pieces: lines cross writes.
		for i := 0; i < len(body); i += 3 {
			h.Write([]byte(body[i:min(i+3, len(body))]))
		}
		h.Sum()
		return got.String()
	}
	body := " C \r\nD \t E\r\n\r\n\r\n"
	require.Equal(t, " C\r\nD E\r\n", canon(true, body, -1))
	require.Equal(t, " C \r\nD \t E\r\n", canon(false, body, -1))
	require.Equal(t, "", canon(true, "", -1))
	require.Equal(t, "\r\n", canon(false, "", -1))
	require.Equal(t, "\r\n", canon(false, "\r\n\r\n", -1))
	require.Equal(t, "a\r\nb\r\n", canon(true, "a\nb", -1), "LF line ends and a last line without one")
	require.Equal(t, " C\r", canon(true, body, 3), "l=3")
}

// recordHash is a hash.Hash that keeps what it is given, for the test.
type recordHash struct{ b *strings.Builder }

func (r recordHash) Write(p []byte) (int, error) { return r.b.Write(p) }
func (r recordHash) Sum(b []byte) []byte         { return append(b, r.b.String()...) }
func (r recordHash) Reset()                      { r.b.Reset() }
func (r recordHash) Size() int                   { return 0 }
func (r recordHash) BlockSize() int              { return 1 }

// FuzzARC: no chain, however malformed, makes the verifier panic, and
// sealing any message does not either.
func FuzzARC(f *testing.F) {
	f.Add("ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x; s=y; b=AAAA\r\nARC-Message-Signature: i=1; bh=; h=from; b=\r\nARC-Authentication-Results: i=1; x\r\n\r\nbody\r\n")
	f.Add("ARC-Seal: i=x\r\n\r\n")
	f.Fuzz(func(t *testing.T, msg string) {
		c := newARCCheck([]byte(msg))
		if c.body != nil {
			c.body.Write([]byte("body\r\n"))
		}
		s := &Sealer{Domain: "d.example", Selector: "s", Key: edKey(), AuthservID: "x"}
		_, _ = s.Seal(strings.NewReader(msg), "spf=none", ARCNone)
	})
}
