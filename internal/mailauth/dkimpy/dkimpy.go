// Package dkimpy runs dkimpy (Debian's python3-dkim), an ARC and DKIM
// implementation independent of Tidings', for tests to check what
// Tidings signs and seals against.
package dkimpy

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
)

//go:embed arcverify.py
var arcVerify string

// Python is Debian's interpreter, where python3-dkim installs.
const Python = "/usr/bin/python3"

// Verdict is what dkimpy says of a message's ARC chain.
type Verdict struct {
	// CV is "pass", "fail" or "none"; "" when the chain ends with a seal
	// saying cv=fail (dkimpy's "the chain is terminated").
	CV     string
	Reason string
	// Sets are the instances dkimpy checked, newest first.
	Sets []Set
}

// Set is dkimpy's verdict on one ARC Set.
type Set struct {
	Instance  int
	AMSValid  bool   `json:"ams_valid"`
	ASValid   bool   `json:"as_valid"`
	CV        string `json:"cv"`
	ASDomain  string `json:"as_domain"`
	AMSDomain string `json:"ams_domain"`
}

// Available reports why dkimpy cannot run (nil when it can).
func Available() error {
	if out, err := exec.Command(Python, "-c", "import dkim, dns.resolver").CombinedOutput(); err != nil {
		return fmt.Errorf("dkimpy is missing (apt-get install python3-dkim): %v %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// ARC validates msg's ARC chain with dkimpy, which looks the keys up at
// the DNS server dnsAddr (host:port).
func ARC(ctx context.Context, dnsAddr string, msg []byte) (Verdict, error) {
	cmd := exec.CommandContext(ctx, Python, "-c", arcVerify, dnsAddr)
	cmd.Stdin = bytes.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Verdict{}, fmt.Errorf("dkimpy: %v: %s", err, stderr.String())
	}
	var v struct {
		CV     *string
		Reason string
		Sets   []Set
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return Verdict{}, fmt.Errorf("dkimpy printed %q: %v", out, err)
	}
	res := Verdict{Reason: v.Reason, Sets: v.Sets}
	if v.CV != nil {
		res.CV = *v.CV
	}
	return res, nil
}
