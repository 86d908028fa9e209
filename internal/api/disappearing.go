package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/wire"
)

// Disappearing changes a conversation's disappearing-message setting.
type Disappearing interface {
	SetDisappearing(ctx context.Context, actor conversations.Actor, conversationID string, seconds int) (conversations.Conversation, error)
}

// RegisterDisappearing adds PUT /api/v1/conversations/{id}/disappearing.
func (a *API) RegisterDisappearing(mux *http.ServeMux, d Disappearing) {
	mux.Handle("PUT /api/v1/conversations/{id}/disappearing", a.auth(func(w http.ResponseWriter, r *http.Request) {
		var req wire.DisappearingRequest
		if err := decode(w, r, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		if req.Seconds == nil {
			a.fail(w, r, conversations.ErrBadDisappear)
			return
		}
		c, err := d.SetDisappearing(r.Context(), actor(r.Context()), r.PathValue("id"), *req.Seconds)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeConversation(w, r, http.StatusOK, c)
	}))
}
