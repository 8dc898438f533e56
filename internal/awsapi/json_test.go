package awsapi

import (
	"bytes"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/smithy"
)

func TestJSONSuccessGolden(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.callJSON(t, "ListRuleSets", `{"PageSize":10,"Unknown":{"ignored":[1,2]}}`)
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, "application/x-amz-json-1.0", resp.Header.Get("Content-Type"))
	require.Equal(t, `{"RuleSets":[{"LastModificationDate":1714979289.5,"RuleSetId":"rs-1","RuleSetName":"inbound"}]}`, string(body))
	in := b.lastInput("ListRuleSets").(*mmListRuleSetsInput)
	require.EqualValues(t, 10, *in.PageSize)

	// A required list is written even when the handler leaves it nil.
	resp, body = b.callJSON(t, "ListRuleSets", `{"NextToken":"empty"}`)
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, `{"RuleSets":[]}`, string(body))
	resp, body = b.callCBOR(t, "ListRuleSets", mustCBOR(t, map[string]any{"NextToken": "empty"}))
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, cborHex(t, "a1 68 52756c6553657473 80"), body)

	// An operation without input or output shapes answers {}.
	resp, body = b.callJSON(t, "Ping", ``)
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, `{}`, string(body))
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		op, body string
		status   int
		golden   string // exact body, or "" to check code and message only
		code     string
		message  string
	}{
		{op: "GetRuleSet", body: `{"RuleSetId":"missing"}`, status: 400,
			golden: `{"__type":"ResourceNotFoundException","message":"rule set missing does not exist","Message":"rule set missing does not exist"}`},
		{op: "CreateRuleSet", body: `{}`, status: 400,
			golden: `{"__type":"ValidationException","message":"1 validation error detected: Value null at 'ruleSetName' failed to satisfy constraint: Member must not be null","Message":"1 validation error detected: Value null at 'ruleSetName' failed to satisfy constraint: Member must not be null"}`},
		{op: "CreateRuleSet", body: `{"RuleSetName":"opted-out"}`, status: 400,
			golden: `{"__type":"ConflictException","message":"opted out","Message":"opted out","Reason":"DESTINATION_PHONE_NUMBER_OPTED_OUT","ResourceId":"+15555550100","ResourceType":"phone-number"}`},
		{op: "CreateRuleSet", body: `{"RuleSetName":"exists"}`, status: 400, code: "ConflictException", message: "rule set exists"},
		{op: "CreateRuleSet", body: `{"RuleSetName":"quota"}`, status: 400, code: "ServiceQuotaExceededException"},
		{op: "CreateRuleSet", body: `{"RuleSetName":"invalid"}`, status: 400, code: "ValidationException", message: "rules contradict"},
		{op: "ListRuleSets", body: `{"NextToken":"throttle"}`, status: 400, code: "ThrottlingException"},
		{op: "ListRuleSets", body: `{"NextToken":"denied"}`, status: 400, code: "AccessDeniedException"},
		{op: "ListRuleSets", body: `{"NextToken":"unavailable"}`, status: 503, code: "ServiceUnavailable"},
		{op: "ListRuleSets", body: `{"NextToken":"boom"}`, status: 500, code: "InternalServerException", message: "An internal error occurred."},
		{op: "ListRuleSets", body: `{"NextToken":"panic"}`, status: 500, code: "InternalServerException"},
		{op: "ListRuleSets", body: `{"PageSize":100}`, status: 400, code: "ValidationException", message: "Member must have value less than or equal to 50"},
		{op: "ListRuleSets", body: `{"PageSize":`, status: 400, code: "SerializationException", message: "Malformed JSON"},
		{op: "ListRuleSets", body: `{"PageSize":"ten"}`, status: 400, code: "SerializationException", message: "'PageSize': expected an integer"},
		{op: "ListRuleSets", body: `[1]`, status: 400, code: "SerializationException"},
		{op: "CreateRuleSet", body: `{"RuleSetName":"x","Blob":"not base64!"}`, status: 400, code: "SerializationException"},
		{op: "NoSuchOp", body: `{}`, status: 400, code: "UnknownOperationException", message: "Operation NoSuchOp is not part of service MailManager"},
		{op: "DeleteRuleSet", body: `{"RuleSetId":"x"}`, status: 501, code: "NotImplemented", message: "operation DeleteRuleSet of service MailManager"},
	}
	for _, c := range cases {
		t.Run(c.op+" "+c.body, func(t *testing.T) {
			resp, body := b.callJSON(t, c.op, c.body)
			require.Equal(t, c.status, resp.StatusCode, string(body))
			require.Equal(t, "application/x-amz-json-1.0", resp.Header.Get("Content-Type"))
			if c.golden != "" {
				require.Equal(t, c.golden, string(body))
				return
			}
			code, msg := jsonError(t, body)
			require.Equal(t, c.code, code)
			require.Equal(t, c.code, resp.Header.Get("X-Amzn-Errortype"))
			require.Contains(t, msg, c.message)
		})
	}
	// The real cause of an internal error is logged with the request id,
	// never sent.
	logs := b.logs.String()
	require.True(t, hasLine(logs, "disk on fire"), logs)
	require.True(t, hasLine(logs, "handler bug"), logs)
}

