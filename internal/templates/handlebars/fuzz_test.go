package handlebars

import (
	"errors"
	"testing"
)

// Templates and data come from API callers: parsing and rendering must
// never panic, and fail only with a SyntaxError or a RenderError.

func FuzzParse(f *testing.F) {
	f.Add("Hi {{name}}, {{#if a}}x{{else if b}}y{{else}}z{{/if}}")
	f.Add("{{#each xs as |x i|}}{{i}}{{x.y}}{{../z}}{{@first}}{{/each}}")
	f.Add(`{{#*inline "p"}}{{a}}{{/inline}}{{> p b="c"}}`)
	f.Add("{{!-- c --}}{{~v~}}\\{{x}}{{{raw}}}{{lookup a (lookup b c)}}")
	f.Fuzz(func(t *testing.T, src string) {
		_, err := Parse(src)
		var se *SyntaxError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("not a SyntaxError: %T %v", err, err)
		}
	})
}

func FuzzRender(f *testing.F) {
	f.Add("{{#each xs}}{{@index}}{{this}}{{/each}}", `{"xs":[1,"a",{"b":2}]}`)
	f.Add("{{#with p}}{{#if n}}{{n}}{{/if}}{{/with}}", `{"p":{"n":0}}`)
	f.Add(`{{#*inline "p"}}{{> p}}{{/inline}}{{> p}}`, `{}`)
	f.Add("{{a.b.c}}{{#a}}{{b}}{{/a}}{{^a}}none{{/a}}", `{"a":[{"b":{"c":1}}]}`)
	f.Fuzz(func(t *testing.T, src, data string) {
		tpl, err := Parse(src)
		if err != nil {
			return
		}
		v, err := ParseData([]byte(data))
		if err != nil {
			return
		}
		for _, opt := range []Options{{HTML: true}, {Strict: true, MaxOutput: 1 << 16}} {
			_, err = tpl.Render(v, opt)
			var re *RenderError
			if err != nil && !errors.As(err, &re) {
				t.Fatalf("not a RenderError: %T %v", err, err)
			}
		}
	})
}
