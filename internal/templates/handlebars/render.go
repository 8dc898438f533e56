package handlebars

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Options change how a template renders.
type Options struct {
	// HTML escapes the values of {{…}} as Handlebars does (& < > " ' ` =);
	// set it for HTML parts, leave it off for subjects and text parts.
	HTML bool
	// Strict makes a {{path}} whose value is missing from the data an
	// error (*RenderError with Missing set), as SES refuses to send with
	// an attribute that is not present in the rendering data. Paths tested
	// by blocks ({{#if x}}) may always be missing.
	Strict bool
	// MaxOutput bounds the rendered size in bytes (0: 10 MiB).
	MaxOutput int
	// MaxSteps bounds the nodes evaluated (0: 1,000,000), so that a
	// template that loops over its data through partials cannot run for
	// ever without output.
	MaxSteps int
}

// RenderError is a template that parses but cannot render with the data.
type RenderError struct {
	Line, Col int
	Msg       string
	// Missing is the path whose value is not in the data, in Strict mode.
	Missing string
}

func (e *RenderError) Error() string { return fmt.Sprintf("line %d:%d: %s", e.Line, e.Col, e.Msg) }

const (
	defaultMaxOutput = 10 << 20
	defaultMaxSteps  = 1_000_000
	maxCallDepth     = 64 // partials and nested blocks within each other
)

// Render renders t with data: a value from ParseData, or Go values
// (map[string]any, []any, string, numbers, bool, nil). A missing value
// renders as an empty string unless opt.Strict.
func (t *Template) Render(data any, opt Options) (string, error) {
	if opt.MaxOutput <= 0 {
		opt.MaxOutput = defaultMaxOutput
	}
	if opt.MaxSteps <= 0 {
		opt.MaxSteps = defaultMaxSteps
	}
	r := &renderer{t: t, opt: opt, root: data}
	r.ctxs = []any{data}
	r.data = []map[string]any{{"root": data}}
	if err := r.program(t.prog); err != nil {
		return "", err
	}
	return r.out.String(), nil
}

// RenderString parses src and renders it with data.
func RenderString(src string, data any, opt Options) (string, error) {
	t, err := Parse(src)
	if err != nil {
		return "", err
	}
	return t.Render(data, opt)
}

type renderer struct {
	t        *Template
	opt      Options
	root     any
	out      strings.Builder
	ctxs     []any               // the contexts of blocks that changed it; last is current
	data     []map[string]any    // @ variables of enclosing blocks
	params   []map[string]any    // block params of enclosing blocks
	partials []map[string][]node // inline partials in scope
	depth    int
	steps    int
}

func (r *renderer) errAt(pos int, missing, format string, args ...any) *RenderError {
	line, col := position(r.t.src, pos)
	return &RenderError{Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Missing: missing}
}

func (r *renderer) write(pos int, s string) error {
	if r.out.Len()+len(s) > r.opt.MaxOutput {
		return r.errAt(pos, "", "the rendered output exceeds %d bytes", r.opt.MaxOutput)
	}
	r.out.WriteString(s)
	return nil
}

