package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Frame types, client to server.
const (
	TypeMessage           = "message"
	TypeDeliveryAck       = "delivery_ack"
	TypeReadReceipt       = "read_receipt"
	TypeHeartbeat         = "heartbeat"
	TypeTyping            = "typing"
	TypePresenceSubscribe = "presence_subscribe"
	// TypeEdit and TypeDelete (added) change a message already sent;
	// TypeReaction (shared with the server) reacts to one.
	TypeEdit   = "edit"
	TypeDelete = "delete"
)

// Frame types, server to client (TypeMessage and TypeTyping are shared).
const (
	TypeMessageAck   = "message_ack"
	TypeStatus       = "status"
	TypePresence     = "presence"
	TypeHeartbeatAck = "heartbeat_ack"
	TypeError        = "error"
	// TypeProfile (added): a user's profile changed; fetch it again.
	TypeProfile = "profile"
	// TypeReaction, TypeMessageEdited and TypeMessageDeleted (added) tell
	// members' devices that a message they may hold changed.
	TypeReaction       = "reaction"
	TypeMessageEdited  = "message_edited"
	TypeMessageDeleted = "message_deleted"
)

// Whom a deletion is for.
const (
	DeleteForEveryone = "everyone"
	DeleteForMe       = "me"
)

// Message types a client may send. "system" is written only by the server.
var clientMessageTypes = map[string]bool{
	"text": true, "image": true, "video": true, "audio": true, "document": true, "location": true,
}

// Receipt and presence states.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	// StatusExpired tells a sender that a message passed the retention
	// period before this recipient received it; it never will.
	StatusExpired = "expired"

	PresenceOnline  = "online"
	PresenceOffline = "offline"

	TypingComposing = "composing"
	TypingPaused    = "paused"
)

// Inbound is any client frame. Decoding into one flat struct costs a single
// pass over the bytes; Validate then checks the fields its type needs.
type Inbound struct {
	Type            string   `json:"type"`
	ClientMessageID string   `json:"client_message_id,omitempty"`
	ConversationID  string   `json:"conversation_id,omitempty"`
	MessageType     string   `json:"message_type,omitempty"`
	Content         *string  `json:"content,omitempty"`
	MediaID         string   `json:"media_id,omitempty"`
	MessageIDs      []string `json:"message_ids,omitempty"`
	Timestamp       int64    `json:"timestamp,omitempty"`
	State           string   `json:"state,omitempty"`
	UserIDs         []string `json:"user_ids,omitempty"`
	// ReplyTo (added) names the message of the conversation a message
	// answers.
	ReplyTo string `json:"reply_to,omitempty"`
	// Mentions (added) are members of the conversation a message names.
	Mentions []string `json:"mentions,omitempty"`
	// ForwardOf (added) names the message a message forwards.
	ForwardOf string `json:"forward_of,omitempty"`
	// MessageID, Emoji and For (added) are what reaction, edit and delete
	// frames name.
	MessageID string  `json:"message_id,omitempty"`
	Emoji     *string `json:"emoji,omitempty"`
	For       string  `json:"for,omitempty"`
}

// Decode parses one client frame and validates it against lim. The returned
// error is always an *Error (invalid or too_large); on a too_large content
// the frame is still returned so the caller can echo client_message_id.
func Decode(data []byte, lim Limits) (*Inbound, error) {
	var f Inbound
	// Unmarshal, not a Decoder: it refuses trailing data itself, and a
	// Decoder's own buffer was a third of a heartbeat's allocation.
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, Invalid("malformed frame: " + jsonProblem(data, err))
	}
	if err := f.Validate(lim); err != nil {
		return &f, err
	}
	return &f, nil
}

// jsonProblem turns a decoder error into a short message without echoing
// client bytes back.
func jsonProblem(data []byte, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	// A whole value followed by more is named as such: a client's framing
	// bug is easier to find so.
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if dec.Decode(&v) == nil && dec.More() {
		return "trailing data after the JSON object"
	}
	return "not a JSON object"
}

