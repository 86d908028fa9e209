package wire

import "encoding/json"

// The REST API's request and response bodies (docs/PROTOCOL.md §1, §2, §7).
// Times are Unix milliseconds. The server answers with these types and the
// Go SDK decodes into them, so a field added here reaches both at once.

// RegisterRequest is the body of POST /api/v1/users. An empty display
// name is the username.
type RegisterRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name,omitempty"`
}

// LoginRequest is the body of POST /api/v1/sessions. DeviceName names the
// new session in its user's devices list (at most MaxDeviceNameLen
// printable characters); empty, the server uses the User-Agent.
type LoginRequest struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	DeviceName string `json:"device_name,omitempty"`
}

// User is a registered account's public profile. About and Avatar
// (added) appear only where the user's privacy settings let the caller
// see them, and when set; the user itself always sees its own.
type User struct {
	UserID      string  `json:"user_id"`
	Username    string  `json:"username"`
	DisplayName string  `json:"display_name"`
	About       string  `json:"about,omitempty"`
	Avatar      *Avatar `json:"avatar,omitempty"`
	// Deleted (added) marks an account its owner deleted: username and
	// display_name are empty; clients show "Deleted account".
	Deleted bool `json:"deleted,omitempty"`
	// Bot (added) marks a bot account (docs/PROTOCOL.md, "Bots");
	// BotOwnerID is the user who manages it.
	Bot        bool   `json:"bot,omitempty"`
	BotOwnerID string `json:"bot_owner_id,omitempty"`
}

// CreateBotRequest is the body of POST /api/v1/bots: the bot's username
// and display name, checked as a registration's.
type CreateBotRequest struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name,omitempty"`
}

// BotKey answers POST /api/v1/bots (201) and POST /api/v1/bots/{id}/key:
// the bot's API key, shown this once. BotID is the bot's user_id.
type BotKey struct {
	BotID  string `json:"bot_id"`
	UserID string `json:"user_id"`
	APIKey string `json:"api_key"`
}

// Bot is one of the caller's bots, in a BotList: never its key.
// KeyCreatedAt is when its current key was made; left out when it has
// none (revoked).
type Bot struct {
	BotID        string `json:"bot_id"`
	UserID       string `json:"user_id"`
	Username     string `json:"username"`
	DisplayName  string `json:"display_name"`
	CreatedAt    int64  `json:"created_at"`
	KeyCreatedAt *int64 `json:"key_created_at,omitempty"`
}

// BotList answers GET /api/v1/bots: the caller's bots, oldest first.
type BotList struct {
	Bots []Bot `json:"bots"`
}

// SetWebhookRequest is the body of PUT /api/v1/bots/{id}/webhook.
type SetWebhookRequest struct {
	URL string `json:"url"`
}

// Webhook answers PUT and GET /api/v1/bots/{id}/webhook. Secret, which
// signs every request, is shown once: in the PUT's answer.
type Webhook struct {
	URL       string `json:"url"`
	Secret    string `json:"secret,omitempty"`
	CreatedAt int64  `json:"created_at"`
}

// WebhookEvent is the body of every webhook request: Data is the frame a
// WebSocket would carry (message, reaction, message_edited,
// message_deleted), ID the event's id, also sent as Idempotency-Key.
type WebhookEvent struct {
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	BotID          string          `json:"bot_id"`
	ConversationID string          `json:"conversation_id"`
	CreatedAt      int64           `json:"created_at"`
	Data           json.RawMessage `json:"data"`
}

