package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The root account every test server runs with. The key id has the shape
// config.Validate wants (16–128 upper-case letters and digits).
const (
	rootKeyID  = "AKIAE2ETIDINGSROOT01"
	rootSecret = "e2e/RootSecret+0123456789abcdefghijklmn"
	accountID  = "111122223333"
	region     = "us-east-1"
)

var (
	// repoRoot is the directory of go.mod; tidingsBin the server built once.
	repoRoot   string
	tidingsBin string
	// raceBuild is set when the server was built with -race (slower start).
	raceBuild bool
	// The clients, resolved once: through a pyenv shim every run of the AWS
	// CLI would cost about twice the CPU.
	awsBin, pythonBin, nodeBin string
)

// resolveTool finds the real executable behind name (skipping a pyenv
// shim), or returns name for exec to report when it is missing.
func resolveTool(name string) string {
	if _, err := exec.LookPath("pyenv"); err == nil {
		if out, err := exec.Command("pyenv", "which", name).Output(); err == nil {
			if p := strings.TrimSpace(string(out)); p != "" {
				return p
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	root, err := findRepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoRoot = root
	awsBin, pythonBin, nodeBin = resolveTool("aws"), resolveTool("python3"), resolveTool("node")
	dir, err := os.MkdirTemp("", "tidings-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	tidingsBin = filepath.Join(dir, "tidings")
	args := []string{"build", "-o", tidingsBin}
	if os.Getenv("TIDINGS_E2E_RACE") == "1" {
		raceBuild = true
		args = append(args, "-race")
	}
	args = append(args, "./cmd/tidings")
	start := time.Now()
	build := exec.Command("go", args...)
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n", strings.Join(args, " "), err)
		return 1
	}
	if testing.Verbose() {
		fmt.Printf("e2e: built %s in %s (race=%v)\n", tidingsBin, time.Since(start).Round(time.Millisecond), raceBuild)
	}
	return m.Run()
}

func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// ---------------------------------------------------------------------------
// The server under test.

// serverOpts configures startServer. The zero value is a fresh SQLite
// server with the root key above.
type serverOpts struct {
	DataDir     string   // reuse a data dir (restart); "" for a new temp dir
	DatabaseURL string   // postgres://… for PostgreSQL; "" for SQLite
	SMTPPorts   string   // "first-last"; "" picks a free block
	NoRootKey   bool     // let the server generate its root key
	Env         []string // extra KEY=VALUE for the server
}

// Server is a running `tidings serve`.
type Server struct {
	Opts    serverOpts
	Addr    string // 127.0.0.1:port of the HTTP API
	URL     string // http://Addr
	DataDir string
	KeyID   string
	Secret  string
	Account string

	// SMTPFirst and SMTPLast bound the ports ingress points get.
	SMTPFirst, SMTPLast int
	// Submission (STARTTLS) and Submissions (implicit TLS) are the SMTP
	// submission listeners, on free ports.
	Submission, Submissions string

	cmd     *exec.Cmd
	log     *logBuffer
	done    chan struct{}
	waitErr error
	stopped bool
}

// startServer starts tidings and waits until /healthz answers 200. The
// server is stopped (and its clean exit asserted) when the test ends.
func startServer(t testing.TB, opts serverOpts) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.SMTPPorts == "" {
		opts.SMTPPorts = freePortBlock(t, 20)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStart(t, opts)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("starting tidings: %v", lastErr)
	return nil
}

func tryStart(t testing.TB, opts serverOpts) (*Server, error) {
	addr := freeAddr(t)
	s := &Server{
		Opts:    opts,
		Addr:    addr,
		URL:     "http://" + addr,
		DataDir: opts.DataDir,
		Account: accountID,
		log:     &logBuffer{},
		done:    make(chan struct{}),
	}
	first, last, _ := strings.Cut(opts.SMTPPorts, "-")
	s.SMTPFirst, _ = strconv.Atoi(first)
	s.SMTPLast, _ = strconv.Atoi(last)
	env := append(cleanEnv("TIDINGS_", "AWS_"),
		"TIDINGS_DATA_DIR="+opts.DataDir,
		"TIDINGS_HTTP_ADDR="+addr,
		"TIDINGS_SMTP_HOST=127.0.0.1",
		"TIDINGS_SMTP_PORTS="+opts.SMTPPorts,
		"TIDINGS_DATABASE_URL="+opts.DatabaseURL,
		"TIDINGS_REGION="+region,
		"TIDINGS_ACCOUNT_ID="+accountID,
		"TIDINGS_LOG_LEVEL=debug",
	)
	// Free ports for the SMTP submission listeners: their defaults are
	// fixed, and tests run servers in parallel.
	subs := freeAddrs(t, 2)
	s.Submission, s.Submissions = subs[0], subs[1]
	env = append(env, "TIDINGS_SUBMISSION_ADDR="+s.Submission, "TIDINGS_SUBMISSIONS_ADDR="+s.Submissions)
	if !opts.NoRootKey {
		s.KeyID, s.Secret = rootKeyID, rootSecret
		env = append(env, "TIDINGS_ROOT_ACCESS_KEY_ID="+rootKeyID, "TIDINGS_ROOT_SECRET_ACCESS_KEY="+rootSecret)
	}
	env = append(env, opts.Env...)

	s.cmd = exec.Command(tidingsBin, "serve")
	s.cmd.Env = env
	s.cmd.Dir = opts.DataDir
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	// Own process group, so a hung server can be killed with its children.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()

	deadline := 30 * time.Second
	if raceBuild {
		deadline = 90 * time.Second
	}
	if err := waitHealthy(s.URL, s.done, deadline); err != nil {
		select {
		case <-s.done:
			return nil, fmt.Errorf("tidings exited before it was ready (%v): %s\n%s", s.waitErr, err, s.log.Tail(4000))
		default:
		}
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		return nil, fmt.Errorf("%v\nlog:\n%s", err, s.log.Tail(4000))
	}
	t.Logf("tidings ready on %s in %s (data %s, db %s)", s.URL, time.Since(started).Round(time.Millisecond), opts.DataDir, redactURL(opts.DatabaseURL))
	t.Cleanup(func() {
		if !s.stopped {
			s.Stop(t)
		}
		if t.Failed() {
			t.Logf("tidings log (%s), last part:\n%s", s.URL, s.log.Tail(12000))
		}
	})
	return s, nil
}

// waitHealthy polls GET /healthz until it answers 200, the process exits, or
// the deadline passes.
func waitHealthy(base string, exited <-chan struct{}, deadline time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	end := time.Now().Add(deadline)
	var last string
	for time.Now().Before(end) {
		select {
		case <-exited:
			return errors.New("process exited")
		default:
		}
		resp, err := hc.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("/healthz not 200 after %s (last: %s)", deadline, last)
}

// Stop sends SIGTERM and asserts that the server exits 0 within 30 s.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		t.Errorf("tidings did not exit within 30s of SIGTERM; killed. Log:\n%s", s.log.Tail(6000))
		return
	}
	if s.waitErr != nil {
		t.Errorf("tidings exited with %v after SIGTERM, want exit status 0. Log:\n%s", s.waitErr, s.log.Tail(6000))
	}
	if strings.Contains(s.log.String(), "WARNING: DATA RACE") {
		t.Errorf("the race detector reported a data race in tidings:\n%s", s.log.Tail(20000))
	}
}

// Restart stops the server (asserting a clean exit) and starts a new one on
// the same data dir, database, SMTP ports and keys.
func (s *Server) Restart(t testing.TB) *Server {
	t.Helper()
	s.Stop(t)
	return startServer(t, s.Opts)
}

// Log returns everything the server printed so far.
func (s *Server) Log() string { return s.log.String() }

// LogContains reports whether the server's log has text, waiting up to
// 10 s for it: a line is written after what it records is done (a
// delivery's line after the sink answered), so a test that saw the effect
// may look before the line is there.
func (s *Server) LogContains(text string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if strings.Contains(s.Log(), text) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------
// Ports, environment, processes.

func freeAddr(t testing.TB) string {
	t.Helper()
	return freeAddrs(t, 1)[0]
}

var (
	freeAddrMu sync.Mutex
	givenAddrs = map[string]bool{}
)

// freeAddrs returns n distinct loopback addresses free now, none given
// before in this process: each port is held until all are picked (a port
// closed and asked for again may come back at once: a server got the same
// one for its two submission listeners), and one handed out to a server
// of another test is not handed out again.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	freeAddrMu.Lock()
	defer freeAddrMu.Unlock()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var out []string
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		held = append(held, l)
		a := l.Addr().String()
		if givenAddrs[a] {
			continue
		}
		givenAddrs[a] = true
		out = append(out, a)
	}
	return out
}

var portBlockMu sync.Mutex

// freePortBlock returns "first-last" for n consecutive loopback ports that
// are free now, below the kernel's ephemeral range, so that servers running
// in parallel get disjoint ranges for their ingress points.
func freePortBlock(t testing.TB, n int) string {
	t.Helper()
	portBlockMu.Lock()
	defer portBlockMu.Unlock()
	for try := 0; try < 200; try++ {
		r, err := rand.Int(rand.Reader, big.NewInt(int64((32000-20000)/n)))
		if err != nil {
			t.Fatal(err)
		}
		first := 20000 + int(r.Int64())*n
		if usedBlocks[first] {
			continue
		}
		ok := true
		for p := first; p < first+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			usedBlocks[first] = true
			return fmt.Sprintf("%d-%d", first, first+n-1)
		}
	}
	t.Fatal("no free block of loopback ports")
	return ""
}

