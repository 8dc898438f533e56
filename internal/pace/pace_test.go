package pace

import (
	"context"
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	var zero Pacer
	for range 3 {
		if err := zero.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if !New(0).Next().IsZero() || !New(-1).Next().IsZero() {
		t.Error("a Pacer without a rate books slots")
	}

	p := New(10) // 100 ms apart
	start := time.Now()
	for range 3 {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Three slots: the first at once, the third 200 ms later at the
	// earliest (a lower bound, which slowness cannot break).
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("3 waits at 10/s took %v", d)
	}
	if next := p.Next(); next.Sub(start) < 300*time.Millisecond {
		t.Errorf("next slot %v after the start, want ≥ 300ms", next.Sub(start))
	}

	slow := New(0.1) // 10 s apart
	_ = slow.Wait(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := slow.Wait(ctx); err != context.Canceled {
		t.Errorf("cancelled wait: %v", err)
	}
}
