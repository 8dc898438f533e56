package awsapi

// A small hand-written model per protocol, following the conventions of the
// generated packages (internal/model/<service>): pointer members, json/cbor
// tags, location tags for restJson1, query/xml tags for awsQuery, and a
// Validate method returning *smithy.ValidationError.

import (
	"github.com/tidings/tidings/internal/model/smithy"
)

// --- awsJson1_0 / rpcv2Cbor: a Mail Manager-like service ---

type mmRuleSet struct {
	LastModificationDate *smithy.Time `json:"LastModificationDate,omitempty" cbor:"LastModificationDate,omitempty"`
	RuleSetId            *string      `json:"RuleSetId,omitempty" cbor:"RuleSetId,omitempty"`
	RuleSetName          *string      `json:"RuleSetName,omitempty" cbor:"RuleSetName,omitempty"`
}

type mmListRuleSetsInput struct {
	NextToken *string `json:"NextToken,omitempty" cbor:"NextToken,omitempty"`
	PageSize  *int64  `json:"PageSize,omitempty" cbor:"PageSize,omitempty"`
}

func (s *mmListRuleSetsInput) Validate() error {
	var ve smithy.ValidationError
	if s.PageSize != nil && *s.PageSize > 50 {
		ve.Add("pageSize", "50+", "Member must have value less than or equal to 50")
	}
	return ve.Err()
}

type mmListRuleSetsOutput struct {
	NextToken *string     `json:"NextToken,omitempty" cbor:"NextToken,omitempty"`
	RuleSets  []mmRuleSet `json:"RuleSets" cbor:"RuleSets" required:"true"` // required
}

func (s *mmListRuleSetsOutput) Validate() error { return nil }

type mmTag struct {
	Key   *string `json:"Key,omitempty" cbor:"Key,omitempty"`
	Value *string `json:"Value,omitempty" cbor:"Value,omitempty"`
}

type mmCreateRuleSetInput struct {
	ClientToken *string  `json:"ClientToken,omitempty" cbor:"ClientToken,omitempty"`
	RuleSetName *string  `json:"RuleSetName,omitempty" cbor:"RuleSetName,omitempty"`
	Tags        []mmTag  `json:"Tags,omitempty" cbor:"Tags,omitempty"`
	Blob        []byte   `json:"Blob,omitempty" cbor:"Blob,omitempty"`
	Count       *int64   `json:"Count,omitempty" cbor:"Count,omitempty"`
	Ratio       *float64 `json:"Ratio,omitempty" cbor:"Ratio,omitempty"`
	Enabled     *bool    `json:"Enabled,omitempty" cbor:"Enabled,omitempty"`
}

// Validate returns a typed nil on success on purpose: the server must not
// take it for an error.
func (s *mmCreateRuleSetInput) Validate() error {
	ve := &smithy.ValidationError{}
	if s.RuleSetName == nil {
		ve.Required("ruleSetName")
	}
	return ve
}

type mmCreateRuleSetOutput struct {
	RuleSetId *string `json:"RuleSetId,omitempty" cbor:"RuleSetId,omitempty"`
}

type mmGetRuleSetInput struct {
	RuleSetId *string `json:"RuleSetId,omitempty" cbor:"RuleSetId,omitempty"`
}

type mmGetRuleSetOutput struct {
	RuleSetId   *string      `json:"RuleSetId,omitempty" cbor:"RuleSetId,omitempty"`
	CreatedDate *smithy.Time `json:"CreatedDate,omitempty" cbor:"CreatedDate,omitempty"`
	Blob        []byte       `json:"Blob,omitempty" cbor:"Blob,omitempty"`
}

type mmEmpty struct{}

