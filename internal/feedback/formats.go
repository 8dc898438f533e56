package feedback

import (
	"regexp"
	"strings"
)

// The non-standard bounce formats: text written by an MTA for people,
// read here by the phrases each MTA has used for decades.

// maxReportText is how much of a text report the format parsers read.
const maxReportText = 32 << 10

// parseText recognizes a bounce by its text and fills b's format and
// recipients. top is the notification's own header.
func parseText(b *Bounce, top headers, text string) bool {
	// The report an MTA writes for people is short; what follows is the
	// returned message. Bounding it bounds the regular expressions' work
	// on hostile input.
	if len(text) > maxReportText {
		text = text[:maxReportText]
	}
	subject := strings.ToLower(top.get("Subject"))
	switch {
	case strings.Contains(text, "This is the qmail-send program"):
		b.Format = FormatQmail
		parseQmail(b, text)
	case strings.Contains(text, "This message was created automatically by mail delivery software") ||
		strings.HasPrefix(subject, "mail delivery failed") || strings.HasPrefix(subject, "warning: message"):
		b.Format = FormatExim
		parseExim(b, text, strings.HasPrefix(subject, "warning: message"))
	case strings.Contains(text, "This is the mail system at host") || strings.Contains(text, "This is the Postfix program at host"):
		b.Format = FormatPostfix
		parsePostfix(b, text)
	case strings.Contains(text, "Diagnostic information for administrators") ||
		strings.Contains(text, "Delivery has failed to these recipients or groups") ||
		strings.Contains(text, "Remote Server returned '"):
		b.Format = FormatExchange
		parseExchange(b, text)
	case strings.Contains(subject, "delivery status notification") ||
		strings.Contains(text, "Delivery to the following recipient") ||
		strings.Contains(text, "** Address not found **") || strings.Contains(text, "** Message not delivered **") ||
		strings.Contains(text, "** Message blocked **") || strings.Contains(text, "** Delivery incomplete **"):
		b.Format = FormatGmail
		parseGmail(b, text)
	default:
		if !bounceLike(top) {
			return false
		}
		b.Format = FormatUnknown
		parseGeneric(b, text)
	}
	return true
}

var bounceSubjects = []string{"undeliverable", "undelivered mail", "delivery status notification", "mail delivery failed",
	"returned mail", "failure notice", "delivery failure", "delivery failed", "non-delivery", "nondeliverable",
	"mail delivery failure", "delivery notification", "could not send message", "message not delivered"}

// bounceLike: a notification by its subject or its sender.
func bounceLike(top headers) bool {
	if containsAny(strings.ToLower(top.get("Subject")), bounceSubjects) {
		return true
	}
	from := strings.ToLower(top.get("From"))
	return strings.Contains(from, "mailer-daemon") || strings.Contains(from, "postmaster") || strings.Contains(from, "mail delivery")
}

// cut returns text before the first of the markers that introduce the
// returned message, so that its own lines are not read as the report's.
func cut(text string, markers ...string) string {
	for _, m := range markers {
		if i := strings.Index(text, m); i >= 0 {
			text = text[:i]
		}
	}
	return text
}

func addRecipient(b *Bounce, addr, diag, action string) {
	addr = strings.Trim(strings.TrimSpace(addr), "<>\"'")
	if addr == "" || !strings.Contains(addr, "@") || len(b.Recipients) >= maxFields {
		return
	}
	diag = strings.Join(strings.Fields(diag), " ")
	b.Recipients = append(b.Recipients, Recipient{EmailAddress: addr, DiagnosticCode: diag, Action: action, Status: statusCode(diag)})
}

// qmail: "<addr>:" then the diagnostic lines, then an empty line
// (https://cr.yp.to/proto/qsbmf.txt).
var qmailRe = regexp.MustCompile(`(?m)^<([^<>\s]+@[^<>\s]+)>:[ \t]*\n((?:[^\n]+\n?)*)`)

func parseQmail(b *Bounce, text string) {
	text = cut(text, "--- Below this line is a copy of the message.", "--- Enclosed are the original headers of the message.")
	for _, m := range qmailRe.FindAllStringSubmatch(text, -1) {
		diag := m[2]
		if statusCode(diag) == "" && replyRe.FindString(diag+" ") == "" {
			// qmail's own permanent failures carry no code ("Sorry, no
			// mailbox here by that name. (#5.1.1)" carries one).
			if s := qmailHashCode.FindStringSubmatch(diag); s != nil {
				diag += " " + s[1]
			}
		}
		addRecipient(b, m[1], diag, "failed")
	}
}

