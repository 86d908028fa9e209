// Package client is Parley's Go SDK: the HTTP API and the WebSocket
// protocol of docs/PROTOCOL.md behind plain methods. Parley's own tests,
// its load generator (parley bench) and bots use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/wire"
)

// Client talks to one Parley server over HTTP. A Client with a Token makes
// authenticated calls; it is safe for concurrent use.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// New returns a client for the server at baseURL (e.g. http://127.0.0.1:8080).
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: http.DefaultClient}
}

// WithToken returns a copy of c that authenticates with token.
func (c *Client) WithToken(token string) *Client {
	cp := *c
	cp.Token = token
	return &cp
}

// Error is an error answer from the server.
type Error struct {
	Status  int    // HTTP status; 0 for WebSocket error frames
	Code    string // machine code: invalid, unauthorized, forbidden, ...
	Message string
	// RetryAfter is how long to wait before trying again, from a 429's
	// Retry-After header or an error frame's retry_after_ms; 0 when the
	// server did not say.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("parley: %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("parley: %s: %s", e.Code, e.Message)
}

// ErrorCode returns the machine code of err if it is a server error, else "".
func ErrorCode(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	return ""
}

// The REST types are the wire package's: the server answers with them, so
// the SDK decodes exactly what it sends.
type (
	User            = wire.User
	Session         = wire.Session
	Presence        = wire.UserPresence
	Settings        = wire.Settings
	Participant     = wire.Participant
	Conversation    = wire.Conversation
	LastMessage     = wire.LastMessage
	Message         = wire.Message
	RecipientStatus = wire.RecipientStatus
	MessageStatus   = wire.MessageStatus
	MessageTrace    = wire.MessageTrace
	TraceRecipient  = wire.TraceRecipient
	TraceDevice     = wire.TraceDevice
)

// Register creates an account.
func (c *Client) Register(ctx context.Context, username, password, displayName string) (User, error) {
	var u User
	err := c.do(ctx, http.MethodPost, "/api/v1/users", wire.RegisterRequest{
		Username: username, Password: password, DisplayName: displayName,
	}, &u)
	return u, err
}

// Login opens a session (a new device) and returns its token.
func (c *Client) Login(ctx context.Context, username, password string) (Session, error) {
	var s Session
	err := c.do(ctx, http.MethodPost, "/api/v1/sessions", wire.LoginRequest{Username: username, Password: password}, &s)
	return s, err
}

// Logout signs this client's session out: its token stops working and the
// session's open connections close with 4001.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/sessions/current", nil, nil)
}

// User returns a user's public profile.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	var u User
	err := c.do(ctx, http.MethodGet, "/api/v1/users/"+url.PathEscape(id), nil, &u)
	return u, err
}

// FindUser returns the user whose username is username, compared
// case-insensitively; a 404 not_found when there is none or it does not
// let itself be found by name. Lookups are rate-limited per user (429).
func (c *Client) FindUser(ctx context.Context, username string) (User, error) {
	var u User
	err := c.do(ctx, http.MethodGet, "/api/v1/users?"+url.Values{"username": {username}}.Encode(), nil, &u)
	return u, err
}

// Presence returns a user's presence.
func (c *Client) Presence(ctx context.Context, id string) (Presence, error) {
	var p Presence
	err := c.do(ctx, http.MethodGet, "/api/v1/users/"+url.PathEscape(id)+"/presence", nil, &p)
	return p, err
}

// Settings returns the caller's privacy settings.
func (c *Client) Settings(ctx context.Context) (Settings, error) {
	var s Settings
	err := c.do(ctx, http.MethodGet, "/api/v1/users/me/settings", nil, &s)
	return s, err
}

// UpdateSettings changes the caller's privacy settings; a field
// left empty stays as it is.
func (c *Client) UpdateSettings(ctx context.Context, u wire.SettingsUpdate) (Settings, error) {
	var s Settings
	err := c.do(ctx, http.MethodPatch, "/api/v1/users/me/settings", u, &s)
	return s, err
}

// CreateDirect returns the 1:1 conversation with another user, creating it
// if needed.
func (c *Client) CreateDirect(ctx context.Context, otherUserID string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPost, "/api/v1/conversations", wire.CreateConversationRequest{
		Type: wire.ConversationDirect, Participants: []string{otherUserID},
	}, &conv)
	return conv, err
}

// CreateGroup creates a group; the caller becomes its admin.
func (c *Client) CreateGroup(ctx context.Context, name string, participants []string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPost, "/api/v1/conversations", wire.CreateConversationRequest{
		Type: wire.ConversationGroup, Name: name, Participants: participants,
	}, &conv)
	return conv, err
}