// Validate checks the fields required by the frame's type.
func (f *Inbound) Validate(lim Limits) error {
	switch f.Type {
	case TypeMessage:
		if err := checkID("client_message_id", f.ClientMessageID); err != nil {
			return err
		}
		if err := checkID("conversation_id", f.ConversationID); err != nil {
			return err
		}
		if !clientMessageTypes[f.MessageType] {
			return Invalid("message_type must be one of text, image, video, audio, document, location")
		}
		if f.Content == nil {
			return Invalid("content is required")
		}
		if len(*f.Content) > lim.MaxContentBytes {
			return NewError(CodeTooLarge, fmt.Sprintf("content is %d bytes, the limit is %d", len(*f.Content), lim.MaxContentBytes))
		}
		if f.MediaID != "" {
			if err := checkID("media_id", f.MediaID); err != nil {
				return err
			}
		}
		if f.ReplyTo != "" {
			if err := checkID("reply_to", f.ReplyTo); err != nil {
				return err
			}
		}
		if f.ForwardOf != "" {
			if err := checkID("forward_of", f.ForwardOf); err != nil {
				return err
			}
		}
		if len(f.Mentions) > DefaultMaxGroupSize {
			return Invalid(fmt.Sprintf("mentions names at most %d users", DefaultMaxGroupSize))
		}
		for _, id := range f.Mentions {
			if err := checkID("mentions", id); err != nil {
				return err
			}
		}
	case TypeReaction:
		if err := checkID("message_id", f.MessageID); err != nil {
			return err
		}
		if f.Emoji == nil {
			return Invalid(`emoji is required ("" removes the reaction)`)
		}
		if *f.Emoji != "" && !IsEmoji(*f.Emoji) {
			return Invalid("emoji must be one emoji, or empty to remove the reaction")
		}
	case TypeEdit:
		if err := checkID("message_id", f.MessageID); err != nil {
			return err
		}
		if f.Content == nil || *f.Content == "" {
			return Invalid("content is required")
		}
		if len(*f.Content) > lim.MaxContentBytes {
			return NewError(CodeTooLarge, fmt.Sprintf("content is %d bytes, the limit is %d", len(*f.Content), lim.MaxContentBytes))
		}
	case TypeDelete:
		if err := checkID("message_id", f.MessageID); err != nil {
			return err
		}
		if f.For != DeleteForEveryone && f.For != DeleteForMe {
			return Invalid(`for must be "everyone" or "me"`)
		}
	case TypeDeliveryAck, TypeReadReceipt:
		if f.Type == TypeReadReceipt {
			if err := checkID("conversation_id", f.ConversationID); err != nil {
				return err
			}
		}
		if len(f.MessageIDs) == 0 {
			return Invalid("message_ids must list at least one id")
		}
		if len(f.MessageIDs) > lim.MaxIDsPerFrame {
			return Invalid(fmt.Sprintf("message_ids lists more than %d ids", lim.MaxIDsPerFrame))
		}
		for _, id := range f.MessageIDs {
			if err := checkID("message_ids", id); err != nil {
				return err
			}
		}
	case TypeHeartbeat:
	case TypeTyping:
		if err := checkID("conversation_id", f.ConversationID); err != nil {
			return err
		}
		if f.State != TypingComposing && f.State != TypingPaused {
			return Invalid(`state must be "composing" or "paused"`)
		}
	case TypePresenceSubscribe:
		if f.UserIDs == nil {
			return Invalid("user_ids is required")
		}
		if len(f.UserIDs) > lim.MaxIDsPerFrame {
			return Invalid(fmt.Sprintf("user_ids lists more than %d ids", lim.MaxIDsPerFrame))
		}
		for _, id := range f.UserIDs {
			if err := checkID("user_ids", id); err != nil {
				return err
			}
		}
	case "":
		return Invalid("type is required")
	default:
		return Invalid("unknown frame type")
	}
	return nil
}

// MaxIDLength bounds every opaque id a client sends, client_message_id
// included, so a client cannot make the server store or index huge keys.
const MaxIDLength = 128

func checkID(field, v string) error {
	if v == "" {
		return Invalid(field + " is required")
	}
	if len(v) > MaxIDLength {
		return Invalid(fmt.Sprintf("%s is longer than %d bytes", field, MaxIDLength))
	}
	if !utf8.ValidString(v) {
		return Invalid(field + " is not valid UTF-8")
	}
	return nil
}

// Outbound frames. Each is encoded with its "type" first.

