package feedback

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Reports arrive from anyone on the Internet: the parsers must never
// panic, and fail only with ErrNotBounce / ErrNotComplaint.

func addSamples(f *testing.F, dir string) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.eml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples in testdata/%s: %v", dir, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseDSN(f *testing.F) {
	addSamples(f, "dsn")
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := ParseDSN(bytes.NewReader(raw))
		if err != nil {
			if !errors.Is(err, ErrNotBounce) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if b.Type == "" || b.SubType == "" || b.Format == "" {
			t.Fatalf("unclassified bounce: %+v", b)
		}
	})
}

func FuzzParseARF(f *testing.F) {
	addSamples(f, "arf")
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseARF(bytes.NewReader(raw))
		if err != nil {
			if !errors.Is(err, ErrNotComplaint) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if c.FeedbackType == "" || c.ComplainedRecipients == nil {
			t.Fatalf("incomplete complaint: %+v", c)
		}
	})
}
