// Command sms measures End User Messaging SMS sends: c concurrent clients
// call SendTextMessage n times, and each call is answered only after its
// message and send job are committed (the accepted rate).
//
// By default the messages go to real (non-simulator) numbers from a
// LONG_CODE number of the account, so Tidings carries them over SMPP: the
// bench starts the test SMSC of tests/smsc (node, the npm smpp package),
// points tidings serve at it (TIDINGS_SMPP_ADDR, one transceiver bind with
// Tidings' window), and measures submit_sm per second received by the
// SMSC end to end (from the first call until the SMSC has all n), and the
// delivery receipts it sends back, answered by Tidings. The SMSC answers
// each submit_sm after -latency, as a carrier link does. At the end every
// message is checked to be DELIVERED (not timed).
//
// With -simulator the messages go to the US success simulator number from
// a SIMULATOR number, and the end-to-end figure is messages per second
// with their final receipt from the built-in simulator.
//
//	bench/sms/run.sh -n 5000 -c 32 [-window 10] [-latency 20ms] [-db postgres://…]
//	go run ./bench/sms -simulator -n 5000 -c 32
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/bench/internal/benchkit"
)

type options struct {
	n, conc      int
	bin, db      string
	timeout      time.Duration
	simulator    bool
	smscDir      string
	latency      time.Duration
	receiptDelay time.Duration
	rate         string
	window       string
	debugAddr    string
	verify       bool
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 5000, "messages")
	flag.IntVar(&o.conc, "c", 32, "concurrent API clients")
	flag.StringVar(&o.bin, "bin", "", "tidings binary (default: build ./cmd/tidings)")
	flag.StringVar(&o.db, "db", "", "database URL (default: SQLite in a temporary data dir)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up waiting for submits and receipts after this")
	flag.BoolVar(&o.simulator, "simulator", false, "send through the built-in simulator instead of the test SMSC")
	flag.StringVar(&o.smscDir, "smsc", "tests/smsc", "directory of the test SMSC (smsc.mjs)")
	flag.DurationVar(&o.latency, "latency", 20*time.Millisecond, "delay before the SMSC answers each submit_sm, as a carrier link has")
	flag.DurationVar(&o.receiptDelay, "receipt-delay", 20*time.Millisecond, "delay after a submit_sm_resp before the SMSC sends its delivery receipt")
	flag.StringVar(&o.rate, "rate", "", "TIDINGS_SMPP_RATE of the server (empty: its default, no limit)")
	flag.StringVar(&o.window, "window", "", "TIDINGS_SMPP_WINDOW of the server (empty: its default, 10)")
	flag.StringVar(&o.debugAddr, "debug-addr", "", "TIDINGS_DEBUG_ADDR of the server, for pprof while the bench runs")
	flag.BoolVar(&o.verify, "verify", true, "check at the end that every message is DELIVERED (SMSC mode)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "sms:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	work, err := os.MkdirTemp("", "tidings-bench-sms-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := benchkit.Build(o.bin, work)
	if err != nil {
		return err
	}
	dnsAddr, stopDNS, err := benchkit.StartDNSStub()
	if err != nil {
		return err
	}
	defer stopDNS()
	env := []string{"TIDINGS_DATABASE_URL=" + o.db}
	if o.debugAddr != "" {
		env = append(env, "TIDINGS_DEBUG_ADDR="+o.debugAddr)
	}
	var sc *benchkit.SMSC
	if !o.simulator {
		if sc, err = benchkit.StartSMSC(o.smscDir, "bench", "bench"); err != nil {
			return err
		}
		defer sc.Stop()
		if err := sc.Configure(benchkit.SMSCConfig{ResponseDelay: o.latency, ReceiptDelay: o.receiptDelay}); err != nil {
			return err
		}
		env = append(env, "TIDINGS_SMPP_ADDR="+sc.Addr, "TIDINGS_SMPP_SYSTEM_ID="+sc.SystemID, "TIDINGS_SMPP_PASSWORD="+sc.Password)
		if o.rate != "" {
			env = append(env, "TIDINGS_SMPP_RATE="+o.rate)
		}
		if o.window != "" {
			env = append(env, "TIDINGS_SMPP_WINDOW="+o.window)
		}
	}
	t, err := benchkit.StartTidings(bin, filepath.Join(work, "data"), dnsAddr, env...)
	if err != nil {
		return err
	}
	defer t.Stop()
	t.Client.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conc}}
	b := &bench{options: o, t: t, sc: sc}
	if o.simulator {
		return b.simulator()
	}
	return b.smsc()
}

