// Command send measures the SES v2 SendEmail path of Tidings: c concurrent
// clients (the AWS SDK for Go) send n messages from a verified domain with
// DKIM signing on; Tidings relays them (TIDINGS_SMARTHOST) to Postfix's
// smtp-sink, or with -sink go to a counting SMTP sink in this process. It
// prints sends per second accepted (every MessageId comes after an fsync
// and a committed job) and delivered end to end (until the sink has every
// message), Tidings' CPU time per message, and beside them how many
// RSA-2048 signatures the machine's cores can make in a second with
// nothing else to do: every message is signed once, so that is the bound
// of the delivered rate.
//
//	go run ./bench/send -n 5000 -c 50
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/emersion/go-smtp"

	"github.com/tidings/tidings/bench/internal/benchkit"
)

func main() {
	var (
		n       = flag.Int("n", 5000, "messages to send")
		c       = flag.Int("c", 50, "concurrent clients")
		bin     = flag.String("bin", "", "tidings binary (default: build ./cmd/tidings)")
		dbURL   = flag.String("database-url", "", "postgres://… to measure on PostgreSQL (default SQLite)")
		timeout = flag.Duration("timeout", 5*time.Minute, "give up waiting for the sink after this")
		sinkArg = flag.String("sink", "postfix", "postfix (smtp-sink) or go (a sink in this process)")
	)
	flag.Parse()
	if err := run(*n, *c, *bin, *dbURL, *sinkArg, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
}

// counter is the downstream SMTP server the messages are relayed to.
type counter interface {
	Addr() string
	Count() int64
	Close()
}

func run(n, c int, bin, dbURL, sinkArg string, timeout time.Duration) error {
	work, err := os.MkdirTemp("", "tidings-bench-send-")
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
	var sink counter
	switch sinkArg {
	case "postfix":
		sink, err = benchkit.StartSMTPSink()
	case "go":
		sink, err = startSink()
	default:
		err = fmt.Errorf("-sink %q: want postfix or go", sinkArg)
	}
	if err != nil {
		return err
	}
	defer sink.Close()
	sigs, err := rsaCeiling(time.Second)
	if err != nil {
		return err
	}
	dnsAddr, stopDNS, err := benchkit.StartDNSStub()
	if err != nil {
		return err
	}
	defer stopDNS()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	const key, secret = "AKIABENCHSEND0000001", "bench-send-secret-0123456789"
	dataDir := filepath.Join(work, "data")
	env := append(os.Environ(), "TIDINGS_DATA_DIR="+dataDir, "TIDINGS_HTTP_ADDR="+httpAddr,
		"TIDINGS_ROOT_ACCESS_KEY_ID="+key, "TIDINGS_ROOT_SECRET_ACCESS_KEY="+secret,
		"TIDINGS_DATABASE_URL="+dbURL, "TIDINGS_DNS="+dnsAddr, "TIDINGS_SMARTHOST="+sink.Addr(),
		"TIDINGS_HOSTNAME=bench.tidings.test", "TIDINGS_LOG_LEVEL=warn")
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	logf, err := os.Create(filepath.Join(work, "tidings.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	}()
	if err := benchkit.WaitHTTP("http://"+httpAddr+"/healthz", 30*time.Second); err != nil {
		return err
	}

	ctx := context.Background()
	client := sesv2.New(sesv2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + httpAddr),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
		}),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c * 2}},
	})
	const domain = "bench.example"
	if _, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(domain)}); err != nil {
		return fmt.Errorf("CreateEmailIdentity: %w", err)
	}
	verify := exec.Command(bin, "identities", "verify", domain)
	verify.Env = env
	if out, err := verify.CombinedOutput(); err != nil {
		return fmt.Errorf("tidings identities verify: %v: %s", err, out)
	}
	fmt.Printf("send benchmark: %d SendEmail calls from %d clients, DKIM-signed (RSA-2048), relayed to %s on %s (%s)\n",
		n, c, map[string]string{"postfix": "Postfix's smtp-sink", "go": "a Go sink"}[sinkArg], sink.Addr(),
		map[bool]string{true: "PostgreSQL", false: "SQLite"}[dbURL != ""])
	cpu0, err := benchkit.ProcessCPU(cmd.Process.Pid)
	if err != nil {
		return err
	}

	var next, failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				_, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
					FromEmailAddress: aws.String("app@" + domain),
					Destination:      &types.Destination{ToAddresses: []string{"user" + strconv.FormatInt(i, 10) + "@dest.example"}},
					Content: &types.EmailContent{Simple: &types.Message{
						Subject: &types.Content{Data: aws.String("Your code")},
						Body:    &types.Body{Text: &types.Content{Data: aws.String("Your one-time password is 123456.")}},
					}},
					EmailTags: []types.MessageTag{{Name: aws.String("ses:feedback-id-a"), Value: aws.String("bench")}},
				})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	ok := int64(n) - failed.Load()
	deadline := time.Now().Add(timeout)
	for sink.Count() < ok && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e2e := time.Since(start)
	cpu1, err := benchkit.ProcessCPU(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("accepted  %7.0f sends/s (%d in %.2fs, %d failed)\n", float64(ok)/accepted.Seconds(), ok, accepted.Seconds(), failed.Load())
	fmt.Printf("delivered %7.0f sends/s (%d of %d at the sink in %.2fs)\n", float64(sink.Count())/e2e.Seconds(), sink.Count(), ok, e2e.Seconds())
	if ok > 0 {
		fmt.Printf("tidings CPU %.2f ms a message (user+system, %d cores)\n", float64(cpu1-cpu0)/float64(time.Millisecond)/float64(ok), runtime.NumCPU())
	}
	fmt.Printf("bound: %.0f RSA-2048 signatures/s on %d cores with nothing else running (crypto/rsa)\n", sigs, runtime.NumCPU())
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Printf("first error: %v\n", err)
	}
	return nil
}

// rsaCeiling signs on every core for d and returns signatures a second.
func rsaCeiling(d time.Duration) (float64, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return 0, err
	}
	digest := sha256.Sum256([]byte("bench"))
	var count atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err == nil {
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(count.Load()) / d.Seconds(), nil
}

type sink struct {
	addr  string
	srv   *smtp.Server
	count atomic.Int64
}

func startSink() (*sink, error) {
	s := &sink{}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.bench"
	s.srv.MaxRecipients = 1000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) Addr() string                                { return s.addr }
func (s *sink) Count() int64                                { return s.count.Load() }
func (s *sink) Close()                                      { s.srv.Close() }
func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s *sink
}

func (*session) Mail(string, *smtp.MailOptions) error { return nil }
func (*session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (ss *session) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	ss.s.count.Add(1)
	return nil
}
func (*session) Reset()        {}
func (*session) Logout() error { return nil }
