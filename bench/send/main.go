// Command send measures the SES v2 SendEmail path of Tidings: c concurrent
// clients (the AWS SDK for Go) send n messages from a verified domain with
// DKIM signing on; Tidings relays them to a counting SMTP sink in this
// process (TIDINGS_SMARTHOST). It prints sends per second accepted (every
// MessageId comes after an fsync and a committed job) and delivered end to
// end (until the sink has every message).
//
//	go run ./bench/send -n 5000 -c 50
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	)
	flag.Parse()
	if err := run(*n, *c, *bin, *dbURL, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
}

func run(n, c int, bin, dbURL string, timeout time.Duration) error {
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
	sink, err := startSink()
	if err != nil {
		return err
	}
	defer sink.srv.Close()
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
		"TIDINGS_DATABASE_URL="+dbURL, "TIDINGS_DNS="+dnsAddr, "TIDINGS_SMARTHOST="+sink.addr,
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
	fmt.Printf("send benchmark: %d SendEmail calls from %d clients, DKIM-signed (RSA-2048), relayed to a sink on %s (%s)\n",
		n, c, sink.addr, map[bool]string{true: "PostgreSQL", false: "SQLite"}[dbURL != ""])

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
	for sink.count.Load() < ok && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e2e := time.Since(start)
	fmt.Printf("accepted  %7.0f sends/s (%d in %.2fs, %d failed)\n", float64(ok)/accepted.Seconds(), ok, accepted.Seconds(), failed.Load())
	fmt.Printf("delivered %7.0f sends/s (%d of %d at the sink in %.2fs)\n", float64(sink.count.Load())/e2e.Seconds(), sink.count.Load(), ok, e2e.Seconds())
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Printf("first error: %v\n", err)
	}
	return nil
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
