package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/archive"
	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/blob/pack"
	"github.com/tidings/tidings/internal/store"
)

// The search phase alone (-search DIR): the archive of a data directory
// a run kept (-work DIR, then DIR/data), or of -database, searched
// in-process through the archive service (no HTTP), query shape by
// shape, so that a change to the search SQL can be measured against a
// baseline taken on the same data:
//
//	go run ./bench/archive -n 1000 -preload 99000 -work /tmp/a100k   # once
//	go run ./bench/archive -search /tmp/a100k/data -reps 40
//
// Shapes: a word only one message has; common words (every word of the
// corpus' vocabularies is in a large share of the messages of its
// language); two words; from:, to:, subject:; has:attachment; a date
// range; a negation; a second page; and the Mail Manager
// StartArchiveSearch path (CONTAINS filters on FROM, TO, SUBJECT,
// FilterMessages with MaxResults).

type searchOptions struct {
	dir, database, archiveID, accountID string
	reps, fill                          int
	results                             string
	seed                                uint64
	mix                                 int
	shapes                              string
	queries                             []string
}

func runSearchOnly(o searchOptions) error {
	ctx := context.Background()
	db, err := store.Open(ctx, o.database, o.dir, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	st := db.Archive()
	acct, arc := o.accountID, o.archiveID
	if o.fill > 0 {
		// Fill an archive first (into -database, blobs into -search's
		// directory), as -preload does.
		if acct == "" {
			acct = "000000000000"
		}
		if arc == "" {
			arc = "a-bench"
		}
		fmt.Printf("filling archive %s with %d messages\n", arc, o.fill)
		r, err := fillDirect(4, o.database, o.dir, acct, arc, Corpus{Seed: o.seed}, 0, o.fill)
		if err != nil {
			return err
		}
		fmt.Printf("filled: %.0f msgs/s (%d msgs in %.1fs)\n", r.rate(), r.n, r.ready.Seconds())
	}
	if arc == "" {
		refs, err := st.Archives(ctx)
		if err != nil {
			return err
		}
		best := int64(-1)
		for _, r := range refs {
			n, err := st.CountMessages(ctx, &archive.Filter{AccountID: r.AccountID, ArchiveID: r.ArchiveID})
			if err != nil {
				return err
			}
			if n > best {
				best, acct, arc = n, r.AccountID, r.ArchiveID
			}
		}
		if arc == "" {
			return fmt.Errorf("no archive holds messages in %s", o.dir)
		}
	}
	total, err := st.CountMessages(ctx, &archive.Filter{AccountID: acct, ArchiveID: arc})
	if err != nil {
		return err
	}
	blobDir := filepath.Join(o.dir, "blobs")
	if o.dir == "" {
		blobDir, _ = os.MkdirTemp("", "tidings-bench-blobs-")
		defer os.RemoveAll(blobDir)
	}
	blobs, err := blobfs.New(blobDir)
	if err != nil {
		return err
	}
	var packs *pack.Store
	if o.dir != "" {
		if packs, err = pack.Open(filepath.Join(o.dir, "packs", "archive")); err != nil {
			return err
		}
	}
	svc, err := archive.New(st, blobs, fixedArchive{}, archive.Config{SigningKey: bytes.Repeat([]byte{1}, 32), Packs: packs}, nil)
	if err != nil {
		return err
	}
	fmt.Printf("search phase: archive %s of %s, %d messages, %d queries per shape\n", arc, acct, total, o.reps)

	r := rand.New(rand.NewPCG(o.seed, 0x5ea4c4))
	word := func() string { return queryWord(r) }
	person := func() string { return localPart(personOf(r.IntN(people)).addr) }
	// The corpus' messages were received during the run that stored
	// them: the date range covers the day of the newest.
	newest, err := st.FilterMessages(ctx, &archive.Filter{AccountID: acct, ArchiveID: arc, Limit: 1})
	if err != nil || len(newest) == 0 {
		return fmt.Errorf("newest message: %v", err)
	}
	day := newest[0].ReceivedAt.UTC().Truncate(24 * time.Hour)
	dayRange := "after:" + day.Format("2006-01-02") + " before:" + day.AddDate(0, 0, 1).Format("2006-01-02")

	var results *os.File // -results: what each query found, to compare two builds
	if o.results != "" {
		if results, err = os.Create(o.results); err != nil {
			return err
		}
		defer results.Close()
	}
	record := func(q string, res *archive.NativeResult) {
		if results == nil {
			return
		}
		fmt.Fprintf(results, "%s\t", q)
		for _, m := range res.Messages {
			fmt.Fprintf(results, " %s:%.6g", m.ID, m.Score)
		}
		fmt.Fprintln(results)
	}
	native := func(q string, page int) func() (int, error) {
		return func() (int, error) {
			res, err := svc.SearchNative(ctx, acct, arc, q, 50, "")
			if err != nil {
				return 0, err
			}
			if page == 0 {
				record(q, res)
				return len(res.Messages), nil
			}
			if res.NextPageToken == "" {
				return 0, nil
			}
			res, err = svc.SearchNative(ctx, acct, arc, q, 50, res.NextPageToken)
			if err != nil {
				return 0, err
			}
			record(q+" (page 2)", res)
			return len(res.Messages), nil
		}
	}
	mm := func(max int, conds ...archive.Condition) func() (int, error) {
		return func() (int, error) {
			msgs, err := st.FilterMessages(ctx, &archive.Filter{AccountID: acct, ArchiveID: arc,
				Since: day.AddDate(0, 0, -30), Until: day.AddDate(0, 0, 1), Include: conds, Limit: max})
			return len(msgs), err
		}
	}
	contains := func(a archive.Attribute, v string) archive.Condition {
		return archive.Condition{Attr: a, Values: []string{archive.Fold(v)}}
	}
	shapes := []struct {
		name string
		next func() func() (int, error)
	}{
		{"rare word", func() func() (int, error) { return native(Token(r.IntN(int(total))), 0) }},
		{"common word", func() func() (int, error) { return native(word(), 0) }},
		{"two words", func() func() (int, error) { return native(word()+" "+word(), 0) }},
		{"phrase", func() func() (int, error) { return native(`"`+word()+" "+word()+`"`, 0) }},
		{"from:", func() func() (int, error) { return native("from:"+person(), 0) }},
		{"to:", func() func() (int, error) { return native("to:"+person(), 0) }},
		{"subject:", func() func() (int, error) { return native("subject:"+word(), 0) }},
		{"from: + word", func() func() (int, error) { return native("from:"+person()+" "+word(), 0) }},
		{"has:attachment", func() func() (int, error) { return native("has:attachment "+word(), 0) }},
		{"has:att alone", func() func() (int, error) { return native("has:attachment", 0) }},
		{"date range", func() func() (int, error) { return native(dayRange+" "+word(), 0) }},
		{"negation", func() func() (int, error) { return native(word()+" -"+word(), 0) }},
		{"page 2", func() func() (int, error) { return native(word(), 1) }},
		{"mm FROM", func() func() (int, error) { return mm(1000, contains(archive.AttrFrom, person())) }},
		{"mm TO", func() func() (int, error) { return mm(1000, contains(archive.AttrTo, person())) }},
		{"mm SUBJECT", func() func() (int, error) { return mm(1000, contains(archive.AttrSubject, word())) }},
		{"mm SUBJECT 100", func() func() (int, error) { return mm(100, contains(archive.AttrSubject, word())) }},
		{"mm FROM+attach", func() func() (int, error) {
			return mm(1000, contains(archive.AttrFrom, person()), archive.Condition{Attr: archive.AttrHasAttachments, Bool: true})
		}},
	}
	if len(o.queries) > 0 {
		// Given queries, each -reps times.
		for _, q := range o.queries {
			var ds []time.Duration
			n := 0
			for range o.reps {
				start := time.Now()
				res, err := svc.SearchNative(ctx, acct, arc, q, 50, "")
				if err != nil {
					return fmt.Errorf("%q: %w", q, err)
				}
				ds = append(ds, time.Since(start))
				n = len(res.Messages)
			}
			fmt.Printf("    %-40q p50 %7.1f ms  max %7.1f ms  (%d hits)\n", q, ms(pct(ds, 50)), ms(pct(ds, 100)), n)
		}
		return nil
	}
	if o.mix > 0 {
		// The queries of a full run (makeQueries), in process: what a
		// full run prints, without its hours of filling.
		qs := makeQueries(Corpus{Seed: o.seed}, int(total), o.mix, day)
		_, err := runQueries("tidings (in process)", qs, func(q string) (int, error) {
			res, err := svc.SearchNative(ctx, acct, arc, q, 50, "")
			if err != nil {
				return 0, err
			}
			return len(res.Messages), nil
		})
		return err
	}
	var all []time.Duration
	for _, sh := range shapes {
		if o.shapes != "" && !strings.Contains(","+o.shapes+",", ","+sh.name+",") {
			continue
		}
		var ds []time.Duration
		hits := 0
		for range o.reps {
			run := sh.next()
			start := time.Now()
			n, err := run()
			if err != nil {
				return fmt.Errorf("%s: %w", sh.name, err)
			}
			ds = append(ds, time.Since(start))
			hits += n
		}
		all = append(all, ds...)
		fmt.Printf("    %-16s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  (%.1f hits a query)\n", sh.name,
			ms(pct(ds, 50)), ms(pct(ds, 99)), ms(pct(ds, 100)), float64(hits)/float64(o.reps))
	}
	fmt.Printf("    %-16s p50 %7.1f ms  p99 %7.1f ms\n", "all", ms(pct(all, 50)), ms(pct(all, 99)))
	return nil
}
