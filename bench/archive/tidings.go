package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite"

	"github.com/tidings/tidings/bench/internal/benchkit"
	"github.com/tidings/tidings/internal/store"
)

func execLookPath(p string) (string, error) { return exec.LookPath(p) }

type tidingsSetup struct {
	smtpAddr  string
	archiveID string // the archive the ingress point fills
	directID  string // the archive -direct fills
	accountID string
}

// setupTidings creates what the benchmark needs through the signed API:
// an allow-all traffic policy, the archives, a rule set archiving every
// message and an OPEN ingress point on a free port.
func setupTidings(t *benchkit.Tidings, direct bool) (*tidingsSetup, error) {
	port, err := benchkit.FreePort()
	if err != nil {
		return nil, err
	}
	tp, err := t.MailManager("CreateTrafficPolicy", map[string]any{"TrafficPolicyName": "bench-allow", "DefaultAction": "ALLOW", "PolicyStatements": []any{}})
	if err != nil {
		return nil, err
	}
	ar, err := t.MailManager("CreateArchive", map[string]any{"ArchiveName": "bench-archive"})
	if err != nil {
		return nil, err
	}
	s := &tidingsSetup{archiveID: ar["ArchiveId"].(string), smtpAddr: "127.0.0.1:" + strconv.Itoa(port)}
	got, err := t.MailManager("GetArchive", map[string]any{"ArchiveId": s.archiveID})
	if err != nil {
		return nil, err
	}
	// arn:aws:ses:region:account:mailmanager-archive/id
	if parts := strings.Split(fmt.Sprint(got["ArchiveArn"]), ":"); len(parts) > 4 {
		s.accountID = parts[4]
	}
	if direct {
		d, err := t.MailManager("CreateArchive", map[string]any{"ArchiveName": "bench-direct"})
		if err != nil {
			return nil, err
		}
		s.directID = d["ArchiveId"].(string)
	}
	rs, err := t.MailManager("CreateRuleSet", map[string]any{"RuleSetName": "bench-archive", "Rules": []any{map[string]any{
		"Name": "archive-all", "Actions": []any{map[string]any{"Archive": map[string]any{"TargetArchive": "bench-archive"}}}}}})
	if err != nil {
		return nil, err
	}
	if _, err := t.MailManager("CreateIngressPoint", map[string]any{"IngressPointName": "bench-mx", "Type": "OPEN",
		"RuleSetId": rs["RuleSetId"], "TrafficPolicyId": tp["TrafficPolicyId"],
		"Tags": []any{map[string]any{"Key": "tidings:port", "Value": strconv.Itoa(port)}}}); err != nil {
		return nil, err
	}
	if err := benchkit.WaitSMTP(s.smtpAddr, 30*time.Second); err != nil {
		return nil, fmt.Errorf("the ingress point never listened: %w (log: %s)", err, t.Log)
	}
	return s, nil
}

// archivedCount reads tidings_archive_messages_total from /metrics.
func archivedCount(base string) (int, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "tidings_archive_messages_total") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			n += v
		}
	}
	return int(n), sc.Err()
}

type nativeResult struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

func nativeSearch(t *benchkit.Tidings, archiveID, q string, pageSize int) (int, error) {
	var out nativeResult
	path := "/v1/archives/" + archiveID + "/messages?q=" + url.QueryEscape(q) + "&page_size=" + strconv.Itoa(pageSize)
	if err := t.Client.Native(context.Background(), "ses", "GET", path, "", nil, &out); err != nil {
		return 0, fmt.Errorf("search %q: %w", q, err)
	}
	return len(out.Messages), nil
}

