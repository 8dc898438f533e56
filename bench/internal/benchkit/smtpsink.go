package benchkit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"
)

// SMTPSink is Postfix's smtp-sink(1) on a loopback port: it accepts every
// message and throws it away, and its running counters (-c) tell how many
// it has received.
type SMTPSink struct {
	addr string
	cmd  *exec.Cmd
	msgs atomic.Int64
	done chan struct{}
}

// StartSMTPSink starts smtp-sink on a free port. It needs Postfix's
// smtp-sink in PATH or /usr/sbin (apt-get install postfix).
func StartSMTPSink() (*SMTPSink, error) {
	path, err := exec.LookPath("smtp-sink")
	if err != nil {
		if path, err = exec.LookPath("/usr/sbin/smtp-sink"); err != nil {
			return nil, fmt.Errorf("smtp-sink not found (apt-get install postfix): %w", err)
		}
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &SMTPSink{addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	// -c: counters on stdout, rewritten after "\r" as messages end. As
	// root it must be told whose privileges to take.
	args := []string{"-c"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	s.cmd = exec.Command(path, append(args, s.addr, "1024")...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	s.cmd.Stderr = &stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Split(splitCR)
		for sc.Scan() {
			if n, ok := counter(sc.Bytes(), "mesg="); ok {
				s.msgs.Store(n)
			}
		}
	}()
	if err := WaitSMTP(s.addr, 10*time.Second); err != nil {
		s.Close()
		return nil, fmt.Errorf("smtp-sink: %w: %s", err, stderr.String())
	}
	return s, nil
}

// Addr is the sink's host:port.
func (s *SMTPSink) Addr() string { return s.addr }

// Count is how many messages the sink has received (ended with ".").
func (s *SMTPSink) Count() int64 { return s.msgs.Load() }

// Close stops the sink.
func (s *SMTPSink) Close() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	<-s.done
}

// splitCR splits smtp-sink's counter lines, which end in "\r" (or "\n").
func splitCR(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// counter reads the number after name in a line like
// "sess=2 quit=2 mesg=2".
func counter(line []byte, name string) (int64, bool) {
	i := bytes.Index(line, []byte(name))
	if i < 0 {
		return 0, false
	}
	rest := line[i+len(name):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	return n, err == nil
}
