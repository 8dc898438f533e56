package benchkit

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
	"time"
)

// SMSC is a running test SMSC of tests/smsc (smsc.mjs, on the npm smpp
// package): it takes binds with its credentials, answers submit_sm and
// sends delivery receipts.
type SMSC struct {
	Addr     string // SMPP host:port
	Control  string // base URL of its HTTP control port
	SystemID string
	Password string
	cmd      *exec.Cmd
	stdin    io.Closer
}

// StartSMSC starts smsc.mjs in dir (tests/smsc, its npm packages
// installed: npm ci --prefix tests/smsc) accepting systemID and password.
func StartSMSC(dir, systemID, password string) (*SMSC, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(abs, "node_modules", "smpp")); err != nil {
		return nil, fmt.Errorf("the SMSC needs its npm packages (npm ci --prefix tests/smsc): %w", err)
	}
	cmd := exec.Command("node", "smsc.mjs", "--system-id", systemID, "--password", password)
	cmd.Dir = abs
	cmd.Stderr = os.Stderr
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
	s := &SMSC{SystemID: systemID, Password: password, cmd: cmd, stdin: stdin}
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

// Stop ends the SMSC (it exits when its stdin closes) and waits for it.
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

// SMSCConfig is what POST /config sets.
type SMSCConfig struct {
	// ResponseDelay is how long the SMSC waits before answering each
	// submit_sm, as a carrier link does.
	ResponseDelay time.Duration
	// ReceiptDelay is how long after its submit_sm_resp a message's
	// delivery receipt goes out.
	ReceiptDelay time.Duration
}

// Configure sets the SMSC's delays.
func (s *SMSC) Configure(c SMSCConfig) error {
	body, _ := json.Marshal(map[string]int64{"responseDelay": c.ResponseDelay.Milliseconds(), "receiptDelay": c.ReceiptDelay.Milliseconds()})
	resp, err := http.Post(s.Control+"/config", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("SMSC /config: %s: %s", resp.Status, b)
	}
	return nil
}

// SMSCCounts are the SMSC's running figures (GET /counts).
type SMSCCounts struct {
	Bound           int   `json:"bound"`
	Submits         int   `json:"submits"` // submit_sm received
	MaxInFlight     int   `json:"maxInFlight"`
	ReceiptsSent    int   `json:"receiptsSent"`    // deliver_sm receipts the ESME answered
	ReceiptsRefused int   `json:"receiptsRefused"` // of which with an error status
	FirstSubmitAt   int64 `json:"firstSubmitAt"`   // ms since the epoch
	LastSubmitAt    int64 `json:"lastSubmitAt"`
}

// Counts reads the SMSC's figures.
func (s *SMSC) Counts() (SMSCCounts, error) {
	var c SMSCCounts
	resp, err := http.Get(s.Control + "/counts")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return c, fmt.Errorf("SMSC /counts: %s: %s", resp.Status, b)
	}
	return c, json.NewDecoder(resp.Body).Decode(&c)
}
