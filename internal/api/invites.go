package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/wire"
)

// Invites runs groups' invite links (the conversations service).
type Invites interface {
	CreateInvite(ctx context.Context, actor conversations.Actor, conversationID string) (conversations.Invite, error)
	Invites(ctx context.Context, actor conversations.Actor, conversationID string) ([]conversations.Invite, error)
	RevokeInvite(ctx context.Context, actor conversations.Actor, conversationID, code string) error
	PreviewInvite(ctx context.Context, code string) (conversations.InvitePreview, error)
	JoinByInvite(ctx context.Context, actor conversations.Actor, code string) (conversations.Conversation, bool, error)
}

func toInvite(inv conversations.Invite) wire.Invite {
	return wire.Invite{Code: inv.Code, ConversationID: inv.ConversationID, CreatedBy: inv.CreatedBy, CreatedAt: clock.Millis(inv.CreatedAt)}
}

// RegisterInvites adds the invite link routes to mux: admins create, list
// and revoke a group's links; anyone signed in previews and joins.
func (a *API) RegisterInvites(mux *http.ServeMux, inv Invites) {
	mux.Handle("POST /api/v1/conversations/{id}/invites", a.auth(func(w http.ResponseWriter, r *http.Request) {
		i, err := inv.CreateInvite(r.Context(), actor(r.Context()), r.PathValue("id"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, toInvite(i))
	}))
	mux.Handle("GET /api/v1/conversations/{id}/invites", a.auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := inv.Invites(r.Context(), actor(r.Context()), r.PathValue("id"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := make([]wire.Invite, len(list))
		for i, v := range list {
			out[i] = toInvite(v)
		}
		writeJSON(w, http.StatusOK, wire.InviteList{Invites: out})
	}))
	mux.Handle("DELETE /api/v1/conversations/{id}/invites/{code}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, inv.RevokeInvite(r.Context(), actor(r.Context()), r.PathValue("id"), r.PathValue("code")))
	}))
	mux.Handle("GET /api/v1/invites/{code}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		p, err := inv.PreviewInvite(r.Context(), r.PathValue("code"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := wire.InvitePreview{Name: p.Name, Description: p.Description, MemberCount: p.MemberCount}
		if a.profiles != nil {
			avs, err := a.profiles.GroupAvatars(r.Context(), []string{p.ConversationID})
			if err == nil {
				out.Avatar, err = a.avatar(r, avs[p.ConversationID])
			}
			if err != nil {
				a.fail(w, r, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, out)
	}))
	mux.Handle("POST /api/v1/invites/{code}/join", a.auth(func(w http.ResponseWriter, r *http.Request) {
		c, joined, err := inv.JoinByInvite(r.Context(), actor(r.Context()), r.PathValue("code"))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		status := http.StatusOK // already a member: nothing changed
		if joined {
			status = http.StatusCreated
		}
		a.writeConversation(w, r, status, c)
	}))
}