// MessageAck confirms a message is durably stored.
type MessageAck struct {
	Type            string `json:"type"`
	ClientMessageID string `json:"client_message_id"`
	MessageID       string `json:"message_id"`
	ConversationID  string `json:"conversation_id"`
	SequenceNumber  int64  `json:"sequence_number"`
	Status          string `json:"status"`
	Timestamp       int64  `json:"timestamp"`
}

// Message is a stored message as delivered to a client.
type Message struct {
	Type           string `json:"type,omitempty"`
	MessageID      string `json:"message_id"`
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	SequenceNumber int64  `json:"sequence_number"`
	MessageType    string `json:"message_type"`
	Content        string `json:"content"`
	MediaID        string `json:"media_id,omitempty"`
	CreatedAt      int64  `json:"created_at"`
	// ReplyTo and Quote (added) are set on a reply: the message it
	// answers and what of it to show.
	ReplyTo string `json:"reply_to,omitempty"`
	Quote   *Quote `json:"quote,omitempty"`
	// Mentions (added) are the members the message names.
	Mentions []string `json:"mentions,omitempty"`
	// EditedAt (added) is when the sender last edited it (Unix ms).
	EditedAt int64 `json:"edited_at,omitempty"`
	// Deleted (added) marks a tombstone: deleted for everyone, its
	// content and media gone (content is then "").
	Deleted bool `json:"deleted,omitempty"`
	// Forwarded (added) counts a forwarded message's hops; at
	// ForwardedManyTimes or more it was "forwarded many times".
	Forwarded int `json:"forwarded,omitempty"`
	// ExpiresAt (added) is when a disappearing message goes (Unix ms):
	// the server deletes it then, and so should clients.
	ExpiresAt int64 `json:"expires_at,omitempty"`
	// Reactions (added, history only) count the members' reactions.
	Reactions []ReactionCount `json:"reactions,omitempty"`
}

// ReactionCount is how many members reacted to a message with one emoji,
// and who.
type ReactionCount struct {
	Emoji   string   `json:"emoji"`
	Count   int      `json:"count"`
	UserIDs []string `json:"user_ids"`
}

// Reaction (added) tells members' devices that a user set, changed or
// (with Emoji "") removed its reaction to a message.
type Reaction struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	UserID         string `json:"user_id"`
	Emoji          string `json:"emoji"`
	Timestamp      int64  `json:"timestamp"`
}

// MessageEdited (added) carries a message's new content.
type MessageEdited struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	SenderID       string `json:"sender_id"`
	Content        string `json:"content"`
	EditedAt       int64  `json:"edited_at"`
}

// MessageDeleted (added) tells devices to drop a message's content: for
// "everyone" it is a tombstone now; for "me" the user's own devices hide
// it.
type MessageDeleted struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	For            string `json:"for"`
	DeletedBy      string `json:"deleted_by"`
	Timestamp      int64  `json:"timestamp"`
}

// Quote is what a reply shows of the message it answers: its sender, its
// type and the first MaxQuoteBytes bytes of its content (cut on a UTF-8
// boundary), as the message was when the reply was sent.
type Quote struct {
	SenderID    string `json:"sender_id"`
	MessageType string `json:"message_type"`
	Content     string `json:"content"`
}

// Status tells a sender that a recipient's receipt state changed.
type Status struct {
	Type           string `json:"type"`
	MessageID      string `json:"message_id"`
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	Timestamp      int64  `json:"timestamp"`
}

// Presence tells a subscriber that a user went online or offline.
type Presence struct {
	Type     string `json:"type"`
	UserID   string `json:"user_id"`
	Status   string `json:"status"`
	LastSeen *int64 `json:"last_seen,omitempty"`
}

// Typing relays a member's typing state.
type Typing struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	State          string `json:"state"`
}

// Profile (added) tells a user's contacts and its own devices that its
// profile changed: display name, about or avatar. It carries only what
// everyone may see; the client fetches GET /api/v1/users/{user_id} for
// the rest, which answers with what the viewer may see.
type Profile struct {
	Type        string `json:"type"`
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name"`
}

// HeartbeatAck answers a heartbeat with the server's clock.
type HeartbeatAck struct {
	Type       string `json:"type"`
	ServerTime int64  `json:"server_time"`
}