func TestJSONUnknownTargetPrefix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.newRequest(t, "POST", "/", []byte(`{}`), map[string]string{"X-Amz-Target": "DynamoDB_20120810.ListTables"})
	resp, body := do(t, req)
	require.Equal(t, 400, resp.StatusCode)
	code, _ := jsonError(t, body)
	require.Equal(t, "UnknownOperationException", code)
}

func TestIdempotencyToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := `{"ClientToken":"tok-1","RuleSetName":"a"}`
	resp, body1 := b.callJSON(t, "CreateRuleSet", first)
	require.Equal(t, 200, resp.StatusCode, string(body1))
	resp, body2 := b.callJSON(t, "CreateRuleSet", first)
	require.Equal(t, 200, resp.StatusCode, string(body2))
	require.Equal(t, string(body1), string(body2))
	require.EqualValues(t, 1, b.creates.Load(), "a replay does not run the handler")

	resp, body := b.callJSON(t, "CreateRuleSet", `{"ClientToken":"tok-1","RuleSetName":"b"}`)
	require.Equal(t, 400, resp.StatusCode)
	code, msg := jsonError(t, body)
	require.Equal(t, "ConflictException", code)
	require.Contains(t, msg, "tok-1")

	// Without a token every call runs.
	b.callJSON(t, "CreateRuleSet", `{"RuleSetName":"a"}`)
	b.callJSON(t, "CreateRuleSet", `{"RuleSetName":"a"}`)
	require.EqualValues(t, 3, b.creates.Load())
}

// callCBOR makes a signed Smithy RPC v2 CBOR call to the fake Mail Manager.
func (b *bundle) callCBOR(t *testing.T, op string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req := b.newRequest(t, "POST", "/service/MailManagerSvc/operation/"+op, body, map[string]string{
		"Smithy-Protocol": "rpc-v2-cbor",
		"Content-Type":    "application/cbor",
		"Accept":          "application/cbor",
	})
	return do(t, sign(t, req, body, "ses", time.Now()))
}

