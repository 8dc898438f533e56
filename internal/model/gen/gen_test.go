package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnumPascal(t *testing.T) {
	t.Parallel()
	for value, want := range map[string]string{
		"ACTIVE":             "Active",
		"TLS1_2":             "Tls12",
		"us-east-1":          "UsEast1",
		"UTF-8":              "Utf8",
		"AWS_SES_EU_WEST_3":  "AwsSesEuWest3",
		"created-after":      "CreatedAfter",
		"Base64":             "Base64",
		"IPv4":               "IPv4",
		"application/json":   "ApplicationJson",
		"10DLC":              "10dlc",
		"*":                  "Value",
		"text/html; q=0.5":   "TextHtmlQ05",
		"READ_ONLY_ACCESS":   "ReadOnlyAccess",
		"camelCaseValue":     "CamelCaseValue",
		"mixed-CASE_value-2": "MixedCaseValue2",
	} {
		require.Equal(t, want, enumPascal(value), value)
	}
}

func TestExportedIdent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"RuleSet":         "RuleSet",
		"accessKeyIdType": "AccessKeyIdType",
		"arn":             "Arn",
		"1stThing":        "X1stThing",
		"a-b":             "A_b",
	} {
		require.Equal(t, want, exportedIdent(in), in)
	}
}

func TestTranslatePattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		model    string
		goRE     string
		match    []string
		mismatch []string
	}{
		{
			model:    `[a-zA-Z0-9_.-]+`,
			goRE:     `^(?:[a-zA-Z0-9_.-]+)$`,
			match:    []string{"rule-set_1.x"},
			mismatch: []string{"", "has space", "ok!"}, // whole value, not a substring
		},
		{
			model:    `^(.+)@(.+)$`,
			goRE:     `^(?:^(.+)@(.+)$)$`, // anchored twice is harmless
			match:    []string{"a@b"},
			mismatch: []string{"ab"},
		},
		{
			model:    `^a|b$`, // anchored in appearance only
			goRE:     `^(?:^a|b$)$`,
			match:    []string{"a", "b"},
			mismatch: []string{"ax", "xb"},
		},
		{
			model:    `^(([^:/?#]+):)?(//([^/?#]*))?`, // anchored at the start only
			goRE:     `^(?:^(([^:/?#]+):)?(//([^/?#]*))?)$`,
			match:    []string{"https://example.com"},
			mismatch: []string{"https://example.com/path"},
		},
		{
			model:    `arn:[\w-]+:iam::[0-9]+:role(\u002F)([\u0021-\u007E]+\u002F)?([\w+=,.@-]+)`,
			goRE:     `^(?:arn:[\w-]+:iam::[0-9]+:role(\x{002F})([\x{0021}-\x{007E}]+\x{002F})?([\w+=,.@-]+))$`,
			match:    []string{"arn:aws:iam::123456789012:role/path/Name"},
			mismatch: []string{"arn:aws:iam::123456789012:user/Name"},
		},
		{
			// sts arnType: \u10000-\u10FFFF is the supplementary planes.
			model:    `[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`,
			goRE:     `^(?:[\x{0009}\x{000A}\x{000D}\x{0020}-\x{007E}\x{0085}\x{00A0}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]+)$`,
			match:    []string{"arn:aws:iam::1:role/x", "😀", "é"},
			mismatch: []string{"\x01", ""},
		},
		{
			// Lookaround: no leading or trailing whitespace.
			model:    `(?!\s)^[\s\S]+(?<!\s)`,
			goRE:     `^(?:\S(?:[\s\S]*\S)?)$`,
			match:    []string{"a", "a b", "a\nb", "ab"},
			mismatch: []string{"", " a", "a ", "\ta", " "},
		},
		{
			// Lookahead: not whitespace only.
			model:    `(?!\s*$)[\s\S]+`,
			goRE:     `^(?:[\s\S]*\S[\s\S]*)$`,
			match:    []string{"a", " a ", "\nx\n"},
			mismatch: []string{"", " ", "\t\n "},
		},
	}
	for _, tt := range tests {
		got, err := translatePattern(tt.model)
		require.NoError(t, err, tt.model)
		require.Equal(t, tt.goRE, got, tt.model)
		re := regexp.MustCompile(got)
		for _, s := range tt.match {
			require.True(t, re.MatchString(s), "%s should match %q", tt.model, s)
		}
		for _, s := range tt.mismatch {
			require.False(t, re.MatchString(s), "%s should not match %q", tt.model, s)
		}
	}

	_, err := translatePattern(`(?=x)abc\1`)
	require.Error(t, err, "a lookahead without a rewrite cannot be enforced")
}

