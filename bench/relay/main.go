// Command relay measures Tidings as an SMTP relay against Postfix, side by
// side in the same run, with the same client, message size, sessions and
// downstream sink.
//
// Traffic: Postfix's smtp-source (-s sessions, -m messages, -l bytes each)
// → the relay under test → a counting SMTP sink in this process. For
// Tidings the relay is an ingress point whose traffic policy allows all and
// whose rule set relays to the sink (and, with -archive, archives first);
// every "250" it gives comes after an fsync and a committed job. For
// Postfix it is a smtpd on a spare port relaying to the same sink, set up
// with the recipe of ../shared/docs/TESTING.md (smtpd_forbid_bare_newline=yes).
//
// It prints, for each, messages per second accepted (smtp-source's run
// time) and end to end (until the sink has every message), and the ratios.
// Needs root (it reconfigures and starts Postfix) and the Debian packages
// postfix (smtp-source) — run.sh installs them.
//
//	go run ./bench/relay -m 5000 -s 20 -l 4096
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"

	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tidings/tidings/bench/internal/benchkit"
	"github.com/tidings/tidings/internal/client"
)

func main() {
	var (
		msgs     = flag.Int("m", 5000, "messages per run")
		sessions = flag.Int("s", 20, "parallel SMTP sessions of smtp-source")
		size     = flag.Int("l", 4096, "message size in bytes")
		bin      = flag.String("bin", "", "tidings binary (default: build ./cmd/tidings)")
		archive  = flag.Bool("archive", false, "Tidings rule archives before relaying")
		skipPF   = flag.Bool("no-postfix", false, "measure Tidings only")
		timeout  = flag.Duration("timeout", 5*time.Minute, "give up waiting for the sink after this")
	)
	flag.Parse()
	if err := run(*msgs, *sessions, *size, *bin, *archive, *skipPF, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

type result struct {
	name     string
	accepted time.Duration // smtp-source's run
	e2e      time.Duration // until the sink has them all, or the timeout
	n        int           // messages sent
	// delivered is how many reached the sink within the timeout.
	delivered int
}

func (r result) rate(d time.Duration) float64 { return float64(r.n) / d.Seconds() }

func (r result) e2eRate() float64 { return float64(r.delivered) / r.e2e.Seconds() }

func run(msgs, sessions, size int, bin string, archive, skipPF bool, timeout time.Duration) error {
	source, err := exec.LookPath("smtp-source")
	if err != nil {
		return fmt.Errorf("smtp-source not found (apt-get install postfix): %w", err)
	}
	work, err := os.MkdirTemp("", "tidings-bench-relay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		bin = filepath.Join(work, "tidings")
		build := exec.Command("go", "build", "-o", bin, "./cmd/tidings")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building tidings: %w", err)
		}
	}
	sink, err := newSink()
	if err != nil {
		return err
	}
	defer sink.Close()
	fmt.Printf("relay benchmark: %d messages of %d bytes over %d sessions; sink on %s\n", msgs, size, sessions, sink.Addr())

	// SPF, DKIM and DMARC look-ups go to a stub that answers at once (no
	// record), as a local resolver would: this machine has no network, and
	// the system resolver would time out on every message.
	dnsAddr, stopDNS, err := benchkit.StartDNSStub()
	if err != nil {
		return err
	}
	defer stopDNS()
	td, err := startTidings(bin, work, sink.Addr(), dnsAddr, archive)
	if err != nil {
		return err
	}
	tr, err := measure("tidings", source, td.smtpAddr, sink, msgs, sessions, size, timeout)
	td.stop()
	if err != nil {
		return err
	}
	report(tr)
	if skipPF {
		return nil
	}
	pfAddr, stopPF, err := startPostfix(sink.Addr())
	if err != nil {
		return fmt.Errorf("postfix: %w", err)
	}
	pr, err := measure("postfix", source, pfAddr, sink, msgs, sessions, size, timeout)
	stopPF()
	if err != nil {
		return err
	}
	report(pr)
	fmt.Printf("ratio tidings/postfix: accepted %.2fx, end to end %.2fx\n",
		tr.rate(tr.accepted)/pr.rate(pr.accepted), tr.e2eRate()/pr.e2eRate())
	return nil
}

func report(r result) {
	fmt.Printf("%-8s accepted %7.0f msgs/s (%.2fs)   end to end %7.0f msgs/s (%d of %d in %.2fs)\n",
		r.name, r.rate(r.accepted), r.accepted.Seconds(), r.e2eRate(), r.delivered, r.n, r.e2e.Seconds())
}

func measure(name, source, addr string, sink *sink, msgs, sessions, size int, timeout time.Duration) (result, error) {
	sink.Reset()
	start := time.Now()
	cmd := exec.Command(source, "-s", strconv.Itoa(sessions), "-m", strconv.Itoa(msgs), "-l", strconv.Itoa(size),
		"-f", "sender@bench.example", "-t", "rcpt@corp.example", addr)
	out, err := cmd.CombinedOutput()
	accepted := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("%s: smtp-source: %v: %s", name, err, out)
	}
	deadline := time.Now().Add(timeout)
	for sink.Count() < int64(msgs) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// On timeout the end-to-end rate is what reached the sink in the time
	// allowed, and the report says so.
	return result{name: name, accepted: accepted, e2e: time.Since(start), n: msgs, delivered: int(sink.Count())}, nil
}