func TestCBOR(t *testing.T) {
	t.Parallel()
	b := setup(t)
	in, err := cbor.Marshal(map[string]any{"PageSize": 10, "Unknown": []any{1, "x"}})
	require.NoError(t, err)
	resp, body := b.callCBOR(t, "ListRuleSets", in)
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Equal(t, "application/cbor", resp.Header.Get("Content-Type"))
	require.Equal(t, "rpc-v2-cbor", resp.Header.Get("Smithy-Protocol"))
	// Golden: {"RuleSets": [{"RuleSetId": "rs-1", "RuleSetName": "inbound", "LastModificationDate": 1(1714979289.5)}]}
	// with the timestamp as tag 1 (0xc1) over a float64 (0xfb).
	// Map keys and struct members are written in bytewise order.
	want := cborHex(t, "a1 68 52756c6553657473 81 a3"+
		" 69 52756c655365744964 64 72732d31"+
		" 6b 52756c655365744e616d65 67 696e626f756e64"+
		" 74 4c6173744d6f64696669636174696f6e44617465 c1 fb 41d98e2076600000")
	require.Equal(t, want, body)
	require.EqualValues(t, 10, *b.lastInput("ListRuleSets").(*mmListRuleSetsInput).PageSize)

	// Blobs are byte strings, timestamps tag 1, both ways.
	in, err = cbor.Marshal(map[string]any{"RuleSetName": "x", "Blob": []byte{9, 8}, "Count": 3, "Ratio": 0.5, "Enabled": true})
	require.NoError(t, err)
	resp, body = b.callCBOR(t, "CreateRuleSet", in)
	require.Equal(t, 200, resp.StatusCode, string(body))
	got := b.lastInput("CreateRuleSet").(*mmCreateRuleSetInput)
	require.Equal(t, []byte{9, 8}, got.Blob)
	require.EqualValues(t, 3, *got.Count)
	require.Equal(t, 0.5, *got.Ratio)
	require.True(t, *got.Enabled)

	resp, body = b.callCBOR(t, "GetRuleSet", mustCBOR(t, map[string]any{"RuleSetId": "r"}))
	require.Equal(t, 200, resp.StatusCode)
	var out struct {
		RuleSetId   string
		CreatedDate cbor.RawTag
		Blob        cbor.RawMessage
	}
	require.NoError(t, cbor.Unmarshal(body, &out))
	require.EqualValues(t, 1, out.CreatedDate.Number)
	require.Equal(t, []byte{0x44, 0, 1, 2, 0xff}, []byte(out.Blob), "a definite byte string")

	// An empty body is an empty input.
	resp, body = b.callCBOR(t, "ListRuleSets", nil)
	require.Equal(t, 200, resp.StatusCode, string(body))
}

func TestCBORErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.callCBOR(t, "GetRuleSet", mustCBOR(t, map[string]any{"RuleSetId": "missing"}))
	require.Equal(t, 400, resp.StatusCode)
	require.Equal(t, "application/cbor", resp.Header.Get("Content-Type"))
	require.Equal(t, "rpc-v2-cbor", resp.Header.Get("Smithy-Protocol"))
	var e map[string]any
	require.NoError(t, cbor.Unmarshal(body, &e))
	require.Equal(t, map[string]any{
		"__type":  "ResourceNotFoundException",
		"message": "rule set missing does not exist",
		"Message": "rule set missing does not exist",
	}, e)

	for _, c := range []struct {
		name string
		body []byte
	}{
		{"truncated", []byte{0xa1, 0x68}},
		{"not a map", mustCBOR(t, []int{1})},
		{"wrong type", mustCBOR(t, map[string]any{"PageSize": "ten"})},
		{"duplicate key", []byte{0xa2, 0x68, 'P', 'a', 'g', 'e', 'S', 'i', 'z', 'e', 0x01, 0x68, 'P', 'a', 'g', 'e', 'S', 'i', 'z', 'e', 0x02}},
	} {
		resp, body := b.callCBOR(t, "ListRuleSets", c.body)
		require.Equal(t, 400, resp.StatusCode, c.name)
		require.NoError(t, cbor.Unmarshal(body, &e), c.name)
		require.Equal(t, "SerializationException", e["__type"], c.name)
	}

	resp, body = b.callCBOR(t, "NoSuchOp", nil)
	require.Equal(t, 404, resp.StatusCode)
	require.NoError(t, cbor.Unmarshal(body, &e))
	require.Equal(t, "UnknownOperationException", e["__type"])
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	require.NoError(t, err)
	return b
}

func cborHex(t *testing.T, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, " ", "")
	out := make([]byte, len(s)/2)
	for i := range out {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		out[i] = v
	}
	return out
}

