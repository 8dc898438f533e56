// Package benchkit holds what the benchmarks under bench/ share: building
// and starting a real tidings binary on free ports, a DNS stub, and waits
// for HTTP and SMTP listeners.
package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/tidings/tidings/internal/client"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Build builds ./cmd/tidings into dir and returns the binary's path (bin
// as it is when not empty).
func Build(bin, dir string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	bin = filepath.Join(dir, "tidings")
	build := exec.Command("go", "build", "-o", bin, "./cmd/tidings")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building tidings: %w", err)
	}
	return bin, nil
}

// StartDNSStub answers every DNS question with NXDOMAIN at once, as a local
// resolver would for names without records (SPF, DKIM, DMARC look-ups):
// this machine has no network, and the system resolver would time out.
// Like any real negative answer (RFC 2308 3) it carries the zone's SOA,
// whose minimum TTL tells resolvers how long to cache it.
func StartDNSStub() (string, func(), error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
			Ns: "a.root-servers.net.", Mbox: "nstld.verisign-grs.com.", Serial: 1, Refresh: 1800, Retry: 900, Expire: 604800, Minttl: 300}}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	return pc.LocalAddr().String(), func() { _ = srv.Shutdown() }, nil
}

// Tidings is a running tidings serve.
type Tidings struct {
	Base    string // http://127.0.0.1:port
	DataDir string
	Log     string // its log file
	Client  *client.Client
	cmd     *exec.Cmd
	logf    *os.File
}

// Root credentials of the benchmark servers.
const (
	AccessKeyID = "AKIABENCHTIDINGS0001"
	Secret      = "bench-tidings-secret-0123456789"
)

// StartTidings runs bin serve on dataDir with a free HTTP port, the root
// key pair above, dnsAddr as resolver and the extra environment env, and
// waits until /healthz answers.
func StartTidings(bin, dataDir, dnsAddr string, env ...string) (*Tidings, error) {
	httpPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"TIDINGS_DATA_DIR="+dataDir,
		"TIDINGS_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(httpPort),
		"TIDINGS_ROOT_ACCESS_KEY_ID="+AccessKeyID, "TIDINGS_ROOT_SECRET_ACCESS_KEY="+Secret,
		"TIDINGS_DNS="+dnsAddr,
		// No SMTP submission listeners: a server already on this host
		// holds their default ports, and no bench submits by SMTP.
		"TIDINGS_SUBMISSION_ADDR=off", "TIDINGS_SUBMISSIONS_ADDR=off",
		"TIDINGS_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	logPath := dataDir + ".log"
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	t := &Tidings{Base: base, DataDir: dataDir, Log: logPath, cmd: cmd, logf: logf,
		Client: &client.Client{Endpoint: base, Region: "us-east-1", AccessKeyID: AccessKeyID, Secret: Secret}}
	if err := WaitHTTP(base+"/healthz", 30*time.Second); err != nil {
		t.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, logPath)
	}
	return t, nil
}

// Stop ends the server (SIGTERM: it drains) and waits for it.
func (t *Tidings) Stop() {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	_ = t.cmd.Wait()
	t.logf.Close()
}

// MailManager calls a Mail Manager operation.
func (t *Tidings) MailManager(op string, in map[string]any) (map[string]any, error) {
	var out map[string]any
	if err := t.Client.JSON(context.Background(), "MailManagerSvc", "ses", op, in, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// WaitHTTP waits until url answers 200.
func WaitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", url, d)
}

// WaitSMTP waits until addr greets with 220.
func WaitSMTP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "220") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no 220 greeting on %s after %s", addr, d)
}
