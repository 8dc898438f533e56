package delivery

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"strings"
	"testing"
)

// scriptServer is a hand-driven SMTP server for what go-smtp's server cannot
// be made to do: refuse EHLO, offer no PIPELINING, LOGIN, misbehave. respond
// gives the reply to each command; the transcript of each connection, one
// command a line, arrives on the returned channel when it ends. A command
// followed by more bytes already received is marked with a trailing "+": the
// client pipelined it.
func scriptServer(t *testing.T, greeting string, respond func(cmd string) string, final string) (string, <-chan []string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	out := make(chan []string, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var tr []string
				defer func() { out <- tr }()
				r := bufio.NewReader(c)
				io.WriteString(c, greeting+"\r\n")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					if r.Buffered() > 0 {
						tr = append(tr, line+" +")
					} else {
						tr = append(tr, line)
					}
					switch u := strings.ToUpper(line); {
					case u == "QUIT":
						io.WriteString(c, "221 bye\r\n")
						return
					case u == "DATA":
						io.WriteString(c, "354 go on\r\n")
						var data []string
						for {
							l, err := r.ReadString('\n')
							if err != nil {
								return
							}
							if l == ".\r\n" {
								break
							}
							data = append(data, strings.TrimSuffix(l, "\r\n"))
						}
						tr = append(tr, "<data "+strings.Join(data, "|")+">")
						io.WriteString(c, final+"\r\n")
					default:
						io.WriteString(c, respond(line)+"\r\n")
					}
				}
			}()
		}
	}()
	return l.Addr().String(), out
}

func relayTo(addr string) Destination {
	host, port, _ := net.SplitHostPort(addr)
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	return Relay(host, p)
}

func TestWithoutPipeliningAndHELOFallback(t *testing.T) {
	t.Parallel()
	addr, tr := scriptServer(t, "220 old.test", func(cmd string) string {
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			return "502 what?"
		case strings.HasPrefix(cmd, "RCPT TO:<b@"):
			return "550-5.1.1 no such\r\n550 5.1.1 user"
		}
		return "250 ok"
	}, "250 queued")
	dl := newDeliverer(t, Config{IdleTimeout: -1})
	res := dl.Deliver(context.Background(), relayTo(addr), Envelope{MailFrom: "s@src.test", Recipients: []string{"a@dst.test", "b@dst.test"}, EightBit: true}, msgBody("Subject: x\r\n\r\n..dots\r\n"))
	want(t, res.Recipients[0], Delivered, 250, "")
	want(t, res.Recipients[1], Failed, 550, "5.1.1")
	if got := res.Recipients[1].Reply.Text; got != "no such user" {
		t.Errorf("multi-line text = %q", got)
	}
	got := strings.Join(<-tr, "\n")
	wantTr := strings.Join([]string{
		"EHLO tidings.test", "HELO tidings.test", "MAIL FROM:<s@src.test>",
		"RCPT TO:<a@dst.test>", "RCPT TO:<b@dst.test>", "DATA",
		"<data Subject: x||...dots>", "QUIT",
	}, "\n")
	if got != wantTr {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, wantTr)
	}
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	addr, tr := scriptServer(t, "220 new.test", func(cmd string) string {
		if strings.HasPrefix(cmd, "EHLO") {
			return "250-new.test\r\n250-PIPELINING\r\n250 8BITMIME"
		}
		return "250 2.0.0 ok"
	}, "250 2.0.0 queued")
	dl := newDeliverer(t, Config{})
	env := Envelope{MailFrom: "s@src.test", Recipients: []string{"a@dst.test", "b@dst.test"}, EightBit: true}
	for range 2 {
		res := dl.Deliver(context.Background(), relayTo(addr), env, msgBody(testMsg))
		want(t, res.Recipients[1], Delivered, 250, "2.0.0")
	}
	dl.Close()
	got := <-tr
	// RFC 2920: RSET, MAIL and RCPT go with what follows; DATA ends the
	// group. The second message reuses the connection behind an RSET.
	wantTr := []string{
		"EHLO tidings.test",
		"MAIL FROM:<s@src.test> BODY=8BITMIME +", "RCPT TO:<a@dst.test> +", "RCPT TO:<b@dst.test> +", "DATA",
		"RSET +", "MAIL FROM:<s@src.test> BODY=8BITMIME +", "RCPT TO:<a@dst.test> +", "RCPT TO:<b@dst.test> +", "DATA",
		"QUIT",
	}
	var cmds []string
	for _, l := range got {
		if !strings.HasPrefix(l, "<data") {
			cmds = append(cmds, l)
		}
	}
	if strings.Join(cmds, "\n") != strings.Join(wantTr, "\n") {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantTr, "\n"))
	}
}

func TestAuthLOGIN(t *testing.T) {
	t.Parallel()
	b64 := base64.StdEncoding.EncodeToString
	step := 0
	addr, tr := scriptServer(t, "220 ex.test", func(cmd string) string {
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			return "250-ex.test\r\n250 AUTH LOGIN"
		case cmd == "AUTH LOGIN":
			step = 1
			return "334 VXNlcm5hbWU6"
		case step == 1 && cmd == b64([]byte("user")):
			step = 2
			return "334 UGFzc3dvcmQ6"
		case step == 2 && cmd == b64([]byte("pass")):
			step = 3
			return "235 2.7.0 welcome"
		case strings.HasPrefix(cmd, "MAIL") && step != 3:
			return "530 5.7.0 authenticate first"
		}
		return "250 ok"
	}, "250 queued")
	dl := newDeliverer(t, Config{IdleTimeout: -1})
	dest := relayTo(addr)
	dest.Username, dest.Password = "user", "pass"
	dest.TLS.AllowPlaintextAuth = true
	res := dl.Deliver(context.Background(), dest, Envelope{MailFrom: "s@src.test", Recipients: []string{"a@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Delivered, 250, "")
	if got := strings.Join(<-tr, "\n"); !strings.Contains(got, "AUTH LOGIN\ndXNlcg==\ncGFzcw==\nMAIL") {
		t.Errorf("transcript:\n%s", got)
	}
}

func TestSTARTTLSInjectionRefused(t *testing.T) {
	t.Parallel()
	addr, tr := scriptServer(t, "220 evil.test", func(cmd string) string {
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			return "250-evil.test\r\n250 STARTTLS"
		case cmd == "STARTTLS":
			// A reply smuggled in before the handshake (CVE-2011-0411 in reverse).
			return "220 go ahead\r\n250 injected"
		}
		return "250 ok"
	}, "250 queued")
	dl := newDeliverer(t, Config{})
	res := dl.Deliver(context.Background(), relayTo(addr), Envelope{MailFrom: "s@src.test", Recipients: []string{"a@dst.test"}}, msgBody(testMsg))
	want(t, res.Recipients[0], Deferred, 0, "4.7.5")
	if !strings.Contains(res.Recipients[0].Reply.Text, "data after STARTTLS") {
		t.Errorf("reply = %q", res.Recipients[0].Reply.Text)
	}
	for _, l := range <-tr {
		if strings.HasPrefix(l, "MAIL") {
			t.Fatal("a transaction followed the injected reply")
		}
	}
}
