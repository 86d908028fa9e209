package wire

// Client frames as a client builds them, one type per frame, named as
// their schemas in asyncapi.json. The server decodes any of them into the
// flat Inbound (one pass over the bytes); Inbound.Typed gives them back.

// ClientMessage sends a message; the answer is a MessageAck or an
// ErrorFrame with the same ClientMessageID.
type ClientMessage struct {
	Type            string `json:"type"`
	ClientMessageID string `json:"client_message_id"`
	ConversationID  string `json:"conversation_id"`
	MessageType     string `json:"message_type"`
	Content         string `json:"content"`
	MediaID         string `json:"media_id,omitempty"`
	// ReplyTo (added): the message of the conversation this one answers.
	ReplyTo string `json:"reply_to,omitempty"`
	// Mentions (added): members of the conversation this one names.
	Mentions []string `json:"mentions,omitempty"`
	// ForwardOf (added): the message, of any conversation the sender can
	// see, that this one forwards.
	ForwardOf string `json:"forward_of,omitempty"`
}

// Forward returns m as a forward of messageID.
func (m ClientMessage) Forward(messageID string) ClientMessage {
	m.ForwardOf = messageID
	return m
}

// ClientReaction (added) sets the user's reaction to a message; an empty
// Emoji removes it. The other members' devices and the user's get a
// Reaction; a refusal is an ErrorFrame naming the message.
type ClientReaction struct {
	Type      string `json:"type"`
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// ClientEdit (added) replaces the content of the user's own text message.
type ClientEdit struct {
	Type      string `json:"type"`
	MessageID string `json:"message_id"`
	Content   string `json:"content"`
}

// ClientDelete (added) deletes a message for everyone or for the user.
type ClientDelete struct {
	Type      string `json:"type"`
	MessageID string `json:"message_id"`
	For       string `json:"for"`
}

// NewReaction returns the frame that reacts to a message.
func NewReaction(messageID, emoji string) ClientReaction {
	return ClientReaction{Type: TypeReaction, MessageID: messageID, Emoji: emoji}
}

// NewEdit returns the frame that edits a message.
func NewEdit(messageID, content string) ClientEdit {
	return ClientEdit{Type: TypeEdit, MessageID: messageID, Content: content}
}

// NewDelete returns the frame that deletes a message (for: DeleteForEveryone
// or DeleteForMe).
func NewDelete(messageID, forWhom string) ClientDelete {
	return ClientDelete{Type: TypeDelete, MessageID: messageID, For: forWhom}
}

// Mention returns m naming userIDs.
func (m ClientMessage) Mention(userIDs ...string) ClientMessage {
	m.Mentions = userIDs
	return m
}

// Reply returns m as a reply to messageID.
func (m ClientMessage) Reply(messageID string) ClientMessage {
	m.ReplyTo = messageID
	return m
}

// ClientDeliveryAck says the device has stored these messages.
type ClientDeliveryAck struct {
	Type       string   `json:"type"`
	MessageIDs []string `json:"message_ids"`
}

// ClientReadReceipt says the user has read these messages of a
// conversation.
type ClientReadReceipt struct {
	Type           string   `json:"type"`
	ConversationID string   `json:"conversation_id"`
	MessageIDs     []string `json:"message_ids"`
}

// ClientHeartbeat keeps the connection alive; the answer is a
// HeartbeatAck.
type ClientHeartbeat struct {
	Type      string `json:"type"`
	Timestamp int64  `json:"timestamp,omitempty"`
}

// ClientTyping tells the other members that the user is typing (or
// stopped).
type ClientTyping struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	State          string `json:"state"`
}

// ClientPresenceSubscribe asks for these users' presence. UserIDs must not
// be nil: an empty list is sent as [].
type ClientPresenceSubscribe struct {
	Type    string   `json:"type"`
	UserIDs []string `json:"user_ids"`
}

// NewMessage returns the frame that sends a message.
func NewMessage(clientMessageID, conversationID, messageType, content, mediaID string) ClientMessage {
	return ClientMessage{Type: TypeMessage, ClientMessageID: clientMessageID, ConversationID: conversationID,
		MessageType: messageType, Content: content, MediaID: mediaID}
}

// NewDeliveryAck returns the frame that acknowledges messages.
func NewDeliveryAck(messageIDs []string) ClientDeliveryAck {
	return ClientDeliveryAck{Type: TypeDeliveryAck, MessageIDs: messageIDs}
}

// NewReadReceipt returns the frame that marks messages read.
func NewReadReceipt(conversationID string, messageIDs []string) ClientReadReceipt {
	return ClientReadReceipt{Type: TypeReadReceipt, ConversationID: conversationID, MessageIDs: messageIDs}
}

// NewHeartbeat returns a heartbeat carrying the client's clock (Unix ms,
// or 0 for none).
func NewHeartbeat(timestamp int64) ClientHeartbeat {
	return ClientHeartbeat{Type: TypeHeartbeat, Timestamp: timestamp}
}

// NewTyping returns the frame that relays a typing state.
func NewTyping(conversationID, state string) ClientTyping {
	return ClientTyping{Type: TypeTyping, ConversationID: conversationID, State: state}
}

// NewPresenceSubscribe returns the frame that subscribes to users'
// presence.
func NewPresenceSubscribe(userIDs []string) ClientPresenceSubscribe {
	if userIDs == nil {
		userIDs = []string{}
	}
	return ClientPresenceSubscribe{Type: TypePresenceSubscribe, UserIDs: userIDs}
}

// Typed returns the decoded frame as its own type (a ClientMessage, ...),
// the value a client would have encoded; nil for an unknown type.
func (f *Inbound) Typed() any {
	switch f.Type {
	case TypeMessage:
		var content string
		if f.Content != nil {
			content = *f.Content
		}
		return NewMessage(f.ClientMessageID, f.ConversationID, f.MessageType, content, f.MediaID).
			Reply(f.ReplyTo).Mention(f.Mentions...).Forward(f.ForwardOf)
	case TypeReaction:
		var emoji string
		if f.Emoji != nil {
			emoji = *f.Emoji
		}
		return NewReaction(f.MessageID, emoji)
	case TypeEdit:
		var content string
		if f.Content != nil {
			content = *f.Content
		}
		return NewEdit(f.MessageID, content)
	case TypeDelete:
		return NewDelete(f.MessageID, f.For)
	case TypeDeliveryAck:
		return NewDeliveryAck(f.MessageIDs)
	case TypeReadReceipt:
		return NewReadReceipt(f.ConversationID, f.MessageIDs)
	case TypeHeartbeat:
		return NewHeartbeat(f.Timestamp)
	case TypeTyping:
		return NewTyping(f.ConversationID, f.State)
	case TypePresenceSubscribe:
		return NewPresenceSubscribe(f.UserIDs)
	}
	return nil
}