func TestFillRequired(t *testing.T) {
	t.Parallel()
	type inner struct {
		L []string          `json:"L" required:"true"`
		M map[string]string `json:"M" required:"true"`
		O []string          `json:"O,omitempty"`
		B []byte            `json:"B" required:"true"`
	}
	type outer struct {
		P  *inner           `json:"P"`
		S  []inner          `json:"S"`
		MP map[string]inner `json:"MP"`
	}
	v := &outer{P: &inner{}, S: []inner{{}}, MP: map[string]inner{"k": {}}}
	fillRequired(reflect.ValueOf(v))
	for _, in := range []inner{*v.P, v.S[0], v.MP["k"]} {
		require.NotNil(t, in.L)
		require.NotNil(t, in.M)
		require.Nil(t, in.O)
		require.Nil(t, in.B)
	}
}

func TestMetricsAndLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, _ := b.callJSON(t, "GetRuleSet", `{"RuleSetId":"missing"}`)
	id := resp.Header.Get("X-Amzn-Requestid")
	b.metrics.mu.Lock()
	seen := append([]RequestInfo(nil), b.metrics.seen...)
	b.metrics.mu.Unlock()
	require.Len(t, seen, 1)
	require.Equal(t, "mailmanager", seen[0].Service)
	require.Equal(t, "GetRuleSet", seen[0].Operation)
	require.Equal(t, "awsJson1_0", seen[0].Protocol)
	require.Equal(t, 400, seen[0].Status)
	require.Equal(t, "ResourceNotFoundException", seen[0].ErrorCode)
	logs := b.logs.String()
	require.True(t, hasLine(logs, `"request_id":"`+id+`"`), logs)
	require.True(t, hasLine(logs, `"account":"`+testAccount+`"`), logs)
}

func TestHandleRejectsMismatches(t *testing.T) {
	t.Parallel()
	s := New(Config{Region: testRegion})
	require.PanicsWithValue(t, `awsapi: Handle: service mailmanager has no operation "Nope"`, func() {
		Handle(s, fakeMailManager, "Nope", func(context.Context, *mmEmpty) (*mmEmpty, error) { return nil, nil })
	})
	require.Panics(t, func() {
		Handle(s, fakeMailManager, "ListRuleSets", func(context.Context, *mmGetRuleSetInput) (*mmListRuleSetsOutput, error) { return nil, nil })
	})
	require.Panics(t, func() {
		Handle(s, fakeMailManager, "ListRuleSets", func(context.Context, *mmListRuleSetsInput) (*mmEmpty, error) { return nil, nil })
	})
	require.Panics(t, func() {
		Handle(s, fakeMailManager, "Ping", func(context.Context, *mmEmpty) (*struct{}, error) { return nil, nil })
	})
	Handle(s, fakeMailManager, "ListRuleSets", func(context.Context, *mmListRuleSetsInput) (*mmListRuleSetsOutput, error) { return nil, nil })
	require.Panics(t, func() {
		Handle(s, fakeMailManager, "ListRuleSets", func(context.Context, *mmListRuleSetsInput) (*mmListRuleSetsOutput, error) { return nil, nil })
	}, "twice")
}

func TestMatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	match := func(method, path string, h map[string]string) bool {
		req := b.newRequest(t, method, path, nil, h)
		return b.srv.Match(req)
	}
	require.True(t, match("POST", "/", map[string]string{"X-Amz-Target": "MailManagerSvc.ListRuleSets"}))
	require.True(t, match("POST", "/service/MailManagerSvc/operation/ListRuleSets", nil))
	require.True(t, match("POST", "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}))
	require.True(t, match("GET", "/?Action=GetCallerIdentity", nil))
	require.True(t, match("GET", "/v2/email/identities/x", nil))
	require.False(t, match("GET", "/v1/otp", nil))
	require.False(t, match("GET", "/console/", nil))
	require.False(t, match("POST", "/console/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}))
}

func TestNotFoundHasRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := do(t, b.newRequest(t, "GET", "/nothing/here", nil, nil))
	require.Equal(t, 404, resp.StatusCode)
	code, _ := jsonError(t, body)
	require.Equal(t, "UnknownOperationException", code)
	require.True(t, bytes.HasPrefix(body, []byte(`{"__type"`)))
	_ = smithy.AWSJSON10
}
