package handlebars

import (
	"strconv"
	"strings"
)

// The AST. A program is a list of nodes.
type node interface{ at() int }

type textNode struct {
	pos  int
	text string
}

// mustacheNode is {{expr}} (escaped unless raw) .
type mustacheNode struct {
	pos int
	raw bool
	e   *expr
}

// blockNode is {{#expr}}program{{else}}inverse{{/…}}; an inverse section
// {{^x}} is a block with program and inverse swapped.
type blockNode struct {
	pos              int
	e                *expr
	params           []string // block params: as |a b|
	program, inverse []node
}

// partialNode is {{> name ctx key=value}}.
type partialNode struct {
	pos    int
	name   string
	ctx    *expr // nil: the current context
	hash   []hashArg
	indent string // prefixed to each line of the output (standalone)
}

// inlineNode is {{#*inline "name"}}program{{/inline}}: a partial defined
// for the program it is in.
type inlineNode struct {
	pos     int
	name    string
	program []node
}

func (n *textNode) at() int     { return n.pos }
func (n *mustacheNode) at() int { return n.pos }
func (n *blockNode) at() int    { return n.pos }
func (n *partialNode) at() int  { return n.pos }
func (n *inlineNode) at() int   { return n.pos }

// expr is a value: a path or a literal, or a helper call when it has
// params or a hash (or is a subexpression).
type expr struct {
	pos    int
	path   *path
	lit    any // literal value (when path is nil and sub is nil)
	isLit  bool
	raw    string // a literal's text (a string's without quotes)
	params []*expr
	hash   []hashArg
	sub    bool // (…)
}

type hashArg struct {
	key string
	val *expr
}

// path is a.b, ../a, this.a, @index…
type path struct {
	orig  string
	up    int  // ../ count
	data  bool // @…
	this  bool // starts with this or .
	parts []string
}

// helperName is the name of a call: a simple path of one segment.
func (e *expr) helperName() string {
	if e.path == nil || e.path.up > 0 || e.path.data || e.path.this || len(e.path.parts) != 1 {
		return ""
	}
	return e.path.parts[0]
}

func (e *expr) isCall() bool { return e.sub || len(e.params) > 0 || len(e.hash) > 0 }

// Template is a parsed template, safe for concurrent use.
type Template struct {
	src  string
	prog []node
}

// Parse parses src. A *SyntaxError says where it fails.
func Parse(src string) (*Template, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	prog, err := p.program()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		t := p.toks[p.i]
		if t.kind == tElse {
			return nil, p.errAt(t.pos, "{{else}} outside a block")
		}
		return nil, p.errAt(t.pos, "{{/%s}} closes no open block", strings.TrimSpace(t.text))
	}
	return &Template{src: src, prog: prog}, nil
}

type parser struct {
	src  string
	toks []token
	i    int
}

func (p *parser) errAt(pos int, format string, args ...any) *SyntaxError {
	return (&lexer{src: p.src}).errAt(pos, format, args...)
}

