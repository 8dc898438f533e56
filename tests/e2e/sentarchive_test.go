package e2e

import (
	"bytes"
	"testing"
)

// TestSendingArchive: a configuration set made with the AWS CLI whose
// ArchivingOptions name a Mail Manager archive; a message sent with it is
// found by `aws mailmanager start-archive-search` and downloads byte for
// byte as it was delivered, DKIM signature included. A set naming a
// missing archive is refused.
func TestSendingArchive(t *testing.T) {
	t.Parallel()
	s, sink, z := startSendingServer(t, serverOpts{})
	domain := "archived.example.test"
	verifyDomainByDNS(t, s, z, domain)
	arch := s.AWS(t, "mailmanager", "create-archive", "--archive-name", "sent-mail")
	archiveID := str(t, arch, "ArchiveId")
	archiveARN := str(t, s.AWS(t, "mailmanager", "get-archive", "--archive-id", archiveID), "ArchiveArn")

	s.AWSFail(t, "NotFoundException", "sesv2", "create-configuration-set", "--configuration-set-name", "bad",
		"--archiving-options", "ArchiveArn="+archiveARN[:len(archiveARN)-4]+"zzzz")
	s.AWS(t, "sesv2", "create-configuration-set", "--configuration-set-name", "kept")
	s.AWS(t, "sesv2", "put-configuration-set-archiving-options", "--configuration-set-name", "kept", "--archive-arn", archiveARN)
	eqAt(t, s.AWS(t, "sesv2", "get-configuration-set", "--configuration-set-name", "kept"), "ArchivingOptions.ArchiveArn", archiveARN)

	token := "quarterly-report-" + randomSuffix()
	id := str(t, s.AWS(t, "sesv2", "send-email", "--from-email-address", "finance@"+domain,
		"--destination", `{"ToAddresses":["auditor@dest.test"]}`, "--configuration-set-name", "kept",
		"--content", `{"Simple":{"Subject":{"Data":"`+token+`"},"Body":{"Text":{"Data":"Figures attached."}}}}`), "MessageId")
	m := sink.waitFor(t, "archived", containing(id))

	var rows []any
	for range 50 { // archived by the delivery job: before or after the sink got it
		rows = cliSearch(t, s, archiveID, map[string]any{"Include": []any{map[string]any{"StringExpression": map[string]any{
			"Evaluate": map[string]any{"Attribute": "SUBJECT"}, "Operator": "CONTAINS", "Values": []any{token}}}}}, 10)
		if len(rows) > 0 {
			break
		}
	}
	if len(rows) != 1 {
		t.Fatalf("want the sent message in the archive, found %d rows", len(rows))
	}
	eqAt(t, rows[0], "Subject", token)
	got := downloadCLI(t, s, str(t, rows[0], "ArchivedMessageId"))
	// The SMTP client ends the last line with CRLF (RFC 5321 4.1.1.4)
	// where the composed message has none: the only difference allowed.
	crlf := []byte("\r\n")
	if !bytes.Equal(bytes.TrimSuffix(got, crlf), bytes.TrimSuffix(m.Data, crlf)) {
		t.Errorf("the archived message is not the delivered one:\narchived:\n%s\ndelivered:\n%s", got, m.Data)
	}
	if out, err := opendkimVerifyOrSkip(t, z, got); err != nil {
		t.Errorf("the archived message's DKIM signature: %v\n%s", err, out)
	}
}
