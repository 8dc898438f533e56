package rspamd

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind is the kind of condition a result field can be used in.
type Kind int

const (
	// KindString fields go in StringExpressions (EQUALS, CONTAINS, ...).
	KindString Kind = iota
	// KindBoolean fields ("true"/"false") go in BooleanExpressions
	// (IS_TRUE, IS_FALSE).
	KindBoolean
	// KindVerdict fields (PASS, GRAY, FAIL) go in rule
	// VerdictExpressions; a failed check is PROCESSING_FAILED there.
	KindVerdict
)

func (k Kind) String() string {
	switch k {
	case KindBoolean:
		return "BooleanExpression"
	case KindVerdict:
		return "VerdictExpression"
	}
	return "StringExpression"
}

// Fields are the result fields of the RSPAMD add-on, the ResultField an
// Analysis names (the model allows an "addon." prefix; it is ignored, and
// so is case):
//
//	verdict         PASS (action "no action"), GRAY ("greylist", "add header",
//	                "rewrite subject", "soft reject"), FAIL ("reject", and the
//	                custom "discard" and "quarantine")
//	is_spam         true for the actions rspamd itself calls spam: reject,
//	                soft reject, rewrite subject, add header (and discard,
//	                quarantine); the "Spam:" line of its legacy protocol
//	is_skipped      true when rspamd did not run its rules (settings, GTUBE)
//	action          rspamd's action as it says it: "no action", "greylist",
//	                "add header", "rewrite subject", "soft reject", "reject"
//	score           the score, in decimal ("8.3")
//	required_score  the score of the reject action ("15")
//	symbols         the names of the symbols that fired, sorted, separated by
//	                spaces: CONTAINS "GTUBE" holds for a GTUBE message
var Fields = map[string]Kind{
	"verdict":        KindVerdict,
	"is_spam":        KindBoolean,
	"is_skipped":     KindBoolean,
	"action":         KindString,
	"score":          KindString,
	"required_score": KindString,
	"symbols":        KindString,
}

// FieldNames lists Fields, sorted, for error messages.
func FieldNames() []string {
	out := make([]string, 0, len(Fields))
	for n := range Fields {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// CanonicalField is the name of a ResultField in Fields, without the
// optional "addon." prefix, lower-cased.
func CanonicalField(f string) string {
	f = strings.ToLower(strings.TrimSpace(f))
	return strings.TrimPrefix(f, "addon.")
}

// CheckField reports whether the ResultField f can be used in a condition
// of kind k. String conditions can read any field as text.
func CheckField(f string, k Kind) error {
	have, ok := Fields[CanonicalField(f)]
	if !ok {
		return fmt.Errorf("%s has no result field %q; valid fields: %s", AddonName, f, strings.Join(FieldNames(), ", "))
	}
	if have != k && k != KindString {
		var fit []string
		for _, n := range FieldNames() {
			if Fields[n] == k {
				fit = append(fit, n)
			}
		}
		return fmt.Errorf("%s result field %q cannot be used in a %s; use %s", AddonName, f, k, strings.Join(fit, " or "))
	}
	return nil
}

// Field is the value of a result field, as a condition reads it.
func (r *Result) Field(f string) (string, error) {
	switch CanonicalField(f) {
	case "verdict":
		return r.Verdict(), nil
	case "is_spam":
		return strconv.FormatBool(r.IsSpam()), nil
	case "is_skipped":
		return strconv.FormatBool(r.IsSkipped), nil
	case "action":
		return r.Action, nil
	case "score":
		return strconv.FormatFloat(r.Score, 'f', -1, 64), nil
	case "required_score":
		return strconv.FormatFloat(r.RequiredScore, 'f', -1, 64), nil
	case "symbols":
		names := make([]string, 0, len(r.Symbols))
		for n := range r.Symbols {
			names = append(names, n)
		}
		slices.Sort(names)
		return strings.Join(names, " "), nil
	}
	return "", fmt.Errorf("%s has no result field %q; valid fields: %s", AddonName, f, strings.Join(FieldNames(), ", "))
}

// Verdict maps rspamd's action to a verdict of the Mail Manager model. The
// actions between "no action" and "reject" are rspamd's way of saying
// "suspicious, let the user decide": GRAY, as the model's verdicts for SPF
// softfail and neutral.
func (r *Result) Verdict() string {
	switch strings.ToLower(r.Action) {
	case "no action":
		return "PASS"
	case "reject", "discard", "quarantine":
		return "FAIL"
	}
	return "GRAY"
}

// IsSpam is rspamd's own notion (src/libserver/protocol.c: the actions
// below greylist in its order are spam).
func (r *Result) IsSpam() bool {
	switch strings.ToLower(r.Action) {
	case "reject", "soft reject", "rewrite subject", "add header", "discard", "quarantine":
		return true
	}
	return false
}
