package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/profiles"
	"github.com/parleychat/parley/wire"
)

// Profiles is the profiles service as the API uses it.
type Profiles interface {
	Get(ctx context.Context, viewer, userID string) (profiles.View, error)
	Update(ctx context.Context, userID string, c profiles.Change) (profiles.View, error)
	Settings(ctx context.Context, userID string) (profiles.Settings, error)
	UpdateSettings(ctx context.Context, userID string, avatar, about profiles.Visibility) (profiles.Settings, error)
	AvatarURLs(ctx context.Context, avatarID string) (media.AvatarURLs, error)
	SetGroupAvatar(ctx context.Context, caller, conversationID, mediaID string) (conversations.Conversation, error)
	RemoveGroupAvatar(ctx context.Context, caller, conversationID string) error
	GroupAvatars(ctx context.Context, conversationIDs []string) (map[string]string, error)
}

// RegisterProfiles adds the profile routes to mux; from then on users and
// groups are answered with what their profiles let the caller see.
func (a *API) RegisterProfiles(mux *http.ServeMux, p Profiles) {
	a.profiles = p
	mux.Handle("PATCH /api/v1/users/me/profile", a.auth(a.patchProfile))
	mux.Handle("PUT /api/v1/conversations/{id}/avatar", a.auth(a.putGroupAvatar))
	mux.Handle("DELETE /api/v1/conversations/{id}/avatar", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, p.RemoveGroupAvatar(r.Context(), session(r.Context()).UserID, r.PathValue("id")))
	}))
}

// patchProfile answers PATCH /api/v1/users/me/profile with the caller's
// whole profile. avatar_media_id null removes the avatar as "" does, so
// the body is read twice: once typed, once to tell null from absent.
func (a *API) patchProfile(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		a.fail(w, r, wire.NewError(wire.CodeTooLarge, "request body is too large"))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req wire.ProfileUpdate
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if req.AvatarMediaID == nil {
		var probe struct {
			AvatarMediaID json.RawMessage `json:"avatar_media_id"`
		}
		if json.Unmarshal(body, &probe) == nil && string(probe.AvatarMediaID) == "null" {
			req.AvatarMediaID = new(string)
		}
	}
	me := session(r.Context()).UserID
	v, err := a.profiles.Update(r.Context(), me, profiles.Change{
		DisplayName: req.DisplayName, About: req.About, AvatarMediaID: req.AvatarMediaID,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.toProfileUser(r, v)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (a *API) putGroupAvatar(w http.ResponseWriter, r *http.Request) {
	var req wire.AvatarRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.profiles.SetGroupAvatar(r.Context(), session(r.Context()).UserID, r.PathValue("id"), req.MediaID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeConversation(w, r, http.StatusOK, c)
}

// userFor answers a user as the caller may see it: with its profile
// where its settings allow, or just its names when profiles are off.
func (a *API) userFor(r *http.Request, u identity.User) (wire.User, error) {
	if a.profiles == nil {
		return toUser(u), nil
	}
	v, err := a.profiles.Get(r.Context(), session(r.Context()).UserID, u.ID)
	if err != nil {
		return wire.User{}, err
	}
	return a.toProfileUser(r, v)
}

func (a *API) toProfileUser(r *http.Request, v profiles.View) (wire.User, error) {
	u := wire.User{UserID: v.UserID, Username: v.Username, DisplayName: v.DisplayName, About: v.About, Deleted: v.Deleted,
		Bot: v.BotOwnerID != "", BotOwnerID: v.BotOwnerID}
	var err error
	u.Avatar, err = a.avatar(r, v.AvatarID)
	return u, err
}

// avatar signs an avatar's URLs on the host the client reached; nil for
// no avatar.
func (a *API) avatar(r *http.Request, id string) (*wire.Avatar, error) {
	if id == "" {
		return nil, nil
	}
	urls, err := a.profiles.AvatarURLs(r.Context(), id)
	if err != nil {
		return nil, err
	}
	av := &wire.Avatar{AvatarID: id}
	if av.URL640, err = a.absolute(r, urls.URL640); err != nil {
		return nil, err
	}
	if av.URL96, err = a.absolute(r, urls.URL96); err != nil {
		return nil, err
	}
	return av, nil
}

// withGroupAvatars adds their avatars to conversations the caller may
// see, in one query.
func (a *API) withGroupAvatars(r *http.Request, cs []wire.Conversation) error {
	if a.profiles == nil || len(cs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.Type == conversations.TypeGroup {
			ids = append(ids, c.ConversationID)
		}
	}
	avs, err := a.profiles.GroupAvatars(r.Context(), ids)
	if err != nil {
		return err
	}
	for i := range cs {
		if id := avs[cs[i].ConversationID]; id != "" {
			if cs[i].Avatar, err = a.avatar(r, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// profileSettings reads the caller's profile visibilities into s, when
// profiles are on.
func (a *API) profileSettings(ctx context.Context, me string, s *wire.Settings) error {
	if a.profiles == nil {
		return nil
	}
	ps, err := a.profiles.Settings(ctx, me)
	if err != nil {
		return err
	}
	s.AvatarVisibility, s.AboutVisibility = string(ps.Avatar), string(ps.About)
	return nil
}
