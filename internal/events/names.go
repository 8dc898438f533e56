package events

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/tidings/tidings/internal/fault"
)

// topicNameRe: SNS topic names (letters, digits, '-' and '_', up to 256,
// with ".fifo" for FIFO topics) and EventBridge bus names without '/'
// (letters, digits, '.', '-', '_'). Bus names with '/' (partner buses)
// have no Tidings topic.
var topicNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,256}$`)

// ValidateTopicName checks a topic name.
func ValidateTopicName(name string) error {
	if !topicNameRe.MatchString(name) {
		return &fault.Error{Kind: fault.Invalid, ResourceType: "topic", ResourceID: name,
			Message: "invalid topic name " + quote(name) + ": want 1 to 256 letters, digits, '.', '-' or '_'"}
	}
	return nil
}

// TopicFromARN returns the topic an ARN names in accountID. Two kinds
// of ARN name Tidings topics, in one name space per account:
//
//	arn:aws:sns:<region>:<account>:<name>                  the topic <name>
//	arn:aws:events:<region>:<account>:event-bus/<name>     the topic <name>
//
// so an SNS topic "orders" and an EventBridge bus "orders" are the same
// topic. The region is not checked (a node answers as one region, but
// configurations copied from other regions keep working); the account must
// be the caller's (fault.AccessDenied otherwise). Any partition is taken
// (aws, aws-cn, aws-us-gov). A bare topic name is taken as it is.
func TopicFromARN(accountID, arn string) (string, error) {
	if !strings.HasPrefix(arn, "arn:") {
		if err := ValidateTopicName(arn); err != nil {
			return "", fault.Invalidf("destination %s: want an SNS topic ARN, an EventBridge event bus ARN or a topic name", quote(arn))
		}
		return arn, nil
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[1] == "" {
		return "", fault.Invalidf("destination %s: malformed ARN", quote(arn))
	}
	service, acct, resource := parts[2], parts[4], parts[5]
	var name string
	switch service {
	case "sns":
		name = resource
	case "events":
		var ok bool
		if name, ok = strings.CutPrefix(resource, "event-bus/"); !ok {
			return "", fault.Invalidf("destination %s: an EventBridge ARN must name an event bus (event-bus/NAME)", quote(arn))
		}
	default:
		return "", fault.Invalidf("destination %s: want an SNS topic or EventBridge event bus ARN, not %s", quote(arn), service)
	}
	if acct != accountID {
		return "", &fault.Error{Kind: fault.AccessDenied, ResourceType: "topic", ResourceID: arn,
			Message: "destination " + quote(arn) + " belongs to account " + quote(acct) + ", not to " + accountID}
	}
	if err := ValidateTopicName(name); err != nil {
		return "", err
	}
	return name, nil
}

// TopicARN returns the SNS ARN of a topic.
func TopicARN(region, accountID, name string) string {
	return "arn:aws:sns:" + region + ":" + accountID + ":" + name
}

// ValidateWebhookURL checks a subscription URL: absolute http or https
// with a host, no user information, at most 2048 bytes.
func ValidateWebhookURL(raw string) error {
	if len(raw) > 2048 {
		return fault.Invalidf("webhook URL longer than 2048 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fault.Invalidf("webhook URL %s: %v", quote(raw), err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fault.Invalidf("webhook URL %s: want http:// or https://", quote(raw))
	case u.Host == "" || u.Hostname() == "":
		return fault.Invalidf("webhook URL %s: no host", quote(raw))
	case u.User != nil:
		return fault.Invalidf("webhook URL %s: user information is not allowed (use the signature to authenticate Tidings)", quote(raw))
	case u.Fragment != "":
		return fault.Invalidf("webhook URL %s: a fragment is not allowed", quote(raw))
	}
	return nil
}

// validateSecret: 16 to 256 printable ASCII characters.
func validateSecret(s string) error {
	if len(s) < 16 || len(s) > 256 {
		return fault.Invalidf("a subscription secret has 16 to 256 characters")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fault.Invalidf("a subscription secret has printable ASCII characters only, without spaces")
		}
	}
	return nil
}

func quote(s string) string {
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return `"` + s + `"`
}