// Conversations lists the caller's conversations, newest activity first.
func (c *Client) Conversations(ctx context.Context) ([]Conversation, error) {
	var out wire.ConversationList
	err := c.do(ctx, http.MethodGet, "/api/v1/conversations", nil, &out)
	return out.Conversations, err
}

// Conversation returns one conversation.
func (c *Client) Conversation(ctx context.Context, id string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodGet, "/api/v1/conversations/"+url.PathEscape(id), nil, &conv)
	return conv, err
}

// Participants lists a conversation's members.
func (c *Client) Participants(ctx context.Context, id string) ([]Participant, error) {
	var out wire.ParticipantList
	err := c.do(ctx, http.MethodGet, "/api/v1/conversations/"+url.PathEscape(id)+"/participants", nil, &out)
	return out.Participants, err
}

// HistoryOptions selects a page of history: AfterSeq or BeforeSeq (nil for
// neither: the newest page), and Limit (0: the server's default).
type HistoryOptions struct {
	AfterSeq  *int64
	BeforeSeq *int64
	Limit     int
}

// Messages returns a page of a conversation's history, ascending.
func (c *Client) Messages(ctx context.Context, conversationID string, opt HistoryOptions) ([]Message, error) {
	q := url.Values{}
	if opt.AfterSeq != nil {
		q.Set("after_seq", strconv.FormatInt(*opt.AfterSeq, 10))
	}
	if opt.BeforeSeq != nil {
		q.Set("before_seq", strconv.FormatInt(*opt.BeforeSeq, 10))
	}
	if opt.Limit > 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	path := "/api/v1/conversations/" + url.PathEscape(conversationID) + "/messages"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out wire.MessageList
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Messages, err
}

// MessageStatus returns each recipient's state of a message the caller sent.
func (c *Client) MessageStatus(ctx context.Context, messageID string) (MessageStatus, error) {
	var st MessageStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/messages/"+url.PathEscape(messageID)+"/status", nil, &st)
	return st, err
}

// Trace returns where a message the caller sent stands on each recipient
// device (GET /api/v1/messages/{id}/trace).
func (c *Client) Trace(ctx context.Context, messageID string) (MessageTrace, error) {
	var t MessageTrace
	err := c.do(ctx, http.MethodGet, "/api/v1/messages/"+url.PathEscape(messageID)+"/trace", nil, &t)
	return t, err
}

// Do makes a raw API call: body (if not nil) is sent as JSON and a 2xx
// answer is decoded into out (if not nil); other answers become *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, method, path, body, out)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	_, err := c.doWith(ctx, method, path, nil, body, out)
	return err
}

// doWith is do with extra request headers; it also returns the status of
// a successful answer.
func (c *Client) doWith(ctx context.Context, method, path string, hdr http.Header, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("parley: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return 0, fmt.Errorf("parley: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("parley: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("parley: read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb wire.ErrorBody
		_ = json.Unmarshal(data, &eb)
		return 0, &Error{Status: resp.StatusCode, Code: string(eb.Error.Code), Message: eb.Error.Message, RetryAfter: retryAfter(resp)}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return 0, fmt.Errorf("parley: decode answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(resp *http.Response) time.Duration {
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || secs < 0 {
		return 0
	}
	return time.Duration(secs) * time.Second
}

// AddParticipant adds a user to a group (admins only); adding a current
// member changes nothing.
func (c *Client) AddParticipant(ctx context.Context, conversationID, userID string) (conv Conversation, err error) {
	err = c.do(ctx, http.MethodPost, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/participants",
		wire.AddParticipantRequest{UserID: userID}, &conv)
	return conv, err
}

// RemoveParticipant removes a user from a group; removing oneself leaves it.
func (c *Client) RemoveParticipant(ctx context.Context, conversationID, userID string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/participants/"+url.PathEscape(userID), nil, nil)
}

// SetRole makes a member "admin" or "member" (admins only).
func (c *Client) SetRole(ctx context.Context, conversationID, userID, role string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPatch, "/api/v1/conversations/"+url.PathEscape(conversationID)+"/participants/"+url.PathEscape(userID),
		wire.SetRoleRequest{Role: role}, &conv)
	return conv, err
}

// Rename renames a group (admins only).
func (c *Client) Rename(ctx context.Context, conversationID, name string) (Conversation, error) {
	var conv Conversation
	err := c.do(ctx, http.MethodPatch, "/api/v1/conversations/"+url.PathEscape(conversationID), wire.RenameRequest{Name: &name}, &conv)
	return conv, err
}