var usedBlocks = map[int]bool{}

// cleanEnv is the test process's environment without variables that start
// with any of prefixes, so that a developer's own settings cannot leak in.
func cleanEnv(prefixes ...string) []string {
	var out []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// clientEnv is the environment of an AWS client pointed at s with the given
// key (the root key when keyID is "").
func (s *Server) clientEnv(keyID, secret string) []string {
	if keyID == "" {
		keyID, secret = s.KeyID, s.Secret
	}
	none := filepath.Join(os.TempDir(), "tidings-e2e-no-such-aws-config")
	return append(cleanEnv("AWS_", "TIDINGS_"),
		"AWS_ENDPOINT_URL="+s.URL,
		"AWS_ACCESS_KEY_ID="+keyID,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION="+region,
		"AWS_REGION="+region,
		"AWS_CONFIG_FILE="+none,
		"AWS_SHARED_CREDENTIALS_FILE="+none,
		"AWS_EC2_METADATA_DISABLED=true",
		// One attempt: a retried 5xx would hide a server error and slow the suite.
		"AWS_MAX_ATTEMPTS=1",
		"AWS_RETRY_MODE=standard",
		"AWS_PAGER=",
		"NODE_NO_WARNINGS=1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
}

// run executes a command with a 3-minute limit and returns its output and
// exit code (-1 when it could not run or timed out).
func run(t testing.TB, env []string, stdin []byte, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code = 0
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() == nil {
			code = ee.ExitCode()
		} else {
			t.Fatalf("%s %s: %v (stderr: %s)", name, strings.Join(args, " "), err, errb.String())
		}
	}
	return out.String(), errb.String(), code
}

// ---------------------------------------------------------------------------
// Small helpers.

// logBuffer collects a process's output for the test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func redactURL(u string) string {
	if u == "" {
		return "sqlite"
	}
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}
