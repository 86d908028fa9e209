// Package wiretest reads wire/testdata/contract.json, the table of example
// frames and REST exchanges that the wire package, the server and the
// JavaScript SDK all round-trip (docs/PROTOCOL.md §8), for Go tests. It
// does not import wire, so that wire's own tests can use it.
package wiretest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Contract is the table.
type Contract struct {
	// ClientFrames are frames a server accepts.
	ClientFrames []Frame `json:"client_frames"`
	// RefusedClientFrames are frames (or Raw bytes) a server refuses with
	// Code, keeping ClientMessageID.
	RefusedClientFrames []Refused `json:"refused_client_frames"`
	// ServerFrames are frames a server sends.
	ServerFrames []Frame `json:"server_frames"`
	// REST are exchanges: a request body (if any), a status and a response
	// body (if any).
	REST []Exchange `json:"rest"`
}

// Frame is one example frame.
type Frame struct {
	Name  string          `json:"name"`
	Frame json.RawMessage `json:"frame"`
}

// Refused is a client frame a server refuses.
type Refused struct {
	Name            string          `json:"name"`
	Frame           json.RawMessage `json:"frame"`
	Raw             string          `json:"raw"`
	Code            string          `json:"code"`
	ClientMessageID string          `json:"client_message_id"`
}

// Bytes is what a client sends: Raw when the row has it, else Frame.
func (r Refused) Bytes() []byte {
	if r.Raw != "" {
		return []byte(r.Raw)
	}
	return r.Frame
}

// Exchange is one REST call. Path is the route's pattern.
type Exchange struct {
	Name     string          `json:"name"`
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	Request  json.RawMessage `json:"request"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response"`
}

// Load reads the table; a missing, malformed or partly empty one fails t.
func Load(t testing.TB) Contract {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("wiretest: cannot locate its source")
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "testdata", "contract.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c Contract
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("contract.json: %v", err)
	}
	if len(c.ClientFrames) == 0 || len(c.RefusedClientFrames) == 0 || len(c.ServerFrames) == 0 || len(c.REST) == 0 {
		t.Fatal("contract.json has an empty section")
	}
	return c
}
