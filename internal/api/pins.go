package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/conversations"
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
		a.writeConversation(w, r, http.StatusOK, c)
	}))
	mux.Handle("DELETE /api/v1/conversations/{id}/pins/{message_id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		_, err := p.Unpin(r.Context(), actor(r.Context()), r.PathValue("id"), r.PathValue("message_id"))
		a.noContent(w, r, err)
	}))
}