type tidings struct {
	smtpAddr string
	stop     func()
}

func startTidings(bin, work, sinkAddr, dnsAddr string, archive bool) (*tidings, error) {
	httpPort, err := benchkit.FreePort()
	if err != nil {
		return nil, err
	}
	smtpPort, err := benchkit.FreePort()
	if err != nil {
		return nil, err
	}
	const key, secret = "AKIABENCHRELAY000001", "bench-relay-secret-0123456789"
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"TIDINGS_DATA_DIR="+filepath.Join(work, "data"),
		"TIDINGS_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(httpPort),
		"TIDINGS_ROOT_ACCESS_KEY_ID="+key, "TIDINGS_ROOT_SECRET_ACCESS_KEY="+secret,
		"TIDINGS_DNS="+dnsAddr,
		"TIDINGS_LOG_LEVEL=warn")
	logf, err := os.Create(filepath.Join(work, "tidings.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	}
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	if err := benchkit.WaitHTTP(base+"/healthz", 30*time.Second); err != nil {
		stop()
		return nil, err
	}
	c := &client.Client{Endpoint: base, Region: "us-east-1", AccessKeyID: key, Secret: secret}
	mm := func(op string, in map[string]any) (map[string]any, error) {
		var out map[string]any
		err := c.JSON(context.Background(), "MailManagerSvc", "ses", op, in, &out)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		return out, nil
	}
	host, port, _ := net.SplitHostPort(sinkAddr)
	p, _ := strconv.Atoi(port)
	setup := func() error {
		tp, err := mm("CreateTrafficPolicy", map[string]any{"TrafficPolicyName": "bench-allow", "DefaultAction": "ALLOW", "PolicyStatements": []any{}})
		if err != nil {
			return err
		}
		rl, err := mm("CreateRelay", map[string]any{"RelayName": "bench-sink", "ServerName": host, "ServerPort": p,
			"Authentication": map[string]any{"NoAuthentication": map[string]any{}}})
		if err != nil {
			return err
		}
		actions := []any{}
		if archive {
			if _, err := mm("CreateArchive", map[string]any{"ArchiveName": "bench-archive"}); err != nil {
				return err
			}
			actions = append(actions, map[string]any{"Archive": map[string]any{"TargetArchive": "bench-archive"}})
		}
		actions = append(actions, map[string]any{"Relay": map[string]any{"Relay": rl["RelayId"], "MailFrom": "PRESERVE"}})
		rs, err := mm("CreateRuleSet", map[string]any{"RuleSetName": "bench-relay", "Rules": []any{map[string]any{"Name": "relay-all", "Actions": actions}}})
		if err != nil {
			return err
		}
		_, err = mm("CreateIngressPoint", map[string]any{"IngressPointName": "bench-mx", "Type": "OPEN",
			"RuleSetId": rs["RuleSetId"], "TrafficPolicyId": tp["TrafficPolicyId"],
			"Tags": []any{map[string]any{"Key": "tidings:port", "Value": strconv.Itoa(smtpPort)}}})
		return err
	}
	if err := setup(); err != nil {
		stop()
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(smtpPort)
	if err := benchkit.WaitSMTP(addr, 30*time.Second); err != nil {
		stop()
		return nil, fmt.Errorf("the ingress point never listened: %w (log: %s)", err, filepath.Join(work, "tidings.log"))
	}
	return &tidings{smtpAddr: addr, stop: stop}, nil
}

// startPostfix configures the local Postfix as a relay to the sink on a
// spare port, as TESTING.md describes, and starts it.
func startPostfix(sinkAddr string) (string, func(), error) {
	port, err := benchkit.FreePort()
	if err != nil {
		return "", nil, err
	}
	if _, err := os.Stat("/etc/postfix/main.cf"); errors.Is(err, os.ErrNotExist) {
		if err := exec.Command("cp", "/usr/share/postfix/main.cf.dist", "/etc/postfix/main.cf").Run(); err != nil {
			return "", nil, err
		}
	}
	host, sport, _ := net.SplitHostPort(sinkAddr)
	steps := [][]string{
		{"postfix", "stop"},
		// main.cf.dist leaves these empty; Debian's package uses these.
		{"postconf", "-e", "setgid_group = postdrop", "mail_owner = postfix", "inet_interfaces = loopback-only", "mydestination =", "relayhost = [" + host + "]:" + sport,
			"mynetworks = 127.0.0.0/8", "smtpd_relay_restrictions = permit_mynetworks, reject",
			"default_process_limit = 200", "default_destination_concurrency_limit = 50",
			"smtp_destination_concurrency_limit = 50", "compatibility_level = 3.6", "smtpd_forbid_bare_newline = yes",
			// main.cf.dist leaves the paths empty too, and then every postfix
			// command exits 1 with its reason only in syslog ("bad string
			// length 0 < 1: sendmail_path"); Debian's values.
			"sendmail_path = /usr/sbin/sendmail", "newaliases_path = /usr/bin/newaliases", "mailq_path = /usr/bin/mailq",
			"html_directory = no", "readme_directory = no", "manpage_directory = /usr/share/man",
			"sample_directory = /usr/share/doc/postfix/examples",
			// Log to a file: there is no syslog daemon on these machines.
			"maillog_file = /var/log/postfix-bench.log"},
		{"postconf", "-M", fmt.Sprintf("%d/inet=%d inet n - y - - smtpd", port, port)},
		{"newaliases"},
		{"postfix", "start"},
	}
	for i, s := range steps {
		out, err := exec.Command(s[0], s[1:]...).CombinedOutput()
		if err != nil && i > 0 {
			// "postfix start" fails when it is already running; then a
			// reload picks up the new configuration.
			if s[1] == "start" && exec.Command("postfix", "reload").Run() == nil {
				continue
			}
			return "", nil, fmt.Errorf("%s: %v: %s (see /var/log/postfix-bench.log)", strings.Join(s, " "), err, out)
		}
	}
	stop := func() {
		_ = exec.Command("postfix", "stop").Run()
		_ = exec.Command("postconf", "-MX", fmt.Sprintf("%d/inet", port)).Run()
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := benchkit.WaitSMTP(addr, 30*time.Second); err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

// sink is a minimal SMTP server that counts the messages it accepts: one
// per recipient-bearing transaction ended by "." (it speaks just enough
// ESMTP for Postfix and Tidings: EHLO, PIPELINING, MAIL, RCPT, DATA, RSET,
// QUIT).
type sink struct {
	ln    net.Listener
	count atomic.Int64
	wg    sync.WaitGroup
}

func newSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s, nil
}

func (s *sink) Addr() string { return s.ln.Addr().String() }
func (s *sink) Count() int64 { return s.count.Load() }
func (s *sink) Reset()       { s.count.Store(0) }
func (s *sink) Close()       { s.ln.Close(); s.wg.Wait() }

func (s *sink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	reply := func(line string) { w.WriteString(line + "\r\n") }
	reply("220 sink ESMTP")
	w.Flush()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			reply("250-sink")
			reply("250-PIPELINING")
			reply("250-8BITMIME")
			reply("250 SIZE 104857600")
		case strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "MAIL"), strings.HasPrefix(cmd, "RCPT"),
			strings.HasPrefix(cmd, "RSET"), strings.HasPrefix(cmd, "NOOP"):
			reply("250 ok")
		case cmd == "DATA":
			reply("354 go ahead")
			w.Flush()
			for {
				l, err := r.ReadSlice('\n')
				if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
					return
				}
				if string(l) == ".\r\n" {
					break
				}
			}
			s.count.Add(1)
			reply("250 ok queued")
		case cmd == "QUIT":
			reply("221 bye")
			w.Flush()
			return
		default:
			reply("502 unrecognised")
		}
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return
			}
		}
	}
}
