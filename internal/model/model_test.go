package model_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/ses"
	"github.com/tidings/tidings/internal/model/sesv2"
	"github.com/tidings/tidings/internal/model/smithy"
	"github.com/tidings/tidings/internal/model/smsvoice"
	"github.com/tidings/tidings/internal/model/sts"
)

var services = []*smithy.Service{mailmanager.Service, sesv2.Service, ses.Service, smsvoice.Service, sts.Service}

// TestOperationTables checks every generated operation against the tables
// the wire layer relies on.
func TestOperationTables(t *testing.T) {
	t.Parallel()
	for _, svc := range services {
		t.Run(svc.Name, func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, svc.Operations)
			require.NotEmpty(t, svc.SigningName)
			for name, op := range svc.Operations {
				require.Equal(t, name, op.Name)
				require.NotEmpty(t, op.Method, name)
				require.True(t, strings.HasPrefix(op.RequestURI, "/"), name)
				for _, e := range op.Errors {
					require.Contains(t, svc.Errors, e, "%s returns an unknown error", name)
				}
				for _, newShape := range []func() any{op.NewInput, op.NewOutput} {
					if newShape == nil {
						continue
					}
					v := newShape()
					require.Equal(t, reflect.Pointer, reflect.TypeOf(v).Kind())
					val, ok := v.(smithy.Validator)
					require.True(t, ok, "%s: %T is no smithy.Validator", name, v)
					// A zero structure can only lack required members.
					if err := val.Validate(); err != nil {
						for _, vi := range err.(*smithy.ValidationError).Violations {
							require.Equal(t, "Member must not be null", vi.Constraint, "%s: %T", name, v)
							require.NotContains(t, vi.Path, ".", "%s: %T", name, v)
						}
					}
					b, err := json.Marshal(v)
					require.NoError(t, err)
					rest := regexp.MustCompile(`"\w+":null,?`).ReplaceAllString(string(b), "")
					require.Equal(t, "{}", rest, "%T: omitzero on every field but required collections", v)
					checkTags(t, svc, reflect.TypeOf(v).Elem(), map[reflect.Type]bool{})
				}
			}
			for name, e := range svc.Errors {
				require.Equal(t, name, e.Name)
				require.NotEmpty(t, e.Code)
				require.True(t, e.HTTPStatus >= 400 && e.HTTPStatus < 600, name)
				require.Equal(t, e.HTTPStatus < 500, e.Sender, "%s: 4xx are client faults here", name)
			}
		})
	}
}

// checkTags walks t and the structures it holds and checks the tags of
// every field.
func checkTags(t *testing.T, svc *smithy.Service, typ reflect.Type, seen map[reflect.Type]bool) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || seen[typ] || typ == reflect.TypeFor[smithy.Time]() {
		return
	}
	seen[typ] = true
	for f := range typ.Fields() {
		js := f.Tag.Get("json")
		// Only required lists and maps are written when empty.
		collection := f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.Uint8 || f.Type.Kind() == reflect.Map
		require.Equal(t, !(collection && f.Tag.Get("required") == "true"), strings.HasSuffix(js, ",omitzero"), "%s.%s", typ, f.Name)
		require.Equal(t, js, f.Tag.Get("cbor"), "%s.%s", typ, f.Name)
		if svc.Protocol == smithy.AWSQuery {
			require.NotEmpty(t, f.Tag.Get("query"), "%s.%s", typ, f.Name)
			require.Equal(t, f.Tag.Get("query"), f.Tag.Get("xml"), "%s.%s", typ, f.Name)
		} else {
			require.Empty(t, f.Tag.Get("query"), "%s.%s", typ, f.Name)
		}
		checkTags(t, svc, f.Type, seen)
	}
}

func TestTimeCBORRoundTrip(t *testing.T) {
	t.Parallel()
	created := time.UnixMilli(1700000000250).UTC()
	b, err := cbor.Marshal(&mailmanager.GetRuleSetResponse{CreatedDate: smithy.NewTime(created), RuleSetId: ptr("rs-1")})
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, cbor.Unmarshal(b, &generic))
	// fxamacker/cbor decodes tag 1 (epoch date/time) into a time.Time.
	tm, ok := generic["CreatedDate"].(time.Time)
	require.True(t, ok, "CreatedDate is %T, want tag 1", generic["CreatedDate"])
	require.True(t, created.Equal(tm))
	var back mailmanager.GetRuleSetResponse
	require.NoError(t, cbor.Unmarshal(b, &back))
	require.True(t, created.Equal(back.CreatedDate.Time))
	require.Equal(t, "rs-1", *back.RuleSetId)
}

func ptr[T any](v T) *T { return &v }