// A small model that exercises what the five real models do not: name
// collisions, lower-case names, query tags, payloads, a pattern RE2 cannot
// take.
const synthetic = `{
  "metadata": {"protocol": "query", "apiVersion": "2020-01-01", "serviceId": "Synth", "endpointPrefix": "synth"},
  "operations": {
    "DoIt": {"name": "DoIt", "http": {"method": "PUT", "requestUri": "/x/{Id}", "responseCode": 204},
             "input": {"shape": "DoItRequest"}, "output": {"shape": "DoItResponse", "resultWrapper": "DoItResult"},
             "errors": [{"shape": "Boom"}], "idempotent": true}
  },
  "shapes": {
    "DoItRequest": {"type": "structure", "required": ["Id"], "payload": "Body", "members": {
      "Id": {"shape": "Id", "location": "uri", "locationName": "Id"},
      "Body": {"shape": "Blob"},
      "Items": {"shape": "ItemList", "locationName": "item"},
      "Flat": {"shape": "FlatList"},
      "token": {"shape": "Id", "idempotencyToken": true, "queryName": "Tok"},
      "Mode": {"shape": "Mode"},
      "Look": {"shape": "Look"}
    }},
    "DoItResponse": {"type": "structure", "members": {}},
    "Boom": {"type": "structure", "exception": true, "fault": true, "members": {"message": {"shape": "Id"}}},
    "Id": {"type": "string", "min": 1, "max": 3},
    "Blob": {"type": "blob"},
    "ItemList": {"type": "list", "member": {"shape": "Id"}},
    "FlatList": {"type": "list", "member": {"shape": "Id"}, "flattened": true},
    "Mode": {"type": "string", "enum": ["a-b", "A_B", "Look"]},
    "Look": {"type": "string", "pattern": "(?=x)x\\1"},
    "ModeLook": {"type": "structure", "members": {}}
  }
}`

