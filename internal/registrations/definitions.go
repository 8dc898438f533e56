package registrations

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/tidings/tidings/internal/model/smsvoice"
)

// The registration types are data: definitions.json holds them in the
// shapes DescribeRegistrationTypeDefinitions, …SectionDefinitions and
// …FieldDefinitions answer, with the sections, fields, choices and
// validations carriers ask for (US toll-free: the AWS End User Messaging
// post "Automate … US toll-free Number Registrations").
//
//go:embed definitions.json
var definitionsJSON []byte

// TypeDef is one registration type with its sections and fields.
type TypeDef struct {
	smsvoice.RegistrationTypeDefinition
	Sections []smsvoice.RegistrationSectionDefinition `json:"Sections"`
	Fields   []smsvoice.RegistrationFieldDefinition   `json:"Fields"`

	fields   map[string]*smsvoice.RegistrationFieldDefinition
	patterns map[string]*regexp.Regexp
}

// Field returns the definition of a field path, or nil.
func (t *TypeDef) Field(path string) *smsvoice.RegistrationFieldDefinition { return t.fields[path] }

// HasSection reports whether the type has a section of that path.
func (t *TypeDef) HasSection(path string) bool {
	return slices.ContainsFunc(t.Sections, func(s smsvoice.RegistrationSectionDefinition) bool { return *s.SectionPath == path })
}

// Definitions are the registration types Tidings knows, by name.
type Definitions struct {
	types  []*TypeDef
	byName map[string]*TypeDef
}

// LoadDefinitions parses definitions JSON (the embedded file when data is
// nil) and checks it: every field in a section of its type, patterns that
// compile, select fields with options.
func LoadDefinitions(data []byte) (*Definitions, error) {
	if data == nil {
		data = definitionsJSON
	}
	var types []*TypeDef
	if err := json.Unmarshal(data, &types); err != nil {
		return nil, fmt.Errorf("registration definitions: %w", err)
	}
	d := &Definitions{types: types, byName: map[string]*TypeDef{}}
	for _, t := range types {
		if t.RegistrationType == nil || t.DisplayHints == nil {
			return nil, fmt.Errorf("registration definitions: a type without RegistrationType or DisplayHints")
		}
		name := *t.RegistrationType
		if d.byName[name] != nil {
			return nil, fmt.Errorf("registration definitions: %s twice", name)
		}
		d.byName[name] = t
		t.fields = map[string]*smsvoice.RegistrationFieldDefinition{}
		t.patterns = map[string]*regexp.Regexp{}
		for i := range t.Fields {
			f := &t.Fields[i]
			if f.FieldPath == nil || f.SectionPath == nil || f.FieldType == nil || f.FieldRequirement == nil || f.DisplayHints == nil {
				return nil, fmt.Errorf("registration definitions: %s: field %d is incomplete", name, i)
			}
			p := *f.FieldPath
			if !t.HasSection(*f.SectionPath) {
				return nil, fmt.Errorf("registration definitions: %s: %s is in unknown section %s", name, p, *f.SectionPath)
			}
			if t.fields[p] != nil {
				return nil, fmt.Errorf("registration definitions: %s: %s twice", name, p)
			}
			t.fields[p] = f
			switch *f.FieldType {
			case smsvoice.FieldTypeText:
				if f.TextValidation == nil {
					return nil, fmt.Errorf("registration definitions: %s: text field %s has no validation", name, p)
				}
				re, err := regexp.Compile(*f.TextValidation.Pattern)
				if err != nil {
					return nil, fmt.Errorf("registration definitions: %s: %s: %w", name, p, err)
				}
				t.patterns[p] = re
			case smsvoice.FieldTypeSelect:
				if f.SelectValidation == nil || len(f.SelectValidation.Options) == 0 {
					return nil, fmt.Errorf("registration definitions: %s: select field %s has no options", name, p)
				}
			}
		}
	}
	return d, nil
}

// Type returns the definition of a registration type, or nil.
func (d *Definitions) Type(name string) *TypeDef { return d.byName[name] }

// Types returns every type, in file order.
func (d *Definitions) Types() []*TypeDef { return d.types }
