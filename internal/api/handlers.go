package api

import (
	"net/http"
	"strconv"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/profiles"
	"github.com/parleychat/parley/wire"
)

// History page sizes (contract: default 50, at most 500).
const (
	DefaultPageSize = wire.DefaultPageSize
	MaxPageSize     = wire.MaxPageSize
)

func toUser(u identity.User) wire.User {
	return wire.User{UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Deleted: u.Deleted,
		Bot: u.BotOwnerID != "", BotOwnerID: u.BotOwnerID}
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	if err := a.allowAttempt(r); err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.RegisterRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	u, err := a.ids.Register(r.Context(), req.Username, req.Password, req.DisplayName)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toUser(u))
}

func (a *API) createSession(w http.ResponseWriter, r *http.Request) {
	if err := a.allowAttempt(r); err != nil {
		a.fail(w, r, err)
		return
	}
	var req wire.LoginRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.allowLogin(req.Username); err != nil {
		a.fail(w, r, err)
		return
	}
	name, err := identity.DeviceName(req.DeviceName, r.UserAgent())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	s, err := a.ids.LoginDevice(r.Context(), req.Username, req.Password, name)
	a.loginDone(r, req.Username, "", err)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.Session{
		Token: s.Token, UserID: s.UserID, DeviceID: s.DeviceID, ExpiresAt: clock.Millis(s.ExpiresAt),
	})
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.ids.User(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeUser(w, r, u)
}

