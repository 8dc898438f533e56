package feedback

import (
	"regexp"
	"strings"
)

// BounceType is the SES bounceType of a bounce event.
type BounceType string

const (
	Undetermined BounceType = "Undetermined" // the report does not say enough
	Permanent    BounceType = "Permanent"    // a hard bounce: do not send again
	Transient    BounceType = "Transient"    // a soft bounce: a later send may succeed
)

// BounceSubType is the SES bounceSubType.
type BounceSubType string

const (
	SubUndetermined BounceSubType = "Undetermined"
	// Permanent subtypes.
	SubGeneral    BounceSubType = "General"    // also a Transient subtype
	SubNoEmail    BounceSubType = "NoEmail"    // the address does not exist
	SubSuppressed BounceSubType = "Suppressed" // SES suppressed it (from SES, never parsed)
	// SubOnAccountSuppressionList is given by the sender, never parsed.
	SubOnAccountSuppressionList BounceSubType = "OnAccountSuppressionList"
	// Transient subtypes.
	SubMailboxFull        BounceSubType = "MailboxFull"
	SubMessageTooLarge    BounceSubType = "MessageTooLarge"
	SubContentRejected    BounceSubType = "ContentRejected"
	SubAttachmentRejected BounceSubType = "AttachmentRejected"
)

var (
	replyRe = regexp.MustCompile(`\b([245])[0-9][0-9][ -]`)

	mailboxFullWords = []string{"mailbox full", "mailbox is full", "mailbox quota", "over quota", "quota exceeded",
		"exceeded storage", "insufficient storage", "out of storage", "user is over", "mailbox size limit",
		"not enough storage", "overquota", "inbox is full"}
	tooLargeWords = []string{"message too large", "message is too large", "too big", "size limit", "exceeds the maximum",
		"exceeds size", "message size exceeds", "message exceeds", "size exceeds", "messagesizeexceeded", "message length exceeds"}
	attachmentWords = []string{"attachment", "virus", "malware", "file type", "prohibited file", "blocked file",
		"banned file", "infected", "executable"}
	contentWords = []string{"spam", "junk", "content rejected", "message content", "content filter", "blocked by policy",
		"policy reasons", "rejected for policy", "blacklist", "blocklist", "denylist", "reputation", "phish",
		"bulk mail", "unsolicited", "looks suspicious"}
	noEmailWords = []string{"user unknown", "unknown user", "no such user", "does not exist", "doesn't exist",
		"not exist", "no such mailbox", "unknown recipient", "recipient unknown", "invalid recipient",
		"recipient not found", "recipientnotfound", "recipnotfound", "address not found", "couldn't be found",
		"could not be found", "no mailbox", "mailbox unavailable", "mailbox not found", "invalid mailbox",
		"unrouteable address", "unknown address", "address rejected", "account disabled", "account has been disabled",
		"account is disabled", "no longer available", "no such recipient", "not a valid", "bad destination mailbox",
		"user not found", "undeliverable address", "mailbox does not exist", "is not a known user"}
)

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// Classify gives the SES bounce type and subtype of a recipient's failure
// from its enhanced status code (RFC 3463; "" if none) and diagnostic
// text. As SES does, a full mailbox, an oversized message and rejected
// content or attachments are Transient even when the code is permanent;
// a 5.1.x address status is Permanent NoEmail.
func Classify(status, diagnostic string) (BounceType, BounceSubType) {
	d := strings.ToLower(diagnostic)
	if status == "" {
		status = statusCode(diagnostic)
	}
	class := byte(0)
	if status != "" {
		class = status[0]
	} else if m := replyRe.FindStringSubmatch(diagnostic + " "); m != nil {
		class = m[1][0]
	}
	subject, detail := "", ""
	if parts := strings.SplitN(status, ".", 3); len(parts) == 3 {
		subject, detail = parts[1], parts[2]
	}
	sd := subject + "." + detail
	switch {
	case sd == "2.2" || containsAny(d, mailboxFullWords):
		return Transient, SubMailboxFull
	case sd == "3.4" || sd == "2.3" || containsAny(d, tooLargeWords):
		return Transient, SubMessageTooLarge
	case class == '5' && subject == "1" && detail != "2" && detail != "8" && detail != "7":
		// 5.1.x: a bad mailbox address (5.1.1 unknown, 5.1.6 moved,
		// 5.1.10 Microsoft's recipient not found). A bad domain (5.1.2)
		// or sender (5.1.7, 5.1.8) is General.
		return Permanent, SubNoEmail
	case containsAny(d, attachmentWords):
		return Transient, SubAttachmentRejected
	case subject == "6" || containsAny(d, contentWords):
		return Transient, SubContentRejected
	case class == '4':
		return Transient, SubGeneral
	case containsAny(d, noEmailWords) && class != '2':
		return Permanent, SubNoEmail
	case class == '5':
		return Permanent, SubGeneral
	}
	return Undetermined, SubUndetermined
}