// program renders nodes with the inline partials they define in scope.
func (r *renderer) program(nodes []node) error {
	var scope map[string][]node
	for _, n := range nodes {
		if in, ok := n.(*inlineNode); ok {
			if scope == nil {
				scope = map[string][]node{}
			}
			scope[in.name] = in.program
		}
	}
	if scope != nil {
		r.partials = append(r.partials, scope)
		defer func() { r.partials = r.partials[:len(r.partials)-1] }()
	}
	for _, n := range nodes {
		if err := r.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) node(n node) error {
	if r.steps++; r.steps > r.opt.MaxSteps {
		return r.errAt(n.at(), "", "the template takes more than %d steps to render", r.opt.MaxSteps)
	}
	switch n := n.(type) {
	case *textNode:
		return r.write(n.pos, n.text)
	case *inlineNode:
		return nil
	case *mustacheNode:
		v, err := r.value(n.e, r.opt.Strict)
		if err != nil {
			return err
		}
		s := toString(v)
		if r.opt.HTML && !n.raw {
			s = escape(s)
		}
		return r.write(n.pos, s)
	case *blockNode:
		return r.nested(n.pos, func() error { return r.block(n) })
	case *partialNode:
		return r.nested(n.pos, func() error { return r.partial(n) })
	}
	return nil
}

func (r *renderer) nested(pos int, fn func() error) error {
	if r.depth >= maxCallDepth {
		return r.errAt(pos, "", "blocks and partials nested more than %d deep (a partial that includes itself?)", maxCallDepth)
	}
	r.depth++
	defer func() { r.depth-- }()
	return fn()
}

// value evaluates e: a literal, a path, or a helper call.
func (r *renderer) value(e *expr, strict bool) (any, error) {
	if e.isLit {
		return e.lit, nil
	}
	if e.isCall() {
		return r.call(e)
	}
	v, ok := r.resolve(e.path)
	if !ok && strict && !e.path.data {
		return nil, r.errAt(e.pos, e.path.orig, "Attribute '%s' is not present in the rendering data.", e.path.orig)
	}
	return v, nil
}

// call runs the helpers that may appear in {{…}} and subexpressions.
func (r *renderer) call(e *expr) (any, error) {
	name := e.helperName()
	args := make([]any, len(e.params))
	for i, p := range e.params {
		v, err := r.value(p, false)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	switch name {
	case "lookup":
		if len(args) != 2 {
			return nil, r.errAt(e.pos, "", "lookup takes 2 arguments (an object and a key), not %d", len(args))
		}
		v, _ := field(args[0], toString(args[1]))
		return v, nil
	case "log":
		return nil, nil
	case "if", "unless", "each", "with":
		return nil, r.errAt(e.pos, "", "%s is a block helper: write {{#%s …}}…{{/%s}}", name, name, name)
	case "":
		return nil, r.errAt(e.pos, "", "%s is not a helper", pathOrig(e))
	}
	if len(args) == 0 {
		// Handlebars' helperMissing: a name with only a hash is no call.
		return nil, nil
	}
	return nil, r.errAt(e.pos, "", "Missing helper: %q", name)
}

func pathOrig(e *expr) string {
	if e.path != nil {
		return e.path.orig
	}
	return "a literal"
}

// resolve looks a path up: block params, then the context ../ names,
// then each segment in turn.
func (r *renderer) resolve(p *path) (any, bool) {
	var v any
	parts := p.parts
	switch {
	case p.data:
		name := parts[0]
		parts = parts[1:]
		if name == "root" {
			v = r.root
			break
		}
		top := r.data[len(r.data)-1]
		var ok bool
		if v, ok = top[name]; !ok {
			return nil, false
		}
	default:
		found := false
		if !p.this && p.up == 0 && len(parts) > 0 {
			for i := len(r.params) - 1; i >= 0; i-- {
				if bv, ok := r.params[i][parts[0]]; ok {
					v, parts, found = bv, parts[1:], true
					break
				}
			}
		}
		if !found {
			i := len(r.ctxs) - 1 - p.up
			if i < 0 {
				return nil, false // above the root
			}
			v = r.ctxs[i]
		}
	}
	for _, part := range parts {
		var ok bool
		if v, ok = field(v, part); !ok {
			return nil, false
		}
	}
	return v, true
}

// hashValue evaluates the hash argument key of e, if any.
func (r *renderer) hashValue(e *expr, key string) (any, bool, error) {
	for _, h := range e.hash {
		if h.key == key {
			v, err := r.value(h.val, false)
			return v, true, err
		}
	}
	return nil, false, nil
}

// with renders nodes with ctx as the context, data as @ variables and
// params as block params.
func (r *renderer) with(nodes []node, ctx any, data map[string]any, params map[string]any, push bool) error {
	if push {
		r.ctxs = append(r.ctxs, ctx)
		defer func() { r.ctxs = r.ctxs[:len(r.ctxs)-1] }()
	}
	if data != nil {
		merged := make(map[string]any, len(data)+4)
		for k, v := range r.data[len(r.data)-1] {
			merged[k] = v
		}
		for k, v := range data {
			merged[k] = v
		}
		r.data = append(r.data, merged)
		defer func() { r.data = r.data[:len(r.data)-1] }()
	}
	if params != nil {
		r.params = append(r.params, params)
		defer func() { r.params = r.params[:len(r.params)-1] }()
	}
	return r.program(nodes)
}

func blockParams(names []string, vals ...any) map[string]any {
	if len(names) == 0 {
		return nil
	}
	m := map[string]any{}
	for i, n := range names {
		if i < len(vals) {
			m[n] = vals[i]
		}
	}
	return m
}

func (r *renderer) block(b *blockNode) error {
	name := b.e.helperName()
	switch name {
	case "if", "unless", "each", "with":
		if len(b.e.params) != 1 {
			return r.errAt(b.pos, "", "#%s takes exactly one argument, not %d", name, len(b.e.params))
		}
		arg, err := r.value(b.e.params[0], false)
		if err != nil {
			return err
		}
		switch name {
		case "if", "unless":
			zero, _, err := r.hashValue(b.e, "includeZero")
			if err != nil {
				return err
			}
			cond := truthy(arg, truthy(zero, false))
			if name == "unless" {
				cond = !cond
			}
			if cond {
				return r.program(b.program)
			}
			return r.program(b.inverse)
		case "with":
			if isEmpty(arg) {
				return r.program(b.inverse)
			}
			return r.with(b.program, arg, nil, blockParams(b.params, arg), true)
		case "each":
			return r.each(b, arg)
		}
	}
	if len(b.e.params) > 0 || b.e.sub {
		if name == "lookup" || name == "log" {
			return r.errAt(b.pos, "", "%s is not a block helper", name)
		}
		if name == "" {
			return r.errAt(b.pos, "", "%s is not a helper", pathOrig(b.e))
		}
		return r.errAt(b.pos, "", "Missing helper: %q", name)
	}
	// A block named after a value (Handlebars' blockHelperMissing); a
	// hash is ignored.
	v, err := r.value(&expr{pos: b.e.pos, path: b.e.path}, false)
	if err != nil {
		return err
	}
	switch t := v.(type) {
	case bool:
		if t {
			return r.program(b.program)
		}
		return r.program(b.inverse)
	case nil:
		return r.program(b.inverse)
	}
	if _, ok := list(v); ok {
		return r.each(b, v)
	}
	if !truthy(v, false) {
		return r.program(b.inverse)
	}
	return r.with(b.program, v, nil, blockParams(b.params, v), true)
}

func (r *renderer) each(b *blockNode, v any) error {
	if l, ok := list(v); ok && len(l) > 0 {
		for i, e := range l {
			data := map[string]any{
				"index": json.Number(strconv.Itoa(i)), "key": json.Number(strconv.Itoa(i)),
				"first": i == 0, "last": i == len(l)-1,
			}
			if err := r.with(b.program, e, data, blockParams(b.params, e, json.Number(strconv.Itoa(i))), true); err != nil {
				return err
			}
		}
		return nil
	}
	if keys, ok := keysOf(v); ok && len(keys) > 0 {
		for i, k := range keys {
			e, _ := field(v, k)
			data := map[string]any{
				"index": json.Number(strconv.Itoa(i)), "key": k,
				"first": i == 0, "last": i == len(keys)-1,
			}
			if err := r.with(b.program, e, data, blockParams(b.params, e, k), true); err != nil {
				return err
			}
		}
		return nil
	}
	return r.program(b.inverse)
}

func (r *renderer) partial(p *partialNode) error {
	var prog []node
	found := false
	for i := len(r.partials) - 1; i >= 0 && !found; i-- {
		prog, found = r.partials[i][p.name]
	}
	if !found {
		return r.errAt(p.pos, "", "The partial %s could not be found", p.name)
	}
	ctx := r.ctxs[len(r.ctxs)-1]
	if p.ctx != nil {
		v, err := r.value(p.ctx, false)
		if err != nil {
			return err
		}
		ctx = v
	}
	if len(p.hash) > 0 {
		o := &Object{Values: map[string]any{}}
		if keys, ok := keysOf(ctx); ok {
			for _, k := range keys {
				o.Keys = append(o.Keys, k)
				o.Values[k], _ = field(ctx, k)
			}
		}
		for _, h := range p.hash {
			v, err := r.value(h.val, false)
			if err != nil {
				return err
			}
			if _, dup := o.Values[h.key]; !dup {
				o.Keys = append(o.Keys, h.key)
			}
			o.Values[h.key] = v
		}
		ctx = o
	}
	if p.indent == "" {
		return r.with(prog, ctx, nil, nil, true)
	}
	// Render apart, then indent every line but an empty last one, as
	// Handlebars' invokePartial does.
	outer := r.out
	r.out = strings.Builder{}
	err := r.with(prog, ctx, nil, nil, true)
	inner := r.out.String()
	r.out = outer
	if err != nil {
		return err
	}
	lines := strings.Split(inner, "\n")
	for i, l := range lines {
		if l == "" && i == len(lines)-1 {
			break
		}
		lines[i] = p.indent + l
	}
	return r.write(p.pos, strings.Join(lines, "\n"))
}

var escaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
	"'", "&#x27;", "`", "&#x60;", "=", "&#x3D;",
)

// escape is Handlebars' escapeExpression.
func escape(s string) string { return escaper.Replace(s) }
