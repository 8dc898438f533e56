package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"math"
	"slices"
	"strconv"
	"strings"
)

const smithyImport = `"github.com/tidings/tidings/internal/model/smithy"`

type generator struct {
	m      *model
	name   string // model file stem, Service.Name
	source string // model path for the Source: line
	pkg    string

	goName     map[string]string   // shape name -> Go identifier
	enumConsts map[string][]string // enum shape -> constant names, in value order
	fields     map[string][]string // structure shape -> Go field names, in member order
	patterns   map[string]string   // shape -> Go pattern, for enforced patterns
	unenforced []string            // "Shape: pattern: reason"
	checked    map[string]bool     // see computeChecks
	usage      map[string][]string // shape -> "input of X" / "output of Y"
}

// generate returns the files of the package generated from the model JSON
// b, and warnings. name is the model stem, source the path quoted in the
// headers.
func generate(b []byte, name, source, pkg string) (map[string][]byte, []string, error) {
	m, err := loadModel(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	g := &generator{
		m: m, name: name, source: source, pkg: pkg,
		goName:     map[string]string{},
		enumConsts: map[string][]string{},
		fields:     map[string][]string{},
		patterns:   map[string]string{},
		checked:    map[string]bool{},
		usage:      map[string][]string{},
	}
	if err := g.prepare(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	files := map[string][]byte{}
	emit := func(file string, body func(*bytes.Buffer) error) error {
		var buf bytes.Buffer
		if err := body(&buf); err != nil {
			return err
		}
		src, err := format.Source(buf.Bytes())
		if err != nil {
			return fmt.Errorf("%s: gofmt: %w", file, err)
		}
		files[file] = src
		return nil
	}
	if err := emit("types.go", g.types); err != nil {
		return nil, nil, err
	}
	if len(g.enumConsts) > 0 {
		if err := emit("enums.go", g.enums); err != nil {
			return nil, nil, err
		}
	}
	if err := emit("validate.go", g.validate); err != nil {
		return nil, nil, err
	}
	if err := emit("service.go", g.service); err != nil {
		return nil, nil, err
	}
	var warnings []string
	for _, u := range g.unenforced {
		warnings = append(warnings, "pattern not enforced: "+u)
	}
	return files, warnings, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (g *generator) isEnum(s *shape) bool { return s.Type == "string" && len(s.Enum) > 0 }

// prepare assigns identifiers, translates patterns and collects the
// operations each shape takes part in.
func (g *generator) prepare() error {
	shapes := sortedKeys(g.m.Shapes)
	exported := idents{"Service": true}
	all := idents{"Service": true}
	// Types first, so that they keep their shape names.
	for _, n := range shapes {
		s := g.m.Shapes[n]
		if s.Type == "structure" || g.isEnum(s) {
			id := exported.unique(exportedIdent(n))
			all[id] = true
			g.goName[n] = id
		}
	}
	for _, n := range shapes {
		if _, ok := g.goName[n]; !ok {
			g.goName[n] = all.unique(exportedIdent(n))
		}
	}
	for _, n := range shapes {
		s := g.m.Shapes[n]
		switch s.Type {
		case "structure":
			f := idents{"Validate": true}
			for _, mem := range s.Members {
				g.fields[n] = append(g.fields[n], f.unique(exportedIdent(mem.Name)))
			}
		case "string", "integer", "long", "short", "byte", "float", "double", "boolean", "timestamp", "blob":
		case "list":
			if s.Member == nil {
				return fmt.Errorf("list %s has no member", n)
			}
		case "map":
			if s.Key == nil || s.Value == nil {
				return fmt.Errorf("map %s has no key or value", n)
			}
		default:
			return fmt.Errorf("shape %s: type %q is not supported", n, s.Type)
		}
	}
	// Enum constants after every type name is taken.
	var enums []string
	for _, n := range shapes {
		if g.isEnum(g.m.Shapes[n]) {
			enums = append(enums, n)
		}
	}
	slices.SortFunc(enums, func(a, b string) int { return strings.Compare(g.goName[a], g.goName[b]) })
	for _, n := range enums {
		for _, v := range g.m.Shapes[n].Enum {
			g.enumConsts[n] = append(g.enumConsts[n], exported.unique(g.goName[n]+enumPascal(v)))
		}
	}
	for _, n := range shapes {
		s := g.m.Shapes[n]
		if s.Pattern == nil || s.Type != "string" {
			continue
		}
		p, err := translatePattern(*s.Pattern)
		if err != nil {
			g.unenforced = append(g.unenforced, fmt.Sprintf("%s: %s: %v", n, *s.Pattern, err))
			continue
		}
		g.patterns[n] = p
	}
	g.computeChecks()
	for _, name := range sortedKeys(g.m.Operations) {
		op := g.m.Operations[name]
		if op.Input != nil {
			g.usage[op.Input.Shape] = append(g.usage[op.Input.Shape], "the input of "+name)
		}
		if op.Output != nil {
			g.usage[op.Output.Shape] = append(g.usage[op.Output.Shape], "the output of "+name)
		}
	}
	return nil
}

// goType is the Go type of a reference to shape n: pointers for optional
// scalars and structures in members, values inside lists and maps.
func (g *generator) goType(n string, elem bool) string {
	s := g.m.Shapes[n]
	var t string
	switch s.Type {
	case "structure":
		t = g.goName[n]
	case "string":
		t = "string"
		if g.isEnum(s) {
			t = g.goName[n]
		}
	case "integer", "long", "short", "byte":
		t = "int64"
	case "float", "double":
		t = "float64"
	case "boolean":
		t = "bool"
	case "timestamp":
		t = "smithy.Time"
	case "blob":
		return "[]byte"
	case "list":
		return "[]" + g.goType(s.Member.Shape, true)
	case "map":
		return "map[string]" + g.goType(s.Value.Shape, true)
	}
	if elem {
		return t
	}
	return "*" + t
}

// usesTime tells whether shape n refers to a timestamp where it is used as
// a field type (directly or through lists and maps).
func (g *generator) usesTime(n string) bool {
	s := g.m.Shapes[n]
	switch s.Type {
	case "timestamp":
		return true
	case "list":
		return g.usesTime(s.Member.Shape)
	case "map":
		return g.usesTime(s.Value.Shape)
	}
	return false
}

// sensitive tells whether values of shape n must not be printed: the shape
// is sensitive, or the elements or values it holds are.
func (g *generator) sensitive(n string) bool {
	s := g.m.Shapes[n]
	switch {
	case s.Sensitive:
		return true
	case s.Type == "list":
		return g.sensitive(s.Member.Shape)
	case s.Type == "map":
		return g.sensitive(s.Value.Shape)
	}
	return false
}

func (g *generator) header(b *bytes.Buffer) {
	fmt.Fprintf(b, "%s\n// Source: %s\n\n", header, g.source)
}

func (g *generator) fieldTag(s *shape, mem *ref) string {
	wire := mem.Name
	if g.m.Metadata.Protocol == "rest-json" && mem.LocationName != "" && mem.Location == "" {
		wire = mem.LocationName
	}
	// omitzero, not omitempty: a member left nil is absent, but an empty
	// list the service means to answer (PolicyStatements: []) is written.
	// A required list or map is written even when nil: clients read
	// `resp["RuleSets"]` without checking. The wire layer turns nil into
	// empty for members tagged required before encoding.
	omit := ",omitzero"
	required := false
	for _, r := range s.Required {
		required = required || r == mem.Name
	}
	if ms := g.m.Shapes[mem.Shape]; required && (ms.Type == "list" || ms.Type == "map") {
		omit = ""
	}
	tags := []string{
		fmt.Sprintf(`json:"%s%s"`, wire, omit),
		fmt.Sprintf(`cbor:"%s%s"`, wire, omit),
	}
	if mem.Location != "" {
		tags = append(tags, fmt.Sprintf(`location:"%s"`, mem.Location))
	}
	if mem.LocationName != "" {
		tags = append(tags, fmt.Sprintf(`locationName:"%s"`, mem.LocationName))
	}
	if s.Payload != "" && s.Payload == mem.Name {
		tags = append(tags, `payload:"true"`)
	}
	if g.m.Metadata.Protocol == "query" {
		q := mem.Name
		if mem.LocationName != "" {
			q = mem.LocationName
		}
		tags = append(tags, fmt.Sprintf(`query:"%s"`, q), fmt.Sprintf(`xml:"%s"`, q))
		ms := g.m.Shapes[mem.Shape]
		if mem.Flattened || (ms.Type == "list" && ms.Flattened) {
			tags = append(tags, `flattened:"true"`)
		}
		if mem.QueryName != "" {
			tags = append(tags, fmt.Sprintf(`queryName:"%s"`, mem.QueryName))
		}
	}
	if g.sensitive(mem.Shape) {
		tags = append(tags, `sensitive:"true"`)
	}
	if required {
		tags = append(tags, `required:"true"`)
	}
	return "`" + strings.Join(tags, " ") + "`"
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func (g *generator) types(b *bytes.Buffer) error {
	g.header(b)
	fmt.Fprintf(b, "package %s\n\n", g.pkg)
	var structs []string
	needTime := false
	for _, n := range sortedKeys(g.m.Shapes) {
		s := g.m.Shapes[n]
		if s.Type != "structure" {
			continue
		}
		structs = append(structs, n)
		for _, mem := range s.Members {
			needTime = needTime || g.usesTime(mem.Shape)
		}
	}
	slices.SortFunc(structs, func(a, c string) int { return strings.Compare(g.goName[a], g.goName[c]) })
	if needTime {
		fmt.Fprintf(b, "import %s\n\n", smithyImport)
	}
	for _, n := range structs {
		s := g.m.Shapes[n]
		id := g.goName[n]
		switch {
		case s.Exception:
			st := g.errorShape(n)
			fault := "client"
			if !st.sender {
				fault = "server"
			}
			fmt.Fprintf(b, "// %s is the error %s (HTTP %d, %s fault).\n", id, st.code, st.status, fault)
		case len(g.usage[n]) > 0:
			fmt.Fprintf(b, "// %s is %s.\n", id, joinAnd(g.usage[n]))
		default:
			fmt.Fprintf(b, "// %s is a structure of the %s model.\n", id, g.m.Metadata.ServiceID)
		}
		if id != n {
			fmt.Fprintf(b, "// Its model shape is %s.\n", n)
		}
		if s.Union {
			fmt.Fprintf(b, "//\n// %s is a union: exactly one member must be set.\n", id)
		}
		if len(s.Members) == 0 {
			fmt.Fprintf(b, "type %s struct{}\n\n", id)
			continue
		}
		fmt.Fprintf(b, "type %s struct {\n", id)
		for i, mem := range s.Members {
			var notes []string
			if slices.Contains(s.Required, mem.Name) {
				notes = append(notes, "required")
			}
			if mem.IdempotencyToken {
				notes = append(notes, "idempotency token")
			}
			comment := ""
			if len(notes) > 0 {
				comment = " // " + strings.Join(notes, ", ")
			}
			fmt.Fprintf(b, "\t%s %s %s%s\n", g.fields[n][i], g.goType(mem.Shape, false), g.fieldTag(s, mem), comment)
		}
		b.WriteString("}\n\n")
	}
	return nil
}

func (g *generator) enums(b *bytes.Buffer) error {
	g.header(b)
	fmt.Fprintf(b, "package %s\n\n", g.pkg)
	names := sortedKeys(g.enumConsts)
	slices.SortFunc(names, func(a, c string) int { return strings.Compare(g.goName[a], g.goName[c]) })
	for _, n := range names {
		s := g.m.Shapes[n]
		id := g.goName[n]
		fmt.Fprintf(b, "// %s is an enum of the %s model.\n", id, g.m.Metadata.ServiceID)
		if id != n {
			fmt.Fprintf(b, "// Its model shape is %s.\n", n)
		}
		fmt.Fprintf(b, "type %s string\n\n", id)
		fmt.Fprintf(b, "// Values of %s.\nconst (\n", id)
		for i, v := range s.Enum {
			fmt.Fprintf(b, "\t%s %s = %s\n", g.enumConsts[n][i], id, strconv.Quote(v))
		}
		b.WriteString(")\n\n")
		fmt.Fprintf(b, "// Values returns the values of %s in model order.\n", id)
		fmt.Fprintf(b, "func (%s) Values() []%s {\n\treturn []%s{\n", id, id, id)
		for _, c := range g.enumConsts[n] {
			fmt.Fprintf(b, "\t\t%s,\n", c)
		}
		b.WriteString("\t}\n}\n\n")
	}
	return nil
}

// needsCheck tells whether values of shape n carry any constraint, directly
// or in what they hold. computeChecks fills the table.
func (g *generator) needsCheck(n string) bool { return g.checked[n] }

// computeChecks marks the shapes with constraints of their own, then
// propagates the mark to the shapes that hold them until nothing changes
// (a fixed point, so recursive shapes are handled).
func (g *generator) computeChecks() {
	for n, s := range g.m.Shapes {
		switch s.Type {
		case "structure":
			g.checked[n] = s.Union || len(s.Required) > 0
		case "string":
			g.checked[n] = minLen(s) > 0 || s.Max != nil || g.patterns[n] != "" || len(s.Enum) > 0
		case "integer", "long", "short", "byte", "float", "double":
			g.checked[n] = s.Min != nil || s.Max != nil
		case "blob", "list", "map":
			g.checked[n] = minLen(s) > 0 || s.Max != nil
		}
	}
	for changed := true; changed; {
		changed = false
		for n, s := range g.m.Shapes {
			if g.checked[n] {
				continue
			}
			var refs []*ref
			switch s.Type {
			case "structure":
				refs = s.Members
			case "list":
				refs = []*ref{s.Member}
			case "map":
				refs = []*ref{s.Key, s.Value}
			}
			for _, r := range refs {
				if g.checked[r.Shape] {
					g.checked[n], changed = true, true
					break
				}
			}
		}
	}
}

// minLen is the min of a length constraint, 0 when absent.
func minLen(s *shape) int64 {
	if s.Min == nil {
		return 0
	}
	v, _ := intBound(*s.Min)
	return v
}

// intBound reads a length or integer bound, which models write as JSON
// integers (sometimes as 1.0E10 style floats).
func intBound(n json.Number) (int64, bool) {
	if v, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return v, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
		return 0, false
	}
	return int64(f), true
}

// goString writes s as a Go string literal, raw when it reads better.
func goString(s string) string {
	if !strings.ContainsAny(s, "`\r\n\t") && strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

// validate writes the Validate methods and the validators of constrained
// non-structure shapes.
func (g *generator) validate(b *bytes.Buffer) error {
	g.header(b)
	fmt.Fprintf(b, "package %s\n\n", g.pkg)
	if len(g.patterns) > 0 {
		fmt.Fprintf(b, "import (\n\t\"regexp\"\n\n\t%s\n)\n\n", smithyImport)
	} else {
		fmt.Fprintf(b, "import %s\n\n", smithyImport)
	}
	for _, u := range g.unenforced {
		fmt.Fprintf(b, "// pattern not enforced: %s\n", u)
	}
	if len(g.unenforced) > 0 {
		b.WriteString("\n")
	}

	shapes := sortedKeys(g.m.Shapes)
	slices.SortFunc(shapes, func(a, c string) int { return strings.Compare(g.goName[a], g.goName[c]) })

	if len(g.patterns) > 0 {
		b.WriteString("// Patterns of the model, compiled once and anchored to match the whole\n// value. A comment gives the model's text where it is written otherwise.\nvar (\n")
		for _, n := range shapes {
			p, ok := g.patterns[n]
			if !ok {
				continue
			}
			if orig := *g.m.Shapes[n].Pattern; "^(?:"+orig+")$" != p {
				fmt.Fprintf(b, "\t// model: %s\n", orig)
			}
			fmt.Fprintf(b, "\tpattern%s = regexp.MustCompile(%s)\n", g.goName[n], goString(p))
		}
		b.WriteString(")\n\n")
	}

	for _, n := range shapes {
		s := g.m.Shapes[n]
		if s.Type != "structure" || !s.Union {
			continue
		}
		fmt.Fprintf(b, "var union%s = []string{", g.goName[n])
		for i, mem := range s.Members {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(mem.Name))
		}
		b.WriteString("}\n\n")
	}

	for _, n := range shapes {
		s := g.m.Shapes[n]
		if s.Type == "structure" {
			g.validateStruct(b, n, s)
		} else if g.needsCheck(n) {
			if err := g.validateValue(b, n, s); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *generator) validateStruct(b *bytes.Buffer, n string, s *shape) {
	id := g.goName[n]
	fmt.Fprintf(b, "// Validate implements smithy.Validator.\nfunc (s *%s) Validate() error {\n", id)
	b.WriteString("\tv := new(smithy.ValidationError)\n\ts.validate(v, \"\")\n\treturn v.Err()\n}\n\n")
	var body bytes.Buffer
	if s.Union {
		fmt.Fprintf(&body, "\tv.ExactlyOne(path, union%s", id)
		for i := range s.Members {
			fmt.Fprintf(&body, ", s.%s != nil", g.fields[n][i])
		}
		body.WriteString(")\n")
	}
	for i, mem := range s.Members {
		field := "s." + g.fields[n][i]
		path := fmt.Sprintf("smithy.MemberPath(path, %s)", strconv.Quote(lowerFirst(mem.Name)))
		required := slices.Contains(s.Required, mem.Name)
		check := g.needsCheck(mem.Shape)
		if !required && !check {
			continue
		}
		ms := g.m.Shapes[mem.Shape]
		var call string
		if check {
			switch ms.Type {
			case "structure":
				call = fmt.Sprintf("%s.validate(v, %s)", field, path)
			case "list", "map", "blob":
				call = fmt.Sprintf("validate%s(v, %s, %s)", g.goName[mem.Shape], path, field)
			default:
				call = fmt.Sprintf("validate%s(v, %s, *%s)", g.goName[mem.Shape], path, field)
			}
		}
		switch {
		case required && check:
			fmt.Fprintf(&body, "\tif %s == nil {\n\t\tv.Required(%s)\n\t} else {\n\t\t%s\n\t}\n", field, path, call)
		case required:
			fmt.Fprintf(&body, "\tif %s == nil {\n\t\tv.Required(%s)\n\t}\n", field, path)
		default:
			fmt.Fprintf(&body, "\tif %s != nil {\n\t\t%s\n\t}\n", field, call)
		}
	}
	if body.Len() == 0 {
		fmt.Fprintf(b, "func (s *%s) validate(*smithy.ValidationError, string) {}\n\n", id)
		return
	}
	fmt.Fprintf(b, "func (s *%s) validate(v *smithy.ValidationError, path string) {\n\tif s == nil {\n\t\treturn\n\t}\n", id)
	b.Write(body.Bytes())
	b.WriteString("}\n\n")
}

// lengthChecks writes the min/max checks of a list, map or blob x.
func (g *generator) lengthChecks(b *bytes.Buffer, s *shape, sens bool) error {
	if m := minLen(s); m > 0 {
		fmt.Fprintf(b, "\tv.MinLen(path, x, len(x), %d, %t)\n", m, sens)
	}
	if s.Max != nil {
		m, ok := intBound(*s.Max)
		if !ok {
			return fmt.Errorf("max %s is not an integer", *s.Max)
		}
		fmt.Fprintf(b, "\tv.MaxLen(path, x, len(x), %d, %t)\n", m, sens)
	}
	return nil
}

// elemCall is the statement that validates value expr (of shape n, held in
// a list or map, so not a pointer) at path.
func (g *generator) elemCall(n, expr, path string) string {
	if g.m.Shapes[n].Type == "structure" {
		return fmt.Sprintf("%s.validate(v, %s)", expr, path)
	}
	return fmt.Sprintf("validate%s(v, %s, %s)", g.goName[n], path, expr)
}

func (g *generator) validateValue(b *bytes.Buffer, n string, s *shape) error {
	id := g.goName[n]
	sens := s.Sensitive
	fmt.Fprintf(b, "func validate%s(v *smithy.ValidationError, path string, x %s) {\n", id, g.goType(n, true))
	switch s.Type {
	case "string":
		str := "x"
		if g.isEnum(s) {
			str = "string(x)"
		}
		if m := minLen(s); m > 0 {
			fmt.Fprintf(b, "\tv.StringMinLen(path, %s, %d, %t)\n", str, m, sens)
		}
		if s.Max != nil {
			m, ok := intBound(*s.Max)
			if !ok {
				return fmt.Errorf("shape %s: max %s is not an integer", n, *s.Max)
			}
			fmt.Fprintf(b, "\tv.StringMaxLen(path, %s, %d, %t)\n", str, m, sens)
		}
		if _, ok := g.patterns[n]; ok {
			fmt.Fprintf(b, "\tv.StringPattern(path, %s, pattern%s, %s, %t)\n", str, id, goString(*s.Pattern), sens)
		}
		if g.isEnum(s) {
			fmt.Fprintf(b, "\tsmithy.Enum(v, path, x, x.Values(), %t)\n", sens)
		}
	case "integer", "long", "short", "byte":
		for _, c := range []struct {
			bound  *json.Number
			method string
		}{{s.Min, "IntMin"}, {s.Max, "IntMax"}} {
			if c.bound == nil {
				continue
			}
			m, ok := intBound(*c.bound)
			if !ok {
				return fmt.Errorf("shape %s: bound %s is not an integer", n, *c.bound)
			}
			fmt.Fprintf(b, "\tv.%s(path, x, %d)\n", c.method, m)
		}
	case "float", "double":
		for _, c := range []struct {
			bound  *json.Number
			method string
		}{{s.Min, "FloatMin"}, {s.Max, "FloatMax"}} {
			if c.bound == nil {
				continue
			}
			f, err := strconv.ParseFloat(string(*c.bound), 64)
			if err != nil {
				return fmt.Errorf("shape %s: bound %s: %w", n, *c.bound, err)
			}
			fmt.Fprintf(b, "\tv.%s(path, x, %s, %s)\n", c.method, strconv.FormatFloat(f, 'g', -1, 64), strconv.Quote(string(*c.bound)))
		}
	case "blob":
		if err := g.lengthChecks(b, s, sens); err != nil {
			return fmt.Errorf("shape %s: %w", n, err)
		}
	case "list":
		if err := g.lengthChecks(b, s, g.sensitive(n)); err != nil {
			return fmt.Errorf("shape %s: %w", n, err)
		}
		if g.needsCheck(s.Member.Shape) {
			fmt.Fprintf(b, "\tfor i := range x {\n\t\t%s\n\t}\n", g.elemCall(s.Member.Shape, "x[i]", "smithy.ElemPath(path, i)"))
		}
	case "map":
		if err := g.lengthChecks(b, s, g.sensitive(n)); err != nil {
			return fmt.Errorf("shape %s: %w", n, err)
		}
		keyCheck, valCheck := g.needsCheck(s.Key.Shape), g.needsCheck(s.Value.Shape)
		if keyCheck || valCheck {
			b.WriteString("\tfor _, k := range smithy.SortedKeys(x) {\n")
			if keyCheck {
				key := "k"
				if g.isEnum(g.m.Shapes[s.Key.Shape]) {
					key = g.goName[s.Key.Shape] + "(k)"
				}
				b.WriteString("\t\tkv := new(smithy.ValidationError)\n")
				fmt.Fprintf(b, "\t\tvalidate%s(kv, path, %s)\n", g.goName[s.Key.Shape], key)
				fmt.Fprintf(b, "\t\tv.MapKey(path, k, kv, %t)\n", g.m.Shapes[s.Key.Shape].Sensitive)
			}
			if valCheck {
				if g.m.Shapes[s.Value.Shape].Type == "structure" {
					b.WriteString("\t\te := x[k]\n")
					fmt.Fprintf(b, "\t\t%s\n", g.elemCall(s.Value.Shape, "e", "smithy.KeyPath(path, k)"))
				} else {
					fmt.Fprintf(b, "\t\t%s\n", g.elemCall(s.Value.Shape, "x[k]", "smithy.KeyPath(path, k)"))
				}
			}
			b.WriteString("\t}\n")
		}
	}
	b.WriteString("}\n\n")
	return nil
}

type errorShape struct {
	code   string
	status int
	sender bool
}

// errorShape reads the error trait of exception n: the code defaults to
// the shape name; the status to 400, or 500 for a server fault; the fault
// side to !fault unless error.senderFault says it.
func (g *generator) errorShape(n string) errorShape {
	s := g.m.Shapes[n]
	e := errorShape{code: n, status: 400, sender: !s.Fault}
	if s.Fault {
		e.status = 500
	}
	if s.Error != nil {
		if s.Error.Code != "" {
			e.code = s.Error.Code
		}
		if s.Error.HTTPStatusCode != 0 {
			e.status = s.Error.HTTPStatusCode
		}
		if s.Error.SenderFault != nil {
			e.sender = *s.Error.SenderFault
		}
	}
	return e
}

func (g *generator) service(b *bytes.Buffer) error {
	md := g.m.Metadata
	g.header(b)
	fmt.Fprintf(b, "// Package %s holds the types, validation and operation table of the\n", g.pkg)
	fmt.Fprintf(b, "// %s API (%s, protocol %s), generated from its AWS model.\n", md.ServiceID, md.APIVersion, md.Protocol)
	fmt.Fprintf(b, "package %s\n\nimport %s\n\n", g.pkg, smithyImport)
	protocol := map[string]string{"json": "smithy.AWSJSON10", "rest-json": "smithy.RESTJSON1", "query": "smithy.AWSQuery"}[md.Protocol]
	if protocol == "" {
		protocol = fmt.Sprintf("smithy.Protocol(%q)", md.Protocol)
	}
	signing := md.SigningName
	if signing == "" {
		// botocore signs with the endpoint prefix when the model names no
		// signing name (sts).
		signing = md.EndpointPrefix
	}
	fmt.Fprintf(b, "// Service describes the %s API: protocol, operations and errors.\n", md.ServiceID)
	b.WriteString("var Service = &smithy.Service{\n")
	fmt.Fprintf(b, "\tName: %q,\n\tServiceID: %q,\n\tAPIVersion: %q,\n\tProtocol: %s,\n", g.name, md.ServiceID, md.APIVersion, protocol)
	for _, kv := range [][2]string{{"TargetPrefix", md.TargetPrefix}, {"SigningName", signing}, {"XMLNamespace", md.XMLNamespace}, {"JSONVersion", md.JSONVersion}} {
		if kv[1] != "" {
			fmt.Fprintf(b, "\t%s: %q,\n", kv[0], kv[1])
		}
	}
	b.WriteString("\tOperations: map[string]*smithy.Operation{\n")
	for _, name := range sortedKeys(g.m.Operations) {
		op := g.m.Operations[name]
		in, out := "no input", "returns no output"
		if op.Input != nil {
			in = g.goName[op.Input.Shape]
		}
		if op.Output != nil {
			out = "returns " + g.goName[op.Output.Shape]
		}
		fmt.Fprintf(b, "\t\t// %s (%s %s) takes %s and %s.\n", name, op.HTTP.Method, op.HTTP.RequestURI, in, out)
		fmt.Fprintf(b, "\t\t%q: {\n", name)
		fmt.Fprintf(b, "\t\t\tName: %q,\n\t\t\tMethod: %q,\n\t\t\tRequestURI: %q,\n", name, op.HTTP.Method, op.HTTP.RequestURI)
		if op.HTTP.ResponseCode != 0 {
			fmt.Fprintf(b, "\t\t\tSuccessCode: %d,\n", op.HTTP.ResponseCode)
		}
		if op.Output != nil && op.Output.ResultWrapper != "" {
			fmt.Fprintf(b, "\t\t\tResultWrapper: %q,\n", op.Output.ResultWrapper)
		}
		if op.Idempotent {
			b.WriteString("\t\t\tIdempotent: true,\n")
		}
		if op.ReadOnly {
			b.WriteString("\t\t\tReadOnly: true,\n")
		}
		if op.Input != nil {
			for _, mem := range g.m.Shapes[op.Input.Shape].Members {
				if mem.IdempotencyToken {
					fmt.Fprintf(b, "\t\t\tIdempotencyToken: %q,\n", mem.Name)
					break
				}
			}
		}
		if len(op.Errors) > 0 {
			b.WriteString("\t\t\tErrors: []string{")
			for i, e := range op.Errors {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "%q", e.Shape)
			}
			b.WriteString("},\n")
		}
		if op.Input != nil {
			fmt.Fprintf(b, "\t\t\tNewInput: func() any { return new(%s) },\n", g.goName[op.Input.Shape])
		}
		if op.Output != nil {
			fmt.Fprintf(b, "\t\t\tNewOutput: func() any { return new(%s) },\n", g.goName[op.Output.Shape])
		}
		b.WriteString("\t\t},\n")
	}
	b.WriteString("\t},\n\tErrors: map[string]*smithy.ErrorShape{\n")
	for _, n := range sortedKeys(g.m.Shapes) {
		if !g.m.Shapes[n].Exception {
			continue
		}
		e := g.errorShape(n)
		fmt.Fprintf(b, "\t\t%q: {Name: %q, Code: %q, HTTPStatus: %d, Sender: %t},\n", n, n, e.code, e.status, e.sender)
	}
	b.WriteString("\t},\n}\n")
	return nil
}