// program parses nodes up to an {{else}}, a {{/…}} or the end.
func (p *parser) program() ([]node, error) {
	var out []node
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		switch t.kind {
		case tElse, tClose:
			return out, nil
		}
		p.i++
		switch t.kind {
		case tText:
			if t.text != "" {
				out = append(out, &textNode{pos: t.pos, text: t.text})
			}
		case tComment:
		case tMustache, tRaw:
			e, _, err := p.expr(t)
			if err != nil {
				return nil, err
			}
			out = append(out, &mustacheNode{pos: t.pos, raw: t.kind == tRaw, e: e})
		case tPartial:
			n, err := p.partial(t)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case tOpenInline:
			n, err := p.inline(t)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		case tOpen, tOpenInverse:
			e, params, err := p.expr(t)
			if err != nil {
				return nil, err
			}
			b := &blockNode{pos: t.pos, e: e, params: params}
			if err := p.blockRest(b, t); err != nil {
				return nil, err
			}
			if t.kind == tOpenInverse {
				b.program, b.inverse = b.inverse, b.program
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// blockRest parses a block's program, its {{else}} part and its close,
// which must name the block opened by open.
func (p *parser) blockRest(b *blockNode, open token) error {
	prog, err := p.program()
	if err != nil {
		return err
	}
	b.program = prog
	if p.i >= len(p.toks) {
		return p.errAt(open.pos, "{{%s%s}} is never closed", sigil(open), strings.TrimSpace(open.text))
	}
	t := p.toks[p.i]
	p.i++
	if t.kind == tElse {
		if strings.TrimSpace(t.text) != "" {
			// {{else if c}}: a block in the inverse that shares the close.
			e, params, err := p.expr(t)
			if err != nil {
				return err
			}
			chained := &blockNode{pos: t.pos, e: e, params: params}
			if err := p.blockRest(chained, open); err != nil {
				return err
			}
			b.inverse = []node{chained}
			return nil
		}
		if b.inverse, err = p.program(); err != nil {
			return err
		}
		if p.i >= len(p.toks) {
			return p.errAt(open.pos, "{{%s%s}} is never closed", sigil(open), strings.TrimSpace(open.text))
		}
		t = p.toks[p.i]
		p.i++
		if t.kind == tElse {
			return p.errAt(t.pos, "a second {{else}} in the block opened at %s", p.where(open.pos))
		}
	}
	want := blockName(open)
	if got := strings.TrimSpace(t.text); got != want {
		return p.errAt(t.pos, "{{/%s}} does not close {{%s%s}} opened at %s", got, sigil(open), want, p.where(open.pos))
	}
	return nil
}

func (p *parser) where(pos int) string {
	line, col := position(p.src, pos)
	return strconv.Itoa(line) + ":" + strconv.Itoa(col)
}

func sigil(t token) string {
	switch t.kind {
	case tOpenInverse:
		return "^"
	case tOpenInline:
		return "#*"
	}
	return "#"
}

// blockName is the name a block's close must repeat: its first word.
func blockName(t token) string { return firstWord(t.text) }

func (p *parser) partial(t token) (*partialNode, error) {
	s := &scanner{src: p.src, pos: t.bodyPos, end: t.bodyPos + len(t.text)}
	s.space()
	var name string
	if s.peek() == '"' || s.peek() == '\'' {
		v, err := s.str()
		if err != nil {
			return nil, err
		}
		name = v
	} else if s.peek() == '(' {
		return nil, p.errAt(t.pos, "dynamic partials {{> (…)}} are not supported")
	} else {
		name = s.word()
	}
	if name == "" {
		return nil, p.errAt(t.pos, "a partial needs a name")
	}
	n := &partialNode{pos: t.pos, name: name, indent: t.indent}
	args, hash, params, err := s.args()
	if err != nil {
		return nil, err
	}
	if len(params) > 0 {
		return nil, p.errAt(t.pos, "block params are not allowed in a partial")
	}
	if len(args) > 1 {
		return nil, p.errAt(t.pos, "a partial takes at most one context argument")
	}
	if len(args) == 1 {
		n.ctx = args[0]
	}
	n.hash = hash
	return n, nil
}

func (p *parser) inline(t token) (*inlineNode, error) {
	s := &scanner{src: p.src, pos: t.bodyPos, end: t.bodyPos + len(t.text)}
	s.space()
	if w := s.word(); w != "inline" {
		return nil, p.errAt(t.pos, "unsupported decorator %q: only {{#*inline \"name\"}} is", w)
	}
	s.space()
	name, err := s.str()
	if err != nil {
		return nil, err
	}
	s.space()
	if !s.done() {
		return nil, s.errAt(s.pos, "unexpected %q after the inline partial's name", s.rest())
	}
	prog, err := p.program()
	if err != nil {
		return nil, err
	}
	if p.i >= len(p.toks) {
		return nil, p.errAt(t.pos, "{{#*inline %q}} is never closed", name)
	}
	c := p.toks[p.i]
	p.i++
	if c.kind != tClose || strings.TrimSpace(c.text) != "inline" {
		return nil, p.errAt(c.pos, "{{#*inline %q}} opened at %s must end with {{/inline}}", name, p.where(t.pos))
	}
	return &inlineNode{pos: t.pos, name: name, program: prog}, nil
}

// expr parses a tag's body: a head, its params and hash, and block
// params (as |a b|).
func (p *parser) expr(t token) (*expr, []string, error) {
	s := &scanner{src: p.src, pos: t.bodyPos, end: t.bodyPos + len(t.text)}
	s.space()
	if s.done() {
		return nil, nil, p.errAt(t.pos, "empty tag")
	}
	head, err := s.head()
	if err != nil {
		return nil, nil, err
	}
	args, hash, params, err := s.args()
	if err != nil {
		return nil, nil, err
	}
	head.params, head.hash = args, hash
	return head, params, nil
}

// litName turns a literal in the head of a tag or subexpression into the
// name it stands for, as Handlebars reads it: {{true}} is the member
// "true" of the context, {{""}} the context itself.
func litName(e *expr) *expr {
	if !e.isLit {
		return e
	}
	p := &path{orig: e.raw, parts: []string{e.raw}}
	if e.raw == "" {
		p.parts, p.this = nil, true
	}
	return &expr{pos: e.pos, path: p}
}

// scanner reads the expression language inside a tag.
type scanner struct {
	src      string
	pos, end int
	depth    int
}

func (s *scanner) errAt(pos int, format string, args ...any) *SyntaxError {
	return (&lexer{src: s.src}).errAt(pos, format, args...)
}

func (s *scanner) done() bool { return s.pos >= s.end }
func (s *scanner) rest() string {
	return s.src[s.pos:s.end]
}
func (s *scanner) peek() byte {
	if s.done() {
		return 0
	}
	return s.src[s.pos]
}

func (s *scanner) space() {
	for !s.done() && strings.IndexByte(" \t\r\n", s.src[s.pos]) >= 0 {
		s.pos++
	}
}

// isIDChar is Handlebars' ID: anything but whitespace and
// !"#%&'()*+,./;<=>@[\]^`{|}~.
func isIDChar(c byte) bool {
	return c > ' ' && !strings.ContainsRune("!\"#%&'()*+,./;<=>@[\\]^`{|}~", rune(c))
}

func (s *scanner) word() string {
	start := s.pos
	for !s.done() && isIDChar(s.src[s.pos]) {
		s.pos++
	}
	return s.src[start:s.pos]
}

func (s *scanner) str() (string, error) {
	q := s.peek()
	if q != '"' && q != '\'' {
		return "", s.errAt(s.pos, "expected a string literal")
	}
	start := s.pos
	k := strings.IndexByte(s.src[s.pos+1:s.end], q)
	if k < 0 {
		return "", s.errAt(start, "unterminated string literal")
	}
	v := s.src[s.pos+1 : s.pos+1+k]
	s.pos += k + 2
	return v, nil
}

// args reads params, then key=value pairs, then "as |a b|".
func (s *scanner) args() (params []*expr, hash []hashArg, blockParams []string, err error) {
	for {
		s.space()
		if s.done() || s.peek() == ')' {
			return
		}
		if strings.HasPrefix(s.src[s.pos:s.end], "as |") || strings.HasPrefix(s.src[s.pos:s.end], "as  |") {
			start := s.pos
			s.pos += 2
			s.space()
			s.pos++ // |
			for {
				s.space()
				if s.peek() == '|' {
					s.pos++
					break
				}
				w := s.word()
				if w == "" {
					return nil, nil, nil, s.errAt(start, "malformed block params: want as |name …|")
				}
				blockParams = append(blockParams, w)
			}
			s.space()
			if !s.done() {
				return nil, nil, nil, s.errAt(s.pos, "unexpected %q after the block params", s.rest())
			}
			return
		}
		// key=value?
		save := s.pos
		if w := s.word(); w != "" && s.peek() == '=' {
			s.pos++
			v, err := s.operand()
			if err != nil {
				return nil, nil, nil, err
			}
			hash = append(hash, hashArg{key: w, val: v})
			continue
		}
		s.pos = save
		if len(hash) > 0 {
			return nil, nil, nil, s.errAt(s.pos, "a positional argument after key=value arguments")
		}
		e, err := s.operand()
		if err != nil {
			return nil, nil, nil, err
		}
		params = append(params, e)
	}
}

// head reads the helper name or path a tag or subexpression starts with.
func (s *scanner) head() (*expr, error) {
	if s.peek() == '(' {
		return nil, s.errAt(s.pos, "a helper name or a path must come first, not a subexpression")
	}
	e, err := s.operand()
	if err != nil {
		return nil, err
	}
	return litName(e), nil
}

// operand reads a path, a literal or a subexpression.
func (s *scanner) operand() (*expr, error) {
	start := s.pos
	c := s.peek()
	switch {
	case c == '(':
		if s.depth > 50 {
			return nil, s.errAt(start, "subexpressions nested too deeply")
		}
		s.pos++
		s.depth++
		s.space()
		head, err := s.head()
		if err != nil {
			return nil, err
		}
		args, hash, bp, err := s.args()
		if err != nil {
			return nil, err
		}
		if len(bp) > 0 {
			return nil, s.errAt(start, "block params inside a subexpression")
		}
		if s.peek() != ')' {
			return nil, s.errAt(start, "unclosed subexpression: no )")
		}
		s.pos++
		s.depth--
		head.params, head.hash, head.sub = args, hash, true
		head.pos = start
		return head, nil
	case c == '"' || c == '\'':
		v, err := s.str()
		if err != nil {
			return nil, err
		}
		return &expr{pos: start, lit: v, isLit: true, raw: v}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		if n, ok := s.number(); ok {
			return &expr{pos: start, lit: n, isLit: true, raw: s.src[start:s.pos]}, nil
		}
	}
	p, err := s.path()
	if err != nil {
		return nil, err
	}
	if !p.data && !p.this && p.up == 0 && len(p.parts) == 1 {
		switch w := p.parts[0]; w {
		case "true":
			return &expr{pos: start, lit: true, isLit: true, raw: w}, nil
		case "false":
			return &expr{pos: start, lit: false, isLit: true, raw: w}, nil
		case "null", "undefined":
			return &expr{pos: start, lit: nil, isLit: true, raw: w}, nil
		}
	}
	return &expr{pos: start, path: p}, nil
}

// number reads -?[0-9]+(.[0-9]+)? when a delimiter follows it.
func (s *scanner) number() (float64, bool) {
	k := s.pos
	if k < s.end && s.src[k] == '-' {
		k++
	}
	d := k
	for k < s.end && s.src[k] >= '0' && s.src[k] <= '9' {
		k++
	}
	if k == d {
		return 0, false
	}
	if k+1 < s.end && s.src[k] == '.' && s.src[k+1] >= '0' && s.src[k+1] <= '9' {
		k++
		for k < s.end && s.src[k] >= '0' && s.src[k] <= '9' {
			k++
		}
	}
	if k < s.end && !strings.ContainsRune(" \t\r\n)=}~|", rune(s.src[k])) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s.src[s.pos:k], 64)
	if err != nil {
		return 0, false
	}
	s.pos = k
	return f, true
}

// startsNumber reports whether a number literal starts here: digits
// followed by a delimiter, as Handlebars' lexer reads them.
func (s *scanner) startsNumber() bool {
	save := s.pos
	_, ok := s.number()
	s.pos = save
	return ok
}

// path reads ../../a.b/[c d], this.x, ./x, @index, @root.x.
func (s *scanner) path() (*path, error) {
	start := s.pos
	p := &path{}
	if s.peek() == '@' {
		p.data = true
		s.pos++
		if s.startsNumber() {
			return nil, s.errAt(s.pos, "@ needs a name, not a number")
		}
	}
	for strings.HasPrefix(s.src[s.pos:s.end], "../") {
		p.up++
		s.pos += 3
	}
	first := true
	for {
		var seg string
		switch {
		case s.peek() == '[':
			k := strings.IndexByte(s.src[s.pos:s.end], ']')
			if k < 0 {
				return nil, s.errAt(s.pos, "unclosed [ in a path")
			}
			seg = s.src[s.pos+1 : s.pos+k]
			s.pos += k + 1
			p.parts = append(p.parts, seg)
		case first && !p.data && s.peek() == '.' && (s.pos+1 >= s.end || s.src[s.pos+1] != '.'):
			s.pos++
			p.this = true
		case first && !p.data && strings.HasPrefix(s.src[s.pos:s.end], ".."):
			s.pos += 2
			p.up++
			if s.peek() == '/' || s.peek() == '.' {
				s.pos++
				continue
			}
		default:
			if !first && s.startsNumber() {
				at := s.pos
				return nil, s.errAt(at, "a path segment cannot be a number: write [%s]", s.word())
			}
			seg = s.word()
			if seg == "" {
				if s.done() {
					return nil, s.errAt(start, "expected a path or a value")
				}
				return nil, s.errAt(s.pos, "unexpected %q", s.src[s.pos:s.pos+1])
			}
			if first && !p.data && seg == "this" {
				p.this = true
			} else {
				p.parts = append(p.parts, seg)
			}
		}
		first = false
		if c := s.peek(); (c == '.' || c == '/') && s.pos+1 < s.end && (isIDChar(s.src[s.pos+1]) || s.src[s.pos+1] == '[') {
			s.pos++
			continue
		}
		break
	}
	if p.data && len(p.parts) == 0 {
		return nil, s.errAt(start, "@ needs a name (@index, @key, @root…)")
	}
	p.orig = s.src[start:s.pos]
	return p, nil
}
