package rules

import (
	"context"
	"errors"
	"strings"
	"sync"

	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

func ptr[T any](v T) *T { return &v }

// fakeLists is an in-memory AddressLists that counts lookups.
type fakeLists struct {
	mu      sync.Mutex
	members map[string][]string // list -> addresses (lower case)
	fail    bool
	calls   int
}

func (f *fakeLists) Contains(_ context.Context, list, address string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail {
		return false, errors.New("store down")
	}
	for _, m := range f.members[list] {
		if strings.EqualFold(m, address) {
			return true, nil
		}
	}
	return false, nil
}

// fakeAnalyzer answers from a table keyed "analyzer/field".
type fakeAnalyzer struct {
	mu      sync.Mutex
	results map[string]string
	fail    bool
	calls   int
	last    AnalysisInput
}

func (f *fakeAnalyzer) Analyze(_ context.Context, in AnalysisInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.last = in
	if f.fail {
		return "", errors.New("add-on unreachable")
	}
	return f.results[in.Analyzer+"/"+in.ResultField], nil
}

// Policy condition builders.

func pIP(op mm.IngressIpOperator, cidrs ...string) mm.PolicyCondition {
	return mm.PolicyCondition{IpExpression: &mm.IngressIpv4Expression{
		Evaluate: &mm.IngressIpToEvaluate{Attribute: ptr(mm.IngressIpv4AttributeSenderIp)},
		Operator: ptr(op), Values: cidrs,
	}}
}

func pIPv6(op mm.IngressIpOperator, cidrs ...string) mm.PolicyCondition {
	return mm.PolicyCondition{Ipv6Expression: &mm.IngressIpv6Expression{
		Evaluate: &mm.IngressIpv6ToEvaluate{Attribute: ptr(mm.IngressIpv6AttributeSenderIpv6)},
		Operator: ptr(op), Values: cidrs,
	}}
}

func pTLS(op mm.IngressTlsProtocolOperator, v mm.IngressTlsProtocolAttribute) mm.PolicyCondition {
	return mm.PolicyCondition{TlsExpression: &mm.IngressTlsProtocolExpression{
		Evaluate: &mm.IngressTlsProtocolToEvaluate{Attribute: ptr(mm.IngressTlsAttributeTlsProtocol)},
		Operator: ptr(op), Value: ptr(v),
	}}
}

func pRcpt(op mm.IngressStringOperator, values ...string) mm.PolicyCondition {
	return mm.PolicyCondition{StringExpression: &mm.IngressStringExpression{
		Evaluate: &mm.IngressStringToEvaluate{Attribute: ptr(mm.IngressStringEmailAttributeRecipient)},
		Operator: ptr(op), Values: values,
	}}
}

func pList(op mm.IngressBooleanOperator, lists ...string) mm.PolicyCondition {
	return mm.PolicyCondition{BooleanExpression: &mm.IngressBooleanExpression{
		Evaluate: &mm.IngressBooleanToEvaluate{IsInAddressList: &mm.IngressIsInAddressList{
			Attribute: ptr(mm.IngressAddressListEmailAttributeRecipient), AddressLists: lists,
		}},
		Operator: ptr(op),
	}}
}

func pAddonBool(op mm.IngressBooleanOperator, analyzer, field string) mm.PolicyCondition {
	return mm.PolicyCondition{BooleanExpression: &mm.IngressBooleanExpression{
		Evaluate: &mm.IngressBooleanToEvaluate{Analysis: &mm.IngressAnalysis{Analyzer: ptr(analyzer), ResultField: ptr(field)}},
		Operator: ptr(op),
	}}
}

func pAddonString(op mm.IngressStringOperator, analyzer, field string, values ...string) mm.PolicyCondition {
	return mm.PolicyCondition{StringExpression: &mm.IngressStringExpression{
		Evaluate: &mm.IngressStringToEvaluate{Analysis: &mm.IngressAnalysis{Analyzer: ptr(analyzer), ResultField: ptr(field)}},
		Operator: ptr(op), Values: values,
	}}
}

func stmt(a mm.AcceptAction, conds ...mm.PolicyCondition) mm.PolicyStatement {
	return mm.PolicyStatement{Action: ptr(a), Conditions: conds}
}

// Rule condition builders.

func rString(attr mm.RuleStringEmailAttribute, op mm.RuleStringOperator, values ...string) mm.RuleCondition {
	return mm.RuleCondition{StringExpression: &mm.RuleStringExpression{
		Evaluate: &mm.RuleStringToEvaluate{Attribute: ptr(attr)}, Operator: ptr(op), Values: values,
	}}
}

func rHeader(name string, op mm.RuleStringOperator, values ...string) mm.RuleCondition {
	return mm.RuleCondition{StringExpression: &mm.RuleStringExpression{
		Evaluate: &mm.RuleStringToEvaluate{MimeHeaderAttribute: ptr(name)}, Operator: ptr(op), Values: values,
	}}
}

func rCert(attr mm.RuleClientCertificateAttribute, op mm.RuleStringOperator, values ...string) mm.RuleCondition {
	return mm.RuleCondition{StringExpression: &mm.RuleStringExpression{
		Evaluate: &mm.RuleStringToEvaluate{ClientCertificateAttribute: ptr(attr)}, Operator: ptr(op), Values: values,
	}}
}

func rAddonString(op mm.RuleStringOperator, analyzer, field string, values ...string) mm.RuleCondition {
	return mm.RuleCondition{StringExpression: &mm.RuleStringExpression{
		Evaluate: &mm.RuleStringToEvaluate{Analysis: &mm.Analysis{Analyzer: ptr(analyzer), ResultField: ptr(field)}},
		Operator: ptr(op), Values: values,
	}}
}

func rBool(attr mm.RuleBooleanEmailAttribute, op mm.RuleBooleanOperator) mm.RuleCondition {
	return mm.RuleCondition{BooleanExpression: &mm.RuleBooleanExpression{
		Evaluate: &mm.RuleBooleanToEvaluate{Attribute: ptr(attr)}, Operator: ptr(op),
	}}
}

func rAddonBool(op mm.RuleBooleanOperator, analyzer, field string) mm.RuleCondition {
	return mm.RuleCondition{BooleanExpression: &mm.RuleBooleanExpression{
		Evaluate: &mm.RuleBooleanToEvaluate{Analysis: &mm.Analysis{Analyzer: ptr(analyzer), ResultField: ptr(field)}},
		Operator: ptr(op),
	}}
}

func rList(attr mm.RuleAddressListEmailAttribute, op mm.RuleBooleanOperator, lists ...string) mm.RuleCondition {
	return mm.RuleCondition{BooleanExpression: &mm.RuleBooleanExpression{
		Evaluate: &mm.RuleBooleanToEvaluate{IsInAddressList: &mm.RuleIsInAddressList{Attribute: ptr(attr), AddressLists: lists}},
		Operator: ptr(op),
	}}
}

func rSize(op mm.RuleNumberOperator, v float64) mm.RuleCondition {
	return mm.RuleCondition{NumberExpression: &mm.RuleNumberExpression{
		Evaluate: &mm.RuleNumberToEvaluate{Attribute: ptr(mm.RuleNumberEmailAttributeMessageSize)},
		Operator: ptr(op), Value: ptr(v),
	}}
}

func rIP(op mm.RuleIpOperator, cidrs ...string) mm.RuleCondition {
	return mm.RuleCondition{IpExpression: &mm.RuleIpExpression{
		Evaluate: &mm.RuleIpToEvaluate{Attribute: ptr(mm.RuleIpEmailAttributeSourceIp)},
		Operator: ptr(op), Values: cidrs,
	}}
}

func rVerdict(attr mm.RuleVerdictAttribute, op mm.RuleVerdictOperator, values ...mm.RuleVerdict) mm.RuleCondition {
	return mm.RuleCondition{VerdictExpression: &mm.RuleVerdictExpression{
		Evaluate: &mm.RuleVerdictToEvaluate{Attribute: ptr(attr)}, Operator: ptr(op), Values: values,
	}}
}

func rAddonVerdict(op mm.RuleVerdictOperator, analyzer, field string, values ...mm.RuleVerdict) mm.RuleCondition {
	return mm.RuleCondition{VerdictExpression: &mm.RuleVerdictExpression{
		Evaluate: &mm.RuleVerdictToEvaluate{Analysis: &mm.Analysis{Analyzer: ptr(analyzer), ResultField: ptr(field)}},
		Operator: ptr(op), Values: values,
	}}
}

func rDmarc(op mm.RuleDmarcOperator, values ...mm.RuleDmarcPolicy) mm.RuleCondition {
	return mm.RuleCondition{DmarcExpression: &mm.RuleDmarcExpression{Operator: ptr(op), Values: values}}
}

func relay(id string) mm.RuleAction {
	return mm.RuleAction{Relay: &mm.RelayAction{Relay: ptr(id), MailFrom: ptr(mm.MailFromPreserve)}}
}

func archive(id string) mm.RuleAction {
	return mm.RuleAction{Archive: &mm.ArchiveAction{TargetArchive: ptr(id)}}
}

func drop() mm.RuleAction { return mm.RuleAction{Drop: &mm.DropAction{}} }

func replace(to ...string) mm.RuleAction {
	return mm.RuleAction{ReplaceRecipient: &mm.ReplaceRecipientAction{ReplaceWith: to}}
}

func addHeader(name, value string) mm.RuleAction {
	return mm.RuleAction{AddHeader: &mm.AddHeaderAction{HeaderName: ptr(name), HeaderValue: ptr(value)}}
}
