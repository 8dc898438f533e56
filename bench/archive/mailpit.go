package main

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/tidings/tidings/bench/internal/benchkit"
)

// benchMailpit runs Mailpit on free ports with its database in work (no
// message limit, no update check), sends it the same corpus with the same
// clients, waits until its message count has them all, and runs the same
// queries through GET /api/v1/search.
func benchMailpit(o options, work string, corpus Corpus, queries []query) (ingest, *latencies, int64, error) {
	smtpPort, err := benchkit.FreePort()
	if err != nil {
		return ingest{}, nil, 0, err
	}
	httpPort, err := benchkit.FreePort()
	if err != nil {
		return ingest{}, nil, 0, err
	}
	dbPath := filepath.Join(work, "mailpit.db")
	smtpAddr := "127.0.0.1:" + strconv.Itoa(smtpPort)
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	cmd := exec.Command(o.mailpitBin, "--smtp", smtpAddr, "--listen", "127.0.0.1:"+strconv.Itoa(httpPort),
		"--database", dbPath, "--max", "0", "--disable-version-check", "--quiet")
	logf, err := os.Create(filepath.Join(work, "mailpit.log"))
	if err != nil {
		return ingest{}, nil, 0, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return ingest{}, nil, 0, err
	}
	stopped := false
	stop := func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			stopped = true
		}
	}
	defer stop()
	if err := benchkit.WaitHTTP(base+"/readyz", 30*time.Second); err != nil {
		return ingest{}, nil, 0, err
	}
	if err := benchkit.WaitSMTP(smtpAddr, 30*time.Second); err != nil {
		return ingest{}, nil, 0, err
	}

	fmt.Printf("mailpit: sending over SMTP to %s\n", smtpAddr)
	start := time.Now()
	bytes, accepted, err := send(smtpAddr, corpus, o.n, o.clients)
	if err != nil {
		return ingest{}, nil, 0, err
	}
	count := func() (int, error) {
		var out struct {
			Total int `json:"total"`
		}
		err := getJSON(base+"/api/v1/messages?limit=1", &out)
		return out.Total, err
	}
	if err := waitFor("mailpit", o.n, start, o.timeout, count); err != nil {
		return ingest{}, nil, 0, err
	}
	res := ingest{n: o.n, bytes: bytes, accepted: accepted, ready: time.Since(start)}
	res.print("mailpit smtp")

	search := func(q string) (int, error) {
		var out struct {
			Messages []struct {
				ID string `json:"ID"`
			} `json:"messages"`
		}
		if err := getJSON(base+"/api/v1/search?limit=50&query="+url.QueryEscape(q), &out); err != nil {
			return 0, err
		}
		return len(out.Messages), nil
	}
	lat, err := runQueries("mailpit", queries, search)
	if err != nil {
		return ingest{}, nil, 0, err
	}
	stop()
	size := fileSize(dbPath) + fileSize(dbPath+"-wal")
	fmt.Printf("mailpit        database %.1f MB = %.0f B/msg (raw mail included, compressed)\n", float64(size)/1e6, float64(size)/float64(o.n))
	return res, lat, size, nil
}
