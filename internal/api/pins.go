package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/wire"
)

// Pins pins and unpins messages of conversations.
type Pins interface {
	Pin(ctx context.Context, actor conversations.Actor, conversationID, messageID string) (conversations.Conversation, error)
	Unpin(ctx context.Context, actor conversations.Actor, conversationID, messageID string) (conversations.Conversation, error)
}

// RegisterPins adds the pin routes to mux.
func (a *API) RegisterPins(mux *http.ServeMux, p Pins) {
	mux.Handle("PUT /api/v1/conversations/{id}/pins/{message_id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		c, err := p.Pin(r.Context(), actor(r.Context()), r.PathValue("id"), r.PathValue("message_id"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := []wire.Conversation{toConversation(c)}
		if err := a.withGroupAvatars(r, out); err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, out[0])
	}))
	mux.Handle("DELETE /api/v1/conversations/{id}/pins/{message_id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		_, err := p.Unpin(r.Context(), actor(r.Context()), r.PathValue("id"), r.PathValue("message_id"))
		a.noContent(w, r, err)
	}))
}