// WebhookDelivery is an event that failed at least once: retrying, then
// delivered or (parked) failed. LastStatus is the endpoint's last HTTP
// status, absent if it did not answer.
type WebhookDelivery struct {
	EventID        string `json:"event_id"`
	ConversationID string `json:"conversation_id"`
	Type           string `json:"type"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	FirstAttemptAt int64  `json:"first_attempt_at"`
	LastAttemptAt  int64  `json:"last_attempt_at"`
	LastStatus     int    `json:"last_status,omitempty"`
	LastError      string `json:"last_error,omitempty"`
}

// WebhookDeliveries answers GET /api/v1/bots/{id}/deliveries, newest
// attempt first.
type WebhookDeliveries struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
}

// DeleteAccountRequest is the body of DELETE /api/v1/users/me.
type DeleteAccountRequest struct {
	Password string `json:"password"`
}

// Avatar is a user's or a group's picture: a square JPEG at 640 x 640
// (URL640) and a 96 x 96 thumbnail (URL96). The URLs are short-lived like
// media downloads; AvatarID changes whenever the picture does, so a
// client may cache the images by it.
type Avatar struct {
	AvatarID string `json:"avatar_id"`
	URL640   string `json:"url_640"`
	URL96    string `json:"url_96"`
}

// ProfileUpdate is the body of PATCH /api/v1/users/me/profile: a field
// left out is left as it is. AvatarMediaID names a ready image the caller
// uploaded, made into its avatar; "" (or null) removes the avatar.
type ProfileUpdate struct {
	DisplayName   *string `json:"display_name,omitempty"`
	About         *string `json:"about,omitempty"`
	AvatarMediaID *string `json:"avatar_media_id,omitempty"`
}

// AvatarRequest is the body of PUT /api/v1/conversations/{id}/avatar: a
// ready image the caller uploaded.
type AvatarRequest struct {
	MediaID string `json:"media_id"`
}

// DisappearingRequest (added) is the body of PUT
// /api/v1/conversations/{id}/disappearing: one of DisappearingOptions.
type DisappearingRequest struct {
	Seconds *int `json:"seconds"`
}

// Session is a login: a token for one device.
type Session struct {
	Token     string `json:"token"`
	UserID    string `json:"user_id"`
	DeviceID  string `json:"device_id"`
	ExpiresAt int64  `json:"expires_at"`
}

// SessionInfo is one signed-in device of the caller, in a SessionList.
// SessionID is the device_id its login returned; LastActiveAt is its last
// authenticated use, to within a minute; Current marks the caller's own.
type SessionInfo struct {
	SessionID    string `json:"session_id"`
	DeviceName   string `json:"device_name"`
	CreatedAt    int64  `json:"created_at"`
	LastActiveAt int64  `json:"last_active_at"`
	Current      bool   `json:"current"`
}

// SessionList answers GET /api/v1/sessions: the caller's sessions, most
// recently active first.
type SessionList struct {
	Sessions []SessionInfo `json:"sessions"`
}

// Contact is one of the caller's contacts, in a ContactList. AddedAt is
// when the caller added it by hand (PUT /api/v1/users/me/contacts/{id});
// left out for a contact by the default rule only (a 1:1 it created or
// wrote in).
type Contact struct {
	UserID      string `json:"user_id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	AddedAt     *int64 `json:"added_at,omitempty"`
}

// ContactList answers GET /api/v1/users/me/contacts: the caller's
// contacts, by display name.
type ContactList struct {
	Contacts []Contact `json:"contacts"`
}