// writeUser answers a user as the caller may see it (userFor).
func (a *API) writeUser(w http.ResponseWriter, r *http.Request, u identity.User) {
	out, err := a.userFor(r, u)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getPresence(w http.ResponseWriter, r *http.Request) {
	st, err := a.pres.Get(r.Context(), session(r.Context()).UserID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := st.Frame()
	writeJSON(w, http.StatusOK, wire.UserPresence{UserID: p.UserID, Status: p.Status, LastSeen: p.LastSeen})
}

func toSettings(s presence.Settings, d identity.Discoverability) wire.Settings {
	return wire.Settings{LastSeenVisibility: string(s.LastSeen), OnlineVisibility: string(s.Online), Discoverable: string(d)}
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request) {
	me := session(r.Context()).UserID
	s, err := a.pres.Settings(r.Context(), me)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	d, err := a.ids.Discoverability(r.Context(), me)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := toSettings(s, d)
	if err := a.profileSettings(r.Context(), me, &out); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// patchSettings saves the presence settings (presence) and the
// discoverability (identity). Every value is checked before either is
// saved, so that a bad one changes nothing.
func (a *API) patchSettings(w http.ResponseWriter, r *http.Request) {
	var req wire.SettingsUpdate
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	ctx, me := r.Context(), session(r.Context()).UserID
	d := identity.Discoverability(req.Discoverable)
	if d != "" && !d.Valid() {
		a.fail(w, r, identity.ErrDiscoverability)
		return
	}
	av, ab := profiles.Visibility(req.AvatarVisibility), profiles.Visibility(req.AboutVisibility)
	if err := profiles.CheckSettings(av, ab); err != nil {
		a.fail(w, r, err)
		return
	}
	var (
		s   presence.Settings
		err error
	)
	if req.LastSeenVisibility != "" || req.OnlineVisibility != "" {
		s, err = a.pres.UpdateSettings(ctx, me,
			presence.Visibility(req.LastSeenVisibility), presence.Visibility(req.OnlineVisibility))
	} else {
		s, err = a.pres.Settings(ctx, me)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if d != "" {
		d, err = a.ids.SetDiscoverability(ctx, me, d)
	} else {
		d, err = a.ids.Discoverability(ctx, me)
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := toSettings(s, d)
	if a.profiles != nil && (av != "" || ab != "") {
		if _, err := a.profiles.UpdateSettings(ctx, me, av, ab); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if err := a.profileSettings(ctx, me, &out); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func toConversation(c conversations.Conversation) wire.Conversation {
	ps := make([]wire.Participant, len(c.Members))
	for i, m := range c.Members {
		ps[i] = wire.Participant{UserID: m.UserID, Role: m.Role}
	}
	return wire.Conversation{
		ConversationID: c.ID, Type: c.Type, Name: c.Name, Participants: ps,
		LastSequenceNumber: c.LastSeq, CreatedBy: c.CreatedBy,
		CreatedAt: clock.Millis(c.CreatedAt), LastActivityAt: clock.Millis(c.LastActivityAt),
		Description: c.Description, OnlyAdminsSend: c.OnlyAdminsSend, OnlyAdminsEditInfo: c.OnlyAdminsEditInfo,
		Pinned: c.Pinned, DisappearingSeconds: c.DisappearSeconds,
	}
}

func (a *API) createConversation(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateConversationRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	caller := session(r.Context()).UserID
	switch req.Type {
	case conversations.TypeDirect:
		if len(req.Participants) != 1 {
			a.fail(w, r, wire.Unprocessable(wire.CodeInvalid, "a 1:1 conversation names exactly one other participant"))
			return
		}
		c, created, err := a.convs.CreateDirect(r.Context(), caller, req.Participants[0])
		if err != nil {
			a.fail(w, r, err)
			return
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		a.writeConversation(w, r, status, c)
	case conversations.TypeGroup:
		c, err := a.convs.CreateGroup(r.Context(), actor(r.Context()), req.Name, req.Description, req.Participants)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		a.writeConversation(w, r, http.StatusCreated, c)
	default:
		a.fail(w, r, wire.Invalid(`type must be "1:1" or "group"`))
	}
}

func (a *API) listConversations(w http.ResponseWriter, r *http.Request) {
	list, err := a.convs.List(r.Context(), session(r.Context()).UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]wire.Conversation, len(list))
	for i, s := range list {
		out[i] = toConversation(s.Conversation)
		out[i].UnreadCount = &s.Unread
		out[i].UnreadMentions = &s.UnreadMentions
		if lm := s.LastMessage; lm != nil {
			out[i].LastMessage = &wire.LastMessage{
				MessageID: lm.ID, SenderID: lm.SenderID, SequenceNumber: lm.Seq,
				MessageType: lm.MessageType, Content: lm.Content, CreatedAt: clock.Millis(lm.CreatedAt),
				Deleted: lm.Deleted,
			}
			if !lm.EditedAt.IsZero() {
				out[i].LastMessage.EditedAt = clock.Millis(lm.EditedAt)
			}
		}
	}
	if err := a.withGroupAvatars(r, out); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ConversationList{Conversations: out})
}

func (a *API) getConversation(w http.ResponseWriter, r *http.Request) {
	c, err := a.convs.Get(r.Context(), session(r.Context()).UserID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeConversation(w, r, http.StatusOK, c)
}

// writeConversation answers one conversation as the caller sees it, a
// group's avatar included.
func (a *API) writeConversation(w http.ResponseWriter, r *http.Request, status int, c conversations.Conversation) {
	out := []wire.Conversation{toConversation(c)}
	if err := a.withGroupAvatars(r, out); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, out[0])
}

func (a *API) getParticipants(w http.ResponseWriter, r *http.Request) {
	c, err := a.convs.Get(r.Context(), session(r.Context()).UserID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.ParticipantList{Participants: toConversation(c).Participants})
}

func (a *API) getMessages(w http.ResponseWriter, r *http.Request) {
	q, err := historyQuery(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	msgs, err := a.msgs.History(r.Context(), session(r.Context()).UserID, r.PathValue("id"), q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]wire.Message, len(msgs))
	for i, m := range msgs {
		out[i] = messaging.ToFrame(m)
		out[i].Type = ""
	}
	writeJSON(w, http.StatusOK, wire.MessageList{Messages: out})
}

// historyQuery reads ?after_seq=N | ?before_seq=N and &limit=M.
func historyQuery(r *http.Request) (messaging.HistoryQuery, error) {
	query := r.URL.Query()
	q := messaging.HistoryQuery{Page: messaging.Newest, Limit: DefaultPageSize}
	if query.Has("after_seq") && query.Has("before_seq") {
		return q, wire.Invalid("give after_seq or before_seq, not both")
	}
	for name, page := range map[string]messaging.Page{"after_seq": messaging.After, "before_seq": messaging.Before} {
		if !query.Has(name) {
			continue
		}
		n, err := strconv.ParseInt(query.Get(name), 10, 64)
		if err != nil || n < 0 {
			return q, wire.Invalid(name + " must be a non-negative integer")
		}
		q.Page, q.Seq = page, n
	}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, wire.Invalid("limit must be a positive integer")
		}
		q.Limit = min(n, MaxPageSize)
	}
	return q, nil
}

func (a *API) getMessageStatus(w http.ResponseWriter, r *http.Request) {
	m, st, err := a.msgs.MessageStatus(r.Context(), session(r.Context()).UserID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rs := make([]wire.RecipientStatus, len(st))
	for i, s := range st {
		rs[i] = wire.RecipientStatus{UserID: s.UserID, Status: s.Status, UpdatedAt: clock.Millis(s.UpdatedAt)}
	}
	writeJSON(w, http.StatusOK, wire.MessageStatus{
		MessageID: m.ID, ConversationID: m.ConversationID, Status: messaging.Aggregate(st), Recipients: rs,
	})
}

// updateConversation changes a group's name, description and settings.
func (a *API) updateConversation(w http.ResponseWriter, r *http.Request) {
	var req wire.RenameRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.convs.UpdateGroup(r.Context(), actor(r.Context()), r.PathValue("id"), conversations.GroupUpdate{
		Name: req.Name, Description: req.Description,
		OnlyAdminsSend: req.OnlyAdminsSend, OnlyAdminsEditInfo: req.OnlyAdminsEditInfo,
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeConversation(w, r, http.StatusOK, c)
}

func (a *API) addParticipant(w http.ResponseWriter, r *http.Request) {
	var req wire.AddParticipantRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, added, err := a.convs.AddMember(r.Context(), actor(r.Context()), r.PathValue("id"), req.UserID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK // already a member: nothing changed
	if added {
		status = http.StatusCreated
	}
	a.writeConversation(w, r, status, c)
}

func (a *API) setRole(w http.ResponseWriter, r *http.Request) {
	var req wire.SetRoleRequest
	if err := decode(w, r, &req); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.convs.SetRole(r.Context(), actor(r.Context()), r.PathValue("id"), r.PathValue("user_id"), req.Role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeConversation(w, r, http.StatusOK, c)
}

func (a *API) removeParticipant(w http.ResponseWriter, r *http.Request) {
	a.noContent(w, r, a.convs.RemoveMember(r.Context(), actor(r.Context()), r.PathValue("id"), r.PathValue("user_id")))
}

// deleteSession signs the calling device out: its token stops working and
// its open connections close with 4001, on whichever node holds them.
func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) {
	a.noContent(w, r, a.ids.Logout(r.Context(), session(r.Context())))
}
