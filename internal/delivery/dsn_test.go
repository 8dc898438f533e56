package delivery

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

const origHeader = "From: Alice <alice@src.test>\r\nTo: bob@dst.test\r\nSubject: quarterly report\r\nMessage-ID: <orig-1@src.test>\r\n"

// parseDSN parses a DSN as a receiving program would and returns its
// message header, its parts' headers and bodies.
func parseDSN(t *testing.T, raw []byte) (mail.Header, []textproto.MIMEHeader, [][]byte) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type = %q", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var hdrs []textproto.MIMEHeader
	var bodies [][]byte
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, p.Header)
		bodies = append(bodies, b)
	}
	for _, line := range strings.SplitAfter(string(raw), "\r\n") {
		if len(line) > 1000 || strings.ContainsAny(strings.TrimSuffix(line, "\r\n"), "\r\n") {
			t.Fatalf("bad line %q", line)
		}
	}
	return msg.Header, hdrs, bodies
}

// statusGroups parses a message/delivery-status body (RFC 3464 2.1): groups
// of header fields separated by blank lines.
func statusGroups(t *testing.T, b []byte) []textproto.MIMEHeader {
	t.Helper()
	r := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(b, "\r\n"...))))
	var out []textproto.MIMEHeader
	for {
		h, err := r.ReadMIMEHeader()
		if len(h) > 0 {
			out = append(out, h)
		}
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			return out
		}
	}
}

func TestBuildDSN(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 6, 9, 30, 0, 0, time.UTC)
	orig := Original{
		Envelope:    Envelope{MailFrom: "bounces@src.test", Recipients: []string{"bob@dst.test", "carol@dst.test"}},
		Header:      []byte(origHeader + "\r\nThe body must not be included.\r\n"),
		ArrivalDate: now.Add(-5 * 24 * time.Hour),
		EnvelopeID:  "QUEUE123",
	}
	rcpts := []RecipientResult{
		{Recipient: "bob@dst.test", Status: Failed, RemoteMTA: "mx.dst.test",
			Reply: Reply{Code: 550, Enhanced: "5.1.1", Text: "<bob@dst.test>: Recipient address rejected: User unknown in virtual mailbox table, and this text goes on long enough to need folding"}},
		{Recipient: "carol@dst.test", Status: Failed, Reply: localReply("5.1.10", "domain dst.test does not accept mail (null MX)")},
	}
	dsn, err := BuildDSN("relay.tidings.test", orig, rcpts, now)
	if err != nil {
		t.Fatal(err)
	}
	if dsn.Envelope.MailFrom != "" || len(dsn.Envelope.Recipients) != 1 || dsn.Envelope.Recipients[0] != "bounces@src.test" || dsn.Envelope.SMTPUTF8 {
		t.Fatalf("envelope = %+v", dsn.Envelope)
	}
	h, parts, bodies := parseDSN(t, dsn.Message)
	if h.Get("Auto-Submitted") != "auto-replied" || h.Get("To") != "<bounces@src.test>" || !strings.Contains(h.Get("From"), "MAILER-DAEMON@relay.tidings.test") {
		t.Errorf("header = %v", h)
	}
	if h.Get("Subject") != "Undelivered Mail Returned to Sender" || h.Get("Message-Id") == "" || h.Get("Mime-Version") != "1.0" {
		t.Errorf("header = %v", h)
	}
	if d, err := h.Date(); err != nil || !d.Equal(now) {
		t.Errorf("Date = %v, %v", d, err)
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}

	// Part 1: readable, quoted-printable.
	if ct := parts[0].Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("part 1 Content-Type = %q", ct)
	}
	text, err := io.ReadAll(newQP(bodies[0]))
	if err != nil || !strings.Contains(string(text), "<bob@dst.test>: failed; host mx.dst.test said: 550 5.1.1") {
		t.Errorf("part 1 = %q, %v", text, err)
	}

	// Part 2: machine-readable, RFC 3464.
	if ct := parts[1].Get("Content-Type"); ct != "message/delivery-status" {
		t.Errorf("part 2 Content-Type = %q", ct)
	}
	groups := statusGroups(t, bodies[1])
	if len(groups) != 3 {
		t.Fatalf("%d field groups in %q", len(groups), bodies[1])
	}
	msgFields, bob, carol := groups[0], groups[1], groups[2]
	if msgFields.Get("Reporting-MTA") != "dns; relay.tidings.test" || msgFields.Get("Original-Envelope-Id") != "QUEUE123" || msgFields.Get("Arrival-Date") == "" {
		t.Errorf("per-message fields = %v", msgFields)
	}
	for k, v := range map[string]string{
		"Final-Recipient": "rfc822; bob@dst.test", "Action": "failed", "Status": "5.1.1",
		"Remote-MTA": "dns; mx.dst.test", "Last-Attempt-Date": now.Format(time.RFC1123Z),
	} {
		if got := bob.Get(k); got != v {
			t.Errorf("bob %s = %q, want %q", k, got, v)
		}
	}
	if d := bob.Get("Diagnostic-Code"); !strings.HasPrefix(d, "smtp; 550 5.1.1 <bob@dst.test>: Recipient") || !strings.HasSuffix(d, "need folding") {
		t.Errorf("bob Diagnostic-Code = %q", d)
	}
	if carol.Get("Status") != "5.1.10" || carol.Get("Diagnostic-Code") != "" || carol.Get("Remote-MTA") != "" {
		t.Errorf("carol = %v", carol)
	}

	// Part 3: the original header only.
	if ct := parts[2].Get("Content-Type"); ct != "text/rfc822-headers" {
		t.Errorf("part 3 Content-Type = %q", ct)
	}
	if string(bodies[2]) != origHeader {
		t.Errorf("part 3 = %q", bodies[2])
	}
	oh, err := mail.ReadMessage(bytes.NewReader(append(bodies[2], "\r\n"...)))
	if err != nil || oh.Header.Get("Message-Id") != "<orig-1@src.test>" {
		t.Errorf("original header does not parse: %v", err)
	}
}

