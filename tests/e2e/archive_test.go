package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/miekg/dns"
	_ "modernc.org/sqlite" // reading the database file

	"github.com/tidings/tidings/internal/blob/pack"
	"github.com/tidings/tidings/internal/store"
)

// TestArchiveJournaling is the journaling scenario (SCENARIOS.md 4, the
// "Email Journaling with SES Mail Manager" post) end to end: a traffic
// policy rejecting all but the journal address, a rule journal-all
// archiving into two archives of different retention (the long one
// encrypted under a key made with `tidings kms create`), a few hundred
// messages sent through the real ingress point over SMTP (Exchange journal
// reports, WorkMail journal records, mail sent straight to the journal
// address), then searches, an export and downloads with the AWS CLI and
// boto3 (py/archive_journal.py), and bad input.
func TestArchiveJournaling(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{Env: []string{"TIDINGS_DNS=" + startNXDNS(t)}})

	// The key of the long-term archive, made with the CLI on the server's
	// database while it runs.
	kmsEnv := append(cleanEnv("TIDINGS_", "AWS_"), "TIDINGS_DATA_DIR="+s.DataDir, "TIDINGS_ACCOUNT_ID="+s.Account, "TIDINGS_REGION="+region)
	out, errOut, code := run(t, kmsEnv, nil, tidingsBin, "kms", "create", "--alias", "journal-long")
	if code != 0 {
		t.Fatalf("tidings kms create: exit %d: %s", code, errOut)
	}
	keyARN := strings.TrimSpace(out)
	if !strings.HasPrefix(keyARN, "arn:aws:kms:"+region+":"+s.Account+":key/") {
		t.Fatalf("tidings kms create printed %q, want a key ARN", keyARN)
	}
	out, _, _ = run(t, kmsEnv, nil, tidingsBin, "kms", "list")
	if !strings.Contains(out, keyARN) || !strings.Contains(out, "alias/journal-long") {
		t.Fatalf("tidings kms list lacks the key:\n%s", out)
	}

	// A KmsKeyArn naming no key is refused as AWS does.
	s.AWSFail(t, "ValidationException", "mailmanager", "create-archive", "--archive-name", "journal-bad-key",
		"--kms-key-arn", "arn:aws:kms:"+region+":"+s.Account+":key/1234abcd-12ab-34cd-56ef-1234567890ab")

	short := str(t, s.AWS(t, "mailmanager", "create-archive", "--archive-name", "journal-short",
		"--retention", "RetentionPeriod=THREE_MONTHS"), "ArchiveId")
	long := str(t, s.AWS(t, "mailmanager", "create-archive", "--archive-name", "journal-long",
		"--retention", "RetentionPeriod=SEVEN_YEARS", "--kms-key-arn", "arn:aws:kms:"+region+":"+s.Account+":alias/journal-long"), "ArchiveId")
	eqAt(t, s.AWS(t, "mailmanager", "get-archive", "--archive-id", long), "Retention.RetentionPeriod", "SEVEN_YEARS")

	const journalAddr = "journal@journaling.corp.example"
	tp := str(t, s.AWS(t, "mailmanager", "create-traffic-policy", "--traffic-policy-name", "journaling-traffic",
		"--default-action", "DENY", "--policy-statements", jsonArg([]any{map[string]any{
			"Action": "ALLOW",
			"Conditions": []any{map[string]any{"StringExpression": map[string]any{
				"Evaluate": map[string]any{"Attribute": "RECIPIENT"}, "Operator": "EQUALS", "Values": []any{journalAddr}}}},
		}})), "TrafficPolicyId")
	rs := str(t, s.AWS(t, "mailmanager", "create-rule-set", "--rule-set-name", "journaling-rules", "--rules", jsonArg([]any{
		map[string]any{"Name": "journal-all", "Actions": []any{
			map[string]any{"Archive": map[string]any{"TargetArchive": short}},
			map[string]any{"Archive": map[string]any{"TargetArchive": long}},
		}},
	})), "RuleSetId")
	ip := str(t, s.AWS(t, "mailmanager", "create-ingress-point", "--ingress-point-name", "journaling-ingress", "--type", "OPEN",
		"--rule-set-id", rs, "--traffic-policy-id", tp), "IngressPointId")
	smtpAddr := str(t, s.AWS(t, "mailmanager", "get-ingress-point", "--ingress-point-id", ip), "ARecord")

	// Send the corpus over SMTP; keep what was sent.
	corpus := journalCorpus()
	sentDir := t.TempDir()
	c := dialSMTP(t, smtpAddr)
	for _, m := range corpus {
		if err := sendOne(c, m.envFrom, []string{journalAddr}, m.raw); err != nil {
			t.Fatalf("sending %s: %v", m.messageID, err)
		}
		if err := os.WriteFile(filepath.Join(sentDir, fileName(m.messageID)), m.raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Anything not for the journal address is refused by the policy.
	rejected := []byte("From: x@ext.example\r\nTo: ceo@corp.example\r\nSubject: not for the journal zq9rejected\r\nMessage-ID: <rejected@ext.example>\r\n\r\nhi\r\n")
	if err := sendOne(c, "x@ext.example", []string{"ceo@corp.example"}, rejected); err == nil {
		t.Errorf("a message to ceo@corp.example was accepted; the traffic policy should refuse it")
	} else {
		t.Logf("refused as expected: %v", err)
	}
	_ = c.Quit()

	manifest := journalManifest(short, long, corpus, sentDir)
	manifestPath := filepath.Join(t.TempDir(), "manifest.json")
	b, _ := json.MarshalIndent(manifest, "", "  ")
	if err := os.WriteFile(manifestPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	// boto3: waits for every message in both archives, then searches,
	// exports, downloads, and bad input.
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account, "TIDINGS_E2E_ARCHIVE_MANIFEST="+manifestPath)
	t.Run("Boto3", func(t *testing.T) {
		runChecks(t, env, 12, pythonBin, scriptPath("e2e", "py", "archive_journal.py"))
	})
	if t.Failed() {
		return
	}

	// The AWS CLI: fewer calls (each is a process), the same server.
	var longIDs map[string]string
	t.Run("CLI", func(t *testing.T) { longIDs = cliJournalSearches(t, s, manifest) })
	t.Run("CLIExportAndDownload", func(t *testing.T) { cliJournalExport(t, s, manifest, corpus, longIDs) })
	t.Run("CLIBadInput", func(t *testing.T) { cliArchiveBadInput(t, s, short) })
	t.Run("EncryptedAtRest", func(t *testing.T) { checkEncryptedAtRest(t, s, short, long, corpus) })
	t.Run("KMSRotate", func(t *testing.T) {
		out, errOut, code := run(t, kmsEnv, nil, tidingsBin, "kms", "rotate", "alias/journal-long")
		if code != 0 || !strings.Contains(out, "version 2") {
			t.Fatalf("tidings kms rotate: exit %d: %s %s", code, out, errOut)
		}
		// Old mail still reads after the rotation.
		m := corpus[0]
		got := downloadCLI(t, s, longIDs[m.messageID])
		if !bytes.Equal(stripTrace(t, got), m.raw) {
			t.Errorf("after rotation, %s reads back different", m.messageID)
		}
	})
}

// journalMessage is one message of the corpus.
type journalMessage struct {
	kind      string // exchange, workmail, direct
	messageID string // of the original: what rows show as MessageId
	envFrom   string
	raw       []byte
	// What searches must find it by.
	sender     string
	recipients []string
	subject    string
	token      string
}

var (
	journalSenders = []string{"alice", "bruno", "chen", "dana", "emeka"}
	partnerNames   = []string{"frank", "gita", "hugo"}
)

// journalCorpus returns 200 messages: 40 Exchange journal reports (every
// fourth with a Bcc to the auditor), 20 WorkMail journal records, 140
// messages sent straight to the journal address (every fifth with an
// attachment).
func journalCorpus() []journalMessage {
	var out []journalMessage
	for i := range 40 {
		sender := journalSenders[i%len(journalSenders)] + "@corp.example"
		subject := fmt.Sprintf("Project falcon status %03d", i)
		token := fmt.Sprintf("falcontok%dx", i)
		mid := fmt.Sprintf("<falcon-%03d@corp.example>", i)
		rcpts := []string{"board@corp.example", "ops-team@corp.example"}
		report := fmt.Sprintf("Sender: %s\r\nSubject: %s\r\nMessage-Id: %s\r\nTo: board@corp.example\r\nTo: ops-lead@corp.example, Expanded: ops-team@corp.example\r\n", sender, subject, mid)
		rcpts = append(rcpts, "ops-lead@corp.example")
		if i%4 == 0 {
			report += "Bcc: auditor-hidden@corp.example\r\n"
			rcpts = append(rcpts, "auditor-hidden@corp.example")
		}
		orig := fmt.Sprintf("From: %s <%s>\r\nTo: board@corp.example\r\nCc: ops-team@corp.example\r\nSubject: %s\r\n"+
			"Date: Mon, 2 Mar 2026 10:%02d:00 +0000\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"Status of project falcon, week %d. Reference %s.\r\n", strings.ToUpper(sender[:1])+strings.Split(sender, "@")[0][1:], sender, subject, i%60, mid, i, token)
		raw := fmt.Sprintf("From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@corp.example>\r\n"+
			"To: journal@journaling.corp.example\r\nSubject: %s\r\nDate: Mon, 2 Mar 2026 10:%02d:05 +0000\r\n"+
			"Message-ID: <report-%03d@journal.corp.example>\r\nX-MS-Journal-Report:\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/mixed; boundary=\"journal-%03d\"\r\n\r\n"+
			"--journal-%03d\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n"+
			"--journal-%03d\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n%s\r\n--journal-%03d--\r\n",
			subject, i%60, i, i, i, report, i, orig, i)
		out = append(out, journalMessage{kind: "exchange", messageID: mid, envFrom: "journaling@corp.example", raw: []byte(raw),
			sender: sender, recipients: rcpts, subject: subject, token: token})
	}
	for i := range 20 {
		sender := partnerNames[i%len(partnerNames)] + "@partner.example"
		subject := fmt.Sprintf("Partner quote %03d", i)
		token := fmt.Sprintf("quotetok%dx", i)
		mid := fmt.Sprintf("<quote-%03d@partner.example>", i)
		orig := fmt.Sprintf("From: %s\r\nTo: sales@corp.example\r\nSubject: %s\r\nDate: Tue, 3 Mar 2026 09:%02d:00 +0100\r\nMessage-ID: %s\r\n\r\n"+
			"Our quote %s is attached in the text.\r\n", sender, subject, i, mid, token)
		raw := fmt.Sprintf("From: journaling@corp.awsapps.example\r\nTo: journal@journaling.corp.example\r\nSubject: Journal record\r\n"+
			"Message-ID: <record-%03d@corp.awsapps.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"wm%03d\"\r\n\r\n"+
			"--wm%03d\r\nContent-Type: text/plain\r\n\r\nSender: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nRecipient: sales@corp.example\r\nRecipient: sales-lead@corp.example\r\n\r\n"+
			"--wm%03d\r\nContent-Type: message/rfc822\r\n\r\n%s\r\n--wm%03d--\r\n",
			i, i, i, sender, subject, mid, i, orig, i)
		out = append(out, journalMessage{kind: "workmail", messageID: mid, envFrom: "journaling@corp.awsapps.example", raw: []byte(raw),
			sender: sender, recipients: []string{"sales@corp.example", "sales-lead@corp.example"}, subject: subject, token: token})
	}
	for i := range 140 {
		sender := fmt.Sprintf("direct%d@ext.example", i%7)
		subject := fmt.Sprintf("Direct note #%03d", i)
		token := fmt.Sprintf("directtok%dx", i)
		mid := fmt.Sprintf("<direct-%03d@ext.example>", i)
		var raw string
		if i%5 == 0 {
			raw = fmt.Sprintf("From: %s\r\nTo: journal@journaling.corp.example\r\nSubject: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\n"+
				"Content-Type: multipart/mixed; boundary=\"d%03d\"\r\n\r\n--d%03d\r\nContent-Type: text/plain\r\n\r\nSee attached, %s.\r\n"+
				"--d%03d\r\nContent-Type: text/csv; name=\"figures-%03d.csv\"\r\nContent-Disposition: attachment; filename=\"figures-%03d.csv\"\r\n\r\n"+
				"a,b\r\n1,2\r\n--d%03d--\r\n", sender, subject, mid, i, i, token, i, i, i, i)
		} else {
			raw = fmt.Sprintf("From: %s\r\nTo: journal@journaling.corp.example\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nPlain note %s.\r\n",
				sender, subject, mid, token)
		}
		out = append(out, journalMessage{kind: "direct", messageID: mid, envFrom: sender, raw: []byte(raw),
			sender: sender, recipients: []string{"journal@journaling.corp.example"}, subject: subject, token: token})
	}
	return out
}

// journalQuery is a search and the Message-IDs it must find.
type journalQuery struct {
	Name    string         `json:"name"`
	Filters map[string]any `json:"filters,omitempty"`
	Native  string         `json:"native,omitempty"`
	Want    []string       `json:"want"`
}

type journalManifestT struct {
	Short   string            `json:"short"`
	Long    string            `json:"long"`
	Total   int               `json:"total"`
	Sent    map[string]string `json:"sent"` // Message-ID -> file of the bytes sent
	Queries []journalQuery    `json:"queries"`
	// Download: a Message-ID whose download the script compares.
	Download string `json:"download"`
}

func journalManifest(short, long string, corpus []journalMessage, sentDir string) *journalManifestT {
	m := &journalManifestT{Short: short, Long: long, Total: len(corpus), Sent: map[string]string{}}
	for _, c := range corpus {
		m.Sent[c.messageID] = filepath.Join(sentDir, fileName(c.messageID))
	}
	want := func(pred func(c journalMessage) bool) []string {
		out := []string{}
		for _, c := range corpus {
			if pred(c) {
				out = append(out, c.messageID)
			}
		}
		slices.Sort(out)
		return out
	}
	contains := func(attr, v string) map[string]any {
		return map[string]any{"Include": []any{map[string]any{"StringExpression": map[string]any{
			"Evaluate": map[string]any{"Attribute": attr}, "Operator": "CONTAINS", "Values": []any{v}}}}}
	}
	m.Queries = []journalQuery{
		{Name: "original sender (FROM)", Filters: contains("FROM", "alice@corp.example"),
			Want: want(func(c journalMessage) bool { return c.sender == "alice@corp.example" })},
		{Name: "Bcc recipient of the journal (ENVELOPE_TO)", Filters: contains("ENVELOPE_TO", "auditor-hidden@corp.example"),
			Want: want(func(c journalMessage) bool { return slices.Contains(c.recipients, "auditor-hidden@corp.example") })},
		{Name: "expanded recipient (ENVELOPE_TO)", Filters: contains("ENVELOPE_TO", "ops-lead"),
			Want: want(func(c journalMessage) bool { return slices.Contains(c.recipients, "ops-lead@corp.example") })},
		{Name: "WorkMail sender (ENVELOPE_FROM)", Filters: contains("ENVELOPE_FROM", "gita@partner.example"),
			Want: want(func(c journalMessage) bool { return c.sender == "gita@partner.example" })},
		{Name: "subject", Filters: contains("SUBJECT", "direct note #07"),
			Want: want(func(c journalMessage) bool { return strings.HasPrefix(c.subject, "Direct note #07") })},
		{Name: "has attachments, direct sender", Filters: map[string]any{"Include": []any{
			map[string]any{"BooleanExpression": map[string]any{"Evaluate": map[string]any{"Attribute": "HAS_ATTACHMENTS"}, "Operator": "IS_TRUE"}},
			map[string]any{"StringExpression": map[string]any{"Evaluate": map[string]any{"Attribute": "FROM"}, "Operator": "CONTAINS", "Values": []any{"direct3@"}}},
		}},
			Want: want(func(c journalMessage) bool {
				return c.kind == "direct" && c.sender == "direct3@ext.example" && bytes.Contains(c.raw, []byte("figures-"))
			})},
		{Name: "native from: and to:", Native: "from:chen@corp.example to:auditor-hidden@corp.example",
			Want: want(func(c journalMessage) bool {
				return c.sender == "chen@corp.example" && slices.Contains(c.recipients, "auditor-hidden@corp.example")
			})},
		{Name: "native word", Native: "falcontok17x", Want: want(func(c journalMessage) bool { return c.token == "falcontok17x" })},
		{Name: "native phrase and negation", Native: `"partner quote" -from:frank`,
			Want: want(func(c journalMessage) bool { return c.kind == "workmail" && !strings.HasPrefix(c.sender, "frank") })},
	}
	m.Download = corpus[5].messageID
	return m
}

func fileName(messageID string) string {
	return strings.NewReplacer("<", "", ">", "", "@", "_at_").Replace(messageID) + ".eml"
}

// dialSMTP connects to an ingress point, waiting for its listener.
func dialSMTP(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			c, err := smtp.NewClient(conn, "127.0.0.1")
			if err != nil {
				t.Fatalf("SMTP greeting from %s: %v", addr, err)
			}
			if err := c.Hello("journaling.corp.example"); err != nil {
				t.Fatalf("EHLO: %v", err)
			}
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingress point %s does not listen: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sendOne sends one message in a transaction of c (without STARTTLS: the
// ingress point's TLS policy is OPTIONAL). net/smtp's DATA writer
// dot-stuffs; the messages end in CRLF, so what is archived is raw.
func sendOne(c *smtp.Client, from string, to []string, raw []byte) error {
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			_ = c.Reset()
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		_ = c.Reset()
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	return w.Close()
}

// stripTrace checks that an archived message carries none of the fields
// Tidings' own hops put in front of a message (its Received, its
// Authentication-Results: the archive keeps them as metadata) and returns
// it as it is, to be compared byte for byte with what was sent.
func stripTrace(t testing.TB, b []byte) []byte {
	t.Helper()
	head := b
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		head = b[:i]
	}
	if bytes.Contains(head, []byte(" (Tidings) with ")) || bytes.HasPrefix(b, []byte("Authentication-Results:")) {
		t.Errorf("the archived message carries Tidings' trace fields: %.200q", b)
	}
	return b
}

// startNXDNS serves DNS on loopback answering NXDOMAIN to everything: the
// SPF/DKIM/DMARC look-ups of the gateway answer at once on a closed
// network.
func startNXDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// cliSearch runs a search with the AWS CLI and returns its rows.
func cliSearch(t *testing.T, s *Server, archiveID string, filters map[string]any, max int) []any {
	t.Helper()
	from := time.Now().Add(-24 * time.Hour).Unix()
	to := time.Now().Add(time.Hour).Unix()
	args := []string{"mailmanager", "start-archive-search", "--archive-id", archiveID,
		"--from-timestamp", fmt.Sprint(from), "--to-timestamp", fmt.Sprint(to), "--max-results", fmt.Sprint(max)}
	if filters != nil {
		args = append(args, "--filters", jsonArg(filters))
	}
	sid := str(t, s.AWS(t, args...), "SearchId")
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := s.AWS(t, "mailmanager", "get-archive-search", "--search-id", sid)
		state := at(st, "Status.State")
		if state == "COMPLETED" {
			break
		}
		if state == "FAILED" || state == "CANCELLED" || time.Now().After(deadline) {
			t.Fatalf("search %s: %s", sid, js(st))
		}
		time.Sleep(200 * time.Millisecond)
	}
	rows, _ := s.AWS(t, "mailmanager", "get-archive-search-results", "--search-id", sid)["Rows"].([]any)
	return rows
}

func rowMessageIDs(rows []any) []string {
	out := []string{}
	for _, r := range rows {
		if id, ok := r.(map[string]any)["MessageId"].(string); ok {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// cliJournalSearches runs a few of the manifest's searches with the AWS
// CLI (boto3 runs them all, on both archives: the CLI costs a process per
// call).
func cliJournalSearches(t *testing.T, s *Server, m *journalManifestT) (longIDs map[string]string) {
	// Every message of the long archive: the rows of a journal report
	// show the original.
	rows := cliSearch(t, s, m.Long, nil, 1000)
	if len(rows) != m.Total {
		t.Fatalf("%d rows, want %d", len(rows), m.Total)
	}
	longIDs = map[string]string{}
	for _, r := range rows {
		row := r.(map[string]any)
		longIDs[str(t, row, "MessageId")] = str(t, row, "ArchivedMessageId")
		if row["MessageId"] != "<falcon-004@corp.example>" {
			continue
		}
		eqAt(t, row, "From", "Emeka <emeka@corp.example>")
		eqAt(t, row, "To", "board@corp.example")
		eqAt(t, row, "Cc", "ops-team@corp.example")
		eqAt(t, row, "Subject", "Project falcon status 004")
		eqAt(t, row, "Date", "Mon, 2 Mar 2026 10:04:00 +0000")
		eqAt(t, row, "Envelope.To", []any{"journal@journaling.corp.example"})
		eqAt(t, row, "Envelope.From", "journaling@corp.example")
	}
	// The Bcc recipient of the journal, in the short archive.
	q := m.Queries[1]
	eq(t, q.Name, q.Want, rowMessageIDs(cliSearch(t, s, m.Short, q.Filters, 1000)))
	return longIDs
}

// downloadCLI gets a message's download link with the CLI and fetches it.
func downloadCLI(t *testing.T, s *Server, archivedID string) []byte {
	t.Helper()
	msg := s.AWS(t, "mailmanager", "get-archive-message", "--archived-message-id", archivedID)
	link := str(t, msg, "MessageDownloadLink")
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", link, resp.StatusCode, err, body)
	}
	return body
}

func cliJournalExport(t *testing.T, s *Server, m *journalManifestT, corpus []journalMessage, longIDs map[string]string) {
	// Downloads, byte for byte, from the encrypted archive (boto3 does
	// the other): a WorkMail record, a direct message.
	for _, c := range []journalMessage{corpus[45], corpus[100]} {
		got := stripTrace(t, downloadCLI(t, s, longIDs[c.messageID]))
		if !bytes.Equal(got, c.raw) {
			t.Errorf("%s: the download differs from what was sent\n got: %.200q\nwant: %.200q", c.messageID, got, c.raw)
		}
	}

	from := time.Now().Add(-24 * time.Hour).Unix()
	to := time.Now().Add(time.Hour).Unix()
	eid := str(t, s.AWS(t, "mailmanager", "start-archive-export", "--archive-id", m.Long,
		"--from-timestamp", fmt.Sprint(from), "--to-timestamp", fmt.Sprint(to),
		"--filters", jsonArg(map[string]any{"Include": []any{map[string]any{"StringExpression": map[string]any{
			"Evaluate": map[string]any{"Attribute": "ENVELOPE_TO"}, "Operator": "CONTAINS", "Values": []any{"auditor-hidden"}}}}}),
		"--export-destination-configuration", jsonArg(map[string]any{"S3": map[string]any{"S3Location": "s3://audit-exports/case-7/"}}),
		"--include-metadata"), "ExportId")
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := s.AWS(t, "mailmanager", "get-archive-export", "--export-id", eid)
		if at(st, "Status.State") == "COMPLETED" {
			break
		}
		if at(st, "Status.State") == "FAILED" || time.Now().After(deadline) {
			t.Fatalf("export %s: %s", eid, js(st))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if findBy(s.AWS(t, "mailmanager", "list-archive-exports", "--archive-id", m.Long), "Exports", "ExportId", eid) == nil {
		t.Errorf("list-archive-exports lacks %s", eid)
	}
	dir := filepath.Join(s.DataDir, "blobs", "exports", "audit-exports", "case-7", eid)
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var wantN int
	byID := map[string]journalMessage{}
	for _, c := range corpus {
		byID[c.messageID] = c
		if slices.Contains(c.recipients, "auditor-hidden@corp.example") {
			wantN++
		}
	}
	if len(files) != wantN {
		t.Fatalf("export wrote %d messages in %s, want %d", len(files), dir, wantN)
	}
	for _, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".metadata.json")
		if err != nil {
			t.Fatalf("IncludeMetadata: %v", err)
		}
		var md map[string]any
		if err := json.Unmarshal(meta, &md); err != nil {
			t.Fatal(err)
		}
		c, ok := byID[fmt.Sprint(md["MessageId"])]
		if !ok {
			t.Fatalf("exported metadata names %v, not a message sent", md["MessageId"])
		}
		if !bytes.Equal(stripTrace(t, got), c.raw) {
			t.Errorf("exported %s differs from what was sent", c.messageID)
		}
	}
}

func cliArchiveBadInput(t *testing.T, s *Server, archiveID string) {
	now := time.Now().Unix()
	// A time range that ends before it starts.
	s.AWSFail(t, "ValidationException", "mailmanager", "start-archive-search", "--archive-id", archiveID,
		"--from-timestamp", fmt.Sprint(now), "--to-timestamp", fmt.Sprint(now-3600), "--max-results", "10")
	// More conditions than a search takes.
	var many []any
	for i := range 11 {
		many = append(many, map[string]any{"StringExpression": map[string]any{
			"Evaluate": map[string]any{"Attribute": "SUBJECT"}, "Operator": "CONTAINS", "Values": []any{fmt.Sprint("w", i)}}})
	}
	s.AWSFail(t, "ValidationException", "mailmanager", "start-archive-search", "--archive-id", archiveID,
		"--from-timestamp", fmt.Sprint(now-3600), "--to-timestamp", fmt.Sprint(now), "--max-results", "10",
		"--filters", jsonArg(map[string]any{"Include": many}))
	// An archive that does not exist.
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "start-archive-search", "--archive-id", "a-doesnotexist0000",
		"--from-timestamp", fmt.Sprint(now-3600), "--to-timestamp", fmt.Sprint(now), "--max-results", "10")
	s.AWSFail(t, "ResourceNotFoundException", "mailmanager", "start-archive-export", "--archive-id", "a-doesnotexist0000",
		"--from-timestamp", fmt.Sprint(now-3600), "--to-timestamp", fmt.Sprint(now),
		"--export-destination-configuration", jsonArg(map[string]any{"S3": map[string]any{"S3Location": "s3://bad-bucket/p/"}}))
}

// checkEncryptedAtRest: what is on disk of the long archive is
// ciphertext; the short archive's decompresses to the mail. Where each
// message is (a range of a shared pack segment, or a blob of its own) is
// read from the database file, and a body token of every message is
// looked for in what is there.
func checkEncryptedAtRest(t *testing.T, s *Server, short, long string, corpus []journalMessage) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.DataDir, store.FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := func(archiveID string) (raw, plain []byte, n int) {
		rows, err := db.Query(`SELECT blob_key FROM archive_messages WHERE archive_id = ?`, archiveID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var where string
			if err := rows.Scan(&where); err != nil {
				t.Fatal(err)
			}
			b := storedBytes(t, s.DataDir, where)
			n++
			raw = append(raw, b...)
			if p, err := zstdDecode(b); err == nil {
				plain = append(plain, p...)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return raw, plain, n
	}
	_, shortPlain, nShort := stored(short)
	longRaw, longPlain, nLong := stored(long)
	if nShort != len(corpus) || nLong != len(corpus) {
		t.Fatalf("stored messages: %d in the short archive, %d in the long, want %d each", nShort, nLong, len(corpus))
	}
	for _, c := range corpus {
		if !bytes.Contains(shortPlain, []byte(c.token)) {
			t.Errorf("control: %s not in the short (unencrypted) archive's content", c.token)
		}
		for _, b := range [][]byte{longRaw, longPlain} {
			if bytes.Contains(b, []byte(c.token)) || bytes.Contains(b, []byte(c.subject)) {
				t.Errorf("plaintext of %s in the encrypted archive's content", c.messageID)
			}
		}
	}
}

// storedBytes reads what an archived message's blob_key names: a range of
// a pack segment, or a file of the blob store.
func storedBytes(t *testing.T, dataDir, where string) []byte {
	t.Helper()
	if !pack.IsRef(where) {
		b, err := os.ReadFile(filepath.Join(dataDir, "blobs", filepath.FromSlash(where)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ref, err := pack.ParseRef(where)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dataDir, "packs", "archive", filepath.FromSlash(ref.Segment)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, ref.Length)
	if _, err := f.ReadAt(b, ref.Offset); err != nil {
		t.Fatal(err)
	}
	return b
}

func zstdDecode(b []byte) ([]byte, error) {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.DecodeAll(b, nil)
}
