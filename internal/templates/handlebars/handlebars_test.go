package handlebars

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The expectations are what Handlebars 4 (handlebars.js) renders.
type renderCase struct {
	name, tpl, data, want string
	html                  bool
}

// renderCases are checked here against the renderer, and against
// handlebars.js itself by TestReference.
var renderCases = []renderCase{
	{"text", "hello", `{}`, "hello", false},
	{"var", "Hi {{name}}!", `{"name":"Ana"}`, "Hi Ana!", false},
	{"missing is empty", "Hi {{name}}!", `{}`, "Hi !", false},
	{"escaped in HTML", "{{v}}", `{"v":"<a href=\"x\">'&'` + "`=</a>\"}", "&lt;a href&#x3D;&quot;x&quot;&gt;&#x27;&amp;&#x27;&#x60;&#x3D;&lt;/a&gt;", true},
	{"not escaped in text", "{{v}}", `{"v":"<b>&</b>"}`, "<b>&</b>", false},
	{"triple raw", "{{{v}}}", `{"v":"<b>"}`, "<b>", true},
	{"ampersand raw", "{{& v}}", `{"v":"<b>"}`, "<b>", true},
	{"dotted", "{{a.b.c}}", `{"a":{"b":{"c":"deep"}}}`, "deep", false},
	{"slash path", "{{a/b}}", `{"a":{"b":"x"}}`, "x", false},
	{"segment literal", "{{[a b].c}}", `{"a b":{"c":"x"}}`, "x", false},
	{"array index", "{{a.[1]}} {{a.length}}", `{"a":["x","y"]}`, "y 2", false},
	{"numbers", "{{a}} {{b}} {{c}} {{d}}", `{"a":1.50,"b":10,"c":1e3,"d":-0.25}`, "1.5 10 1000 -0.25", false},
	{"bool null", "{{a}}|{{b}}|{{c}}", `{"a":true,"b":false,"c":null}`, "true|false|", false},
	{"array and object", "{{a}}|{{o}}", `{"a":[1,"x",null],"o":{"k":1}}`, "1,x,|[object Object]", false},
	{"this", "{{this}}", `"str"`, "str", false},
	{"if true", "{{#if a}}yes{{else}}no{{/if}}", `{"a":"x"}`, "yes", false},
	{"if falsy", "{{#if a}}yes{{else}}no{{/if}}|{{#if b}}yes{{else}}no{{/if}}|{{#if c}}yes{{else}}no{{/if}}|{{#if d}}yes{{else}}no{{/if}}", `{"a":0,"b":"","c":[],"d":null}`, "no|no|no|no", false},
	{"if empty object is true", "{{#if o}}yes{{/if}}", `{"o":{}}`, "yes", false},
	{"if includeZero", "{{#if a includeZero=true}}yes{{/if}}", `{"a":0}`, "yes", false},
	{"else if", "{{#if a}}A{{else if b}}B{{else}}C{{/if}}", `{"b":1}`, "B", false},
	{"caret else", "{{#if a}}A{{^}}N{{/if}}", `{}`, "N", false},
	{"unless", "{{#unless a}}no a{{else}}a{{/unless}}", `{}`, "no a", false},
	{"if keeps context", "{{#with p}}{{#if name}}{{name}}/{{../top}}{{/if}}{{/with}}", `{"top":"T","p":{"name":"n"}}`, "n/T", false},
	{"each array", "{{#each xs}}{{@index}}:{{this}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}", `{"xs":["a","b","c"]}`, "0:aF 1:b 2:cL ", false},
	{"each objects", "{{#each people}}{{name}}({{../org}}) {{/each}}", `{"org":"O","people":[{"name":"a"},{"name":"b"}]}`, "a(O) b(O) ", false},
	{"each object keys in order", "{{#each o}}{{@key}}={{this}}{{#unless @last}},{{/unless}}{{/each}}", `{"o":{"z":1,"a":2,"m":3}}`, "z=1,a=2,m=3", false},
	{"each else", "{{#each xs}}x{{else}}none{{/each}}", `{"xs":[]}`, "none", false},
	{"each missing", "{{#each xs}}x{{else}}none{{/each}}", `{}`, "none", false},
	{"each block params", "{{#each xs as |x i|}}{{i}}={{x}};{{/each}}", `{"xs":["a","b"]}`, "0=a;1=b;", false},
	{"nested each parent", "{{#each a}}{{#each b}}{{../n}}{{this}}{{/each}}{{/each}}", `{"a":[{"n":"x","b":[1,2]}]}`, "x1x2", false},
	{"each @root", "{{#each xs}}{{@root.t}}{{/each}}", `{"t":"R","xs":[1,2]}`, "RR", false},
	{"with", "{{#with p}}{{first}} {{last}}{{/with}}", `{"p":{"first":"A","last":"B"}}`, "A B", false},
	{"with else", "{{#with p}}x{{else}}none{{/with}}", `{}`, "none", false},
	{"section object", "{{#p}}{{n}}{{/p}}", `{"p":{"n":"x"}}`, "x", false},
	{"section array", "{{#xs}}{{this}}{{/xs}}", `{"xs":[1,2]}`, "12", false},
	{"inverse section", "{{^xs}}empty{{/xs}}", `{"xs":[]}`, "empty", false},
	{"lookup", "{{lookup m k}} {{lookup xs 1}}", `{"m":{"a":"A"},"k":"a","xs":["p","q"]}`, "A q", false},
	{"subexpression", "{{#if (lookup m k)}}yes{{/if}}", `{"m":{"a":"A"},"k":"a"}`, "yes", false},
	{"comments", "a{{! short }}b{{!-- long }} --}}c", `{}`, "abc", false},
	{"whitespace control", "a  {{~v~}}  b", `{"v":"X"}`, "aXb", false},
	{"whitespace control newlines", "<ul>\n  {{~#each xs~}}\n  <li>{{this}}</li>\n  {{~/each~}}\n</ul>", `{"xs":[1,2]}`, "<ul><li>1</li><li>2</li></ul>", true},
	{"standalone lines", "<ul>\n  {{#each xs}}\n  <li>{{this}}</li>\n  {{/each}}\n</ul>\n", `{"xs":[1,2]}`, "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>\n", true},
	{"standalone comment", "a\n  {{! note }}\nb", `{}`, "a\nb", false},
	{"escaped mustache", `\{{name}} {{name}}`, `{"name":"x"}`, "{{name}} x", false},
	{"inline partial", `{{#*inline "row"}}<td>{{name}}</td>{{/inline}}{{#each people}}{{> row}}{{/each}}`, `{"people":[{"name":"a"},{"name":"b"}]}`, "<td>a</td><td>b</td>", true},
	{"partial with context and hash", `{{#*inline "p"}}{{a}}-{{b}}{{/inline}}{{> p x b="B"}}`, `{"x":{"a":"A"}}`, "A-B", false},
	{"string literal with braces", `{{lookup m "}}"}}`, `{"m":{"}}":"ok"}}`, "ok", false},
	{"SES inline partial", "{{#* inline \"fullName\"}}{{firstName}}{{#if middleName}} {{middleName}}{{/if}} {{lastName}}{{/inline}}\n<h1>Hello {{> fullName}}!</h1>", `{"firstName":"Ana","middleName":"","lastName":"Lee"}`, "\n<h1>Hello Ana Lee!</h1>", true},
	{"SES each", "<ul>\n{{#each subscription.interests}}\n  <li>{{this}}</li>\n{{/each}}\n</ul>", `{"subscription":{"interests":["Sports","Travel"]}}`, "<ul>\n  <li>Sports</li>\n  <li>Travel</li>\n</ul>", true},
	{"unicode", "Olá {{nome}} 🎉", `{"nome":"João"}`, "Olá João 🎉", true},
}