func TestBuildDSNDelayedAndGlobal(t *testing.T) {
	t.Parallel()
	now := time.Now()
	orig := Original{Envelope: Envelope{MailFrom: "jörg@src.test"}, Header: []byte("Subject: grüße\nFrom: jörg@src.test\n")}
	dsn, err := BuildDSN("mta.test", orig, []RecipientResult{
		{Recipient: "ü@dst.test", Status: Deferred, RemoteMTA: "mx.dst.test", Reply: Reply{Code: 535, Enhanced: "5.7.8", Text: "auth failed"}},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !dsn.Envelope.SMTPUTF8 {
		t.Error("a UTF-8 report must go with SMTPUTF8")
	}
	h, parts, bodies := parseDSN(t, dsn.Message)
	if h.Get("Subject") != "Delayed Mail (still being retried)" {
		t.Errorf("Subject = %q", h.Get("Subject"))
	}
	if parts[1].Get("Content-Type") != "message/global-delivery-status" || parts[2].Get("Content-Type") != "message/global-headers" {
		t.Errorf("content types %q %q", parts[1].Get("Content-Type"), parts[2].Get("Content-Type"))
	}
	g := statusGroups(t, bodies[1])[1]
	// A deferred recipient is reported delayed with a 4.x.x status, whatever
	// class the server's reply had.
	if g.Get("Action") != "delayed" || g.Get("Status") != "4.7.8" || g.Get("Final-Recipient") != "utf-8; ü@dst.test" {
		t.Errorf("fields = %v", g)
	}
	if string(bodies[2]) != "Subject: grüße\r\nFrom: jörg@src.test\r\n" {
		t.Errorf("headers = %q", bodies[2])
	}
}

func TestBuildDSNRefusals(t *testing.T) {
	t.Parallel()
	rc := []RecipientResult{{Recipient: "b@dst.test", Status: Failed}}
	if _, err := BuildDSN("mta.test", Original{Envelope: Envelope{MailFrom: ""}}, rc, time.Now()); !errors.Is(err, ErrNullSender) {
		t.Errorf("null sender: %v", err)
	}
	if _, err := BuildDSN("mta.test", Original{Envelope: Envelope{MailFrom: "a@x\r\nBcc: y"}}, rc, time.Now()); err == nil {
		t.Error("an address with CRLF was accepted")
	}
	if _, err := BuildDSN("mta.test", Original{Envelope: Envelope{MailFrom: "a@x"}}, nil, time.Now()); err == nil {
		t.Error("no recipients accepted")
	}
	if _, err := BuildDSN("bad name", Original{Envelope: Envelope{MailFrom: "a@x"}}, rc, time.Now()); err == nil {
		t.Error("bad reporting MTA accepted")
	}
}

func TestReadHeader(t *testing.T) {
	t.Parallel()
	msg := "A: 1\r\nB: 2\r\n continued\r\n\r\nbody\r\n"
	h, err := ReadHeader(strings.NewReader(msg), 1<<20)
	if err != nil || string(h) != "A: 1\r\nB: 2\r\n continued\r\n" {
		t.Fatalf("ReadHeader = %q, %v", h, err)
	}
	h, _ = ReadHeader(strings.NewReader(msg), 8) // cut mid-line: whole lines only
	if string(h) != "A: 1\r\n" {
		t.Fatalf("limited ReadHeader = %q", h)
	}
}

func newQP(b []byte) io.Reader { return quotedprintable.NewReader(bytes.NewReader(b)) }
