// Command sms-smpp measures the SMPP client's throughput: submit_sm per
// second over one bind to the test SMSC of tests/smsc (the npm smpp
// package), for several window sizes, so the gain of keeping requests in
// flight shows. The SMSC answers each submit_sm after -latency, as a
// carrier link would; -latency 0 gives the ceiling of the client and the
// node SMSC on loopback.
//
//	bench/sms-smpp/run.sh -n 5000 -windows 1,10,50 -senders 50 -latency 20ms
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/bench/internal/benchkit"
	"github.com/tidings/tidings/internal/smpp"
)

func main() {
	var (
		n       = flag.Int("n", 5000, "messages per window size")
		windows = flag.String("windows", "1,10,50", "window sizes to measure, comma-separated")
		senders = flag.Int("senders", 50, "goroutines calling Submit")
		long    = flag.Bool("long", false, "send 3-part concatenated messages instead of single ones")
		latency = flag.Duration("latency", 20*time.Millisecond, "delay before the SMSC answers each submit_sm, as a carrier link has")
		dir     = flag.String("smsc", "tests/smsc", "directory of smsc.mjs")
	)
	flag.Parse()
	for _, w := range strings.Split(*windows, ",") {
		win, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || win <= 0 {
			fail(fmt.Errorf("bad window %q", w))
		}
		rate, parts, err := run(*dir, *n, win, *senders, *long, *latency)
		if err != nil {
			fail(err)
		}
		fmt.Printf("window %3d: %6d messages (%d PDUs) in %s: %7.0f submit_sm/s\n", win, *n, parts, time.Duration(float64(parts)/rate*float64(time.Second)).Round(time.Millisecond), rate)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "sms-smpp:", err)
	os.Exit(1)
}

// run starts a fresh SMSC, binds once and submits n messages.
func run(dir string, n, window, senders int, long bool, latency time.Duration) (rate float64, pdus int, err error) {
	sc, err := benchkit.StartSMSC(dir, "bench", "bench")
	if err != nil {
		return 0, 0, err
	}
	defer sc.Stop()
	if err := sc.Configure(benchkit.SMSCConfig{ResponseDelay: latency}); err != nil {
		return 0, 0, err
	}

	ctx := context.Background()
	c, err := smpp.Dial(ctx, smpp.Config{
		Addr: sc.Addr, SystemID: sc.SystemID, Password: sc.Password, Window: window,
	})
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	text := "Your verification code is 123456. It expires in 10 minutes."
	if long {
		text = strings.Repeat(text+" ", 6) // 3 parts
	}
	_, parts := smpp.Segments(text)
	jobs := make(chan int)
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if _, err := c.Submit(ctx, smpp.Message{Source: "Bench", Dest: fmt.Sprint(447700000000 + i), Text: text}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return 0, 0, err
	default:
	}
	pdus = n * len(parts)
	return float64(pdus) / elapsed.Seconds(), pdus, nil
}
