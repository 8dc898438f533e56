package archive

import (
	"bufio"
	"net/mail"
	"strings"
)

// Journaling. A mail system that journals (Microsoft Exchange, Microsoft
// 365, Amazon WorkMail) sends, for each message, a journal report to the
// journaling address: an envelope whose body lists the original's sender
// and every recipient, Bcc and expanded groups included, and whose
// attachment (message/rfc822) is the original, unaltered. Archived as
// such, every report would show the journaling system as sender and the
// journal address as recipient; so the archive recognises them and
// shows and indexes the original's header and the report's recipients.
//
// The report body, as Microsoft specifies it ("Journal report fields",
// Exchange 2007 and later, and [MS-XJRNL]):
//
//	Sender: <address>
//	Subject: <subject>
//	Message-Id: <message id>
//	To: <address>[, Expanded: <group address>]
//	Cc: <address>[, Forwarded: <original recipient>]
//	Bcc: <address>
//	Recipient: <address>   (when To/Cc/Bcc could not be told apart)
//	On-Behalf-Of: <address>
//
// Exchange marks the report with the header X-MS-Journal-Report. WorkMail
// documents its journal record as compatible with Microsoft's format; we
// assume the same body and attachment, without counting on the header: a
// message whose first text part has a Sender: line, a Message-Id: line
// and at least one recipient line, with a message attached, is a report
// too.

// Journal is what a journal report says of the message it carries.
type Journal struct {
	// Format: "exchange" (the X-MS-Journal-Report header) or "record"
	// (the same report without it: WorkMail and other systems).
	Format string `json:"format"`
	Sender string `json:"sender,omitempty"`
	// Recipients: every address of the To, Cc, Bcc and Recipient lines,
	// and the groups and original recipients of Expanded and Forwarded,
	// each once, in report order.
	Recipients []string `json:"recipients,omitempty"`
	// Bcc: the recipients of Bcc lines (which no header of the original
	// shows).
	Bcc []string `json:"bcc,omitempty"`
	// The report's own subject, Message-ID and sender (From header).
	ReportSubject   string `json:"report_subject,omitempty"`
	ReportMessageID string `json:"report_message_id,omitempty"`
	ReportFrom      string `json:"report_from,omitempty"`
}

// journalReport holds the fields of a report body.
type journalReport struct {
	sender, subject, messageID string
	recipients, bcc            []string
}

// parseJournalReport reads the fields of a report body; ok reports
// whether it has the fields every report has.
func parseJournalReport(text string) (r journalReport, ok bool) {
	seen := map[string]bool{}
	addRcpt := func(a string) {
		if a = journalAddress(a); a != "" && !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			r.recipients = append(r.recipients, a)
		}
	}
	var haveID bool
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), maxTextBytes)
	for sc.Scan() {
		key, value, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "sender":
			if r.sender == "" {
				r.sender = journalAddress(value)
			}
		case "subject":
			if r.subject == "" {
				r.subject = decodeWords(value)
			}
		case "message-id":
			if r.messageID == "" {
				r.messageID, haveID = value, true
			}
		case "to", "cc", "bcc", "recipient":
			// "addr" or "addr, Expanded: group" or "addr, Forwarded: orig".
			addr, via := value, ""
			if i := strings.Index(addr, ","); i >= 0 {
				addr, via = addr[:i], addr[i+1:]
			}
			addRcpt(addr)
			if a := journalAddress(addr); a != "" && strings.EqualFold(strings.TrimSpace(key), "bcc") {
				r.bcc = append(r.bcc, a)
			}
			if k, v, ok := strings.Cut(via, ":"); ok {
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "expanded", "forwarded":
					addRcpt(v)
				}
			}
		}
	}
	return r, r.sender != "" && haveID && len(r.recipients) > 0
}

// journalAddress returns the address of a report value: bare, in angle
// brackets or with a display name.
func journalAddress(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if a, err := mail.ParseAddress(v); err == nil {
		return a.Address
	}
	return strings.Trim(v, "<> ")
}

// detectJournal tells a journal report from other mail once the message
// is parsed, and sets p.journal.
func (p *parsed) detectJournal() {
	// The header's value may be empty ("X-MS-Journal-Report:").
	exchange := len(p.all("X-Ms-Journal-Report")) > 0
	r, ok := parseJournalReport(p.text.String())
	if exchange && !ok && p.inner == nil || !exchange && !(ok && p.inner != nil) {
		return
	}
	j := &Journal{
		Format: "record", Sender: r.sender, Recipients: r.recipients, Bcc: r.bcc,
		ReportSubject: clean(p.textField("Subject")), ReportMessageID: clean(p.get("Message-Id")),
		ReportFrom: clean(p.textField("From")),
	}
	if exchange {
		j.Format = "exchange"
	}
	p.journal = j
	switch {
	case p.inner == nil:
		// Cut short before the original, or sent without it: the report's
		// fields are all there is.
		p.problem("journal report without the original message attached")
	case p.inner.malformed:
		p.malformed = true
		for _, pr := range p.inner.problems {
			if len(p.problems) < 10 {
				p.problems = append(p.problems, "journaled message: "+pr)
			}
		}
	}
	if p.inner == nil {
		// Headers of the original as the report gives them.
		p.inner = &parsed{level: 1}
		for _, f := range []field{{"From", r.sender}, {"Subject", r.subject}, {"Message-Id", r.messageID}} {
			if f.Value != "" {
				p.inner.fields = append(p.inner.fields, f)
			}
		}
	}
}

// original is what the message shows and is indexed by: the journaled
// message of a journal report, else the message itself.
func (p *parsed) original() *parsed {
	if p.journal != nil && p.inner != nil {
		return p.inner
	}
	return p
}
