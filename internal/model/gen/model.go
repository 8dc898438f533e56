package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The botocore service model format: metadata, operations, shapes. Only
// the keys the generator uses are decoded; documentation is stripped from
// the copies in internal/model/models anyway.

type model struct {
	Metadata   metadata              `json:"metadata"`
	Operations map[string]*operation `json:"operations"`
	Shapes     map[string]*shape     `json:"shapes"`
}

type metadata struct {
	APIVersion     string `json:"apiVersion"`
	EndpointPrefix string `json:"endpointPrefix"`
	JSONVersion    string `json:"jsonVersion"`
	Protocol       string `json:"protocol"`
	ServiceID      string `json:"serviceId"`
	SigningName    string `json:"signingName"`
	TargetPrefix   string `json:"targetPrefix"`
	XMLNamespace   string `json:"xmlNamespace"`
}

type operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method       string `json:"method"`
		RequestURI   string `json:"requestUri"`
		ResponseCode int    `json:"responseCode"`
	} `json:"http"`
	Input *struct {
		Shape string `json:"shape"`
	} `json:"input"`
	Output *struct {
		Shape         string `json:"shape"`
		ResultWrapper string `json:"resultWrapper"`
	} `json:"output"`
	Errors []struct {
		Shape string `json:"shape"`
	} `json:"errors"`
	Idempotent bool `json:"idempotent"`
	ReadOnly   bool `json:"readonly"`
}

type shape struct {
	Type      string         `json:"type"`
	Members   orderedMembers `json:"members"`
	Required  []string       `json:"required"`
	Member    *ref           `json:"member"` // list element
	Key       *ref           `json:"key"`    // map key
	Value     *ref           `json:"value"`  // map value
	Enum      []string       `json:"enum"`
	Min       *json.Number   `json:"min"`
	Max       *json.Number   `json:"max"`
	Pattern   *string        `json:"pattern"`
	Sensitive bool           `json:"sensitive"`
	Union     bool           `json:"union"`
	Exception bool           `json:"exception"`
	Fault     bool           `json:"fault"`
	Flattened bool           `json:"flattened"`
	Payload   string         `json:"payload"`
	Error     *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		SenderFault    *bool  `json:"senderFault"`
	} `json:"error"`
}

// ref points at a shape from a member, a list element or a map key/value.
type ref struct {
	Name             string `json:"-"` // member name; "" for elements
	Shape            string `json:"shape"`
	Location         string `json:"location"`
	LocationName     string `json:"locationName"`
	QueryName        string `json:"queryName"`
	Flattened        bool   `json:"flattened"`
	IdempotencyToken bool   `json:"idempotencyToken"`
}

// orderedMembers keeps the members of a structure in model order: it is
// the order AWS documents them and serializes them (awsQuery XML), so the
// generated structs keep it.
type orderedMembers []*ref

func (m *orderedMembers) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("members: want an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("members: want a member name, got %v", tok)
		}
		r := &ref{Name: name}
		if err := dec.Decode(r); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
		*m = append(*m, r)
	}
	_, err = dec.Token()
	return err
}

func loadModel(b []byte) (*model, error) {
	var m model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for name, s := range m.Shapes {
		for _, r := range append([]*ref{s.Member, s.Key, s.Value}, s.Members...) {
			if r != nil && m.Shapes[r.Shape] == nil {
				return nil, fmt.Errorf("shape %s refers to unknown shape %s", name, r.Shape)
			}
		}
	}
	for name, op := range m.Operations {
		if op.Input != nil && m.Shapes[op.Input.Shape] == nil {
			return nil, fmt.Errorf("operation %s: unknown input shape %s", name, op.Input.Shape)
		}
		if op.Output != nil && m.Shapes[op.Output.Shape] == nil {
			return nil, fmt.Errorf("operation %s: unknown output shape %s", name, op.Output.Shape)
		}
	}
	return &m, nil
}
