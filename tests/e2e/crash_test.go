package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
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
	promised := loadAndKill(t, s, func(token string) error { return crashSend(f.addr, token) })
	t.Logf("%d at the sink at the kill", len(f.sink.Messages()))
	s2 := startServer(t, s.Opts)
	awaitPromised(t, s2, promised, func() map[string]int {
		seen := map[string]int{}
		for _, m := range f.sink.Messages() {
			if tok := subjectToken(m.Data); tok != "" {
				seen[tok]++
			}
		}
		return seen
	})
}

// An accepted SendEmail (a MessageId) is a promise too: kill the server
// with SIGKILL while clients (the AWS SDK for Go) send, start it again,
// and every message that got a MessageId must reach the sink, DKIM-signed.
func TestCrashSendingSQLite(t *testing.T) {
	t.Parallel()
	testCrashSending(t, serverOpts{})
}

func TestCrashSendingPostgres(t *testing.T) {
	t.Parallel()
	testCrashSending(t, serverOpts{DatabaseURL: freshDatabase(t)})
}

func testCrashSending(t *testing.T, opts serverOpts) {
	s, sink, z := startSendingServer(t, opts)
	const domain = "crash.example.test"
	verifyDomainByDNS(t, s, z, domain)
	client := sesv2.New(sesv2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret}, nil
		}),
		// A call the kill cuts fails; the SDK must not send it again to
		// the restarted server (that would be a second message).
		RetryMaxAttempts: 1,
	})
	promised := loadAndKill(t, s, func(token string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
			FromEmailAddress: aws.String("app@" + domain),
			Destination:      &types.Destination{ToAddresses: []string{"user@dest.test"}},
			Content: &types.EmailContent{Simple: &types.Message{
				Subject: &types.Content{Data: aws.String(token)},
				Body:    &types.Body{Text: &types.Content{Data: aws.String("A message sent while the server is killed.")}},
			}},
		})
		return err
	})
	t.Logf("%d at the sink at the kill", sink.count(func(sinkMessage) bool { return true }))
	s2 := startServer(t, s.Opts)
	awaitPromised(t, s2, promised, func() map[string]int {
		seen := map[string]int{}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, m := range sink.msgs {
			if tok := subjectToken(string(m.Data)); tok != "" {
				seen[tok]++
				if header(m.Data, "DKIM-Signature") == "" {
					t.Errorf("%s was delivered unsigned", tok)
				}
			}
		}
		return seen
	})
}

// loadAndKill sends with 8 concurrent senders, each message's Subject a
// new token, until 150 have been accepted (or a minute has passed), then
// kills s with SIGKILL. It returns the tokens of the messages accepted (a
// nil error from send).
func loadAndKill(t *testing.T, s *Server, send func(token string) error) []string {
	const senders = 8
	var (
		mu       sync.Mutex
		accepted []string
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
				err := send(token)
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
	t.Logf("killed with SIGKILL after %d messages were accepted (%d sends cut by the kill)", len(promised), refused.Load())
	return promised
}

// awaitPromised waits up to 3 minutes, after the restart s2, until every
// promised token has reached the sink (seen counts the tokens there).
// Losses fail the test; duplicates are reported.
func awaitPromised(t *testing.T, s2 *Server, promised []string, seen func() map[string]int) {
	start := time.Now()
	var missing []string
	end := time.Now().Add(3 * time.Minute)
	for {
		got := seen()
		missing = missing[:0]
		for _, tok := range promised {
			if got[tok] == 0 {
				missing = append(missing, tok)
			}
		}
		if len(missing) == 0 {
			dups := 0
			for _, tok := range promised {
				dups += got[tok] - 1
			}
			t.Logf("all %d accepted messages reached the sink %s after the restart; losses 0, duplicates %d",
				len(promised), time.Since(start).Round(time.Millisecond), dups)
			return
		}
		if time.Now().After(end) {
			t.Fatalf("LOST %d of %d messages accepted (3 min after the restart), e.g. %v\nlog after restart:\n%s",
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