var fakeMailManager = &smithy.Service{
	Name:         "mailmanager",
	ServiceID:    "MailManager",
	APIVersion:   "2023-10-17",
	Protocol:     smithy.AWSJSON10,
	TargetPrefix: "MailManagerSvc",
	SigningName:  "ses",
	JSONVersion:  "1.0",
	Operations: map[string]*smithy.Operation{
		"ListRuleSets": {
			Name: "ListRuleSets", Method: "POST", RequestURI: "/", ReadOnly: true,
			Errors:    []string{"ValidationException"},
			NewInput:  func() any { return new(mmListRuleSetsInput) },
			NewOutput: func() any { return new(mmListRuleSetsOutput) },
		},
		"CreateRuleSet": {
			Name: "CreateRuleSet", Method: "POST", RequestURI: "/", Idempotent: true,
			IdempotencyToken: "ClientToken",
			Errors:           []string{"ValidationException", "ServiceQuotaExceededException", "ConflictException"},
			NewInput:         func() any { return new(mmCreateRuleSetInput) },
			NewOutput:        func() any { return new(mmCreateRuleSetOutput) },
		},
		"GetRuleSet": {
			Name: "GetRuleSet", Method: "POST", RequestURI: "/", ReadOnly: true,
			Errors:    []string{"ValidationException", "ResourceNotFoundException"},
			NewInput:  func() any { return new(mmGetRuleSetInput) },
			NewOutput: func() any { return new(mmGetRuleSetOutput) },
		},
		"DeleteRuleSet": {
			Name: "DeleteRuleSet", Method: "POST", RequestURI: "/",
			Errors:    []string{"ValidationException", "ConflictException"},
			NewInput:  func() any { return new(mmGetRuleSetInput) },
			NewOutput: func() any { return new(mmEmpty) },
		},
		"Ping": {Name: "Ping", Method: "POST", RequestURI: "/"},
	},
	Errors: map[string]*smithy.ErrorShape{
		"AccessDeniedException":         {Name: "AccessDeniedException", Code: "AccessDeniedException", HTTPStatus: 400, Sender: true},
		"ConflictException":             {Name: "ConflictException", Code: "ConflictException", HTTPStatus: 400, Sender: true},
		"ResourceNotFoundException":     {Name: "ResourceNotFoundException", Code: "ResourceNotFoundException", HTTPStatus: 400, Sender: true},
		"ServiceQuotaExceededException": {Name: "ServiceQuotaExceededException", Code: "ServiceQuotaExceededException", HTTPStatus: 400, Sender: true},
		"ThrottlingException":           {Name: "ThrottlingException", Code: "ThrottlingException", HTTPStatus: 400, Sender: true},
		"ValidationException":           {Name: "ValidationException", Code: "ValidationException", HTTPStatus: 400, Sender: true},
	},
}

// --- restJson1: an SES v2-like service ---

type sv2GetEmailIdentityInput struct {
	EmailIdentity *string `json:"EmailIdentity,omitempty" cbor:"EmailIdentity,omitempty" location:"uri" locationName:"EmailIdentity"`
}

type sv2GetEmailIdentityOutput struct {
	IdentityType             *string `json:"IdentityType,omitempty" cbor:"IdentityType,omitempty"`
	VerifiedForSendingStatus *bool   `json:"VerifiedForSendingStatus,omitempty" cbor:"VerifiedForSendingStatus,omitempty"`
}

type sv2Tag struct {
	Key   *string `json:"Key,omitempty" cbor:"Key,omitempty"`
	Value *string `json:"Value,omitempty" cbor:"Value,omitempty"`
}

type sv2CreateEmailIdentityInput struct {
	EmailIdentity *string  `json:"EmailIdentity,omitempty" cbor:"EmailIdentity,omitempty"`
	Tags          []sv2Tag `json:"Tags,omitempty" cbor:"Tags,omitempty"`
}

func (s *sv2CreateEmailIdentityInput) Validate() error {
	var ve smithy.ValidationError
	if s.EmailIdentity == nil {
		ve.Required("emailIdentity")
	}
	return ve.Err()
}

type sv2CreateEmailIdentityOutput struct {
	IdentityType *string `json:"IdentityType,omitempty" cbor:"IdentityType,omitempty"`
}

type sv2Reason string

type sv2ListSuppressedInput struct {
	EndDate   *smithy.Time `json:"EndDate,omitempty" cbor:"EndDate,omitempty" location:"querystring" locationName:"EndDate"`
	NextToken *string      `json:"NextToken,omitempty" cbor:"NextToken,omitempty" location:"querystring" locationName:"NextToken"`
	PageSize  *int64       `json:"PageSize,omitempty" cbor:"PageSize,omitempty" location:"querystring" locationName:"PageSize"`
	Reasons   []sv2Reason  `json:"Reasons,omitempty" cbor:"Reasons,omitempty" location:"querystring" locationName:"Reason"`
}

