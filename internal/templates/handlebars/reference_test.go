package handlebars

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceScript renders with handlebars.js from tests/js/node_modules
// (`npm ci --prefix tests/js`; scripts/test.sh runs it).
func referenceScript(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test")
		dir = parent
	}
	js := filepath.Join(dir, "tests", "js")
	_, errMod := os.Stat(filepath.Join(js, "node_modules", "handlebars"))
	_, errNode := exec.LookPath("node")
	if errMod != nil || errNode != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("handlebars.js is needed: run `npm ci --prefix tests/js` with Node 20 (module: %v, node: %v)", errMod, errNode)
		}
		t.Skipf("handlebars.js not installed (npm ci --prefix tests/js); skipping the comparison with it")
	}
	return filepath.Join(js, "handlebars-reference.mjs")
}

type refCase struct {
	Tpl  string `json:"tpl"`
	Data string `json:"data"`
	HTML bool   `json:"html"`
}

type refResult struct {
	Out *string `json:"out"`
	Err string  `json:"err"`
}

// TestReference renders every table case, the fuzz seed corpus and the
// cases below with both this package and handlebars.js: both must give the
// same text, or both fail.
func TestReference(t *testing.T) {
	t.Parallel()
	script := referenceScript(t)
	var cases []refCase
	for _, c := range renderCases {
		cases = append(cases, refCase{c.tpl, c.data, c.html})
	}
	seeds, err := filepath.Glob("testdata/fuzz/FuzzRender/*")
	require.NoError(t, err)
	for _, f := range seeds {
		tpl, data := readSeed(t, f)
		cases = append(cases, refCase{tpl, data, true}, refCase{tpl, data, false})
	}
	extra := []refCase{
		{"{{#each o}}{{@key}}:{{this}} {{/each}}", `{"o":{"b":1,"2":2,"1":3,"a":4}}`, false},
		{"{{#each xs}}{{#each ../ys}}{{../this}}{{this}}{{@index}},{{/each}}{{/each}}", `{"xs":[1,2],"ys":["a","b"]}`, false},
		{"{{#with a}}{{#with b}}{{../../top}}{{../n}}{{c}}{{/with}}{{/with}}", `{"top":"T","a":{"n":"N","b":{"c":"C"}}}`, false},
		{"{{#if a}}\n  x\n{{else}}\n  y\n{{/if}}\n", `{"a":false}`, false},
		{"  {{#each xs}}\n  - {{this}}\n  {{/each}}\nend", `{"xs":[1,2]}`, false},
		{"a {{!-- c --}} b {{! d }}\n{{! alone }}\nc", `{}`, false},
		{"{{#unless a}}{{else}}E{{/unless}}", `{"a":1}`, false},
		{"{{#if a}}A{{else if b}}B{{else if c}}C{{else}}D{{/if}}", `{"c":true}`, false},
		{"{{n}} {{f}} {{e}} {{big}} {{neg}} {{tiny}}", `{"n":0,"f":0.1,"e":1.5e2,"big":1e21,"neg":-3,"tiny":1e-7}`, false},
		{"{{a}}", `{"a":[1,[2,3],{"x":1},null,true]}`, false},
		{"{{#each a}}{{.}}{{/each}}", `{"a":"str"}`, false},
		{"{{#each a}}x{{else}}empty{{/each}}", `{"a":{}}`, false},
		{"{{#with a}}x{{else}}empty{{/with}}|{{#with b}}x{{else}}empty{{/with}}|{{#with c}}x{{else}}empty{{/with}}", `{"a":0,"b":[],"c":""}`, false},
		{"{{#if a}}y{{else}}n{{/if}}{{#if b}}y{{else}}n{{/if}}", `{"a":{},"b":"0"}`, false},
		{"{{a.length}} {{s.length}}", `{"a":[1,2,3],"s":"héllo"}`, false},
		{"{{lookup this \"a b\"}} {{lookup xs @index}}", `{"a b":"sp","xs":[9]}`, false},
		{"{{#each xs}}{{lookup ../ys @index}}{{/each}}", `{"xs":[1,2],"ys":["a","b"]}`, false},
		{`{{#*inline "li"}}<li>{{.}}</li>{{/inline}}<ul>{{#each xs}}{{> li}}{{/each}}</ul>`, `{"xs":["<a>","b"]}`, true},
		{`{{#*inline "p"}}[{{x}}|{{y}}]{{/inline}}{{> p x=1}}{{> p o}}{{> p o y="Y"}}`, `{"x":"X","o":{"x":"OX","y":"OY"}}`, false},
		{"{{#each xs as |x i|}}{{#each x as |y j|}}{{i}}.{{j}}={{y}} {{/each}}{{/each}}", `{"xs":[["a","b"],["c"]]}`, false},
		{"{{#xs}}{{@index}}{{this}}{{/xs}}|{{#o}}{{k}}{{/o}}|{{#t}}T{{/t}}|{{^f}}F{{/f}}", `{"xs":["a","b"],"o":{"k":"K"},"t":true,"f":false}`, false},
		{"{{@root.a}}{{#with b}}{{@root.a}}{{/with}}", `{"a":"R","b":{}}`, false},
		{"x{{~#if a~}} y {{~/if~}} z", `{"a":true}`, false},
		{"{{{a}}} {{&a}} {{a}}", `{"a":"<>&\"'=` + "`" + `"}`, true},
		{"{{#each xs}}{{#if @first}}first{{/if}}{{#if @last}}last{{/if}}{{/each}}", `{"xs":[1]}`, false},
		{"\\{{a}} \\\\{{a}}", `{"a":"A"}`, false},
		{"{{#if}}{{/if}}", `{}`, false},
		{"{{#each a b}}{{/each}}", `{}`, false},
		{"{{nohelper x}}", `{}`, false},
		{"{{> nopartial}}", `{}`, false},
		{"{{#if a}}x{{/each}}", `{}`, false},
		{"{{a b=}}", `{}`, false},
		{"{{xs.0}} {{xs.[1]}} {{this.a}} {{./a}} {{this/a}}", `{"xs":["p","q"],"a":"A"}`, false},
		{"{{#each xs}}\n  {{#if this}}\n    {{this}}\n  {{/if}}\n{{/each}}\n", `{"xs":[1,0,2]}`, false},
		{"<p>\n  {{~#if a}}\n  yes\n  {{~else~}}\n  no\n  {{~/if}}\n</p>", `{"a":false}`, false},
		{"{{!-- has }} inside --}}x{{!-- a --}}\n{{!-- b --}}\ny", `{}`, false},
		{"{{#each xs}}{{@index}}{{#each ys}}{{@index}}{{@../index}}{{/each}}{{/each}}", `{"xs":[1,2],"ys":[1]}`, false},
		{"{{#*inline \"a\"}}\nA{{x}}\n{{/inline}}\n{{> a}}\n{{> a x=1}}\n", `{"x":0}`, false},
		{"{{#if a}}{{#if b}}ab{{else}}a!b{{/if}}{{else}}!a{{/if}}", `{"a":1}`, false},
		{"{{log 'hi'}}x{{lookup a 'b'}}", `{"a":{"b":"B"}}`, false},
		{"{{#with a as |x|}}{{x.b}}{{b}}{{/with}}", `{"a":{"b":"B"}}`, false},
		{"{{a.b.c}}|{{a.x.c}}|{{n.length}}", `{"a":{"b":{"c":0}},"n":null}`, false},
		{"{{#each a}}{{this}}{{/each}}", `{"a":[null,false,0,""]}`, false},
		{"{{true}} {{false}} {{null}} {{undefined}} {{1}} {{\"s\"}} {{-1.5}}", `{}`, false},
		{"{{#if 0}}a{{/if}}{{#if \"x\"}}b{{/if}}{{#if true}}c{{/if}}", `{}`, false},
		{"{{#unless xs}}none{{/unless}}", `{"xs":[]}`, false},
		{"{{[a.b]}} {{a.b}}", `{"a.b":"dot","a":{"b":"nest"}}`, false},
		{"{{ a }} {{~ a ~}} {{ [a] }}", `{"a":"x"}`, false},
		{"line1\r\n{{#if a}}\r\nx\r\n{{/if}}\r\nend", `{"a":1}`, false},
		{"{{#each xs}}{{#unless @last}}{{this}}, {{else}}and {{this}}{{/unless}}{{/each}}", `{"xs":["a","b","c"]}`, false},
		{"{{{{raw}}}} {{x}} {{{{/raw}}}}", `{}`, false},
		{"{{#a}}{{/b}}", `{}`, false},
		{"{{a}", `{}`, false},
		{"{{a}}}", `{"a":1}`, false},
		{"{{{a}}", `{}`, false},
		{"}}{{", `{}`, false},
		{"{{.}}", `"top"`, false},
		{"{{#*inline \"rows\"}}\n<tr>\n  <td>{{.}}</td>\n</tr>\n{{/inline}}\n<table>\n  {{#each xs}}\n    {{> rows}}\n  {{/each}}\n</table>\n", `{"xs":[1,2]}`, true},
		{"{{#*inline \"p\"}}a\nb{{/inline}}\n\t {{> p}}\nend", `{}`, false},
		{"{{{{raw}}}}\n {{x}} {{{y}}}\n{{{{/raw}}}}\nafter", `{"raw":true,"x":1}`, true},
		{"a {{{{raw}}}} {{x}} {{{{/raw}}}} b", `{"raw":{"k":1}}`, false},
		{"{{#each xs}}\n{{#*inline \"p\"}}[{{.}}]{{/inline}}\n{{> p}}\n{{/each}}", `{"xs":[1,2]}`, false},
		{"{{#each .}}{{.}}{{/each}}", `[1,2]`, false},
	}
	cases = append(cases, extra...)

	in, err := json.Marshal(cases)
	require.NoError(t, err)
	cmd := exec.Command("node", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())
	var ref []refResult
	require.NoError(t, json.Unmarshal(out, &ref))
	require.Len(t, ref, len(cases))

	for i, c := range cases {
		data, err := ParseData([]byte(c.Data))
		require.NoError(t, err, c.Data)
		got, err := RenderString(c.Tpl, data, Options{HTML: c.HTML})
		r := ref[i]
		name := strconv.Quote(c.Tpl) + " with " + c.Data
		switch {
		case r.Out == nil && err == nil:
			t.Errorf("%s: handlebars.js fails (%s), this renders %q", name, r.Err, got)
		case r.Out != nil && err != nil:
			t.Errorf("%s: handlebars.js renders %q, this fails: %v", name, *r.Out, err)
		case r.Out != nil && *r.Out != got:
			t.Errorf("%s (html %v):\n handlebars.js: %q\n this:          %q", name, c.HTML, *r.Out, got)
		}
	}
}

// readSeed reads a two-string seed file of the Go fuzzing corpus.
func readSeed(t *testing.T, name string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	require.Len(t, lines, 3, name)
	var vals []string
	for _, l := range lines[1:] {
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "string("), ")"))
		require.NoError(t, err, name)
		vals = append(vals, v)
	}
	return vals[0], vals[1]
}
