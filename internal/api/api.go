// Package api serves Parley's HTTP API (/api/v1) on net/http's ServeMux:
// JSON in and out, bearer-token authentication, and one place where domain
// errors become HTTP statuses and wire codes.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/errmap"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/wire"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = wire.MaxBodyBytes

// Identity is the identity service as the API uses it.
type Identity interface {
	Devices
	Register(ctx context.Context, username, password, displayName string) (identity.User, error)
	Authenticate(ctx context.Context, token string) (identity.Device, error)
	Logout(ctx context.Context, d identity.Device) error
	User(ctx context.Context, id string) (identity.User, error)
	FindUser(ctx context.Context, viewer, username string) (identity.User, error)
	Discoverability(ctx context.Context, userID string) (identity.Discoverability, error)
	SetDiscoverability(ctx context.Context, userID string, d identity.Discoverability) (identity.Discoverability, error)
}

// Conversations is the conversations service as the API uses it.
type Conversations interface {
	CreateDirect(ctx context.Context, caller, other string) (conversations.Conversation, bool, error)
	Get(ctx context.Context, caller, id string) (conversations.Conversation, error)
	List(ctx context.Context, caller string) ([]conversations.Summary, error)
	CreateGroup(ctx context.Context, creator conversations.Actor, name, description string, participants []string) (conversations.Conversation, error)
	AddMember(ctx context.Context, actor conversations.Actor, conversationID, userID string) (conversations.Conversation, bool, error)
	RemoveMember(ctx context.Context, actor conversations.Actor, conversationID, userID string) error
	SetRole(ctx context.Context, actor conversations.Actor, conversationID, userID, role string) (conversations.Conversation, error)
	UpdateGroup(ctx context.Context, actor conversations.Actor, conversationID string, u conversations.GroupUpdate) (conversations.Conversation, error)
}

// Messages is the messaging service as the API uses it.
type Messages interface {
	History(ctx context.Context, userID, conversationID string, q messaging.HistoryQuery) ([]messaging.Message, error)
	MessageStatus(ctx context.Context, userID, messageID string) (messaging.Message, []messaging.RecipientStatus, error)
	Trace(ctx context.Context, userID, messageID string) (messaging.Trace, error)
}

// Presence answers presence questions and keeps privacy settings.
type Presence interface {
	Get(ctx context.Context, viewer, userID string) (presence.State, error)
	Settings(ctx context.Context, userID string) (presence.Settings, error)
	UpdateSettings(ctx context.Context, userID string, lastSeen, online presence.Visibility) (presence.Settings, error)
}

// API holds the handlers' dependencies.
type API struct {
	ids   Identity
	convs Conversations
	msgs  Messages
	pres  Presence
	log   *slog.Logger
	// listen is the address the server is served on (SetListenAddr).
	listen atomic.Pointer[netip.AddrPort]

	authLimits   AuthLimits
	lookupLimits LookupLimits
	// profiles, once registered (RegisterProfiles), adds about and
	// avatars to users and avatars to groups.
	profiles Profiles
}

// New returns the API.
func New(ids Identity, convs Conversations, msgs Messages, pres Presence, log *slog.Logger) *API {
	return &API{ids: ids, convs: convs, msgs: msgs, pres: pres, log: log}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/users", a.createUser)
	mux.HandleFunc("POST /api/v1/sessions", a.createSession)
	mux.Handle("DELETE /api/v1/sessions/current", a.auth(a.deleteSession))
	mux.Handle("GET /api/v1/sessions", a.auth(a.listSessions))
	mux.Handle("DELETE /api/v1/sessions/{session_id}", a.auth(a.endSession))
	mux.Handle("DELETE /api/v1/sessions", a.auth(a.endOtherSessions))
	mux.Handle("PUT /api/v1/users/me/password", a.auth(a.changePassword))
	mux.Handle("GET /api/v1/users", a.auth(a.findUser))
	mux.Handle("GET /api/v1/users/{id}", a.auth(a.getUser))
	mux.Handle("GET /api/v1/users/{id}/presence", a.auth(a.getPresence))
	mux.Handle("GET /api/v1/users/me/settings", a.auth(a.getSettings))
	mux.Handle("PATCH /api/v1/users/me/settings", a.auth(a.patchSettings))
	mux.Handle("POST /api/v1/conversations", a.auth(a.createConversation))
	mux.Handle("GET /api/v1/conversations", a.auth(a.listConversations))
	mux.Handle("GET /api/v1/conversations/{id}", a.auth(a.getConversation))
	mux.Handle("PATCH /api/v1/conversations/{id}", a.auth(a.updateConversation))
	mux.Handle("GET /api/v1/conversations/{id}/participants", a.auth(a.getParticipants))
	mux.Handle("POST /api/v1/conversations/{id}/participants", a.auth(a.addParticipant))
	mux.Handle("PATCH /api/v1/conversations/{id}/participants/{user_id}", a.auth(a.setRole))
	mux.Handle("DELETE /api/v1/conversations/{id}/participants/{user_id}", a.auth(a.removeParticipant))
	mux.Handle("GET /api/v1/conversations/{id}/messages", a.auth(a.getMessages))
	mux.Handle("GET /api/v1/messages/{id}/status", a.auth(a.getMessageStatus))
	mux.Handle("GET /api/v1/messages/{id}/trace", a.auth(a.getMessageTrace))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, wire.NewError(wire.CodeNotFound, "no such endpoint"))
	})
}

type ctxKey struct{}

// session is the authenticated caller.
func session(ctx context.Context) identity.Device {
	d, _ := ctx.Value(ctxKey{}).(identity.Device)
	return d
}

// actor is the authenticated caller as the author of a change.
func actor(ctx context.Context) conversations.Actor {
	d := session(ctx)
	return conversations.Actor{UserID: d.UserID, DeviceID: d.ID}
}

// auth wraps a handler with bearer-token authentication.
func (a *API) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			WriteError(w, identity.ErrBadToken)
			return
		}
		d, err := a.ids.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, d)))
	})
}

// decode reads a JSON body into v; a malformed body is a 400 invalid.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return wire.NewError(wire.CodeTooLarge, "request body is too large")
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return wire.Invalid("field " + te.Field + " has the wrong type")
		}
		if errors.Is(err, io.EOF) {
			return wire.Invalid("request body is empty")
		}
		return wire.Invalid("request body is not valid JSON")
	}
	if dec.More() {
		return wire.Invalid("request body has data after the JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError answers err with its status and wire code.
func WriteError(w http.ResponseWriter, err error) { errmap.WriteHTTP(w, err) }

// fail logs server faults (with detail) and answers any error.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	if abandoned(r, err) {
		a.log.Debug("request abandoned by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		return
	}
	if errors.Is(err, identity.ErrBusy) {
		a.limited("password_queue")
	}
	if errmap.Internal(err) {
		a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, err)
}

// noContent answers 204, or err.
func (a *API) noContent(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// abandoned says whether err only reports that the client went away: its
// request's context ended. That is no server fault, and no one reads the
// answer.
func abandoned(r *http.Request, err error) bool {
	return r.Context().Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