func TestGenerateSynthetic(t *testing.T) {
	t.Parallel()
	files, warnings, err := generate([]byte(synthetic), "synth", "synth.json", "synth")
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	require.Contains(t, warnings[0], "pattern not enforced: Look: (?=x)x\\1")

	// Compare with single spaces: gofmt aligns fields and tags.
	flat := func(b []byte) string { return strings.Join(strings.Fields(string(b)), " ") }
	require.True(t, strings.HasPrefix(string(files["types.go"]), header+"\n"))
	types := flat(files["types.go"])
	require.Contains(t, types, "Id *string `json:\"Id,omitzero\" cbor:\"Id,omitzero\" location:\"uri\" locationName:\"Id\" query:\"Id\" xml:\"Id\" required:\"true\"` // required")
	require.Contains(t, types, "Body []byte `json:\"Body,omitzero\" cbor:\"Body,omitzero\" payload:\"true\" query:\"Body\" xml:\"Body\"`")
	// Not rest-json: the JSON name stays the member name.
	require.Contains(t, types, "Items []string `json:\"Items,omitzero\" cbor:\"Items,omitzero\" locationName:\"item\" query:\"item\" xml:\"item\"`")
	require.Contains(t, types, "Flat []string `json:\"Flat,omitzero\" cbor:\"Flat,omitzero\" query:\"Flat\" xml:\"Flat\" flattened:\"true\"`")
	require.Contains(t, types, "Token *string `json:\"token,omitzero\" cbor:\"token,omitzero\" query:\"token\" xml:\"token\" queryName:\"Tok\"` // idempotency token")
	require.Contains(t, types, "Mode *Mode")
	require.Contains(t, types, "Message *string `json:\"message,omitzero\"")

	enums := flat(files["enums.go"])
	require.Contains(t, enums, "ModeAB Mode = \"a-b\"")
	require.Contains(t, enums, "ModeAB2 Mode = \"A_B\"")
	require.Contains(t, enums, "ModeLook2 Mode = \"Look\"", "ModeLook is the structure's name")

	validate := flat(files["validate.go"])
	require.Contains(t, validate, "// pattern not enforced: Look: (?=x)x\\1")
	require.NotContains(t, validate, "patternLook")

	service := flat(files["service.go"])
	require.Contains(t, service, "SuccessCode: 204,")
	require.Contains(t, service, "ResultWrapper: \"DoItResult\",")
	require.Contains(t, service, "IdempotencyToken: \"token\",")
	require.Contains(t, service, "SigningName: \"synth\",")
	require.Contains(t, service, "\"Boom\": {Name: \"Boom\", Code: \"Boom\", HTTPStatus: 500, Sender: false},")

	// restJson1: a body member with a locationName is named so in the body.
	rest, _, err := generate([]byte(strings.Replace(synthetic, `"protocol": "query"`, `"protocol": "rest-json"`, 1)), "synth", "synth.json", "synth")
	require.NoError(t, err)
	restTypes := flat(rest["types.go"])
	require.Contains(t, restTypes, "Items []string `json:\"item,omitzero\" cbor:\"item,omitzero\" locationName:\"item\"`")
	require.Contains(t, restTypes, "Id *string `json:\"Id,omitzero\" cbor:\"Id,omitzero\" location:\"uri\" locationName:\"Id\" required:\"true\"` // required")
	require.NotContains(t, restTypes, "query:")
	require.Contains(t, flat(rest["service.go"]), "Protocol: smithy.RESTJSON1,")

	again, _, err := generate([]byte(synthetic), "synth", "synth.json", "synth")
	require.NoError(t, err)
	require.Equal(t, files, again, "output must be deterministic")
}

var generateLine = regexp.MustCompile(`(?m)^//go:generate go run \./gen -model (\S+) -pkg (\S+) -out (\S+)$`)

// TestGeneratedUpToDate regenerates every package listed in
// ../generate.go into a temporary directory and compares it with the
// committed files, byte for byte.
func TestGeneratedUpToDate(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../generate.go")
	require.NoError(t, err)
	lines := generateLine.FindAllStringSubmatch(string(src), -1)
	require.Len(t, lines, 5, "one go:generate line per model")
	for _, l := range lines {
		modelPath, pkg, out := filepath.Join("..", l[1]), l[2], filepath.Join("..", l[3])
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			require.NoError(t, run(modelPath, pkg, tmp))
			fresh, err := filepath.Glob(filepath.Join(tmp, "*.go"))
			require.NoError(t, err)
			require.NotEmpty(t, fresh)
			for _, f := range fresh {
				want, err := os.ReadFile(f)
				require.NoError(t, err)
				got, err := os.ReadFile(filepath.Join(out, filepath.Base(f)))
				require.NoError(t, err, "run go generate ./internal/model")
				require.True(t, bytes.Equal(want, got), "%s/%s is stale: run go generate ./internal/model", out, filepath.Base(f))
			}
			// No generated file is left over from an older model.
			committed, err := filepath.Glob(filepath.Join(out, "*.go"))
			require.NoError(t, err)
			for _, f := range committed {
				b, err := os.ReadFile(f)
				require.NoError(t, err)
				if strings.HasPrefix(string(b), header) {
					require.FileExists(t, filepath.Join(tmp, filepath.Base(f)), "stale generated file")
				}
			}
		})
	}
}