func TestRender(t *testing.T) {
	t.Parallel()
	tests := renderCases
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := ParseData([]byte(tt.data))
			require.NoError(t, err)
			got, err := RenderString(tt.tpl, data, Options{HTML: tt.html})
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ tpl, want string }{
		{"{{#if a}}x", "line 1:1: {{#if a}} is never closed"},
		{"ab\n  {{#each xs}}\n{{/if}}", "line 3:1: {{/if}} does not close {{#each}} opened at 2:3"},
		{"{{/if}}", "line 1:1: {{/if}} closes no open block"},
		{"x {{else}}", "line 1:3: {{else}} outside a block"},
		{"{{name", `line 1:1: tag not closed: no "}}"`},
		{"{{a}} {{b {{c}}", `line 1:7: tag not closed with "}}" before the next {{`},
		{"{{!-- open", `line 1:1: unclosed comment: no "--}}"`},
		{"{{}}", "line 1:1: empty tag"},
		{"{{lookup \"x}}", "line 1:10: unterminated string literal"},
		{"{{#if a}}{{else}}{{else}}{{/if}}", "line 1:18: a second {{else}} in the block opened at 1:1"},
		{"{{#> layout}}{{/layout}}", "line 1:1: partial blocks {{#> }} are not supported"},
		{"{{xs.0}}", "line 1:6: a path segment cannot be a number: write [0]"},
		{"{{a}}}", "line 1:4: unexpected }}}: {{ is closed by }}, {{{ by }}}"},
		{"{{{{raw}}}} x", `line 1:1: raw block {{{{raw}}}} is never closed with {{{{/raw}}}}`},
		{"{{#*decorator}}{{/decorator}}", `line 1:1: unsupported decorator "decorator": only {{#*inline "name"}} is`},
		{"{{a (b c}}", "line 1:5: unclosed subexpression: no )"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.tpl)
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", tt.tpl, err)
		require.Equal(t, tt.want, err.Error(), tt.tpl)
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	data, err := ParseData([]byte(`{"name":"x","xs":[{"a":1},{}]}`))
	require.NoError(t, err)
	tests := []struct {
		tpl, want, missing string
		strict             bool
	}{
		{"{{foo bar}}", `line 1:3: Missing helper: "foo"`, "", false},
		{"{{#if}}x{{/if}}", "line 1:1: #if takes exactly one argument, not 0", "", false},
		{"{{> nope}}", "line 1:1: The partial nope could not be found", "", false},
		{`{{#*inline "p"}}{{> p}}{{/inline}}{{> p}}`, "line 1:17: blocks and partials nested more than 64 deep (a partial that includes itself?)", "", false},
		{"Hi\n {{missing.attr}}", "line 2:4: Attribute 'missing.attr' is not present in the rendering data.", "missing.attr", true},
		{"{{#each xs}}{{a}}{{/each}}", "line 1:15: Attribute 'a' is not present in the rendering data.", "a", true},
	}
	for _, tt := range tests {
		_, err := RenderString(tt.tpl, data, Options{Strict: tt.strict})
		var re *RenderError
		require.True(t, errors.As(err, &re), "%q: %v", tt.tpl, err)
		require.Equal(t, tt.want, err.Error(), tt.tpl)
		require.Equal(t, tt.missing, re.Missing)
	}
	// Strict mode lets blocks test what may be missing.
	got, err := RenderString("{{#if opt}}{{opt}}{{else}}none{{/if}}{{#each xs}}{{#if a}}{{a}}{{/if}}{{/each}}", data, Options{Strict: true})
	require.NoError(t, err)
	require.Equal(t, "none1", got)
	_, err = RenderString("{{name}}{{name}}", data, Options{MaxOutput: 1})
	require.ErrorContains(t, err, "exceeds 1 bytes")
}

