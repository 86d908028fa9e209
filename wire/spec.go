package wire

import (
	"bytes"
	_ "embed" // the documents below
)

// The machine-readable protocol documents. Their schemas are named as this
// package's types, and spec_test.go checks them against those types (JSON
// field names, omitempty, nesting), the frame types, the error codes and
// every example of testdata/contract.json, so `go test ./...` fails when a
// type changes and the documents do not.
var (
	//go:embed openapi.json
	openAPI []byte
	//go:embed asyncapi.json
	asyncAPI []byte
)

// OpenAPI returns the OpenAPI 3.1 document of the REST API
// (docs/PROTOCOL.md §1, §2, §7), served at GET /api/openapi.json.
func OpenAPI() []byte { return bytes.Clone(openAPI) }

// AsyncAPI returns the AsyncAPI 3.0 document of the WebSocket at /ws
// (docs/PROTOCOL.md §3), served at GET /api/asyncapi.json.
func AsyncAPI() []byte { return bytes.Clone(asyncAPI) }