type sv2ListSuppressedOutput struct {
	NextToken *string `json:"NextToken,omitempty" cbor:"NextToken,omitempty"`
}

type sv2ContactInput struct {
	ContactListName *string `json:"ContactListName,omitempty" cbor:"ContactListName,omitempty" location:"uri" locationName:"ContactListName"`
	EmailAddress    *string `json:"EmailAddress,omitempty" cbor:"EmailAddress,omitempty" location:"uri" locationName:"EmailAddress"`
}

type sv2ContactOutput struct {
	EmailAddress *string `json:"EmailAddress,omitempty" cbor:"EmailAddress,omitempty"`
}

type sv2ListContactsInput struct {
	ContactListName *string `json:"ContactListName,omitempty" cbor:"ContactListName,omitempty" location:"uri" locationName:"ContactListName"`
	PageSize        *int64  `json:"PageSize,omitempty" cbor:"PageSize,omitempty" location:"querystring" locationName:"PageSize"`
}

type sv2ListContactsOutput struct {
	List *string `json:"List,omitempty" cbor:"List,omitempty"`
}

// sv2ObjectInput exercises greedy labels, headers and a blob payload.
type sv2ObjectInput struct {
	Key      *string           `json:"Key,omitempty" cbor:"Key,omitempty" location:"uri" locationName:"Key"`
	Trace    *string           `json:"Trace,omitempty" cbor:"Trace,omitempty" location:"header" locationName:"X-Trace"`
	Since    *smithy.Time      `json:"Since,omitempty" cbor:"Since,omitempty" location:"header" locationName:"If-Modified-Since"`
	Tags     []string          `json:"Tags,omitempty" cbor:"Tags,omitempty" location:"header" locationName:"X-Tags"`
	Meta     map[string]string `json:"Meta,omitempty" cbor:"Meta,omitempty" location:"headers" locationName:"X-Meta-"`
	Params   map[string]string `json:"Params,omitempty" cbor:"Params,omitempty" location:"querystring"`
	Version  *int64            `json:"Version,omitempty" cbor:"Version,omitempty" location:"querystring" locationName:"v"`
	Body     []byte            `json:"Body,omitempty" cbor:"Body,omitempty" payload:"true"`
	Ignored  *string           `json:"Ignored,omitempty" cbor:"Ignored,omitempty"`
	Unsigned *bool             `json:"Unsigned,omitempty" cbor:"Unsigned,omitempty"`
}

type sv2ObjectOutput struct {
	ETag   *string `json:"ETag,omitempty" cbor:"ETag,omitempty" location:"header" locationName:"ETag"`
	Status *int64  `json:"Status,omitempty" cbor:"Status,omitempty" location:"statusCode"`
	Body   []byte  `json:"Body,omitempty" cbor:"Body,omitempty" payload:"true"`
}

