// Command archive measures the Tidings archive: ingest through the real
// SMTP path (and, with -direct, straight into the archive service), index
// size, and search latency over rotating terms and filters — and, with
// -mailpit, Mailpit ingesting and searching the same corpus in the same
// run, with the ratios.
//
// Tidings: an OPEN ingress point whose traffic policy allows all and whose
// rule set archives every message; -c SMTP clients send the corpus
// (corpus.go: fixed seed, 2–200 KB, threads, attachments, HTML, five
// languages); ingest counts until the archive has indexed every message
// (tidings_archive_messages_total on /metrics: a message is counted once
// its row and index entries are committed, so it is searchable), and a
// sample of messages is then looked up by a word only each one has.
// Searches go to the native search GET /v1/archives/{id}/messages?q=
// (SigV4, service ses); Mailpit's to GET /api/v1/search?query=.
//
//	go run ./bench/archive                        # 20,000 messages, Tidings only
//	bench/archive/run.sh -n 100000                # with Mailpit (installed by run.sh)
//	bench/archive/run.sh -n 1000000 -c 16 -direct -timeout 12h # the full size
//	go run ./bench/archive -n 2000 -preload 98000  # searches over 100,000 messages, 2,000 of them by SMTP
//
// Disk: the corpus averages about 27 KB a message; a run keeps Tidings'
// blobs (~15 KB/msg) and database (~5 KB/msg), twice with -direct, and
// Mailpit's database (~23 KB/msg): about 45 GB free for 1,000,000
// messages (use -work on a large disk), 5 GB for 100,000. The time: at the
// rates measured here (see the closing note of issue 4), 100,000 messages
// take about half an hour, 1,000,000 several hours.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidings/tidings/bench/internal/benchkit"
)

func main() {
	var o options
	flag.IntVar(&o.n, "n", 20000, "messages in the corpus")
	flag.IntVar(&o.clients, "c", 8, "concurrent SMTP clients (and direct writers)")
	flag.Uint64Var(&o.seed, "seed", 1, "corpus seed")
	flag.IntVar(&o.queries, "q", 200, "search queries per system")
	flag.BoolVar(&o.direct, "direct", false, "also fill a second archive in-process, without SMTP")
	flag.IntVar(&o.preload, "preload", 0, "store this many more messages directly into the archive before the SMTP run, so that searches run over preload+n messages (Tidings alone)")
	flag.BoolVar(&o.mailpit, "mailpit", false, "run Mailpit side by side")
	flag.StringVar(&o.mailpitBin, "mailpit-bin", "mailpit", "the mailpit binary")
	flag.StringVar(&o.bin, "bin", "", "tidings binary (default: build ./cmd/tidings)")
	flag.StringVar(&o.work, "work", "", "an empty work directory, kept (default: a temporary one, removed)")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Hour, "give up waiting for ingest after this")
	dump := flag.Int("dump", -1, "write message i of the corpus to stdout and exit")
	var so searchOptions
	flag.StringVar(&so.dir, "search", "", "only search, shape by shape, the archive of this data directory (a kept -work's data) or of -database; see searchonly.go")
	flag.StringVar(&so.database, "database", "", "with -search: a PostgreSQL URL to search instead of the data directory's SQLite")
	flag.StringVar(&so.archiveID, "archive", "", "with -search: the archive (default: the largest)")
	flag.IntVar(&so.reps, "reps", 30, "with -search: queries per shape")
	flag.StringVar(&so.results, "results", "", "with -search: write what each query found (IDs and scores) to this file, to compare two builds")
	flag.IntVar(&so.fill, "fill", 0, "with -search: first store this many corpus messages into the archive (-archive, default a-bench), e.g. to fill -database")
	flag.StringVar(&so.shapes, "shapes", "", "with -search: only these shapes (comma-separated names)")
	flag.IntVar(&so.mix, "mix", 0, "with -search: instead of shapes, this many queries of a full run's mix, in two passes (cold, warm)")
	flag.Func("query", "with -search: time this query (-reps times); repeatable", func(q string) error {
		so.queries = append(so.queries, q)
		return nil
	})
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of this process (the in-process fill and searches) to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "archive:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if so.dir != "" || so.database != "" {
		so.seed = o.seed
		if err := runSearchOnly(so); err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, "archive:", err)
			os.Exit(1)
		}
		return
	}
	if *dump >= 0 {
		os.Stdout.Write(Corpus{Seed: o.seed}.Message(*dump).Raw)
		return
	}
	if err := run(o); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(1)
	}
}

type options struct {
	n, clients, queries int
	preload             int
	seed                uint64
	direct, mailpit     bool
	mailpitBin, bin     string
	work                string
	timeout             time.Duration
}

