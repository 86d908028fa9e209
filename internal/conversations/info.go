package conversations

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/names"
	"github.com/parleychat/parley/wire"
)

// MaxDescriptionLen bounds a group's description, in characters after
// NFC normalisation.
const MaxDescriptionLen = wire.MaxGroupDescriptionLen

// Errors of group info and settings.
var (
	ErrBadDescription = fmt.Errorf("description must be at most %d characters, with no control characters but line breaks", MaxDescriptionLen)
	// ErrNoChange: an update that names no field.
	ErrNoChange = errors.New("name at least one of name, description, only_admins_send, only_admins_edit_info")
)

// Info is a group's description and settings.
type Info struct {
	Description string
	// OnlyAdminsSend: only admins may send messages to the group.
	OnlyAdminsSend bool
	// OnlyAdminsEditInfo: only admins may change the name, description
	// and avatar; otherwise every member may. Settings are admins' alone
	// either way.
	OnlyAdminsEditInfo bool
}

func infoOf(c Conversation) Info {
	return Info{Description: c.Description, OnlyAdminsSend: c.OnlyAdminsSend, OnlyAdminsEditInfo: c.OnlyAdminsEditInfo}
}

// GroupUpdate is a change of a group's name, info or settings: nil
// fields stay as they are.
type GroupUpdate struct {
	Name               *string
	Description        *string
	OnlyAdminsSend     *bool
	OnlyAdminsEditInfo *bool
}

// UpdateGroup applies u in one transaction and records one system message
// per field that changed, in the order name, description, settings. Name
// and description need an admin when the group has OnlyAdminsEditInfo
// (else any member); the settings always need an admin. Nothing changes
// unless every part is allowed.
func (s *Service) UpdateGroup(ctx context.Context, actor Actor, conversationID string, u GroupUpdate) (Conversation, error) {
	if u.Name == nil && u.Description == nil && u.OnlyAdminsSend == nil && u.OnlyAdminsEditInfo == nil {
		return Conversation{}, ErrNoChange
	}
	if u.Name != nil {
		name, err := groupName(*u.Name)
		if err != nil {
			return Conversation{}, err
		}
		u.Name = &name
	}
	if u.Description != nil {
		d, err := groupDescription(*u.Description)
		if err != nil {
			return Conversation{}, err
		}
		u.Description = &d
	}
	var c Conversation
	var notes []*SystemMessage
	err := s.tx.Update(ctx, func(tx Tx) error {
		notes = nil // a transaction PostgreSQL aborted runs again whole
		var err error
		if c, err = s.lockGroup(ctx, tx, conversationID, actor.UserID, false); err != nil {
			return err
		}
		admin := c.Members[mustIndex(c, actor.UserID)].Role == RoleAdmin
		settings := u.OnlyAdminsSend != nil || u.OnlyAdminsEditInfo != nil
		editsInfo := u.Name != nil || u.Description != nil
		if !admin && (settings || (editsInfo && c.OnlyAdminsEditInfo)) {
			return ErrNotAdmin
		}
		var events []map[string]any
		if u.Name != nil && *u.Name != c.Name {
			if err := tx.Rename(ctx, conversationID, *u.Name); err != nil {
				return err
			}
			events = append(events, map[string]any{"event": EventRenamed, "actor_id": actor.UserID, "name": *u.Name})
		}
		info := infoOf(c)
		if u.Description != nil && *u.Description != info.Description {
			info.Description = *u.Description
			events = append(events, map[string]any{"event": EventDescriptionChanged, "actor_id": actor.UserID, "description": info.Description})
		}
		if u.OnlyAdminsSend != nil && *u.OnlyAdminsSend != info.OnlyAdminsSend {
			info.OnlyAdminsSend = *u.OnlyAdminsSend
			events = append(events, map[string]any{"event": EventSettingsChanged, "actor_id": actor.UserID, "only_admins_send": info.OnlyAdminsSend})
		}
		if u.OnlyAdminsEditInfo != nil && *u.OnlyAdminsEditInfo != info.OnlyAdminsEditInfo {
			info.OnlyAdminsEditInfo = *u.OnlyAdminsEditInfo
			events = append(events, map[string]any{"event": EventSettingsChanged, "actor_id": actor.UserID, "only_admins_edit_info": info.OnlyAdminsEditInfo})
		}
		if len(events) == 0 {
			return nil
		}
		if info != infoOf(c) {
			if err := tx.SetInfo(ctx, conversationID, info); err != nil {
				return err
			}
		}
		for _, ev := range events {
			note := s.systemMessage(actor, conversationID, ev)
			if _, err := tx.AppendSystem(ctx, *note); err != nil {
				return err
			}
			notes = append(notes, note)
		}
		c, err = tx.Conversation(ctx, conversationID)
		return err
	})
	if err != nil {
		return Conversation{}, err
	}
	if len(notes) > 0 {
		s.announce(notes[0])
	}
	return c, nil
}

// CheckEditInfo says whether userID may change the group's name,
// description or avatar now: nil for an admin, or for any member unless
// the group has OnlyAdminsEditInfo; ErrNotAdmin, ErrForbidden (not a
// member), ErrNotFound or ErrNotGroup otherwise. A change that is not
// made through UpdateGroup (the avatar's) calls it first; it reads
// outside that change's transaction, so a setting changed in between is
// honoured from the next change on.
func (s *Service) CheckEditInfo(ctx context.Context, conversationID, userID string) error {
	c, err := s.Get(ctx, userID, conversationID)
	if err != nil {
		return err
	}
	if c.Type != TypeGroup {
		return ErrNotGroup
	}
	if c.OnlyAdminsEditInfo && c.Members[mustIndex(c, userID)].Role != RoleAdmin {
		return ErrNotAdmin
	}
	return nil
}

// groupDescription normalises a description and checks it
// (names.CleanText): at most MaxDescriptionLen characters, line breaks
// allowed.
func groupDescription(d string) (string, error) {
	d, ok := names.CleanText(d, MaxDescriptionLen, true)
	if !ok {
		return "", ErrBadDescription
	}
	return d, nil
}

// mustIndex is memberIndex for a user lockGroup or Get has found a member.
func mustIndex(c Conversation, userID string) int {
	i, _ := memberIndex(c, userID)
	return i
}