var fakeSESv2 = &smithy.Service{
	Name:        "sesv2",
	ServiceID:   "SESv2",
	APIVersion:  "2019-09-27",
	Protocol:    smithy.RESTJSON1,
	SigningName: "ses",
	JSONVersion: "1.1",
	Operations: map[string]*smithy.Operation{
		"GetEmailIdentity": {
			Name: "GetEmailIdentity", Method: "GET", RequestURI: "/v2/email/identities/{EmailIdentity}",
			Errors:    []string{"BadRequestException", "NotFoundException", "TooManyRequestsException"},
			NewInput:  func() any { return new(sv2GetEmailIdentityInput) },
			NewOutput: func() any { return new(sv2GetEmailIdentityOutput) },
		},
		"CreateEmailIdentity": {
			Name: "CreateEmailIdentity", Method: "POST", RequestURI: "/v2/email/identities",
			Errors:    []string{"AlreadyExistsException", "LimitExceededException", "TooManyRequestsException", "BadRequestException", "ConcurrentModificationException", "NotFoundException"},
			NewInput:  func() any { return new(sv2CreateEmailIdentityInput) },
			NewOutput: func() any { return new(sv2CreateEmailIdentityOutput) },
		},
		"ListSuppressedDestinations": {
			Name: "ListSuppressedDestinations", Method: "GET", RequestURI: "/v2/email/suppression/addresses",
			Errors:    []string{"BadRequestException", "TooManyRequestsException", "InvalidNextTokenException"},
			NewInput:  func() any { return new(sv2ListSuppressedInput) },
			NewOutput: func() any { return new(sv2ListSuppressedOutput) },
		},
		"GetContact": {
			Name: "GetContact", Method: "GET", RequestURI: "/v2/email/contact-lists/{ContactListName}/contacts/{EmailAddress}",
			Errors:    []string{"BadRequestException", "TooManyRequestsException", "NotFoundException"},
			NewInput:  func() any { return new(sv2ContactInput) },
			NewOutput: func() any { return new(sv2ContactOutput) },
		},
		"ListContacts": {
			Name: "ListContacts", Method: "GET", RequestURI: "/v2/email/contact-lists/{ContactListName}/contacts/list",
			Errors:    []string{"BadRequestException", "TooManyRequestsException", "NotFoundException"},
			NewInput:  func() any { return new(sv2ListContactsInput) },
			NewOutput: func() any { return new(sv2ListContactsOutput) },
		},
		"PutObject": {
			Name: "PutObject", Method: "PUT", RequestURI: "/v2/objects/{Key+}", SuccessCode: 201,
			Errors:    []string{"BadRequestException"},
			NewInput:  func() any { return new(sv2ObjectInput) },
			NewOutput: func() any { return new(sv2ObjectOutput) },
		},
		"DeleteSuppressedDestination": {
			Name: "DeleteSuppressedDestination", Method: "DELETE", RequestURI: "/v2/email/suppression/addresses/{EmailAddress}",
			Errors:    []string{"NotFoundException", "BadRequestException", "TooManyRequestsException"},
			NewInput:  func() any { return new(sv2ContactInput) },
			NewOutput: func() any { return new(mmEmpty) },
		},
	},
	Errors: map[string]*smithy.ErrorShape{
		"AlreadyExistsException":          {Name: "AlreadyExistsException", Code: "AlreadyExistsException", HTTPStatus: 400, Sender: true},
		"BadRequestException":             {Name: "BadRequestException", Code: "BadRequestException", HTTPStatus: 400, Sender: true},
		"ConcurrentModificationException": {Name: "ConcurrentModificationException", Code: "ConcurrentModificationException", HTTPStatus: 500},
		"ConflictException":               {Name: "ConflictException", Code: "ConflictException", HTTPStatus: 409, Sender: true},
		"InternalServiceErrorException":   {Name: "InternalServiceErrorException", Code: "InternalServiceErrorException", HTTPStatus: 500},
		"InvalidNextTokenException":       {Name: "InvalidNextTokenException", Code: "InvalidNextTokenException", HTTPStatus: 400, Sender: true},
		"LimitExceededException":          {Name: "LimitExceededException", Code: "LimitExceededException", HTTPStatus: 400, Sender: true},
		"MessageRejected":                 {Name: "MessageRejected", Code: "MessageRejected", HTTPStatus: 400, Sender: true},
		"NotFoundException":               {Name: "NotFoundException", Code: "NotFoundException", HTTPStatus: 404, Sender: true},
		"TooManyRequestsException":        {Name: "TooManyRequestsException", Code: "TooManyRequestsException", HTTPStatus: 429, Sender: true},
	},
}

// --- awsQuery: SES v1- and STS-like services ---

type sesContent struct {
	Data    *string `json:"Data,omitempty" cbor:"Data,omitempty" query:"Data" xml:"Data"`
	Charset *string `json:"Charset,omitempty" cbor:"Charset,omitempty" query:"Charset" xml:"Charset"`
}

type sesMessage struct {
	Subject *sesContent `json:"Subject,omitempty" cbor:"Subject,omitempty" query:"Subject" xml:"Subject"`
}

type sesDestination struct {
	ToAddresses []string `json:"ToAddresses,omitempty" cbor:"ToAddresses,omitempty" query:"ToAddresses" xml:"ToAddresses"`
	CcAddresses []string `json:"CcAddresses,omitempty" cbor:"CcAddresses,omitempty" query:"CcAddresses" xml:"CcAddresses"`
}