// ErrorFrame reports a bad frame; the connection stays open.
type ErrorFrame struct {
	Type            string `json:"type"`
	Code            Code   `json:"code"`
	Message         string `json:"message"`
	ClientMessageID string `json:"client_message_id,omitempty"`
	// RetryAfterMS (added) is how long a rate_limited client waits before
	// it resends the refused frame; absent when the server cannot tell.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
	// MessageID and RefusedType (added) name what a refused reaction,
	// edit or delete frame was about: its message_id and type.
	MessageID   string `json:"message_id,omitempty"`
	RefusedType string `json:"refused_type,omitempty"`
}

// NewErrorFrame renders a wire error as the error frame that answers a
// client frame (clientMessageID: the refused message's key, or "").
func NewErrorFrame(e *Error, clientMessageID string) ErrorFrame {
	f := ErrorFrame{Type: TypeError, Code: e.Code, Message: e.Message, ClientMessageID: clientMessageID}
	if e.Code == CodeRateLimited && e.RetryAfter > 0 {
		// Whole milliseconds, rounded up (as Retry-After's seconds are):
		// a client that waits exactly this long waited long enough.
		f.RetryAfterMS = int64((e.RetryAfter + time.Millisecond - 1) / time.Millisecond)
	}
	return f
}

// ServerFrame is any server frame as a client decodes it: the fields of
// every type in one struct, so one pass over the bytes reads any of them.
// Raw holds the bytes it was decoded from.
type ServerFrame struct {
	Type            string   `json:"type"`
	ClientMessageID string   `json:"client_message_id,omitempty"`
	MessageID       string   `json:"message_id,omitempty"`
	ConversationID  string   `json:"conversation_id,omitempty"`
	SenderID        string   `json:"sender_id,omitempty"`
	SequenceNumber  int64    `json:"sequence_number,omitempty"`
	MessageType     string   `json:"message_type,omitempty"`
	Content         string   `json:"content,omitempty"`
	MediaID         string   `json:"media_id,omitempty"`
	CreatedAt       int64    `json:"created_at,omitempty"`
	Status          string   `json:"status,omitempty"`
	Timestamp       int64    `json:"timestamp,omitempty"`
	UserID          string   `json:"user_id,omitempty"`
	LastSeen        *int64   `json:"last_seen,omitempty"`
	State           string   `json:"state,omitempty"`
	ServerTime      int64    `json:"server_time,omitempty"`
	Code            Code     `json:"code,omitempty"`
	Message         string   `json:"message,omitempty"`
	MessageIDs      []string `json:"message_ids,omitempty"`
	RetryAfterMS    int64    `json:"retry_after_ms,omitempty"`
	DisplayName     string   `json:"display_name,omitempty"`
	ReplyTo         string   `json:"reply_to,omitempty"`
	Quote           *Quote   `json:"quote,omitempty"`
	Mentions        []string `json:"mentions,omitempty"`
	EditedAt        int64    `json:"edited_at,omitempty"`
	Deleted         bool     `json:"deleted,omitempty"`
	Forwarded       int      `json:"forwarded,omitempty"`
	ExpiresAt       int64    `json:"expires_at,omitempty"`
	Emoji           string   `json:"emoji,omitempty"`
	For             string   `json:"for,omitempty"`
	DeletedBy       string   `json:"deleted_by,omitempty"`
	RefusedType     string   `json:"refused_type,omitempty"`

	Raw []byte `json:"-"`
}

// DecodeServer parses one server frame. Unknown fields are ignored, as the
// contract asks of clients; an unknown type is returned as it is, for the
// caller to skip.
func DecodeServer(data []byte) (ServerFrame, error) {
	var f ServerFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return ServerFrame{}, fmt.Errorf("wire: malformed server frame: %w", err)
	}
	if f.Type == "" {
		return ServerFrame{}, errors.New("wire: server frame without a type")
	}
	f.Raw = data
	return f, nil
}

// AsMessage returns a message frame's message.
func (f ServerFrame) AsMessage() Message {
	return Message{
		MessageID: f.MessageID, ConversationID: f.ConversationID, SenderID: f.SenderID,
		SequenceNumber: f.SequenceNumber, MessageType: f.MessageType, Content: f.Content,
		MediaID: f.MediaID, CreatedAt: f.CreatedAt,
	}
}

// Encode marshals an outbound frame. Outbound frames are plain structs of
// strings and integers, so marshalling cannot fail; a failure is a bug.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("wire: encoding %T: %v", v, err))
	}
	return b
}