type ingest struct {
	n        int
	bytes    int64
	accepted time.Duration // until the last SMTP 250
	ready    time.Duration // until every message is searchable
}

func (r ingest) rate() float64 { return float64(r.n) / r.ready.Seconds() }
func (r ingest) mbps() float64 { return float64(r.bytes) / 1e6 / r.ready.Seconds() }

func (r ingest) print(name string) {
	fmt.Printf("%-14s ingest %7.0f msgs/s %6.1f MB/s  (%d msgs, %.1f MB; last 250 at %.1fs, all searchable at %.1fs)\n",
		name, r.rate(), r.mbps(), r.n, float64(r.bytes)/1e6, r.accepted.Seconds(), r.ready.Seconds())
}

func run(o options) error {
	work := o.work
	if work == "" {
		dir, err := os.MkdirTemp("", "tidings-bench-archive-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	} else if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	if o.mailpit && o.preload > 0 {
		return fmt.Errorf("-preload measures Tidings alone: Mailpit would search a smaller corpus")
	}
	if o.mailpit {
		if _, err := lookPath(o.mailpitBin); err != nil {
			return fmt.Errorf("mailpit not found (bench/archive/run.sh installs it): %w", err)
		}
	}
	bin, err := benchkit.Build(o.bin, work)
	if err != nil {
		return err
	}
	corpus := Corpus{Seed: o.seed}
	fmt.Printf("archive benchmark: %d messages (seed %d), %d SMTP clients, %d queries\n", o.n, o.seed, o.clients, o.queries)
	queries := makeQueries(corpus, o.n, o.queries, time.Now().UTC())

	tr, tlat, tsize, err := benchTidings(o, bin, work, corpus, queries)
	if err != nil {
		return err
	}
	if !o.mailpit {
		return nil
	}
	mr, mlat, msize, err := benchMailpit(o, work, corpus, queries)
	if err != nil {
		return fmt.Errorf("mailpit: %w", err)
	}
	fmt.Println()
	fmt.Println("side by side (same corpus, same clients, same queries):")
	tr.print("tidings")
	mr.print("mailpit")
	tlat.print("tidings")
	mlat.print("mailpit")
	fmt.Printf("%-14s database %.1f MB (%.0f B/msg)   mailpit database %.1f MB (%.0f B/msg)\n", "size", float64(tsize)/1e6,
		float64(tsize)/float64(o.n), float64(msize)/1e6, float64(msize)/float64(o.n))
	fmt.Printf("ratios: ingest tidings/mailpit %.2fx;  latency mailpit/tidings p50 %.2fx, p99 %.2fx\n",
		tr.rate()/mr.rate(), mlat.p(50).Seconds()/tlat.p(50).Seconds(), mlat.p(99).Seconds()/tlat.p(99).Seconds())
	return nil
}

func lookPath(p string) (string, error) {
	if strings.Contains(p, "/") {
		_, err := os.Stat(p)
		return p, err
	}
	return execLookPath(p)
}

// parallel runs do(i) for i in 0..n-1 on workers goroutines, each with
// the do its newWorker gives (and its done called at the end), and
// returns the first error (that worker stops at it).
func parallel(n, workers int, newWorker func() (do func(i int) error, done func())) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do, done := newWorker()
			defer done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("message %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// send sends messages 0..n-1 of the corpus to addr over clients
// concurrent SMTP sessions and returns the bytes sent and the time taken.
func send(addr string, corpus Corpus, n, clients int) (int64, time.Duration, error) {
	var bytes atomic.Int64
	start := time.Now()
	err := parallel(n, clients, func() (func(int) error, func()) {
		var c *smtp.Client
		do := func(i int) error {
			m := corpus.Message(i)
			var err error
			for attempt := 0; attempt < 3; attempt++ {
				if c == nil {
					if c, err = smtp.Dial(addr); err != nil {
						c = nil
						continue
					}
					if err = c.Hello("client.bench.example"); err != nil {
						c.Close()
						c = nil
						continue
					}
				}
				if err = deliver(c, m); err == nil {
					bytes.Add(int64(len(m.Raw)))
					return nil
				}
				c.Close()
				c = nil
			}
			return err
		}
		return do, func() {
			if c != nil {
				c.Quit()
			}
		}
	})
	return bytes.Load(), time.Since(start), err
}

func deliver(c *smtp.Client, m Message) error {
	if err := c.Mail(m.From); err != nil {
		return err
	}
	for _, r := range m.To {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(m.Raw); err != nil {
		return err
	}
	return w.Close()
}

// waitFor polls count until it reaches n (or the timeout) and prints
// progress every 10 s.
func waitFor(name string, n int, start time.Time, timeout time.Duration, count func() (int, error)) error {
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for {
		got, err := count()
		if err != nil {
			return err
		}
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d messages after %s", name, got, n, timeout)
		}
		if time.Since(last) > 10*time.Second {
			fmt.Printf("  %s: %d of %d at %.0fs\n", name, got, n, time.Since(start).Seconds())
			last = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// query is one search, in the syntax both systems take.
type query struct{ kind, q string }

// queryWord is a word of the corpus to search for: of a random
// language, longer than three letters (any in Japanese).
func queryWord(r *rand.Rand) string {
	l := langs[r.IntN(len(langs))]
	for {
		w := strings.ToLower(l.words[r.IntN(len(l.words))])
		if len([]rune(w)) > 3 || l.code == "ja" {
			return w
		}
	}
}

// makeQueries rotates over words (one and two, in every language),
// from:, subject:, has:attachment, date ranges and a word only one
// message has.
func makeQueries(c Corpus, n, count int, now time.Time) []query {
	r := rand.New(rand.NewPCG(c.Seed, 0xbeef))
	word := func() string { return queryWord(r) }
	today := now.Format("2006-01-02")
	tomorrow := now.AddDate(0, 0, 1).Format("2006-01-02")
	var qs []query
	for k := 0; len(qs) < count; k++ {
		switch k % 8 {
		case 0:
			qs = append(qs, query{"word", word()})
		case 1:
			qs = append(qs, query{"two words", word() + " " + word()})
		case 2:
			qs = append(qs, query{"from:", "from:" + localPart(personOf(r.IntN(people)).addr)})
		case 3:
			qs = append(qs, query{"subject:", "subject:" + word()})
		case 4:
			qs = append(qs, query{"has:attachment", "has:attachment " + word()})
		case 5:
			qs = append(qs, query{"date range", "after:" + today + " before:" + tomorrow + " " + word()})
		case 6:
			qs = append(qs, query{"unique word", Token(r.IntN(n))})
		case 7:
			qs = append(qs, query{"from: + word", "from:" + localPart(personOf(r.IntN(people)).addr) + " " + word()})
		}
	}
	return qs
}

// latencies are the times of the queries, by kind.
type latencies struct {
	all    []time.Duration
	byKind map[string][]time.Duration
	hits   int
	slow   []timed // the slowest queries, slowest first
}

// timed is a query and how long it took.
type timed struct {
	q string
	d time.Duration
}

// slowest is how many of the slowest queries a report names.
const slowest = 5

func (l *latencies) add(kind, q string, d time.Duration, hits int) {
	if l.byKind == nil {
		l.byKind = map[string][]time.Duration{}
	}
	l.slow = append(l.slow, timed{q, d})
	slices.SortFunc(l.slow, func(a, b timed) int { return int(b.d - a.d) })
	l.slow = l.slow[:min(len(l.slow), slowest)]
	l.all = append(l.all, d)
	l.byKind[kind] = append(l.byKind[kind], d)
	l.hits += hits
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

func (l *latencies) p(p float64) time.Duration { return pct(l.all, p) }

// runQueries times each query of qs with search, over two passes: the
// first finds caches cold (the database's pages read from the files,
// which an ingest of many large messages pushes out of the page cache),
// the second, timed again, warm. It prints both, by kind, and returns the
// second.
func runQueries(name string, qs []query, search func(q string) (int, error)) (*latencies, error) {
	var lat *latencies
	for _, label := range []string{"first pass (cold)", "second pass (warm)"} {
		lat = &latencies{}
		for _, q := range qs {
			start := time.Now()
			n, err := search(q.q)
			if err != nil {
				return nil, err
			}
			lat.add(q.kind, q.q, time.Since(start), n)
		}
		fmt.Printf("%s search, %s:\n", name, label)
		lat.print(name)
		lat.printKinds()
	}
	return lat, nil
}

func (l *latencies) print(name string) {
	fmt.Printf("%-14s search p50 %7.1f ms  p99 %7.1f ms  over %d queries (%d hits on first pages)\n",
		name, ms(l.p(50)), ms(l.p(99)), len(l.all), l.hits)
}

func (l *latencies) printKinds() {
	kinds := make([]string, 0, len(l.byKind))
	for k := range l.byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Printf("    %-16s p50 %7.1f ms  p99 %7.1f ms\n", k, ms(pct(l.byKind[k], 50)), ms(pct(l.byKind[k], 99)))
	}
	fmt.Printf("    slowest:")
	for _, s := range l.slow {
		fmt.Printf("  %.1f ms %q", ms(s.d), s.q)
	}
	fmt.Println()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// getJSON GETs u and decodes a JSON answer into out.
func getJSON(u string, out any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(data)))
	}
	return json.Unmarshal(data, out)
}

func localPart(addr string) string { l, _, _ := strings.Cut(addr, "@"); return l }
