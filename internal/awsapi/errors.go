package awsapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/model/smithy"
)

// Error is a modeled exception a handler returns when the domain kind alone
// does not say which one (SES MessageRejected, AccountSendingPausedException,
// MailFromDomainNotVerifiedException...).
type Error struct {
	// Name is the exception's shape name in the service model
	// ("MessageRejected"); its code and HTTP status come from the model.
	Name    string
	Message string
	// Fields are other members of the exception structure, by member name;
	// JSON and CBOR protocols write them beside the message.
	Fields map[string]any
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// apiError is an error resolved for the wire: its code as the protocol
// spells it, the HTTP status and the members to write.
type apiError struct {
	code    string
	status  int
	message string
	fields  map[string]any
}

// wireError is an error of the wire layer itself (serialization, routing,
// authentication), with its code for JSON protocols and for awsQuery.
type wireError struct {
	jsonCode, queryCode string
	status              int
	message             string
}

func (e *wireError) Error() string { return e.jsonCode + ": " + e.message }

func serializationErr(format string, args ...any) *wireError {
	return &wireError{"SerializationException", "MalformedInput", http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

var authCodes = map[authKind]wireError{
	authMissing:      {"MissingAuthenticationTokenException", "MissingAuthenticationToken", http.StatusForbidden, ""},
	authIncomplete:   {"IncompleteSignatureException", "IncompleteSignature", http.StatusBadRequest, ""},
	authUnknownKey:   {"UnrecognizedClientException", "InvalidClientTokenId", http.StatusForbidden, ""},
	authBadSignature: {"InvalidSignatureException", "SignatureDoesNotMatch", http.StatusForbidden, ""},
	// The AWS common error (403), not STS's modeled ExpiredTokenException
	// (400), which is about web identity tokens.
	authExpiredToken: {"ExpiredTokenException", "ExpiredToken", http.StatusForbidden, ""},
}

// kindRule says which exception a fault kind becomes: the first of names
// that the operation lists, else the first operation error that match
// accepts, else the first of names the service has, else the fallback.
type kindRule struct {
	names         []string
	match         func(name string) bool
	jsonFallback  string
	queryFallback string
	status        int // of the fallbacks
}

// kindRules is the one table from domain kinds to exception names.
//
//	kind           Mail Manager / SMS              SES v2                     SES v1 (awsQuery)            STS
//	validation     ValidationException             BadRequestException        ValidationError              ValidationError
//	NotFound       ResourceNotFoundException       NotFoundException          <X>DoesNotExist of the op    NotFound
//	Conflict       ConflictException               AlreadyExists/Conflict     <X>AlreadyExists of the op   Conflict
//	QuotaExceeded  ServiceQuotaExceededException   LimitExceededException     LimitExceeded                LimitExceeded
//	AccessDenied   AccessDeniedException           AccessDeniedException*     AccessDenied*                AccessDenied*
//	Throttled      ThrottlingException             TooManyRequestsException   Throttling*                  Throttling*
//	Unavailable    ServiceUnavailable* (503)       ServiceUnavailable* (503)  ServiceUnavailable* (503)    ServiceUnavailable*
//	Internal       InternalServerException (500)   InternalServiceErrorException  InternalFailure*         InternalFailure*
//
// (* not in the model: the AWS common error of that name.)
var kindRules = map[fault.Kind]kindRule{
	fault.Invalid: {
		names:        []string{"ValidationException", "BadRequestException"},
		jsonFallback: "ValidationException", queryFallback: "ValidationError", status: 400,
	},
	fault.NotFound: {
		names:        []string{"ResourceNotFoundException", "NotFoundException"},
		match:        func(n string) bool { return strings.Contains(n, "DoesNotExist") || strings.Contains(n, "NotFound") },
		jsonFallback: "ResourceNotFoundException", queryFallback: "NotFound", status: 404,
	},
	fault.Conflict: {
		names: []string{"ConflictException", "AlreadyExistsException"},
		match: func(n string) bool {
			return strings.Contains(n, "AlreadyExists") || strings.Contains(n, "CannotDelete")
		},
		jsonFallback: "ConflictException", queryFallback: "Conflict", status: 409,
	},
	fault.QuotaExceeded: {
		names: []string{"ServiceQuotaExceededException", "LimitExceededException"},
		match: func(n string) bool {
			return strings.Contains(n, "LimitExceeded") || strings.Contains(n, "QuotaExceeded")
		},
		jsonFallback: "ServiceQuotaExceededException", queryFallback: "LimitExceeded", status: 400,
	},
	fault.AccessDenied: {
		names:        []string{"AccessDeniedException"},
		jsonFallback: "AccessDeniedException", queryFallback: "AccessDenied", status: 403,
	},
	fault.Throttled: {
		names:        []string{"ThrottlingException", "TooManyRequestsException"},
		jsonFallback: "ThrottlingException", queryFallback: "Throttling", status: 400,
	},
	fault.Unavailable: {
		names:        []string{"ServiceUnavailableException"},
		jsonFallback: "ServiceUnavailable", queryFallback: "ServiceUnavailable", status: 503,
	},
	fault.Internal: {
		names:        []string{"InternalServerException", "InternalServiceErrorException", "InternalFailure"},
		jsonFallback: "InternalServerException", queryFallback: "InternalFailure", status: 500,
	},
}

// validationKind is the rule for *smithy.ValidationError: like Invalid.
const validationKind = fault.Invalid

// resolveError turns any error a request produced into its wire form.
// internal reports whether it hides a server-side failure (to be logged).
func resolveError(p protocol, sv *service, op *operation, err error, requestID string) (ae *apiError, internal bool) {
	query := p == protoQuery
	var (
		we  *wireError
		ae2 *authError
		me  *Error
		ve  *smithy.ValidationError
		fe  *fault.Error
	)
	switch {
	case errors.As(err, &we):
		code := we.jsonCode
		if query {
			code = we.queryCode
		}
		return &apiError{code: code, status: we.status, message: we.message}, false
	case errors.As(err, &ae2):
		if ae2.kind == authInternal {
			break
		}
		c := authCodes[ae2.kind]
		code := c.jsonCode
		if query {
			code = c.queryCode
		}
		return &apiError{code: code, status: c.status, message: ae2.msg}, false
	case errors.As(err, &me):
		ae := &apiError{code: me.Name, status: 400, message: me.Message, fields: me.Fields}
		if sv != nil {
			if es := sv.model.Errors[me.Name]; es != nil {
				ae.code, ae.status = wireCode(es, query), statusOf(es, 0)
			}
		}
		return ae, false
	case errors.As(err, &ve):
		return fromKind(query, sv, op, validationKind, nil, ve.Error()), false
	case errors.As(err, &fe) && fe.Kind != fault.Internal:
		ae := fromKind(query, sv, op, fe.Kind, fe, fe.Error())
		if fe.Kind == fault.Unavailable {
			return ae, true
		}
		return ae, false
	}
	ae = fromKind(query, sv, op, fault.Internal, nil,
		fmt.Sprintf("An internal error occurred. Quote request id %s when reporting it.", requestID))
	if !query {
		ae.fields = map[string]any{"RequestId": requestID}
	}
	return ae, true
}

func fromKind(query bool, sv *service, op *operation, k fault.Kind, fe *fault.Error, msg string) *apiError {
	rule := kindRules[k]
	floor := 0
	if k == fault.Internal || k == fault.Unavailable {
		floor = rule.status
	}
	ae := &apiError{message: msg}
	if es := pickError(sv, op, rule, fe); es != nil {
		ae.code, ae.status = wireCode(es, query), statusOf(es, floor)
	} else {
		ae.code, ae.status = rule.jsonFallback, rule.status
		if query {
			ae.code = rule.queryFallback
		}
	}
	if fe != nil && !query {
		// End User Messaging's exceptions carry these members
		// (ConflictException: Reason, ResourceType, ResourceId).
		for name, v := range map[string]string{"Reason": fe.Reason, "ResourceType": fe.ResourceType, "ResourceId": fe.ResourceID} {
			if v != "" {
				if ae.fields == nil {
					ae.fields = map[string]any{}
				}
				ae.fields[name] = v
			}
		}
	}
	return ae
}

// pickError chooses the exception shape for a kind rule, preferring one the
// operation lists.
func pickError(sv *service, op *operation, rule kindRule, fe *fault.Error) *smithy.ErrorShape {
	if sv == nil {
		return nil
	}
	errs := sv.model.Errors
	var opErrs []string
	if op != nil {
		opErrs = op.model.Errors
	}
	// A Reason such as RESOURCE_ALREADY_EXISTS asks for an AlreadyExists
	// exception even where the operation also lists a generic conflict.
	if fe != nil && strings.Contains(strings.ToLower(strings.ReplaceAll(fe.Reason, "_", "")), "alreadyexists") {
		for _, n := range opErrs {
			if strings.Contains(n, "AlreadyExists") && errs[n] != nil {
				return errs[n]
			}
		}
	}
	for _, n := range rule.names {
		if containsString(opErrs, n) && errs[n] != nil {
			return errs[n]
		}
	}
	if rule.match != nil {
		var matched []string
		for _, n := range opErrs {
			if rule.match(n) && errs[n] != nil {
				matched = append(matched, n)
			}
		}
		// Several (SendTemplatedEmail: ConfigurationSetDoesNotExist and
		// TemplateDoesNotExist): the resource type decides.
		if len(matched) > 1 && fe != nil && fe.ResourceType != "" {
			rt := strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(fe.ResourceType))
			for _, n := range matched {
				if strings.HasPrefix(strings.ToLower(n), rt) {
					return errs[n]
				}
			}
		}
		if len(matched) > 0 {
			return errs[matched[0]]
		}
	}
	for _, n := range rule.names {
		if errs[n] != nil {
			return errs[n]
		}
	}
	return nil
}

func wireCode(es *smithy.ErrorShape, query bool) string {
	if query && es.Code != "" {
		return es.Code
	}
	return es.Name
}

// statusOf is the HTTP status of es, at least floor: awsJson models carry
// no status, and a server fault must still be a 5xx (clients retry those).
func statusOf(es *smithy.ErrorShape, floor int) int {
	s := es.HTTPStatus
	if s == 0 {
		s = 400
	}
	if s < floor {
		s = floor
	}
	return s
}
