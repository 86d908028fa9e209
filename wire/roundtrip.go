package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// RoundTrip decodes data into v (a pointer to a wire type), refusing any
// field the type lacks, and checks that v encodes back to the same JSON
// (key order aside). A frame or body that passes carries nothing this
// package does not name: the contract tests hold the server, the Go SDK
// and the examples in testdata/contract.json to it.
func RoundTrip(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode into %T: %w", v, err)
	}
	var want, got any
	if err := json.Unmarshal(data, &want); err != nil {
		return err
	}
	if err := json.Unmarshal(Encode(v), &got); err != nil {
		return err
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("%T re-encodes as %s, not %s", v, Encode(v), data)
	}
	return nil
}

// NewServerFrame returns a pointer to a new value of the server frame type
// that typ names (MessageAck for "message_ack", ...), or nil.
func NewServerFrame(typ string) any {
	switch typ {
	case TypeMessageAck:
		return new(MessageAck)
	case TypeMessage:
		return new(Message)
	case TypeStatus:
		return new(Status)
	case TypePresence:
		return new(Presence)
	case TypeTyping:
		return new(Typing)
	case TypeHeartbeatAck:
		return new(HeartbeatAck)
	case TypeError:
		return new(ErrorFrame)
	case TypeProfile:
		return new(Profile)
	case TypeReaction:
		return new(Reaction)
	case TypeMessageEdited:
		return new(MessageEdited)
	case TypeMessageDeleted:
		return new(MessageDeleted)
	}
	return nil
}
