// Package handlebars renders the Handlebars templates of SES email
// templates: a small lexer, parser (to an AST) and evaluator written for
// Tidings, with no JavaScript or third-party engine behind it.
//
// Supported (with Handlebars 4 semantics):
//
//   - {{path}} (HTML-escaped when Options.HTML is set, as Handlebars
//     escapes: & < > " ' ` =), {{{path}}} and {{&path}} unescaped;
//   - paths: a.b, a/b, this, this.a, ./a, ../a (the context of the
//     enclosing each/with), [literal segments], @index, @key, @first,
//     @last, @root;
//   - literals "s", 's', numbers, true, false, null, undefined, and
//     subexpressions (helper args);
//   - blocks {{#if}} {{#unless}} {{#each}} {{#with}} with {{else}},
//     {{^}}, chained {{else if …}}, inverse sections {{^x}}…{{/x}}, and
//     blocks named after a value ({{#person}}…{{/person}}: iterate an
//     array, enter an object, test anything else), block params
//     ({{#each xs as |x i|}});
//   - the helpers lookup and log, and the hash option includeZero=true of
//     if/unless;
//   - inline partials {{#*inline "name"}}…{{/inline}} and {{> name}},
//     {{> name ctx}}, {{> name key=value}} (the partial feature SES
//     documents for its templates), a standalone partial's lines indented
//     as its tag;
//   - comments {{! }} and {{!-- --}}, whitespace control {{~ ~}}, the
//     removal of standalone block lines, \{{ for a literal {{, and raw
//     blocks {{{{name}}}}text{{{{/name}}}} whose text is output as is.
//
// Not supported: custom helpers, decorators other than inline, partial
// blocks {{#> }}, dynamic partials and @../index (data of outer blocks).
// They fail to parse or render with a clear error rather than render
// wrongly.
package handlebars

import (
	"fmt"
	"strings"
)

// SyntaxError is a template that does not parse, at a 1-based line and
// column of the source.
type SyntaxError struct {
	Line, Col int
	Msg       string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.Msg) }

type tokKind int

const (
	tText        tokKind = iota
	tMustache            // {{x}}
	tRaw                 // {{{x}}} or {{&x}}
	tOpen                // {{#x}}
	tOpenInverse         // {{^x}}
	tOpenInline          // {{#*inline "n"}}
	tElse                // {{else}}, {{^}}, {{else if x}}
	tClose               // {{/x}}
	tComment             // {{! }}
	tPartial             // {{> x}}
)

// token is a piece of the source: text, or one {{…}} tag whose body (the
// expression inside, without sigils) starts at bodyPos.
type token struct {
	kind       tokKind
	text       string // text, or the tag's body
	pos        int    // offset of the token in the source
	bodyPos    int
	stripLeft  bool   // {{~
	stripRight bool   // ~}}
	raw        bool   // the text of a raw block: never merged or trimmed
	indent     string // of a standalone partial: the white space before it
}

// lexer splits a template into text and tags.
type lexer struct {
	src  string
	toks []token
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	if err := l.run(); err != nil {
		return nil, err
	}
	l.standalone()
	l.whitespace()
	return l.toks, nil
}

