package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A small JSON Schema checker, the subset the protocol documents use, so
// the drift check needs no new module. It refuses keywords it does not
// know rather than ignore them: a document that starts using oneOf must
// teach the checker first, or its examples would pass unchecked.

// jsonDoc is a parsed JSON document: maps, slices, json.Number, strings,
// bools and nil.
type jsonDoc = map[string]any

// parseJSON decodes b with numbers kept exact, so an integer is told from
// a fraction.
func parseJSON(t testing.TB, name string, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s is not valid JSON: %v", name, err)
	}
	if dec.More() {
		t.Fatalf("%s has data after its JSON value", name)
	}
	return v
}

// resolve follows a local JSON pointer ("#/components/schemas/User").
func resolve(doc any, ref string) (any, error) {
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	cur := doc
	if p == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("$ref %q: no %q", ref, tok)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("$ref %q: no index %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("$ref %q: %q is inside a scalar", ref, tok)
		}
	}
	return cur, nil
}

// deref returns schema with its $ref chain followed.
func deref(doc any, schema jsonDoc) (jsonDoc, error) {
	for i := 0; i < 32; i++ {
		ref, ok := schema["$ref"].(string)
		if !ok {
			return schema, nil
		}
		target, err := resolve(doc, ref)
		if err != nil {
			return nil, err
		}
		next, ok := target.(jsonDoc)
		if !ok {
			return nil, fmt.Errorf("$ref %q is not an object", ref)
		}
		schema = next
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// refs lists every $ref in v with its location.
func refs(v any, at string, out map[string]string) {
	switch c := v.(type) {
	case map[string]any:
		for k, x := range c {
			if s, ok := x.(string); ok && k == "$ref" {
				out[at] = s
				continue
			}
			refs(x, at+"/"+k, out)
		}
	case []any:
		for i, x := range c {
			refs(x, at+"/"+strconv.Itoa(i), out)
		}
	}
}

// schemaKeywords are the keywords the checker understands; annotations
// (description, title, default, examples) are allowed and ignored.
var schemaKeywords = map[string]bool{
	"$ref": true, "type": true, "properties": true, "required": true, "items": true, "enum": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true,
	"description": true, "title": true, "default": true, "examples": true,
}

// validate checks v against schema. It is strict where JSON Schema is
// lenient: a property the schema does not declare is an error, so an
// example with a field the documents forgot is caught.
func validate(doc any, schema jsonDoc, v any, at string) []string {
	for k := range schema {
		if !schemaKeywords[k] {
			return []string{fmt.Sprintf("%s: the test's checker does not know the keyword %q", at, k)}
		}
	}
	if _, ok := schema["$ref"]; ok {
		s, err := deref(doc, schema)
		if err != nil {
			return []string{at + ": " + err.Error()}
		}
		return validate(doc, s, v, at)
	}
	if ts := schemaTypes(schema); len(ts) > 0 && !slices.Contains(ts, jsonType(v)) &&
		!(jsonType(v) == "integer" && slices.Contains(ts, "number")) {
		return []string{fmt.Sprintf("%s: %s, want %s", at, jsonType(v), strings.Join(ts, " or "))}
	}
	var errs []string
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	if n, ok := v.(json.Number); ok {
		f, _ := n.Float64()
		if m, ok := schema["minimum"].(json.Number); ok {
			if min, _ := m.Float64(); f < min {
				errs = append(errs, fmt.Sprintf("%s: %v is below the minimum %v", at, n, m))
			}
		}
		if m, ok := schema["maximum"].(json.Number); ok {
			if max, _ := m.Float64(); f > max {
				errs = append(errs, fmt.Sprintf("%s: %v is above the maximum %v", at, n, m))
			}
		}
	}
	switch c := v.(type) {
	case map[string]any:
		props, _ := schema["properties"].(jsonDoc)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := c[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required %q is missing", at, r))
			}
		}
		for k, x := range c {
			ps, ok := props[k].(jsonDoc)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s: %q is not in the schema", at, k))
				continue
			}
			errs = append(errs, validate(doc, ps, x, at+"."+k)...)
		}
	case []any:
		if items, ok := schema["items"].(jsonDoc); ok {
			for i, x := range c {
				errs = append(errs, validate(doc, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

// schemaTypes is a schema's type keyword as a list ("string" or
// ["integer", "null"]).
func schemaTypes(schema jsonDoc) []string {
	switch t := schema["type"].(type) {
	case string:
		return []string{t}
	case []any:
		return asStrings(t)
	}
	return nil
}

func jsonType(v any) string {
	switch c := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := c.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func asStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestSchemaChecker(t *testing.T) {
	doc := parseJSON(t, "doc", []byte(`{"s": {"A": {"type": "object", "required": ["n"],
		"properties": {"n": {"type": ["integer", "null"], "minimum": 1}, "e": {"type": "string", "enum": ["x"]},
		"l": {"type": "array", "items": {"$ref": "#/s/A"}}}}}}`))
	root := jsonDoc{"$ref": "#/s/A"}
	for _, tc := range []struct {
		in   string
		errs int
	}{
		{`{"n": 1}`, 0},
		{`{"n": null, "e": "x", "l": [{"n": 2}]}`, 0},
		{`{}`, 1},
		{`{"n": 1.5}`, 1},
		{`{"n": 0}`, 1},
		{`{"n": 1, "e": "y"}`, 1},
		{`{"n": 1, "l": [{}]}`, 1},
		{`{"n": 1, "extra": true}`, 1},
		{`[]`, 1},
	} {
		if errs := validate(doc, root, parseJSON(t, tc.in, []byte(tc.in)), "$"); len(errs) != tc.errs {
			t.Errorf("%s: %d errors %q, want %d", tc.in, len(errs), errs, tc.errs)
		}
	}
	if errs := validate(doc, jsonDoc{"oneOf": []any{}}, "x", "$"); len(errs) != 1 {
		t.Errorf("an unknown keyword passed: %q", errs)
	}
}