var qmailHashCode = regexp.MustCompile(`\(#(\d\.\d\.\d+)\)`)

// Exim: "The following address(es) failed:", then per address a line
// indented by two spaces and the diagnostic indented further.
func parseExim(b *Bounce, text string, warning bool) {
	text = cut(text, "------ This is a copy of the message")
	if i := strings.Index(text, "\nNo action is required on your part"); i >= 0 {
		text = text[:i] // the end of a delay warning's list
	}
	action := "failed"
	if warning {
		action = "delayed"
	}
	lines := strings.Split(text, "\n")
	in := false
	var addr string
	var diag []string
	flush := func() {
		if addr != "" {
			addRecipient(b, addr, strings.Join(diag, " "), action)
		}
		addr, diag = "", nil
	}
	for _, line := range lines {
		trim := strings.TrimSpace(line)
		lower := strings.ToLower(trim)
		if !in {
			if strings.HasSuffix(lower, "failed:") || strings.Contains(lower, "address(es) failed") ||
				strings.Contains(lower, "has not yet been delivered") && strings.HasSuffix(lower, ":") ||
				strings.HasSuffix(lower, "could not be delivered:") {
				in = true
			}
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " \t"))
		switch {
		case trim == "":
			if addr != "" && len(diag) > 0 {
				flush()
			}
		case indent > 0 && indent <= 2 && strings.Contains(trim, "@") && !strings.Contains(trim, " ") ||
			indent > 0 && indent <= 2 && strings.HasPrefix(trim, "<") && strings.Contains(trim, "@"):
			flush()
			addr = firstWord(trim)
		case indent > 2 && addr != "":
			diag = append(diag, trim)
		case indent == 0 && addr != "":
			flush()
		}
	}
	flush()
}

// Postfix without a DSN part: "<addr>: diagnostic" with continuation lines
// indented.
var postfixRe = regexp.MustCompile(`(?m)^<([^<>\s]+@[^<>\s]+)>(?: \(expanded from <[^>]*>\))?:[ \t]*((?:[^\n]*)(?:\n[ \t]+[^\n]*)*)`)

func parsePostfix(b *Bounce, text string) {
	action := "failed"
	if strings.Contains(text, "THIS IS A WARNING ONLY") || strings.Contains(text, "not an error message") ||
		strings.Contains(text, "Delayed Mail (still being retried)") {
		action = "delayed"
	}
	text = cut(text, "Reporting-MTA:", "--- Original message", "Original message headers")
	for _, m := range postfixRe.FindAllStringSubmatch(text, -1) {
		addRecipient(b, m[1], m[2], action)
	}
}

// Exchange / Office 365: the address on a line of its own, then "Remote
// Server returned '…'"; or the older "#550 5.1.1 …##" codes.
var (
	exchangeRe     = regexp.MustCompile(`(?m)^[ \t]*<?([^\s<>()]+@[^\s<>()]+)>?(?:[ \t]*\([^)\n]*\))?[ \t]*\n(?:[^\n]*\n){0,4}?[ \t]*Remote Server returned '([^'\n]*)'`)
	exchangeHashRe = regexp.MustCompile(`(?m)^[ \t]*<?([^\s<>()]+@[^\s<>()]+)>?[ \t\S]*\n(?:[^\n]*\n){0,4}?[^\n]*#(\d{3}[ -]\d\.\d\.\d+[^#\n]*)#`)
	exchangeListRe = regexp.MustCompile(`(?m)^[ \t]*([^\s<>()]+@[^\s<>()]+)(?:[ \t]*\(([^)\n]*)\))?[ \t]*\n((?:[ \t]*[^\s\n][^\n]*\n?){0,3})`)
)