func (l *lexer) errAt(pos int, format string, args ...any) *SyntaxError {
	line, col := position(l.src, pos)
	return &SyntaxError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// position is the 1-based line and column (in bytes) of offset pos.
func position(src string, pos int) (line, col int) {
	if pos > len(src) {
		pos = len(src)
	}
	before := src[:pos]
	line = strings.Count(before, "\n") + 1
	col = pos - (strings.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

func (l *lexer) text(s string, pos int) {
	if s == "" {
		return
	}
	if n := len(l.toks); n > 0 && l.toks[n-1].kind == tText && !l.toks[n-1].raw {
		l.toks[n-1].text += s
		return
	}
	l.toks = append(l.toks, token{kind: tText, text: s, pos: pos})
}

func (l *lexer) run() error {
	src := l.src
	i := 0
	for i < len(src) {
		j := strings.Index(src[i:], "{{")
		if j < 0 {
			l.text(src[i:], i)
			return nil
		}
		j += i
		// \{{ is a literal "{{" (and \\{{ a backslash before a tag).
		if j > 0 && src[j-1] == '\\' {
			if j > 1 && src[j-2] == '\\' {
				l.text(src[i:j-1], i)
			} else {
				l.text(src[i:j-1], i)
				l.text("{{", j)
				i = j + 2
				continue
			}
		} else {
			l.text(src[i:j], i)
		}
		next, err := l.tag(j)
		if err != nil {
			return err
		}
		i = next
	}
	return nil
}

// tag lexes the tag that starts at pos ("{{") and returns the offset after it.
func (l *lexer) tag(pos int) (int, error) {
	src := l.src
	i := pos + 2
	if strings.HasPrefix(src[i:], "{{") {
		return l.rawBlock(pos)
	}
	t := token{pos: pos}
	triple := false
	if i < len(src) && src[i] == '{' {
		triple = true
		i++
	}
	if i < len(src) && src[i] == '~' {
		t.stripLeft = true
		i++
	}
	if triple {
		t.kind = tRaw
		return l.finish(t, i, "}}}")
	}
	// Comments end at the first "}}" ({{! }}) or "--}}" ({{!-- --}}).
	if strings.HasPrefix(src[i:], "!") {
		t.kind = tComment
		long := strings.HasPrefix(src[i:], "!--")
		end := "}}"
		if long {
			end = "--}}"
		}
		k := strings.Index(src[i:], end)
		if long {
			if k2 := strings.Index(src[i:], "--~}}"); k2 >= 0 && (k < 0 || k2 < k) {
				k, end = k2, "--~}}"
				t.stripRight = true
			}
		} else if k > 0 && src[i+k-1] == '~' {
			t.stripRight = true
		}
		if k < 0 {
			return 0, l.errAt(pos, "unclosed comment: no %q", end)
		}
		t.text = src[i : i+k]
		l.toks = append(l.toks, t)
		return i + k + len(end), nil
	}
	switch {
	case strings.HasPrefix(src[i:], "#*"):
		t.kind = tOpenInline
		i += 2
	case strings.HasPrefix(src[i:], "#>"):
		return 0, l.errAt(pos, "partial blocks {{#> }} are not supported")
	case strings.HasPrefix(src[i:], "#"):
		t.kind = tOpen
		i++
	case strings.HasPrefix(src[i:], "/"):
		t.kind = tClose
		i++
	case strings.HasPrefix(src[i:], "^"):
		t.kind = tOpenInverse
		i++
	case strings.HasPrefix(src[i:], ">"):
		t.kind = tPartial
		i++
	case strings.HasPrefix(src[i:], "&"):
		t.kind = tRaw
		i++
	default:
		t.kind = tMustache
	}
	next, err := l.finish(t, i, "}}")
	if err != nil {
		return 0, err
	}
	last := &l.toks[len(l.toks)-1]
	body := strings.TrimSpace(last.text)
	switch {
	case last.kind == tOpenInverse && body == "":
		last.kind = tElse // {{^}}
	case last.kind == tMustache && (body == "else" || strings.HasPrefix(body, "else ") || strings.HasPrefix(body, "else\t") || strings.HasPrefix(body, "else\n")):
		last.kind = tElse
		off := strings.Index(last.text, "else") + len("else")
		last.bodyPos += off
		last.text = last.text[off:]
	}
	return next, nil
}

// rawBlock lexes {{{{name args}}}}text{{{{/name}}}}: a block whose text
// is not parsed for tags.
func (l *lexer) rawBlock(pos int) (int, error) {
	src := l.src
	k := strings.Index(src[pos:], "}}}}")
	if k < 0 {
		return 0, l.errAt(pos, "raw block not closed: no \"}}}}\"")
	}
	body := src[pos+4 : pos+k]
	name := firstWord(body)
	if name == "" {
		return 0, l.errAt(pos, "a raw block needs a name")
	}
	start := pos + k + 4
	closeTag := "{{{{/" + name + "}}}}"
	e := strings.Index(src[start:], closeTag)
	if e < 0 {
		return 0, l.errAt(pos, "raw block {{{{%s}}}} is never closed with %s", name, closeTag)
	}
	l.toks = append(l.toks, token{kind: tOpen, text: body, pos: pos, bodyPos: pos + 4})
	if text := src[start : start+e]; text != "" {
		l.toks = append(l.toks, token{kind: tText, text: text, pos: start, raw: true})
	}
	l.toks = append(l.toks, token{kind: tClose, text: name, pos: start + e, bodyPos: start + e + 5})
	return start + e + len(closeTag), nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

// finish reads a tag's body from i to the closing delimiter, skipping
// string literals, and appends the token.
func (l *lexer) finish(t token, i int, end string) (int, error) {
	src := l.src
	t.bodyPos = i
	for k := i; k < len(src); k++ {
		switch c := src[k]; {
		case c == '"' || c == '\'':
			q := strings.IndexByte(src[k+1:], c)
			if q < 0 {
				return 0, l.errAt(k, "unterminated string literal")
			}
			k += q + 1
		case end == "}}" && strings.HasPrefix(src[k:], "}}}"):
			return 0, l.errAt(k, "unexpected }}}: {{ is closed by }}, {{{ by }}}")
		case strings.HasPrefix(src[k:], end):
			body := src[i:k]
			if strings.HasSuffix(body, "~") {
				t.stripRight = true
				body = body[:len(body)-1]
			}
			t.text = body
			l.toks = append(l.toks, t)
			return k + len(end), nil
		case c == '{' && strings.HasPrefix(src[k:], "{{"):
			return 0, l.errAt(t.pos, "tag not closed with %q before the next {{", end)
		}
	}
	return 0, l.errAt(t.pos, "tag not closed: no %q", end)
}

func isBlank(s string) bool { return strings.Trim(s, " \t\r\n") == "" }

// standalone removes the lines of block tags, else, comments and partials
// that stand alone on their line, as Handlebars does: the whitespace
// before the tag on its line and the whitespace and line break after it.
func (l *lexer) standalone() {
	type cut struct{ prev, next bool }
	cuts := make([]cut, len(l.toks))
	for i, t := range l.toks {
		switch t.kind {
		case tOpen, tOpenInverse, tOpenInline, tElse, tClose, tComment, tPartial:
		default:
			continue
		}
		prevOK := i == 0
		if i > 0 {
			p := l.toks[i-1]
			if p.kind == tText {
				tail := p.text[strings.LastIndexByte(p.text, '\n')+1:]
				prevOK = strings.Trim(tail, " \t") == "" && (strings.Contains(p.text, "\n") || i == 1)
			}
		}
		nextOK := i == len(l.toks)-1
		if i+1 < len(l.toks) {
			n := l.toks[i+1]
			if n.kind == tText {
				head := n.text
				if k := strings.IndexByte(head, '\n'); k >= 0 {
					head = head[:k]
					nextOK = strings.Trim(head, " \t\r") == ""
				} else {
					nextOK = i+2 == len(l.toks) && isBlank(head)
				}
			}
		}
		if prevOK && nextOK {
			cuts[i] = cut{prev: i > 0, next: i+1 < len(l.toks)}
			if t.kind == tPartial && i > 0 {
				// A standalone partial is indented as its tag is.
				p := l.toks[i-1].text
				l.toks[i].indent = p[strings.LastIndexByte(p, '\n')+1:]
			}
		}
	}
	for i, c := range cuts {
		if c.prev {
			p := &l.toks[i-1]
			p.text = strings.TrimRight(p.text, " \t")
		}
		if c.next {
			n := &l.toks[i+1]
			if k := strings.IndexByte(n.text, '\n'); k >= 0 {
				n.text = n.text[k+1:]
			} else {
				n.text = ""
			}
		}
	}
}

// whitespace applies {{~ and ~}}: all whitespace, line breaks included,
// is removed from the text before or after the tag.
func (l *lexer) whitespace() {
	for i, t := range l.toks {
		if t.kind == tText {
			continue
		}
		if t.stripLeft && i > 0 && l.toks[i-1].kind == tText {
			l.toks[i-1].text = strings.TrimRight(l.toks[i-1].text, " \t\r\n")
		}
		if t.stripRight && i+1 < len(l.toks) && l.toks[i+1].kind == tText {
			l.toks[i+1].text = strings.TrimLeft(l.toks[i+1].text, " \t\r\n")
		}
	}
}