type bench struct {
	options
	t  *benchkit.Tidings
	sc *benchkit.SMSC
}

func (b *bench) call(op string, in map[string]any) (map[string]any, error) {
	var out map[string]any
	if err := b.t.Client.JSON(context.Background(), "PinpointSMSVoiceV2", "sms-voice", op, in, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

func (b *bench) dbName() string {
	if b.db == "" {
		return "sqlite"
	}
	return "postgres"
}

// send calls SendTextMessage n times from conc clients, the i-th to
// dest(i), and returns the MessageIds and how long it took.
func (b *bench) send(origination string, dest func(i int) string) ([]string, time.Duration, error) {
	ids := make([]string, b.n)
	var (
		next     atomic.Int64
		failed   atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range b.conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.n {
					return
				}
				out, err := b.call("SendTextMessage", map[string]any{"DestinationPhoneNumber": dest(i),
					"OriginationIdentity": origination, "MessageBody": "Your code is " + strconv.Itoa(100000+i)})
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ids[i], _ = out["MessageId"].(string)
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return nil, 0, fmt.Errorf("%d sends failed, the first with %v", f, firstErr.Load())
	}
	return ids, time.Since(start), nil
}

// smsc measures sends carried over SMPP to the test SMSC.
func (b *bench) smsc() error {
	num, err := b.call("RequestPhoneNumber", map[string]any{"IsoCountryCode": "US", "MessageType": "TRANSACTIONAL",
		"NumberCapabilities": []string{"SMS"}, "NumberType": "LONG_CODE"})
	if err != nil {
		return err
	}
	// Tidings binds in the background once started.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := b.sc.Counts()
		if err != nil {
			return err
		}
		if c.Bound > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tidings did not bind to the SMSC (log: %s)", b.t.Log)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The SMSC's figures are polled while the sends go on: when it had
	// all n submit_sm, and all n receipts answered.
	var (
		mu                   sync.Mutex
		last                 benchkit.SMSCCounts
		submitted, receipted time.Time
		pollErr              error
	)
	cpu0 := b.cpu()
	load0 := loadavg()
	start := time.Now()
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			c, err := b.sc.Counts()
			now := time.Now()
			mu.Lock()
			if err != nil {
				pollErr = err
			} else {
				last = c
				if submitted.IsZero() && c.Submits >= b.n {
					submitted = now
				}
				if receipted.IsZero() && c.ReceiptsSent >= b.n {
					receipted = now
				}
			}
			done := !receipted.IsZero() || pollErr != nil
			mu.Unlock()
			if done {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	ids, accepted, err := b.send(num["PhoneNumberId"].(string), func(i int) string { return fmt.Sprintf("+1206555%04d", 100+i%100) })
	if err != nil {
		close(stop)
		return err
	}
	atAccepted, _ := b.sc.Counts()
	select {
	case <-polled:
	case <-time.After(b.timeout):
		close(stop)
		<-polled
	}
	cpu := b.cpu().sub(cpu0)
	mu.Lock()
	defer mu.Unlock()
	if pollErr != nil {
		return pollErr
	}
	window, rate := cmp.Or(b.window, "10"), cmp.Or(b.rate, "none")
	fmt.Printf("database: %s  messages: %d  clients: %d  window: %s  rate limit: %s  SMSC latency: %s  receipt delay: %s\n",
		b.dbName(), b.n, b.conc, window, rate, b.latency, b.receiptDelay)
	fmt.Printf("accepted:   %8.0f SendTextMessage/s (%s)\n", float64(b.n)/accepted.Seconds(), accepted.Round(time.Millisecond))
	if submitted.IsZero() {
		return fmt.Errorf("the SMSC had %d of %d submit_sm after %s (log: %s)", last.Submits, b.n, b.timeout, b.t.Log)
	}
	e2e := submitted.Sub(start)
	fmt.Printf("submitted:  %8.0f submit_sm/s end to end (%d at the SMSC, %s; at most %d in flight)\n",
		float64(last.Submits)/e2e.Seconds(), last.Submits, e2e.Round(time.Millisecond), last.MaxInFlight)
	if span := time.Duration(last.LastSubmitAt-last.FirstSubmitAt) * time.Millisecond; span > 0 {
		fmt.Printf("            %8.0f submit_sm/s from the SMSC's first to its last (%s)\n", float64(last.Submits-1)/span.Seconds(), span.Round(time.Millisecond))
	}
	if backlog := b.n - atAccepted.Submits; backlog > b.n/20 {
		// What was left once every call was answered: the pipeline
		// without the API's share of the machine.
		d := submitted.Sub(start) - accepted
		fmt.Printf("            %8.0f submit_sm/s after the last call was answered (%d left, %s)\n", float64(backlog)/d.Seconds(), backlog, d.Round(time.Millisecond))
	}
	if receipted.IsZero() {
		return fmt.Errorf("tidings answered %d of %d receipts after %s (log: %s)", last.ReceiptsSent, b.n, b.timeout, b.t.Log)
	}
	r := receipted.Sub(start)
	fmt.Printf("receipts:   %8.0f deliver_sm/s answered end to end (%d, %d refused, %s)\n",
		float64(last.ReceiptsSent)/r.Seconds(), last.ReceiptsSent, last.ReceiptsRefused, r.Round(time.Millisecond))
	fmt.Printf("CPU:        %.2f ms per message in tidings, %.2f in the SMSC, %.2f in the clients; load average %s -> %s (%d CPUs)\n",
		cpu.ms(cpu.tidings, b.n), cpu.ms(cpu.smsc, b.n), cpu.ms(cpu.self, b.n), load0, loadavg(), runtime.NumCPU())
	if !b.verify {
		return nil
	}
	statuses, err := b.finals(ids, time.Now().Add(b.timeout))
	if err != nil {
		return err
	}
	fmt.Printf("final:      %v\n", statuses)
	if statuses["DELIVERED"] != b.n {
		return errors.New("not every message was DELIVERED")
	}
	return nil
}

// simulator measures sends to the US success simulator number, until
// every message has its final receipt.
func (b *bench) simulator() error {
	num, err := b.call("RequestPhoneNumber", map[string]any{"IsoCountryCode": "US", "MessageType": "TRANSACTIONAL",
		"NumberCapabilities": []string{"SMS"}, "NumberType": "SIMULATOR"})
	if err != nil {
		return err
	}
	start := time.Now()
	ids, accepted, err := b.send(num["PhoneNumberId"].(string), func(int) string { return "+14254147755" })
	if err != nil {
		return err
	}
	statuses, err := b.finals(ids, time.Now().Add(b.timeout))
	if err != nil {
		return err
	}
	e2e := time.Since(start)
	final := 0
	for _, c := range statuses {
		final += c
	}
	fmt.Printf("database: %s  messages: %d  clients: %d  (simulator)\n", b.dbName(), b.n, b.conc)
	fmt.Printf("accepted:   %8.0f SendTextMessage/s (%s)\n", float64(b.n)/accepted.Seconds(), accepted.Round(time.Millisecond))
	fmt.Printf("end to end: %8.0f messages/s with a final receipt (%d of %d, %s)\n", float64(final)/e2e.Seconds(), final, b.n, e2e.Round(time.Millisecond))
	return nil
}

// cpuTimes are the CPU times used by the server, the SMSC and this
// process (the API clients and the polling).
type cpuTimes struct{ tidings, smsc, self time.Duration }

func (b *bench) cpu() cpuTimes {
	c := cpuTimes{self: benchkit.SelfCPU()}
	c.tidings, _ = benchkit.ProcessCPU(b.t.Pid())
	if b.sc != nil {
		c.smsc, _ = benchkit.ProcessCPU(b.sc.Pid())
	}
	return c
}

func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{c.tidings - o.tidings, c.smsc - o.smsc, c.self - o.self}
}

func (cpuTimes) ms(d time.Duration, n int) float64 {
	return float64(d) / float64(time.Millisecond) / float64(n)
}

// loadavg is the one-minute load average of the machine ("?" off Linux).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// finals waits, until deadline, for every message to have its final
// status, and counts the statuses; messages still not final are left out.
func (b *bench) finals(ids []string, deadline time.Time) (map[string]int, error) {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
		errs   = make(chan error, b.conc)
	)
	for range b.conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				for time.Now().Before(deadline) {
					var m struct {
						Status string `json:"status"`
						Final  bool   `json:"final"`
					}
					if err := b.t.Client.Native(context.Background(), "sms-voice", http.MethodGet, "/v1/sms/messages/"+ids[i], "", nil, &m); err != nil {
						errs <- err
						return
					}
					if m.Final {
						mu.Lock()
						counts[m.Status]++
						mu.Unlock()
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
	}
	return counts, nil
}