// Block is a user the caller blocks, in a BlockList.
type Block struct {
	UserID      string `json:"user_id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	BlockedAt   int64  `json:"blocked_at"`
}

// BlockList answers GET /api/v1/users/me/blocks: whom the caller blocks,
// most recent first.
type BlockList struct {
	Blocks []Block `json:"blocks"`
}

// ChangePasswordRequest is the body of PUT /api/v1/users/me/password.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// UserPresence answers GET /api/v1/users/{id}/presence. LastSeen is null
// when unknown or hidden by the user's privacy settings.
type UserPresence struct {
	UserID   string `json:"user_id"`
	Status   string `json:"status"`
	LastSeen *int64 `json:"last_seen"`
}

// Visibility values of the presence privacy settings.
const (
	VisibilityEveryone = "everyone"
	VisibilityContacts = "contacts"
	VisibilityNobody   = "nobody"
)

// Discoverable values: who may find a user by its username
// (GET /api/v1/users?username=). VisibilityEveryone and VisibilityNobody
// spell the same words.
const (
	DiscoverableEveryone = "everyone"
	DiscoverableNobody   = "nobody"
)

// Settings are a user's privacy settings: who sees its presence, and who
// finds it by its username (Discoverable).
// AvatarVisibility and AboutVisibility (added) say who sees its avatar
// and its about text.
type Settings struct {
	LastSeenVisibility string `json:"last_seen_visibility"`
	OnlineVisibility   string `json:"online_visibility"`
	Discoverable       string `json:"discoverable"`
	AvatarVisibility   string `json:"avatar_visibility"`
	AboutVisibility    string `json:"about_visibility"`
}

// SettingsUpdate is the body of PATCH /api/v1/users/me/settings: a field
// left out (empty) is left as it is.
type SettingsUpdate struct {
	LastSeenVisibility string `json:"last_seen_visibility,omitempty"`
	OnlineVisibility   string `json:"online_visibility,omitempty"`
	Discoverable       string `json:"discoverable,omitempty"`
	AvatarVisibility   string `json:"avatar_visibility,omitempty"`
	AboutVisibility    string `json:"about_visibility,omitempty"`
}

// Conversation types and member roles.
const (
	ConversationDirect = "1:1"
	ConversationGroup  = "group"

	RoleAdmin  = "admin"
	RoleMember = "member"
)

// CreateConversationRequest is the body of POST /api/v1/conversations:
// a 1:1 names exactly one other participant; a group has a name.
type CreateConversationRequest struct {
	Type         string   `json:"type"`
	Name         string   `json:"name,omitempty"`
	Participants []string `json:"participants"`
	// Description is a group's (added with group info).
	Description string `json:"description,omitempty"`
}

// RenameRequest is the body of PATCH /api/v1/conversations/{id}: a
// group's name, description and settings, each left as it is when absent;
// at least one is given.
type RenameRequest struct {
	Name               *string `json:"name,omitempty"`
	Description        *string `json:"description,omitempty"`
	OnlyAdminsSend     *bool   `json:"only_admins_send,omitempty"`
	OnlyAdminsEditInfo *bool   `json:"only_admins_edit_info,omitempty"`
}

// AddParticipantRequest is the body of POST
// /api/v1/conversations/{id}/participants.
type AddParticipantRequest struct {
	UserID string `json:"user_id"`
}

// SetRoleRequest is the body of PATCH
// /api/v1/conversations/{id}/participants/{user_id}.
type SetRoleRequest struct {
	Role string `json:"role"`
}

// Participant is a member of a conversation.
type Participant struct {
	UserID string `json:"user_id"`
	Role   string `json:"role"`
}

// Conversation is a 1:1 chat or a group. UnreadCount and LastMessage are
// set only in the caller's list.
type Conversation struct {
	ConversationID     string        `json:"conversation_id"`
	Type               string        `json:"type"`
	Name               string        `json:"name"`
	Participants       []Participant `json:"participants"`
	LastSequenceNumber int64         `json:"last_sequence_number"`
	CreatedBy          string        `json:"created_by"`
	CreatedAt          int64         `json:"created_at"`
	LastActivityAt     int64         `json:"last_activity_at"`
	// A group's description and settings; absent when empty or false.
	Description        string `json:"description,omitempty"`
	OnlyAdminsSend     bool   `json:"only_admins_send,omitempty"`
	OnlyAdminsEditInfo bool   `json:"only_admins_edit_info,omitempty"`
	UnreadCount        *int64 `json:"unread_count,omitempty"`
	UnreadMentions     *int64 `json:"unread_mentions,omitempty"`
	// Pinned (added): the pinned messages' ids, oldest pin first.
	Pinned      []string     `json:"pinned,omitempty"`
	LastMessage *LastMessage `json:"last_message,omitempty"`
	// Avatar (added) is a group's picture, when it has one.
	Avatar *Avatar `json:"avatar,omitempty"`
	// DisappearingSeconds (added): how long after it is sent each new
	// message disappears; absent when off.
	DisappearingSeconds int `json:"disappearing_seconds,omitempty"`
}

// LastMessage is a conversation's newest message, as its list entry shows it.
type LastMessage struct {
	MessageID      string `json:"message_id"`
	SenderID       string `json:"sender_id"`
	SequenceNumber int64  `json:"sequence_number"`
	MessageType    string `json:"message_type"`
	Content        string `json:"content"`
	CreatedAt      int64  `json:"created_at"`
	// Deleted and EditedAt (added) are as a Message's.
	Deleted  bool  `json:"deleted,omitempty"`
	EditedAt int64 `json:"edited_at,omitempty"`
}

// ConversationList answers GET /api/v1/conversations.
type ConversationList struct {
	Conversations []Conversation `json:"conversations"`
}

// ParticipantList answers GET /api/v1/conversations/{id}/participants.
type ParticipantList struct {
	Participants []Participant `json:"participants"`
}

// MessageList answers GET /api/v1/conversations/{id}/messages: Message
// values without their frame type, ascending by sequence number.
type MessageList struct {
	Messages []Message `json:"messages"`
}

// RecipientStatus is one recipient's receipt state of a message.
type RecipientStatus struct {
	UserID    string `json:"user_id"`
	Status    string `json:"status"`
	UpdatedAt int64  `json:"updated_at"`
}

// MessageStatus answers GET /api/v1/messages/{id}/status. Status is the
// aggregate over Recipients: read, delivered or sent.
type MessageStatus struct {
	MessageID      string            `json:"message_id"`
	ConversationID string            `json:"conversation_id"`
	Status         string            `json:"status"`
	Recipients     []RecipientStatus `json:"recipients"`
}

// Device states of the delivery trace (GET /api/v1/messages/{id}/trace).
const (
	// TraceQueued: the message waits in the device's offline queue.
	TraceQueued = "queued"
	// TraceWritten: the message was written to a connection of the device,
	// which has not acknowledged it yet.
	TraceWritten = "written"
	// TraceAcknowledged: the device's delivery cursor passed the message.
	TraceAcknowledged = "acknowledged"
	// TraceExpired: the message disappeared before the device had it.
	TraceExpired = "expired"
)

// MessageTrace answers GET /api/v1/messages/{id}/trace: where a message
// stands on each recipient and each of its devices, for its sender. Times
// are Unix ms; CommittedAt is when it was stored ("sent"). DeletedAt is
// set for a message deleted for everyone; ExpiresAt for a disappearing
// one.
type MessageTrace struct {
	MessageID      string           `json:"message_id"`
	ConversationID string           `json:"conversation_id"`
	CommittedAt    int64            `json:"committed_at"`
	DeletedAt      int64            `json:"deleted_at,omitempty"`
	ExpiresAt      int64            `json:"expires_at,omitempty"`
	Recipients     []TraceRecipient `json:"recipients"`
}

// TraceRecipient is one recipient of a traced message: its receipt status
// (per user, as GET …/status answers it), when it was delivered to and read
// by the user, and each of its devices.
type TraceRecipient struct {
	UserID      string        `json:"user_id"`
	Status      string        `json:"status"`
	DeliveredAt int64         `json:"delivered_at,omitempty"`
	ReadAt      int64         `json:"read_at,omitempty"`
	Devices     []TraceDevice `json:"devices"`
}

// TraceDevice is one device (session) of a recipient. State is one of the
// Trace* constants; QueuedSince, WrittenAt and AcknowledgedAt are set when
// known (WrittenAt and AcknowledgedAt are "at the latest", see
// docs/PROTOCOL.md). Online is the device's connection as the caller may
// see its owner's online status.
type TraceDevice struct {
	DeviceID       string `json:"device_id"`
	DeviceName     string `json:"device_name"`
	State          string `json:"state"`
	QueuedSince    int64  `json:"queued_since,omitempty"`
	WrittenAt      int64  `json:"written_at,omitempty"`
	AcknowledgedAt int64  `json:"acknowledged_at,omitempty"`
	Online         bool   `json:"online"`
}

// CreateMediaRequest is the body of POST /api/v1/media. Size is a pointer
// so that a missing size is told apart from zero.
type CreateMediaRequest struct {
	ContentType string `json:"content_type"`
	Size        *int64 `json:"size"`
}

// Upload is a new upload: PUT the bytes to UploadURL, then complete it.
type Upload struct {
	MediaID      string `json:"media_id"`
	UploadURL    string `json:"upload_url"`
	UploadMethod string `json:"upload_method"`
	ExpiresIn    int64  `json:"expires_in"` // seconds
}

// Media statuses and kinds.
const (
	MediaPending    = "pending"
	MediaProcessing = "processing"
	MediaReady      = "ready"
	MediaFailed     = "failed"

	KindImage    = "image"
	KindVideo    = "video"
	KindAudio    = "audio"
	KindDocument = "document"
)

// Media is a media item's metadata. Optional fields are left out when they
// do not apply (no width for audio, no URLs unless ready); URLs are
// short-lived.
type Media struct {
	MediaID       string `json:"media_id"`
	Status        string `json:"status"`
	Kind          string `json:"kind"`
	ContentType   string `json:"content_type"`
	Size          int64  `json:"size"`
	Width         int    `json:"width,omitempty"`
	Height        int    `json:"height,omitempty"`
	DurationMS    int64  `json:"duration_ms,omitempty"`
	Codec         string `json:"codec,omitempty"`
	Waveform      []int  `json:"waveform,omitempty"`
	URL           string `json:"url,omitempty"`
	ThumbnailURL  string `json:"thumbnail_url,omitempty"`
	CompressedURL string `json:"compressed_url,omitempty"`
	Reason        string `json:"reason,omitempty"`
	UploaderID    string `json:"uploader_id"`
	CreatedAt     int64  `json:"created_at"`
}

// ServerInfo answers GET /api/v1/server: what this server can process now
// and the limits it enforces, so a client offers only what will work.
type ServerInfo struct {
	Media  MediaSupport `json:"media"`
	Limits ServerLimits `json:"limits"`
}

// MediaSupport says, per media kind, whether uploads of it can be processed
// now (video and audio need ffmpeg on the server).
type MediaSupport struct {
	Image    bool `json:"image"`
	Video    bool `json:"video"`
	Audio    bool `json:"audio"`
	Document bool `json:"document"`
}

// ServerLimits are a server's configured limits; sizes are in bytes
// (message content in bytes of UTF-8, not characters) and the group size
// counts the creator.
type ServerLimits struct {
	MaxContentBytes  int   `json:"max_content_bytes"`
	MaxGroupSize     int   `json:"max_group_size"`
	MaxImageBytes    int64 `json:"max_image_bytes"`
	MaxVideoBytes    int64 `json:"max_video_bytes"`
	MaxAudioBytes    int64 `json:"max_audio_bytes"`
	MaxDocumentBytes int64 `json:"max_document_bytes"`
	MaxImagePixels   int64 `json:"max_image_pixels"`
}

// ErrorBody is every HTTP error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and message of an HTTP error answer.
type ErrorDetail struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Invite is a group's invite link, as its admins see it: the answer of
// POST /api/v1/conversations/{id}/invites and an entry of InviteList.
// Code is the secret a joiner needs; the web client's link is
// <origin>/#/join/<code>.
type Invite struct {
	Code           string `json:"code"`
	ConversationID string `json:"conversation_id"`
	CreatedBy      string `json:"created_by"`
	CreatedAt      int64  `json:"created_at"`
}

// InviteList answers GET /api/v1/conversations/{id}/invites.
type InviteList struct {
	Invites []Invite `json:"invites"`
}

// InvitePreview answers GET /api/v1/invites/{code}: what a would-be
// joiner sees of the group, and nothing more.
type InvitePreview struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	MemberCount int     `json:"member_count"`
	Avatar      *Avatar `json:"avatar,omitempty"`
}

// SendRequest (added) is the body of POST
// /api/v1/conversations/{id}/messages: the fields of a ClientMessage
// frame but the two the request carries elsewhere, the conversation (its
// path) and the idempotency key (its Idempotency-Key header). It is
// validated exactly as the frame is. Content is required, as in the frame.
type SendRequest struct {
	MessageType string   `json:"message_type"`
	Content     *string  `json:"content"`
	MediaID     string   `json:"media_id,omitempty"`
	ReplyTo     string   `json:"reply_to,omitempty"`
	Mentions    []string `json:"mentions,omitempty"`
	ForwardOf   string   `json:"forward_of,omitempty"`
}

// SentMessage (added) answers POST /api/v1/conversations/{id}/messages
// once the message is committed: the fields of a MessageAck, with the
// Idempotency-Key as client_message_id. A key sent again gets the same
// answer, with status 200 instead of 201.
type SentMessage struct {
	ClientMessageID string `json:"client_message_id"`
	MessageID       string `json:"message_id"`
	ConversationID  string `json:"conversation_id"`
	SequenceNumber  int64  `json:"sequence_number"`
	Status          string `json:"status"`
	Timestamp       int64  `json:"timestamp"`
}

// ReceiptRequest (added) is the body of POST
// /api/v1/conversations/{id}/read and POST /api/v1/messages/delivered:
// 1–MaxIDsPerFrame message ids, as in a read_receipt or delivery_ack frame.
type ReceiptRequest struct {
	MessageIDs []string `json:"message_ids"`
}

// IdempotencyKeyHeader names the header that carries a REST send's key
// (added): a client_message_id, at most MaxIDLength bytes of UTF-8.
const IdempotencyKeyHeader = "Idempotency-Key"

// VAPIDKey answers GET /api/v1/push/vapid: the application server key a
// browser passes to pushManager.subscribe as applicationServerKey.
type VAPIDKey struct {
	// PublicKey is base64url (no padding) of the uncompressed P-256 point,
	// 65 bytes.
	PublicKey string `json:"public_key"`
}

// PushSubscription is the body of POST /api/v1/push/subscriptions: the
// browser's PushSubscription.toJSON() as it is. The server keeps one per
// device (session) and pushes to it while the device has no connection.
type PushSubscription struct {
	// Endpoint is the push service's URL for this subscription: https.
	Endpoint string `json:"endpoint"`
	// ExpirationTime is the browser's, if any; the server ignores it (a
	// subscription that expired answers 410 and is deleted then).
	ExpirationTime *int64               `json:"expirationTime,omitempty"`
	Keys           PushSubscriptionKeys `json:"keys"`
}

// PushSubscriptionKeys are a subscription's keys, base64url.
type PushSubscriptionKeys struct {
	// P256DH is the user agent's public key, an uncompressed P-256 point.
	P256DH string `json:"p256dh"`
	// Auth is its 16-byte authentication secret.
	Auth string `json:"auth"`
}

// PushRelay is the body of POST /api/v1/push/relays (added): a native
// app's push gateway (a Sygnal-like relay in front of FCM or APNs) that the
// server POSTs a signed PushRelayNotice to while the device has no
// connection. One per device, beside its Web Push subscription if any.
type PushRelay struct {
	// URL is the relay's endpoint: absolute, https, a public address, at
	// most 2048 bytes.
	URL string `json:"url"`
	// AppID names the app at the relay: 1 to 256 printable ASCII.
	AppID string `json:"app_id"`
	// Pushkey is the device's token at the vendor (FCM, APNs), opaque:
	// 1 to 4096 bytes.
	Pushkey string `json:"pushkey"`
}

// PushRelayNotice is the JSON the server POSTs to a relay, signed in the
// Parley-Signature header (docs/PROTOCOL.md, "Push"): who wrote where,
// never the content.
type PushRelayNotice struct {
	Notice PushRelayNoticeBody `json:"notice"`
}

// PushRelayNoticeBody is a relay notice's content.
type PushRelayNoticeBody struct {
	// ID is unique per notice and the same in its retries; it is also the
	// Idempotency-Key header.
	ID             string `json:"id"`
	Type           string `json:"type"` // "message"
	AppID          string `json:"app_id"`
	Pushkey        string `json:"pushkey"`
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	SenderName     string `json:"sender_name"`
	// Unread is the user's unread count in the conversation, for a badge.
	Unread int `json:"unread"`
	// SentAt is when the message was committed, RFC 3339 in UTC to the
	// second (not Unix milliseconds as elsewhere: a relay passes it on).
	SentAt string `json:"sent_at"`
}

// PushNotice is the JSON a push carries to the service worker, encrypted
// for its device (RFC 8291): who wrote where, never the content.
type PushNotice struct {
	Type           string `json:"type"` // "message"
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	SenderName     string `json:"sender_name"`
	// Unread is the user's unread count in the conversation, for a badge.
	Unread int `json:"unread"`
}
