package awsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// awsJson1_0 (https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html)
// and Smithy RPC v2 CBOR
// (https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html):
// the whole input structure is the body; so is the output.

// decodeJSON decodes a JSON object body into in. An empty body is an empty
// input; unknown members are ignored, as AWS does; a member of the wrong
// type is a SerializationException.
func decodeJSON(body []byte, in any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, in); err != nil {
		return jsonSerializationErr(err)
	}
	return nil
}

func jsonSerializationErr(err error) error {
	var (
		te *json.UnmarshalTypeError
		se *json.SyntaxError
	)
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return serializationErr("Expected a JSON object, got %s", te.Value)
		}
		return serializationErr("Unexpected JSON %s at '%s': expected %s", te.Value, te.Field, describeType(te.Type.String()))
	case errors.As(err, &se):
		return serializationErr("Malformed JSON at offset %d: %v", se.Offset, se)
	}
	return serializationErr("Malformed JSON: %v", err)
}

func describeType(t string) string {
	switch t {
	case "string":
		return "a string"
	case "int64", "int32", "int":
		return "an integer"
	case "float64", "float32":
		return "a number"
	case "bool":
		return "a boolean"
	case "[]uint8":
		return "a base64 string"
	}
	return "a value of type " + t
}

// marshalJSON encodes v without HTML escaping (AWS writes '<' as is).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func jsonContentType(rq *request) string {
	v := "1.0"
	if rq.svc != nil && rq.svc.model.JSONVersion != "" {
		v = rq.svc.model.JSONVersion
	}
	return "application/x-amz-json-" + v
}

func writeJSONOutput(rq *request, out any) error {
	b, err := marshalJSON(out)
	if err != nil {
		return err
	}
	rq.send(http.StatusOK, jsonContentType(rq), b)
	return nil
}

var (
	cborDec cbor.DecMode
	cborEnc cbor.EncMode
)

func init() {
	var err error
	cborDec, err = cbor.DecOptions{
		// RPC v2 CBOR clients send definite or indefinite lengths and tag
		// 1 timestamps; duplicate keys are an error, as in the spec's
		// protocol tests for malformed requests.
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthAllowed,
		MaxNestedLevels:  64,
		MaxArrayElements: 1 << 20,
		MaxMapPairs:      1 << 20,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	cborEnc, err = cbor.EncOptions{Sort: cbor.SortBytewiseLexical}.EncMode()
	if err != nil {
		panic(err)
	}
}

// decodeCBOR decodes a CBOR map body into in; an empty body is an empty input.
func decodeCBOR(body []byte, in any) error {
	if len(body) == 0 {
		return nil
	}
	if err := cborDec.Unmarshal(body, in); err != nil {
		var te *cbor.UnmarshalTypeError
		if errors.As(err, &te) {
			return serializationErr("Unexpected CBOR %s: %v", te.CBORType, err)
		}
		return serializationErr("Malformed CBOR: %v", err)
	}
	return nil
}

func writeCBOROutput(rq *request, out any) error {
	b, err := cborEnc.Marshal(out)
	if err != nil {
		return err
	}
	rq.w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	rq.send(http.StatusOK, "application/cbor", b)
	return nil
}

// writeError writes ae in the form of the request's protocol.
func writeError(rq *request, ae *apiError) {
	h := rq.w.Header()
	switch rq.proto {
	case protoQuery:
		writeQueryError(rq, ae)
	case protoCBOR:
		h["x-amzn-ErrorType"] = []string{ae.code}
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
		m := map[string]any{"__type": ae.code, "message": ae.message, "Message": ae.message}
		for k, v := range ae.fields {
			m[k] = v
		}
		b, err := cborEnc.Marshal(m)
		if err != nil {
			b, _ = cborEnc.Marshal(map[string]any{"__type": ae.code, "message": ae.message})
		}
		rq.send(ae.status, "application/cbor", b)
	default:
		// botocore reads __type and then "message" or "Message"; the
		// modeled exception structures of these services name their
		// member "Message", which strict deserializers look for.
		h["x-amzn-ErrorType"] = []string{ae.code}
		ct := "application/json"
		if rq.proto == protoJSON {
			ct = jsonContentType(rq)
		}
		rq.send(ae.status, ct, errorJSON(ae))
	}
}

// errorJSON renders {"__type":...,"message":...,"Message":...,<fields>}
// with the fields sorted, so that the output is stable.
func errorJSON(ae *apiError) []byte {
	var b bytes.Buffer
	put := func(k string, v any) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kb, _ := marshalJSON(k)
		vb, err := marshalJSON(v)
		if err != nil {
			vb, _ = marshalJSON(fmt.Sprint(v))
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('{')
	put("__type", ae.code)
	put("message", ae.message)
	put("Message", ae.message)
	keys := make([]string, 0, len(ae.fields))
	for k := range ae.fields {
		if k != "__type" && k != "message" && k != "Message" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		put(k, ae.fields[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}
