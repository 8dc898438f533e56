// Command startup measures how fast `tidings serve` gets ready and how much
// memory it holds when idle.
//
// It builds ./cmd/tidings (or takes -bin), then starts it -n times on fresh
// data directories and -existing times on a data directory that a previous
// run already initialised. For each start it measures the time from exec to
// the first 200 answer of GET /healthz (polled every millisecond), waits
// -settle, reads VmRSS and VmHWM from /proc/<pid>/status, stops the server
// with SIGTERM (timing the drain) and prints the median, minimum and maximum.
//
//	go run ./bench/startup            # or bench/startup/run.sh
//	go run ./bench/startup -n 9 -database-url postgres://…
//
// With -database-url every start uses that PostgreSQL database (it is not
// emptied between runs, so only the first is a fresh start there).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		n        = flag.Int("n", 5, "starts on fresh data dirs")
		existing = flag.Int("existing", 1, "starts on an already initialised data dir")
		settle   = flag.Duration("settle", 2*time.Second, "idle time after ready before reading RSS")
		bin      = flag.String("bin", "", "tidings binary to measure (default: build ./cmd/tidings)")
		dbURL    = flag.String("database-url", "", "PostgreSQL URL (default SQLite in the data dir)")
	)
	flag.Parse()
	if err := run(*n, *existing, *settle, *bin, *dbURL); err != nil {
		fmt.Fprintln(os.Stderr, "startup:", err)
		os.Exit(1)
	}
}

type sample struct {
	ready, stop time.Duration
	rssKB       int64 // VmRSS after settling
	hwmKB       int64 // VmHWM: the peak, start-up included
}

func run(n, existing int, settle time.Duration, bin, dbURL string) error {
	work, err := os.MkdirTemp("", "tidings-bench-startup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if bin == "" {
		bin = filepath.Join(work, "tidings")
		t0 := time.Now()
		build := exec.Command("go", "build", "-o", bin, "./cmd/tidings")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build ./cmd/tidings: %w", err)
		}
		fmt.Printf("built %s in %s\n", bin, time.Since(t0).Round(time.Millisecond))
	}
	if fi, err := os.Stat(bin); err == nil {
		fmt.Printf("binary: %.1f MiB; %s/%s, %d CPUs; storage: %s\n",
			float64(fi.Size())/(1<<20), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), storage(dbURL))
	}

	var fresh, again []sample
	var firstDir string
	for i := 0; i < n; i++ {
		dir := filepath.Join(work, fmt.Sprintf("fresh-%d", i))
		if firstDir == "" {
			firstDir = dir
		}
		s, err := once(bin, dir, dbURL, settle)
		if err != nil {
			return fmt.Errorf("fresh start %d: %w", i+1, err)
		}
		fmt.Printf("fresh    %d: ready %7.1f ms  idle RSS %6.1f MiB  peak %6.1f MiB  SIGTERM→exit %6.1f ms\n",
			i+1, ms(s.ready), mib(s.rssKB), mib(s.hwmKB), ms(s.stop))
		fresh = append(fresh, s)
	}
	for i := 0; i < existing && firstDir != ""; i++ {
		s, err := once(bin, firstDir, dbURL, settle)
		if err != nil {
			return fmt.Errorf("start on an existing data dir: %w", err)
		}
		fmt.Printf("existing %d: ready %7.1f ms  idle RSS %6.1f MiB  peak %6.1f MiB  SIGTERM→exit %6.1f ms\n",
			i+1, ms(s.ready), mib(s.rssKB), mib(s.hwmKB), ms(s.stop))
		again = append(again, s)
	}

	fmt.Println()
	fmt.Printf("%-34s %10s %10s %10s\n", "", "median", "min", "max")
	summary := func(label string, ss []sample) {
		if len(ss) == 0 {
			return
		}
		row := func(what string, f func(sample) float64, unit string) {
			v := make([]float64, len(ss))
			for i, s := range ss {
				v[i] = f(s)
			}
			sort.Float64s(v)
			fmt.Printf("%-34s %10s %10s %10s\n", fmt.Sprintf("%s %s (n=%d)", label, what, len(ss)),
				fmt.Sprintf("%.1f %s", median(v), unit), fmt.Sprintf("%.1f %s", v[0], unit), fmt.Sprintf("%.1f %s", v[len(v)-1], unit))
		}
		row("ready", func(s sample) float64 { return ms(s.ready) }, "ms")
		row("idle RSS", func(s sample) float64 { return mib(s.rssKB) }, "MiB")
		row("peak RSS", func(s sample) float64 { return mib(s.hwmKB) }, "MiB")
		row("SIGTERM→exit", func(s sample) float64 { return ms(s.stop) }, "ms")
	}
	summary("fresh", fresh)
	summary("existing", again)
	return nil
}

// once starts tidings on dir, waits for /healthz, settles, samples memory
// and stops it.
func once(bin, dir, dbURL string, settle time.Duration) (sample, error) {
	var s sample
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, err
	}
	addr, err := freeAddr()
	if err != nil {
		return s, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"TIDINGS_DATA_DIR="+dir,
		"TIDINGS_HTTP_ADDR="+addr,
		"TIDINGS_DATABASE_URL="+dbURL,
		"TIDINGS_ROOT_ACCESS_KEY_ID=AKIABENCHSTARTUP0001",
		"TIDINGS_ROOT_SECRET_ACCESS_KEY=bench-startup-secret-0123456789",
		"TIDINGS_LOG_LEVEL=warn",
	)
	logf, err := os.Create(filepath.Join(dir, "..", filepath.Base(dir)+".log"))
	if err != nil {
		return s, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	done := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return s, err
	}
	go func() { done <- cmd.Wait() }()
	kill := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

	hc := &http.Client{Timeout: time.Second}
	deadline := start.Add(60 * time.Second)
	for {
		resp, err := hc.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.ready = time.Since(start)
				break
			}
		}
		select {
		case err := <-done:
			return s, fmt.Errorf("tidings exited before ready (%v); log in %s", err, logf.Name())
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			kill()
			return s, errors.New("not ready after 60s; log in " + logf.Name())
		}
	}

	time.Sleep(settle)
	s.rssKB, s.hwmKB, err = memory(cmd.Process.Pid)
	if err != nil {
		kill()
		return s, err
	}
	t0 := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		s.stop = time.Since(t0)
		if err != nil {
			return s, fmt.Errorf("exit after SIGTERM: %v; log in %s", err, logf.Name())
		}
	case <-time.After(30 * time.Second):
		kill()
		return s, errors.New("no exit within 30s of SIGTERM")
	}
	return s, nil
}

// memory reads VmRSS and VmHWM (kB) of pid.
func memory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, sc.Err()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func median(sorted []float64) float64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(kb int64) float64       { return float64(kb) / 1024 }

func storage(dbURL string) string {
	if dbURL == "" {
		return "SQLite"
	}
	return "PostgreSQL"
}