func TestParseData(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{``, `{`, `{"a":}`, `{} {}`, `[1,]`, `nope`} {
		_, err := ParseData([]byte(bad))
		require.Error(t, err, bad)
	}
	v, err := ParseData([]byte(`{"b":1,"a":{"c":[true]}}`))
	require.NoError(t, err)
	o := v.(*Object)
	require.Equal(t, []string{"b", "a"}, o.Keys)
}

// Templates are reused concurrently by the sending pipeline.
func TestConcurrentRender(t *testing.T) {
	t.Parallel()
	tpl, err := Parse("{{#each xs}}{{this}}{{/each}}")
	require.NoError(t, err)
	done := make(chan string)
	for range 8 {
		go func() {
			s, _ := tpl.Render(map[string]any{"xs": []any{"a", "b"}}, Options{})
			done <- s
		}()
	}
	for range 8 {
		require.Equal(t, "ab", <-done)
	}
}

func TestMaxSteps(t *testing.T) {
	t.Parallel()
	// 10^8 iterations without the bound.
	tpl := strings.Repeat("{{#each @root.xs}}", 8) + "x" + strings.Repeat("{{/each}}", 8)
	xs := make([]any, 10)
	_, err := RenderString(tpl, map[string]any{"xs": xs}, Options{MaxOutput: 1 << 30})
	require.ErrorContains(t, err, "steps")
}
