package benchkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tidings/tidings/internal/smpp/smsctest"
)

// SMSC is a running test SMSC of tests/smsc (smsc.mjs, on the npm smpp
// package): it takes binds with its credentials, answers submit_sm and
// sends delivery receipts.
type SMSC struct {
	*smsctest.SMSC // Addr, Control, Stop, Pid
	SystemID       string
	Password       string
}

// StartSMSC starts smsc.mjs in dir (tests/smsc, its npm packages
// installed: npm ci --prefix tests/smsc) accepting systemID and password.
func StartSMSC(dir, systemID, password string) (*SMSC, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	s, err := smsctest.Launch(abs, systemID, password, os.Stderr)
	if err != nil {
		return nil, err
	}
	return &SMSC{SMSC: s, SystemID: systemID, Password: password}, nil
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
