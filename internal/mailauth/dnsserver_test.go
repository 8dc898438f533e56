package mailauth

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// testZone is what a test DNS server answers. Names are written without the
// trailing dot. A name not mentioned anywhere is NXDOMAIN.
type testZone struct {
	TXT      map[string][]string // one string per record; split at 255 octets
	A        map[string][]string
	AAAA     map[string][]string
	MX       map[string][]*net.MX
	PTR      map[string][]string // keyed by the reverse name
	ServFail map[string]bool     // SERVFAIL for any type
	Drop     map[string]bool     // no answer at all: the client times out
}

// testDNS is a DNS server on loopback speaking UDP and TCP on one port, as a
// recursive server would: the resolver under test is pointed at it.
type testDNS struct {
	Addr    string
	zone    testZone
	udp     atomic.Int64
	tcp     atomic.Int64
	mu      sync.Mutex
	queries map[string]int // "TXT example.org" → count
}

func startDNS(t *testing.T, z testZone) *testDNS {
	t.Helper()
	s := &testDNS{zone: z, queries: map[string]int{}}
	var pc net.PacketConn
	var l net.Listener
	// The UDP port picked by the kernel may be taken for TCP: try again.
	for i := 0; ; i++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		require.Less(t, i, 20, "no port free for both UDP and TCP: %v", err)
	}
	s.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	tcp := &dns.Server{Listener: l, Handler: dns.HandlerFunc(s.serve)}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() {
		udp.Shutdown()
		tcp.Shutdown()
	})
	return s
}

func (s *testDNS) count(qtype, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[qtype+" "+name]
}

func (s *testDNS) known(name string) bool {
	z := &s.zone
	_, a := z.TXT[name]
	_, b := z.A[name]
	_, c := z.AAAA[name]
	_, d := z.MX[name]
	_, e := z.PTR[name]
	return a || b || c || d || e
}

func (s *testDNS) serve(w dns.ResponseWriter, req *dns.Msg) {
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		s.tcp.Add(1)
	} else {
		s.udp.Add(1)
	}
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	name := strings.TrimSuffix(strings.ToLower(q.Name), ".")
	s.mu.Lock()
	s.queries[dns.TypeToString[q.Qtype]+" "+name]++
	s.mu.Unlock()
	z := &s.zone
	if z.Drop[name] {
		return
	}
	if z.ServFail[name] {
		resp.Rcode = dns.RcodeServerFailure
		w.WriteMsg(resp)
		return
	}
	hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: 300}
	switch q.Qtype {
	case dns.TypeTXT:
		for _, txt := range z.TXT[name] {
			var parts []string
			for len(txt) > 255 {
				parts, txt = append(parts, txt[:255]), txt[255:]
			}
			resp.Answer = append(resp.Answer, &dns.TXT{Hdr: hdr, Txt: append(parts, txt)})
		}
	case dns.TypeA:
		for _, ip := range z.A[name] {
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: net.ParseIP(ip)})
		}
	case dns.TypeAAAA:
		for _, ip := range z.AAAA[name] {
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP(ip)})
		}
	case dns.TypeMX:
		for _, mx := range z.MX[name] {
			resp.Answer = append(resp.Answer, &dns.MX{Hdr: hdr, Mx: dns.Fqdn(mx.Host), Preference: mx.Pref})
		}
	case dns.TypePTR:
		for _, p := range z.PTR[name] {
			resp.Answer = append(resp.Answer, &dns.PTR{Hdr: hdr, Ptr: dns.Fqdn(p)})
		}
	}
	if len(resp.Answer) == 0 {
		if !s.known(name) {
			resp.Rcode = dns.RcodeNameError
		}
		// RFC 2308: the SOA tells how long the negative answer holds.
		resp.Ns = append(resp.Ns, &dns.SOA{
			Hdr: dns.RR_Header{Name: "test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns:  "ns.test.", Mbox: "hostmaster.test.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60,
		})
	}
	if _, ok := w.RemoteAddr().(*net.UDPAddr); ok {
		// A real server truncates what does not fit the client's
		// buffer and sets TC (RFC 6891 7).
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	}
	w.WriteMsg(resp)
}

// newTestResolver returns a resolver for s with short timeouts and no cache,
// so that every lookup reaches the server.
func newTestResolver(s *testDNS) *DNSResolver {
	return NewDNSResolver(ResolverConfig{Server: s.Addr, Timeout: 2 * time.Second, CacheSize: -1})
}
