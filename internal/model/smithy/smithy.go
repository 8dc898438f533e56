// Package smithy holds the small runtime that the generated model packages
// (internal/model/<service>) and the wire layer (internal/awsapi) share:
// operation descriptors, error shape descriptors, the timestamp type and the
// validation error that every generated Validate method returns.
//
// It knows nothing of HTTP: codecs live in internal/awsapi.
package smithy

import (
	"fmt"
	"strings"
)

// Protocol names a wire protocol of a service model.
type Protocol string

const (
	AWSJSON10 Protocol = "json"      // awsJson1_0 (X-Amz-Target)
	RESTJSON1 Protocol = "rest-json" // restJson1 (/v2/email/...)
	AWSQuery  Protocol = "query"     // awsQuery (form body, Action=)
)

// Service describes one AWS service model.
type Service struct {
	Name         string   // model file stem, e.g. "mailmanager"
	ServiceID    string   // metadata.serviceId, e.g. "MailManager"
	APIVersion   string   // metadata.apiVersion
	Protocol     Protocol // metadata.protocol
	TargetPrefix string   // metadata.targetPrefix (awsJson1_0), e.g. "MailManagerSvc"
	SigningName  string   // metadata.signingName (credential scope service), e.g. "ses"
	XMLNamespace string   // metadata.xmlNamespace (awsQuery responses)
	JSONVersion  string   // metadata.jsonVersion, e.g. "1.0"
	Operations   map[string]*Operation
	Errors       map[string]*ErrorShape // exception shapes by shape name
}

// Operation describes one operation of a service model.
type Operation struct {
	Name          string
	Method        string // HTTP method (restJson1 routing)
	RequestURI    string // HTTP path template, e.g. "/v2/email/identities/{EmailIdentity}"
	SuccessCode   int    // http.responseCode, 0 means 200
	ResultWrapper string // awsQuery: output.resultWrapper, e.g. "SendEmailResult"
	Idempotent    bool
	ReadOnly      bool
	// IdempotencyToken is the input member carrying the idempotencyToken
	// trait ("ClientToken"), or "".
	IdempotencyToken string
	Errors           []string // exception shape names the operation may return
	// NewInput returns a pointer to a zero input structure; NewOutput a
	// pointer to a zero output structure. Either may be nil when the model
	// has no input or output shape.
	NewInput  func() any
	NewOutput func() any
}

// ErrorShape describes an exception structure of a model.
type ErrorShape struct {
	Name       string // shape name, e.g. "ValidationException"
	Code       string // error.code if the model gives one (awsQuery), else Name
	HTTPStatus int    // error.httpStatusCode, 400 when absent
	Sender     bool   // client fault (true) or server fault
}

// Validator is implemented by every generated structure.
type Validator interface {
	Validate() error
}

// ValidationError collects the constraint violations of one input, phrased
// as AWS phrases them:
//
//	2 validation errors detected: Value null at 'ruleSetName' failed to satisfy
//	constraint: Member must not be null; Value 'x' at ...
type ValidationError struct {
	Violations []Violation
}

// Violation is one failed constraint. Path uses the lower-camel member path
// AWS reports ("rules.1.member.name"); Value is the offending value as AWS
// prints it ("null", "'abc'", "1200").
type Violation struct {
	Path       string
	Value      string
	Constraint string // "Member must not be null", "Member must have length less than or equal to 100", ...
}

func (e *ValidationError) Error() string {
	n := len(e.Violations)
	var b strings.Builder
	if n == 1 {
		b.WriteString("1 validation error detected: ")
	} else {
		fmt.Fprintf(&b, "%d validation errors detected: ", n)
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "Value %s at '%s' failed to satisfy constraint: %s", v.Value, v.Path, v.Constraint)
	}
	return b.String()
}

// Err returns e as an error, or nil when it holds no violation.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Violations) == 0 {
		return nil
	}
	return e
}
