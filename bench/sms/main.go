// Command sms measures End User Messaging SMS sends: SendTextMessage calls
// accepted per second (each answered only after its message and job are
// committed), and messages per second end to end, until every message has
// its final receipt from the simulator (the destination is the US success
// simulator number). No carrier peer runs here, so there is no ratio.
//
//	go run ./bench/sms -n 5000 -c 32 [-db postgres://…]
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
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
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tidings/tidings/internal/client"
)

const key, secret = "AKIABENCHSMS00000001", "bench-sms-secret-0123456789"

func main() {
	var (
		n       = flag.Int("n", 5000, "messages")
		conc    = flag.Int("c", 32, "concurrent API clients")
		bin     = flag.String("bin", "", "tidings binary (default: build ./cmd/tidings)")
		db      = flag.String("db", "", "database URL (default: SQLite in a temporary data dir)")
		timeout = flag.Duration("timeout", 5*time.Minute, "give up waiting for receipts after this")
	)
	flag.Parse()
	if err := run(*n, *conc, *bin, *db, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "sms:", err)
		os.Exit(1)
	}
}

func run(n, conc int, bin, db string, timeout time.Duration) error {
	work, err := os.MkdirTemp("", "tidings-bench-sms-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		bin = filepath.Join(work, "tidings")
		build := exec.Command("go", "build", "-o", bin, "./cmd/tidings")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "TIDINGS_DATA_DIR="+filepath.Join(work, "data"), "TIDINGS_HTTP_ADDR="+addr,
		"TIDINGS_ROOT_ACCESS_KEY_ID="+key, "TIDINGS_ROOT_SECRET_ACCESS_KEY="+secret, "TIDINGS_LOG_LEVEL=warn",
		"TIDINGS_DATABASE_URL="+db)
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
	}()
	base := "http://" + addr
	if err := waitHTTP(base+"/healthz", 30*time.Second); err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	c := &client.Client{Endpoint: base, Region: "us-east-1", AccessKeyID: key, Secret: secret, HTTP: hc}
	ctx := context.Background()
	call := func(op string, in map[string]any) (map[string]any, error) {
		var out map[string]any
		err := c.JSON(ctx, "PinpointSMSVoiceV2", "sms-voice", op, in, &out)
		return out, err
	}
	num, err := call("RequestPhoneNumber", map[string]any{"IsoCountryCode": "US", "MessageType": "TRANSACTIONAL",
		"NumberCapabilities": []string{"SMS"}, "NumberType": "SIMULATOR"})
	if err != nil {
		return err
	}

	ids := make([]string, n)
	var next atomic.Int64
	var (
		failed   atomic.Int64
		firstErr atomic.Value
	)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				out, err := call("SendTextMessage", map[string]any{"DestinationPhoneNumber": "+14254147755",
					"OriginationIdentity": num["PhoneNumberId"], "MessageBody": "Your code is " + strconv.Itoa(100000+i)})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ids[i], _ = out["MessageId"].(string)
			}
		}()
	}
	wg.Wait()
	accepted := time.Since(start)
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d sends failed, the first with %v", f, firstErr.Load())
	}

	// End to end: every message has its final receipt.
	deadline := time.Now().Add(timeout)
	next.Store(0)
	var final atomic.Int64
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				for time.Now().Before(deadline) {
					ok, err := isFinal(hc, base, ids[i])
					if err == nil && ok {
						final.Add(1)
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	e2e := time.Since(start)
	fmt.Printf("database: %s  messages: %d  clients: %d\n", dbName(db), n, conc)
	fmt.Printf("accepted:   %8.0f SendTextMessage/s (%s)\n", float64(n)/accepted.Seconds(), accepted.Round(time.Millisecond))
	fmt.Printf("end to end: %8.0f messages/s with a final receipt (%d of %d, %s)\n", float64(final.Load())/e2e.Seconds(), final.Load(), n, e2e.Round(time.Millisecond))
	return nil
}

func dbName(db string) string {
	if db == "" {
		return "sqlite"
	}
	return "postgres"
}

func isFinal(hc *http.Client, base, id string) (bool, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/sms/messages/"+id, nil)
	sum := sha256.Sum256(nil)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "sms-voice", "us-east-1", time.Now())
	if err != nil {
		return false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var v struct {
		Final bool `json:"final"`
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("%s: %s", resp.Status, buf.String())
	}
	err = json.Unmarshal(buf.Bytes(), &v)
	return v.Final, err
}

func waitHTTP(url string, d time.Duration) error {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy after %s", url, d)
}