func benchTidings(o options, bin, work string, corpus Corpus, queries []query) (ingest, *latencies, int64, error) {
	dnsAddr, stopDNS, err := benchkit.StartDNSStub()
	if err != nil {
		return ingest{}, nil, 0, err
	}
	defer stopDNS()
	dataDir := filepath.Join(work, "data")
	t, err := benchkit.StartTidings(bin, dataDir, dnsAddr)
	if err != nil {
		return ingest{}, nil, 0, err
	}
	stopped := false
	defer func() {
		if !stopped {
			t.Stop()
		}
	}()
	s, err := setupTidings(t, o.direct)
	if err != nil {
		return ingest{}, nil, 0, err
	}

	if o.preload > 0 {
		// Fill the archive first, in-process, with the server stopped
		// (SQLite has one writer process), so that SMTP ingest and the
		// searches below run against an archive of preload+n messages.
		t.Stop()
		stopped = true
		fmt.Printf("tidings: preloading %d messages directly into the archive\n", o.preload)
		r, err := fillDirect(o.clients, "", dataDir, s.accountID, s.archiveID, corpus, o.n, o.preload)
		if err != nil {
			return ingest{}, nil, 0, fmt.Errorf("preload: %w", err)
		}
		fmt.Printf("%-14s ingest %7.0f msgs/s %6.1f MB/s  (%d msgs, %.1f MB in %.1fs, %d writers, no SMTP)\n",
			"tidings preload", r.rate(), r.mbps(), r.n, float64(r.bytes)/1e6, r.ready.Seconds(), o.clients)
		if t, err = benchkit.StartTidings(bin, dataDir, dnsAddr); err != nil {
			return ingest{}, nil, 0, err
		}
		stopped = false
		if err := benchkit.WaitSMTP(s.smtpAddr, 30*time.Second); err != nil {
			return ingest{}, nil, 0, fmt.Errorf("the ingress point never listened after the restart: %w (log: %s)", err, t.Log)
		}
	}
	fmt.Printf("tidings: sending over SMTP to %s\n", s.smtpAddr)
	start := time.Now()
	bytes, accepted, err := send(s.smtpAddr, corpus, o.n, o.clients)
	if err != nil {
		return ingest{}, nil, 0, fmt.Errorf("tidings SMTP: %w (log: %s)", err, t.Log)
	}
	if err := waitFor("tidings", o.n, start, o.timeout, func() (int, error) { return archivedCount(t.Base) }); err != nil {
		return ingest{}, nil, 0, err
	}
	res := ingest{n: o.n, bytes: bytes, accepted: accepted, ready: time.Since(start)}
	res.print("tidings smtp")

	// Every message counted is searchable; check a sample by the word
	// only it has.
	r := rand.New(rand.NewPCG(o.seed, 7))
	for range 20 {
		i := r.IntN(o.n)
		if n, err := nativeSearch(t, s.archiveID, Token(i), 5); err != nil {
			return ingest{}, nil, 0, err
		} else if n != 1 {
			return ingest{}, nil, 0, fmt.Errorf("tidings: %s (message %d) found %d times, want 1", Token(i), i, n)
		}
	}

	lat, err := runQueries("tidings", queries, func(q string) (int, error) { return nativeSearch(t, s.archiveID, q, 50) })
	if err != nil {
		return ingest{}, nil, 0, err
	}

	// Sizes once the server is stopped (its WAL checkpointed).
	t.Stop()
	stopped = true
	dbPath := filepath.Join(dataDir, store.FileName)
	total := o.n + o.preload // messages in the archive
	dbSize := fileSize(dbPath) + fileSize(dbPath+"-wal")
	// Raw mail, compressed: pack segments, and a blob each for the large.
	content := dirSize(filepath.Join(dataDir, "packs")) + dirSize(filepath.Join(dataDir, "blobs"))
	fmt.Printf("tidings index  database %.1f MB = %.0f B/msg; raw mail, compressed (packs and blobs) %.1f MB = %.0f B/msg\n",
		float64(dbSize)/1e6, float64(dbSize)/float64(total), float64(content)/1e6, float64(content)/float64(total))
	if tables, err := tableSizes(dbPath); err != nil {
		fmt.Printf("  (table sizes unavailable: %v)\n", err)
	} else {
		var fts, other int64
		for name, sz := range tables {
			if strings.Contains(name, "fts") {
				fts += sz
			} else if strings.Contains(name, "archive") {
				other += sz
			}
		}
		fmt.Printf("  full-text tables %.1f MB = %.0f B/msg; other archive tables and indexes %.1f MB = %.0f B/msg\n",
			float64(fts)/1e6, float64(fts)/float64(total), float64(other)/1e6, float64(other)/float64(total))
	}

	if o.direct {
		if err := benchDirect(o, dataDir, s, corpus); err != nil {
			return ingest{}, nil, 0, fmt.Errorf("direct: %w", err)
		}
	}
	return res, lat, dbSize, nil
}

// tableSizes gives the bytes of each table and index of the database
// (SQLite's dbstat), by name.
func tableSizes(path string) (map[string]int64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, SUM(pgsize) FROM dbstat GROUP BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, rows.Err()
}