type sesMessageTag struct {
	Name  *string `json:"Name,omitempty" cbor:"Name,omitempty" query:"Name" xml:"Name"`
	Value *string `json:"Value,omitempty" cbor:"Value,omitempty" query:"Value" xml:"Value"`
}

type sesSendEmailInput struct {
	Source               *string           `json:"Source,omitempty" cbor:"Source,omitempty" query:"Source" xml:"Source"`
	Destination          *sesDestination   `json:"Destination,omitempty" cbor:"Destination,omitempty" query:"Destination" xml:"Destination"`
	Message              *sesMessage       `json:"Message,omitempty" cbor:"Message,omitempty" query:"Message" xml:"Message"`
	Tags                 []sesMessageTag   `json:"Tags,omitempty" cbor:"Tags,omitempty" query:"Tags" xml:"Tags"`
	ConfigurationSetName *string           `json:"ConfigurationSetName,omitempty" cbor:"ConfigurationSetName,omitempty" query:"ConfigurationSetName" xml:"ConfigurationSetName"`
	Attributes           map[string]string `json:"Attributes,omitempty" cbor:"Attributes,omitempty" query:"Attributes" xml:"Attributes"`
	Flat                 []string          `json:"Flat,omitempty" cbor:"Flat,omitempty" query:"Flat" xml:"Flat" flattened:"true"`
	When                 *smithy.Time      `json:"When,omitempty" cbor:"When,omitempty" query:"When" xml:"When"`
	Max                  *int64            `json:"Max,omitempty" cbor:"Max,omitempty" query:"Max" xml:"Max"`
	Raw                  []byte            `json:"Raw,omitempty" cbor:"Raw,omitempty" query:"Raw" xml:"Raw"`
}

func (s *sesSendEmailInput) Validate() error {
	var ve smithy.ValidationError
	if s.Source == nil {
		ve.Required("source")
	}
	return ve.Err()
}

type sesSendEmailOutput struct {
	MessageId *string `json:"MessageId,omitempty" cbor:"MessageId,omitempty" query:"MessageId" xml:"MessageId"`
}

type sesIdentityAttrs struct {
	VerificationStatus *string `json:"VerificationStatus,omitempty" cbor:"VerificationStatus,omitempty" query:"VerificationStatus" xml:"VerificationStatus"`
}

type sesListOutput struct {
	Identities []string                    `json:"Identities,omitempty" cbor:"Identities,omitempty" query:"Identities" xml:"Identities"`
	Attrs      map[string]sesIdentityAttrs `json:"Attrs,omitempty" cbor:"Attrs,omitempty" query:"Attrs" xml:"Attrs"`
	Flat       []string                    `json:"Flat,omitempty" cbor:"Flat,omitempty" query:"Flat" xml:"Flat" flattened:"true"`
	Max        *float64                    `json:"Max,omitempty" cbor:"Max,omitempty" query:"Max" xml:"Max"`
	Ok         *bool                       `json:"Ok,omitempty" cbor:"Ok,omitempty" query:"Ok" xml:"Ok"`
	At         *smithy.Time                `json:"At,omitempty" cbor:"At,omitempty" query:"At" xml:"At"`
	Note       *string                     `json:"Note,omitempty" cbor:"Note,omitempty" query:"Note" xml:"Note"`
}

type sesTemplateInput struct {
	TemplateName         *string `json:"TemplateName,omitempty" cbor:"TemplateName,omitempty" query:"TemplateName" xml:"TemplateName"`
	ConfigurationSetName *string `json:"ConfigurationSetName,omitempty" cbor:"ConfigurationSetName,omitempty" query:"ConfigurationSetName" xml:"ConfigurationSetName"`
}

