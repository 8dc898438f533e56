// Package smsctest starts the independent SMSC of tests/smsc/smsc.mjs (built
// on the npm smpp package) for tests of SMPP clients, and talks to its HTTP
// control port. It needs node and `npm ci --prefix tests/smsc`; without them
// Start skips the test, unless CI is set (then it fails).
package smsctest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The credentials the SMSC accepts.
const (
	SystemID = "tidings"
	Password = "secret"
)

// SMSC is a running SMSC.
type SMSC struct {
	Addr    string // SMPP host:port
	Control string // base URL of the control port
	cmd     *exec.Cmd
	stdin   io.Closer
}

// Launch runs the SMSC of dir (tests/smsc, its npm packages installed)
// accepting systemID and password, its stderr going to stderr, until
// Stop. It is Start for programs that are not tests (the benchmarks).
func Launch(dir, systemID, password string, stderr io.Writer) (*SMSC, error) {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "smpp", "package.json")); err != nil {
		return nil, fmt.Errorf("the SMSC needs its npm packages (npm ci --prefix tests/smsc): %w", err)
	}
	cmd := exec.Command("node", "smsc.mjs", "--system-id", systemID, "--password", password)
	cmd.Dir = dir
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the SMSC: %w", err)
	}
	s := &SMSC{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("the SMSC did not start: %w", err)
	}
	var ports struct{ SMPP, Control int }
	if err := json.Unmarshal([]byte(line), &ports); err != nil {
		s.Stop()
		return nil, fmt.Errorf("the SMSC said %q: %w", line, err)
	}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", ports.SMPP)
	s.Control = fmt.Sprintf("http://127.0.0.1:%d", ports.Control)
	return s, nil
}

// Stop ends the SMSC (it exits when its stdin closes, or is killed after
// 5 s) and waits for it.
func (s *SMSC) Stop() {
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// Pid is the SMSC's process id.
func (s *SMSC) Pid() int { return s.cmd.Process.Pid }

// Start runs an SMSC until the test ends.
func Start(t testing.TB) *SMSC {
	t.Helper()
	dir, err := smscDir()
	if err == nil {
		_, err = exec.LookPath("node")
	}
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules", "smpp", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("the SMSC needs node and its npm packages (npm ci --prefix tests/smsc): %v", err)
		}
		t.Fatalf("the SMSC needs node and its npm packages (npm ci --prefix tests/smsc): %v", err)
	}
	stderr := &lockedBuffer{}
	s, err := Launch(dir, SystemID, Password, stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("SMSC stderr:\n%s", stderr.String())
		}
	})
	return s
}

// smscDir finds tests/smsc above the working directory (the module root's).
func smscDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "tests", "smsc"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Post sends body as JSON to a control path (/config, /mo, /drop, ...) and
// decodes the answer into out (nil to drop it); it fails the test unless
// the answer is 200.
func (s *SMSC) Post(t testing.TB, path string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.Control+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SMSC %s: %d %s", path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("SMSC %s: %v: %s", path, err, data)
		}
	}
}

// State decodes GET /state into out.
func (s *SMSC) State(t testing.TB, out any) {
	t.Helper()
	resp, err := http.Get(s.Control + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer collects the SMSC's stderr, which os/exec writes from its
// own goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
