package e2e

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// A "250" to DATA is a promise: kill the server with SIGKILL while
// clients are sending, start it again on the same state, and every
// message that was answered 250 must reach the downstream server. Losses
// fail the test; duplicates (a message relayed, then relayed again because
// the crash came before its completion was recorded) are allowed, as for
// any MTA, and reported.
func TestCrashSQLite(t *testing.T) {
	t.Parallel()
	testCrash(t, serverOpts{})
}

func TestCrashPostgres(t *testing.T) {
	t.Parallel()
	testCrash(t, serverOpts{DatabaseURL: freshDatabase(t)})
}

func testCrash(t *testing.T, opts serverOpts) {
	s := startServer(t, opts)
	f := setupGateway(t, s, "crash")

	const senders = 8
	var (
		mu       sync.Mutex
		accepted []string // tokens of the messages answered 250
		refused  atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				token := fmt.Sprintf("crash-%d-%d-%s", g, i, randomSuffix())
				err := crashSend(f.addr, token)
				switch {
				case err == nil:
					mu.Lock()
					accepted = append(accepted, token)
					mu.Unlock()
				case stop.Load():
					return
				default:
					// Connection refused or cut: the server is dying.
					refused.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}

	// Load for a while, with messages in every state (spooled, being
	// processed, being relayed), then kill.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		if n >= 150 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.kill(t)
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	promised := append([]string(nil), accepted...)
	mu.Unlock()
	if len(promised) == 0 {
		t.Fatal("no message was accepted before the kill")
	}
	atKill := len(f.sink.Messages())
	t.Logf("killed with SIGKILL after %d messages answered 250 (%d at the sink then, %d sends cut by the kill)",
		len(promised), atKill, refused.Load())

	start := time.Now()
	s2 := startServer(t, s.Opts)
	t.Logf("restarted in %s", time.Since(start).Round(time.Millisecond))

	// Every promised message arrives.
	var missing []string
	end := time.Now().Add(3 * time.Minute)
	for {
		seen := map[string]int{}
		for _, m := range f.sink.Messages() {
			if tok := subjectToken(m.Data); tok != "" {
				seen[tok]++
			}
		}
		missing = missing[:0]
		for _, tok := range promised {
			if seen[tok] == 0 {
				missing = append(missing, tok)
			}
		}
		if len(missing) == 0 {
			dups := 0
			for _, tok := range promised {
				dups += seen[tok] - 1
			}
			t.Logf("all %d accepted messages reached the sink %s after the restart; losses 0, duplicates %d",
				len(promised), time.Since(start).Round(time.Millisecond), dups)
			break
		}
		if time.Now().After(end) {
			t.Fatalf("LOST %d of %d messages answered 250 (3 min after the restart), e.g. %v\nlog after restart:\n%s",
				len(missing), len(promised), missing[:min(5, len(missing))], s2.log.Tail(6000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashSend sends one message whose Subject is token; nil means the server
// answered 250 to DATA.
func crashSend(addr, token string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("load.test"); err != nil {
		return err
	}
	if err := c.Mail("load@sender.test", nil); err != nil {
		return err
	}
	if err := c.Rcpt("bob@corp.test", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	body := "From: load@sender.test\r\nTo: bob@corp.test\r\nSubject: " + token + "\r\n\r\n" +
		strings.Repeat("A line of a four-kilobyte message, to give the disk real work.\r\n", 60)
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	if err := w.Close(); err != nil { // the server's answer to the end of DATA
		return err
	}
	_ = c.Quit()
	return nil
}

func subjectToken(data string) string {
	for _, v := range headerValues(headerBlock(data), "Subject") {
		if strings.HasPrefix(v, "crash-") {
			return v
		}
	}
	return ""
}

// kill ends the server with SIGKILL, as a power cut or the OOM killer
// would: no drain, no clean shutdown.
func (s *Server) kill(t *testing.T) {
	t.Helper()
	s.stopped = true
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("tidings did not die within 30s of SIGKILL")
	}
}
