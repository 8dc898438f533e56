package mailauth

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResolverRecords(t *testing.T) {
	t.Parallel()
	srv := startDNS(t, testZone{
		TXT: map[string][]string{
			"example.org":      {"v=spf1 -all", "other"},
			"long.example.org": {strings.Repeat("a", 300)},
		},
		A:    map[string][]string{"mx1.example.org": {"192.0.2.1", "192.0.2.2"}},
		AAAA: map[string][]string{"mx1.example.org": {"2001:db8::1"}},
		MX: map[string][]*net.MX{"example.org": {
			{Host: "mx2.example.org", Pref: 20}, {Host: "mx1.example.org", Pref: 10},
		}},
		PTR: map[string][]string{"1.2.0.192.in-addr.arpa": {"mx1.example.org"}},
	})
	r := newTestResolver(srv)
	ctx := t.Context()

	txt, err := r.LookupTXT(ctx, "Example.ORG")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"v=spf1 -all", "other"}, txt)

	// A record of several strings reads as one, as in net.Resolver.
	txt, err = r.LookupTXT(ctx, "long.example.org")
	require.NoError(t, err)
	require.Equal(t, []string{strings.Repeat("a", 300)}, txt)

	mx, err := r.LookupMX(ctx, "example.org")
	require.NoError(t, err)
	require.Equal(t, []*net.MX{{Host: "mx1.example.org.", Pref: 10}, {Host: "mx2.example.org.", Pref: 20}}, mx)

	ips, err := r.LookupIP(ctx, "ip", "mx1.example.org")
	require.NoError(t, err)
	var got []string
	for _, ip := range ips {
		got = append(got, ip.String())
	}
	require.ElementsMatch(t, []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}, got)

	ips, err = r.LookupIP(ctx, "ip6", "mx1.example.org")
	require.NoError(t, err)
	require.Len(t, ips, 1)

	ips, err = r.LookupIP(ctx, "ip", "192.0.2.9")
	require.NoError(t, err)
	require.Equal(t, "192.0.2.9", ips[0].String())

	names, err := r.LookupAddr(ctx, "192.0.2.1")
	require.NoError(t, err)
	require.Equal(t, []string{"mx1.example.org."}, names)

	// The SPF library's shape of the same lookup.
	addrs, err := r.LookupIPAddr(ctx, "mx1.example.org")
	require.NoError(t, err)
	require.Len(t, addrs, 3)
}

func requireDNSError(t *testing.T, err error, notFound, temporary bool) {
	t.Helper()
	var de *net.DNSError
	require.True(t, errors.As(err, &de), "want *net.DNSError, got %T %v", err, err)
	require.Equal(t, notFound, de.IsNotFound, "IsNotFound of %v", err)
	require.Equal(t, temporary, de.Temporary(), "Temporary of %v", err)
}

func TestResolverErrors(t *testing.T) {
	t.Parallel()
	srv := startDNS(t, testZone{
		A:        map[string][]string{"host.example.org": {"192.0.2.1"}},
		ServFail: map[string]bool{"broken.example.org": true},
		Drop:     map[string]bool{"slow.example.org": true},
	})
	r := NewDNSResolver(ResolverConfig{Server: srv.Addr, Timeout: 100 * time.Millisecond, Attempts: 2, CacheSize: -1})
	ctx := t.Context()

	_, err := r.LookupTXT(ctx, "nowhere.example.org")
	requireDNSError(t, err, true, false) // NXDOMAIN

	_, err = r.LookupTXT(ctx, "host.example.org")
	requireDNSError(t, err, true, false) // NODATA

	_, err = r.LookupTXT(ctx, "broken.example.org")
	requireDNSError(t, err, false, true)

	start := time.Now()
	_, err = r.LookupTXT(ctx, "slow.example.org")
	requireDNSError(t, err, false, true)
	var de *net.DNSError
	require.ErrorAs(t, err, &de)
	require.True(t, de.IsTimeout)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Equal(t, 2, srv.count("TXT", "slow.example.org"), "a timed-out query is sent again")

	// A temporary failure of one family is not taken for a missing host.
	_, err = r.LookupIP(ctx, "ip", "broken.example.org")
	requireDNSError(t, err, false, true)

	// A cancelled context ends a lookup at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = r.LookupTXT(cctx, "host.example.org")
	requireDNSError(t, err, false, true)

	_, err = r.LookupIP(ctx, "tcp", "host.example.org")
	require.Error(t, err)
}

func TestResolverTCPFallback(t *testing.T) {
	t.Parallel()
	// Ten 255-octet strings do not fit a 1232-octet UDP answer.
	big := strings.Repeat("0123456789", 255)
	srv := startDNS(t, testZone{TXT: map[string][]string{"big.example.org": {big}}})
	r := newTestResolver(srv)

	txt, err := r.LookupTXT(t.Context(), "big.example.org")
	require.NoError(t, err)
	require.Equal(t, []string{big}, txt)
	require.Equal(t, int64(1), srv.udp.Load())
	require.Equal(t, int64(1), srv.tcp.Load(), "the truncated answer is asked again over TCP")
}

func TestResolverCache(t *testing.T) {
	t.Parallel()
	srv := startDNS(t, testZone{TXT: map[string][]string{"example.org": {"hello"}}})
	r := NewDNSResolver(ResolverConfig{Server: srv.Addr, CacheSize: 2})
	ctx := t.Context()

	for range 3 {
		txt, err := r.LookupTXT(ctx, "example.org")
		require.NoError(t, err)
		require.Equal(t, []string{"hello"}, txt)
		_, err = r.LookupTXT(ctx, "missing.example.org")
		requireDNSError(t, err, true, false)
	}
	require.Equal(t, 1, srv.count("TXT", "example.org"))
	require.Equal(t, 1, srv.count("TXT", "missing.example.org"), "negative answers are cached too")

	// Full: a third name evicts one of the others, the cache stays small.
	_, err := r.LookupTXT(ctx, "third.example.org")
	requireDNSError(t, err, true, false)
	require.LessOrEqual(t, len(r.cache.entries), 2)
}

func TestNewResolverSystem(t *testing.T) {
	t.Parallel()
	require.Same(t, net.DefaultResolver, NewResolver(ResolverConfig{}))
	_, ok := NewResolver(ResolverConfig{Server: "127.0.0.1:53"}).(*DNSResolver)
	require.True(t, ok)
}