var fakeSES = &smithy.Service{
	Name:         "ses",
	ServiceID:    "SES",
	APIVersion:   "2010-12-01",
	Protocol:     smithy.AWSQuery,
	SigningName:  "ses",
	XMLNamespace: "http://ses.amazonaws.com/doc/2010-12-01/",
	Operations: map[string]*smithy.Operation{
		"SendEmail": {
			Name: "SendEmail", Method: "POST", RequestURI: "/", ResultWrapper: "SendEmailResult",
			Errors:    []string{"MessageRejected", "ConfigurationSetDoesNotExistException"},
			NewInput:  func() any { return new(sesSendEmailInput) },
			NewOutput: func() any { return new(sesSendEmailOutput) },
		},
		"ListIdentities": {
			Name: "ListIdentities", Method: "POST", RequestURI: "/", ResultWrapper: "ListIdentitiesResult",
			NewInput:  func() any { return new(mmEmpty) },
			NewOutput: func() any { return new(sesListOutput) },
		},
		"SendTemplatedEmail": {
			Name: "SendTemplatedEmail", Method: "POST", RequestURI: "/", ResultWrapper: "SendTemplatedEmailResult",
			Errors:    []string{"MessageRejected", "ConfigurationSetDoesNotExistException", "TemplateDoesNotExistException", "LimitExceededException"},
			NewInput:  func() any { return new(sesTemplateInput) },
			NewOutput: func() any { return new(sesSendEmailOutput) },
		},
		"DeleteIdentity": {
			Name: "DeleteIdentity", Method: "POST", RequestURI: "/", ResultWrapper: "DeleteIdentityResult",
			NewInput:  func() any { return new(sesTemplateInput) },
			NewOutput: func() any { return new(mmEmpty) },
		},
	},
	Errors: map[string]*smithy.ErrorShape{
		"AlreadyExistsException":                {Name: "AlreadyExistsException", Code: "AlreadyExists", HTTPStatus: 400, Sender: true},
		"ConfigurationSetDoesNotExistException": {Name: "ConfigurationSetDoesNotExistException", Code: "ConfigurationSetDoesNotExist", HTTPStatus: 400, Sender: true},
		"LimitExceededException":                {Name: "LimitExceededException", Code: "LimitExceeded", HTTPStatus: 400, Sender: true},
		"MessageRejected":                       {Name: "MessageRejected", Code: "MessageRejected", HTTPStatus: 400, Sender: true},
		"TemplateDoesNotExistException":         {Name: "TemplateDoesNotExistException", Code: "TemplateDoesNotExist", HTTPStatus: 400, Sender: true},
	},
}

type stsCallerIdentityOutput struct {
	Account *string `json:"Account,omitempty" cbor:"Account,omitempty" query:"Account" xml:"Account"`
	Arn     *string `json:"Arn,omitempty" cbor:"Arn,omitempty" query:"Arn" xml:"Arn"`
	UserId  *string `json:"UserId,omitempty" cbor:"UserId,omitempty" query:"UserId" xml:"UserId"`
}

type stsWebIdentityInput struct {
	RoleArn          *string `json:"RoleArn,omitempty" cbor:"RoleArn,omitempty" query:"RoleArn" xml:"RoleArn"`
	WebIdentityToken *string `json:"WebIdentityToken,omitempty" cbor:"WebIdentityToken,omitempty" query:"WebIdentityToken" xml:"WebIdentityToken"`
}

type stsWebIdentityOutput struct {
	Provider *string `json:"Provider,omitempty" cbor:"Provider,omitempty" query:"Provider" xml:"Provider"`
}

var fakeSTS = &smithy.Service{
	Name:         "sts",
	ServiceID:    "STS",
	APIVersion:   "2011-06-15",
	Protocol:     smithy.AWSQuery,
	XMLNamespace: "https://sts.amazonaws.com/doc/2011-06-15/",
	Operations: map[string]*smithy.Operation{
		"GetCallerIdentity": {
			Name: "GetCallerIdentity", Method: "POST", RequestURI: "/", ResultWrapper: "GetCallerIdentityResult",
			NewInput:  func() any { return new(mmEmpty) },
			NewOutput: func() any { return new(stsCallerIdentityOutput) },
		},
		"AssumeRoleWithWebIdentity": {
			Name: "AssumeRoleWithWebIdentity", Method: "POST", RequestURI: "/", ResultWrapper: "AssumeRoleWithWebIdentityResult",
			NewInput:  func() any { return new(stsWebIdentityInput) },
			NewOutput: func() any { return new(stsWebIdentityOutput) },
		},
	},
	Errors: map[string]*smithy.ErrorShape{
		"ExpiredTokenException": {Name: "ExpiredTokenException", Code: "ExpiredTokenException", HTTPStatus: 400, Sender: true},
	},
}
