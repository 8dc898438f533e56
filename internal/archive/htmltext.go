package archive

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText turns an HTML body into plain text for the index: the text of
// the document without scripts, styles and the head, a line break at each
// block element, entities decoded, runs of white space collapsed.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0         // depth inside script, style, head, title…
	lineStart := true // nothing written on the current line yet
	pending := false  // white space seen since the last word
	word := func(w string) {
		if pending && !lineStart {
			b.WriteByte(' ')
		}
		b.WriteString(w)
		lineStart, pending = false, false
	}
	newline := func() {
		if !lineStart {
			b.WriteByte('\n')
		}
		lineStart, pending = true, false
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(b.String())
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if hidden[a] {
				if tt == html.StartTagToken {
					skip++
				}
				continue
			}
			if block[a] {
				newline()
			}
			if a == atom.Img && hasAttr && skip == 0 {
				// The alternative text stands for the image.
				for more := true; more; {
					var k, v []byte
					k, v, more = z.TagAttr()
					if string(k) == "alt" && len(v) > 0 {
						pending = true
						for _, w := range strings.Fields(string(v)) {
							word(w)
							pending = true
						}
					}
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if hidden[a] {
				if skip > 0 {
					skip--
				}
				continue
			}
			if block[a] {
				newline()
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if t != "" && isSpaceByte(t[0]) {
				pending = true
			}
			for i, w := range strings.Fields(t) {
				if i > 0 {
					pending = true
				}
				word(w)
			}
			if t != "" && isSpaceByte(t[len(t)-1]) {
				pending = true
			}
		}
	}
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

var hidden = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Head: true, atom.Title: true,
	atom.Noscript: true, atom.Template: true, atom.Svg: true,
}

var block = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Tr: true, atom.Li: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Table: true, atom.Ul: true, atom.Ol: true, atom.Blockquote: true, atom.Pre: true,
	atom.Hr: true, atom.Section: true, atom.Article: true, atom.Header: true, atom.Footer: true,
	atom.Td: true, atom.Th: true, atom.Body: true, atom.Html: true,
}
