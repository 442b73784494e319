// Package api holds pageshot's machine-readable contract: the OpenAPI 3.1
// description of the HTTP API, written in openapi.yaml and embedded in the
// binary. The server serves it as JSON at /openapi.json, and the end-to-end
// tests check the server's answers against it (see internal/apitest).
package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var spec []byte

// YAML returns the description as written. The caller owns the returned
// slice.
func YAML() []byte { return slices.Clone(spec) }

// JSON returns the description converted to JSON, compact, with the members
// of every object in the order openapi.yaml gives them and every key a
// string (the status code keys of responses included). It fails only when
// openapi.yaml is not valid YAML or holds what JSON cannot: a duplicate or
// non-scalar key, a merge key, an infinite or NaN number. The conversion runs
// once; the caller owns the returned slice.
func JSON() ([]byte, error) {
	b, err := toJSON()
	return slices.Clone(b), err
}

var toJSON = sync.OnceValues(func() ([]byte, error) { return yamlToJSON(spec) })

// yamlToJSON converts one YAML document to JSON. It walks the node tree
// rather than decoding into maps, which would lose the order of the members
// and give integer keys (200:) to encoding/json, which cannot marshal them.
func yamlToJSON(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("parse openapi.yaml: no document")
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, doc.Content[0]); err != nil {
		return nil, fmt.Errorf("convert openapi.yaml to json: %w", err)
	}
	return buf.Bytes(), nil
}

func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.AliasNode:
		return writeJSON(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				return fmt.Errorf("line %d: keys must be scalars (merge keys are not supported)", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeString(buf, k.Value); err != nil {
				return err
			}
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp", "!!binary":
			return writeString(buf, n.Value)
		case "!!int", "!!float", "!!bool", "!!null":
			var v any
			if err := n.Decode(&v); err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("line %d: %w", n.Line, err)
			}
			buf.Write(b)
		default:
			return fmt.Errorf("line %d: unsupported tag %s", n.Line, n.ShortTag())
		}
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}

// writeString writes s as a JSON string, leaving <, > and & as they are:
// the description holds HTML in its prose.
func writeString(buf *bytes.Buffer, s string) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode ends with a newline
	return nil
}