func parseExchange(b *Bounce, text string) {
	text = cut(text, "Original message headers:", "Original Message Headers")
	for _, m := range exchangeRe.FindAllStringSubmatch(text, -1) {
		addRecipient(b, m[1], m[2], "failed")
	}
	if len(b.Recipients) > 0 {
		return
	}
	for _, m := range exchangeHashRe.FindAllStringSubmatch(text, -1) {
		addRecipient(b, m[1], m[2], "failed")
	}
	if len(b.Recipients) > 0 {
		return
	}
	// "Delivery has failed to these recipients or groups:" then the
	// address and a paragraph saying why.
	if i := strings.Index(text, "Delivery has failed to these recipients or groups"); i >= 0 {
		sec := text[i:]
		if nl := strings.IndexByte(sec, '\n'); nl >= 0 {
			sec = sec[nl+1:]
		}
		sec = cut(sec, "Diagnostic information for administrators")
		for _, m := range exchangeListRe.FindAllStringSubmatch(strings.TrimLeft(sec, "\n"), -1) {
			addRecipient(b, m[1], m[3], "failed")
		}
	}
}

// Gmail: "Delivery to the following recipient failed permanently:" and the
// address indented, or "Your message wasn't delivered to addr because…";
// the remote answer follows "The response from the remote server was:"
// or "Technical details of … failure:".
var (
	gmailListRe  = regexp.MustCompile(`Delivery to the following recipients? (failed permanently|has been delayed|failed temporarily)[^:\n]*:\s*\n((?:[ \t]*[^\s@]+@[^\s]+[ \t]*\n?)+)`)
	gmailWasntRe = regexp.MustCompile(`(?:wasn't|was not|isn't|hasn't been) (?:been )?delivered to ([^\s@]+@[^\s]+?)[ \t]+because`)
	gmailBlockRe = regexp.MustCompile(`(?s)(?:The response from the remote server was|The response was|The error that the other server returned was|Technical details of [a-z ]*failure):\s*\n\s*(.+?)(?:\n\s*\n|\z)`)
)

func parseGmail(b *Bounce, text string) {
	text = cut(text, "----- Original message -----", "----- Message header follows -----")
	// Of the paragraphs that quote the remote server, the one with an
	// SMTP reply says most.
	diag := ""
	for _, m := range gmailBlockRe.FindAllStringSubmatch(text, 5) {
		if diag == "" || statusCode(m[1]) != "" || replyRe.MatchString(m[1]+" ") {
			diag = m[1]
		}
	}
	action := "failed"
	if strings.Contains(text, "has been delayed") || strings.Contains(text, "failed temporarily") ||
		strings.Contains(text, "will retry") || strings.Contains(text, "Delivery incomplete") {
		action = "delayed"
	}
	if m := gmailListRe.FindStringSubmatch(text); m != nil {
		for _, a := range strings.Fields(m[2]) {
			addRecipient(b, a, diag, action)
		}
	}
	if len(b.Recipients) == 0 {
		for _, m := range gmailWasntRe.FindAllStringSubmatch(text, -1) {
			addRecipient(b, strings.TrimRight(m[1], ".,;"), diag, action)
		}
	}
	// Without a code in the server's answer, Gmail's own headline says
	// what happened: "** Address not found **" is a bad mailbox, or a bad
	// domain when the text says the domain could not be found.
	status := ""
	switch {
	case action == "delayed":
		status = "4.0.0"
	case strings.Contains(text, "Address not found") && strings.Contains(text, "because the domain"):
		status = "5.1.2"
	case strings.Contains(text, "Address not found"):
		status = "5.1.1"
	case strings.Contains(text, "failed permanently") || strings.Contains(text, "Message not delivered") ||
		strings.Contains(text, "Message blocked"):
		status = "5.0.0"
	}
	for i := range b.Recipients {
		if b.Recipients[i].Status == "" {
			b.Recipients[i].Status = status
		}
	}
}

// parseGeneric reads "addr: diagnostic" or an address next to an SMTP
// reply from a bounce of an unknown MTA.
var genericRe = regexp.MustCompile(`(?m)<?([^\s<>:()"']+@[^\s<>:()"']+\.[A-Za-z]{2,})>?[^\n]*\n?[^\n]*?\b([45]\d\d[ -][^\n]*)`)

func parseGeneric(b *Bounce, text string) {
	text = cut(text, "----- Original message -----", "-----Original Message-----", "Original message headers:",
		"----- Original message follows -----", "----- Transcript of session follows -----",
		"----- Message header follows -----", "------ This is a copy of the message")
	for _, m := range genericRe.FindAllStringSubmatch(text, 20) {
		addRecipient(b, m[1], m[2], "failed")
	}
}
