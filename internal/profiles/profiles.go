// Package profiles owns what a user shows of itself beyond its name: its
// display name as it changes, its "about" text and its avatar, who may see
// them (the presence privacy model: everyone, contacts or nobody), and the
// live notice of a change. It also keeps groups' avatars, made by the same
// pipeline (media.Service.MakeAvatar).
package profiles

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/names"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// Visibility is presence's: one vocabulary for every privacy setting.
type Visibility = presence.Visibility

// MaxAboutLen bounds the about text, in characters after NFC
// normalisation.
const MaxAboutLen = wire.MaxAboutLen

// Profile is a user's profile as stored, everything in it.
type Profile struct {
	UserID      string
	Username    string
	DisplayName string
	About       string
	AvatarID    string // "": none
	Settings    Settings
	// Deleted marks a deleted account (internal/accounts): kept, emptied.
	Deleted bool
	// BotOwnerID is the owner of a bot account; "" for a person.
	BotOwnerID string
}

// Settings say who sees the avatar and the about text.
type Settings struct {
	Avatar Visibility
	About  Visibility
}

// View is a profile as one viewer may see it: About and AvatarID are
// empty where its settings hide them.
type View struct {
	Profile
}

// Change is an update of one's own profile; a nil field is left as it is.
// AvatarMediaID "" removes the avatar.
type Change struct {
	DisplayName   *string
	About         *string
	AvatarMediaID *string
}

// Store keeps profiles.
type Store interface {
	// Profile returns a user's profile; store.ErrNotFound if there is no
	// such user.
	Profile(ctx context.Context, userID string) (Profile, error)
	// UpdateProfile writes the non-nil fields (avatarID nil: unchanged;
	// "" none) in one transaction and returns the avatar id it replaced
	// (the current one when avatarID is nil); store.ErrNotFound if there
	// is no such user.
	UpdateProfile(ctx context.Context, userID string, displayName, about, avatarID *string) (oldAvatarID string, err error)
	// SetProfileSettings saves the visibilities that are not "" in one
	// statement (so two changes of different ones both hold);
	// store.ErrNotFound if there is no such user.
	SetProfileSettings(ctx context.Context, userID string, avatar, about Visibility) error
	// SetGroupAvatar sets a conversation's avatar ("": none) and returns
	// the one it replaced; store.ErrNotFound if there is no such
	// conversation.
	SetGroupAvatar(ctx context.Context, conversationID, avatarID string) (oldAvatarID string, err error)
	// GroupAvatars returns the avatar ids of those of ids that have one.
	GroupAvatars(ctx context.Context, ids []string) (map[string]string, error)
	// Contacts is presence's contact set: whom the user chose, and who
	// chose it.
	Contacts(ctx context.Context, userID string) (presence.ContactSet, error)
	// ProfileBlocks returns the users in a block with userID, either way
	// (it blocks them or they block it).
	ProfileBlocks(ctx context.Context, userID string) ([]string, error)
}

// Avatars make and serve avatars: media.Service.
type Avatars interface {
	MakeAvatar(ctx context.Context, userID, mediaID string) (media.Avatar, error)
	AvatarURLs(ctx context.Context, avatarID string) (media.AvatarURLs, error)
	DeleteAvatar(ctx context.Context, avatarID string) error
}

// Groups is what a group avatar needs of the conversations service.
type Groups interface {
	Get(ctx context.Context, caller, id string) (conversations.Conversation, error)
	// CheckEditInfo refuses a caller who may not change the group's info
	// (a non-member; a member while "only admins edit info" is on).
	CheckEditInfo(ctx context.Context, conversationID, userID string) error
	// NoteAvatarChanged tells the members, with a system message.
	NoteAvatarChanged(ctx context.Context, actor conversations.Actor, conversationID string, removed bool) error
}

// Publisher delivers the profile event (bus.KindProfile).
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// Errors of this domain. internal/errmap gives each its wire code.
var (
	ErrBadAbout = fmt.Errorf("about must be at most %d characters, without control characters", MaxAboutLen)
	// ErrVisibility: a profile visibility that is not one of the three.
	ErrVisibility = errors.New(`avatar_visibility and about_visibility must be "everyone", "contacts" or "nobody"`)
	ErrNoMedia    = errors.New("media_id is required")
	ErrNotGroup   = errors.New("only a group has an avatar of its own")
)

// Service reads and changes profiles.
type Service struct {
	store   Store
	avatars Avatars
	groups  Groups
	pub     Publisher
}

// NewService returns the service.
func NewService(st Store, avatars Avatars, groups Groups, pub Publisher) *Service {
	return &Service{store: st, avatars: avatars, groups: groups, pub: pub}
}

// profileVisible is the one rule of who sees a profile detail kept with
// visibility v by its owner, for a viewer other than the owner: nobody in
// a block with the owner (either way), else as v says. viewerIsContact:
// the owner chose the viewer (presence.ContactSet.Chosen).
func profileVisible(v Visibility, viewerIsContact, blocked bool) bool {
	if blocked {
		return false
	}
	return v == presence.Everyone || (v == presence.Contacts && viewerIsContact)
}

// Get returns userID's profile as viewer may see it; a user sees its own
// whole.
func (s *Service) Get(ctx context.Context, viewer, userID string) (View, error) {
	p, err := s.load(ctx, userID)
	if err != nil {
		return View{}, err
	}
	if viewer == userID {
		return View{p}, nil
	}
	// Who the owner chose and whom it blocks are read only when some
	// detail could be shown: most profiles have nothing to hide.
	need := func(v Visibility) bool { return v != presence.Nobody }
	if (p.About == "" || !need(p.Settings.About)) && (p.AvatarID == "" || !need(p.Settings.Avatar)) {
		p.About, p.AvatarID = "", ""
		return View{p}, nil
	}
	// The one place the block rule is read: today straight from the
	// blocks table (migration 0012).
	blocks, err := s.store.ProfileBlocks(ctx, userID)
	if err != nil {
		return View{}, fmt.Errorf("profile blocks: %w", err)
	}
	blocked := slices.Contains(blocks, viewer)
	contact := false
	if p.Settings.About == presence.Contacts || p.Settings.Avatar == presence.Contacts {
		set, err := s.store.Contacts(ctx, userID)
		if err != nil {
			return View{}, fmt.Errorf("profile contacts: %w", err)
		}
		contact = slices.Contains(set.Chosen, viewer)
	}
	if !profileVisible(p.Settings.About, contact, blocked) {
		p.About = ""
	}
	if !profileVisible(p.Settings.Avatar, contact, blocked) {
		p.AvatarID = ""
	}
	return View{p}, nil
}

func (s *Service) load(ctx context.Context, userID string) (Profile, error) {
	p, err := s.store.Profile(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return Profile{}, identity.ErrUserNotFound
	}
	if err != nil {
		return Profile{}, fmt.Errorf("load profile: %w", err)
	}
	return p, nil
}

// CleanAbout normalises an about text and checks it (names.CleanText):
// at most MaxAboutLen characters, on one line.
func CleanAbout(s string) (string, error) {
	s, ok := names.CleanText(s, MaxAboutLen, false)
	if !ok {
		return "", ErrBadAbout
	}
	return s, nil
}

// Update changes userID's own profile. Every field is checked, and a new
// avatar made, before anything is saved: a bad field changes nothing. The
// avatar replaced is deleted once nothing names it, and the user's
// contacts and other devices are told.
func (s *Service) Update(ctx context.Context, userID string, c Change) (View, error) {
	if c.DisplayName == nil && c.About == nil && c.AvatarMediaID == nil {
		// Nothing to change: nothing to tell anyone either.
		return s.Get(ctx, userID, userID)
	}
	var err error
	if c.DisplayName != nil {
		dn, ok := names.Clean(*c.DisplayName, identity.MaxDisplayNameLen)
		if !ok {
			return View{}, identity.ErrBadDisplayName
		}
		c.DisplayName = &dn
	}
	if c.About != nil {
		about, err := CleanAbout(*c.About)
		if err != nil {
			return View{}, err
		}
		c.About = &about
	}
	var avatarID *string
	if c.AvatarMediaID != nil {
		id := ""
		if *c.AvatarMediaID != "" {
			a, err := s.avatars.MakeAvatar(ctx, userID, *c.AvatarMediaID)
			if err != nil {
				return View{}, err
			}
			id = a.ID
		}
		avatarID = &id
	}
	if c.DisplayName != nil && *c.DisplayName == "" {
		// Empty is the username, as at registration.
		p, err := s.load(ctx, userID)
		if err != nil {
			return View{}, err
		}
		c.DisplayName = &p.Username
	}
	old, err := s.store.UpdateProfile(ctx, userID, c.DisplayName, c.About, avatarID)
	if err != nil {
		if avatarID != nil && *avatarID != "" {
			_ = s.avatars.DeleteAvatar(context.WithoutCancel(ctx), *avatarID)
		}
		if errors.Is(err, store.ErrNotFound) {
			return View{}, identity.ErrUserNotFound
		}
		return View{}, fmt.Errorf("update profile: %w", err)
	}
	if avatarID != nil && old != "" && old != *avatarID {
		// Best effort: a leftover is logged by DeleteAvatar; nothing
		// names it any more, so nothing serves it.
		_ = s.avatars.DeleteAvatar(context.WithoutCancel(ctx), old)
	}
	p, err := s.load(ctx, userID)
	if err != nil {
		return View{}, err
	}
	s.announce(ctx, p)
	return View{p}, nil
}

// RemoveAvatar removes userID's avatar, if it has one, and deletes its
// pictures: a deleted account takes its avatar with it (internal/accounts).
func (s *Service) RemoveAvatar(ctx context.Context, userID string) error {
	none := ""
	old, err := s.store.UpdateProfile(ctx, userID, nil, nil, &none)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove avatar: %w", err)
	}
	if old != "" {
		return s.avatars.DeleteAvatar(ctx, old)
	}
	return nil
}

// announce tells the user's own devices and its contacts, both ways (the
// users it chose, who may see what it keeps for contacts, and those who
// chose it, who have it in their lists), that its profile changed. Users
// in a block with it are told nothing. The frame carries only what
// everyone may see; each client fetches the rest, which answers with what
// it may see, so one frame serves every viewer on every node.
func (s *Service) announce(ctx context.Context, p Profile) {
	set, err := s.store.Contacts(ctx, p.UserID)
	if err != nil {
		return // the change is saved; a client sees it at its next fetch
	}
	blocks, err := s.store.ProfileBlocks(ctx, p.UserID)
	if err != nil {
		return
	}
	to := []string{p.UserID}
	for _, id := range slices.Concat(set.Chosen, set.ChosenBy) {
		if !slices.Contains(blocks, id) && !slices.Contains(to, id) {
			to = append(to, id)
		}
	}
	s.pub.Publish(ctx, to, bus.Profile(p.UserID, p.DisplayName))
}

// Settings returns who sees userID's avatar and about.
func (s *Service) Settings(ctx context.Context, userID string) (Settings, error) {
	p, err := s.load(ctx, userID)
	if err != nil {
		return Settings{}, err
	}
	return p.Settings, nil
}

// CheckSettings reports whether avatar and about ("": unchanged) are
// visibilities, so that a caller saving other settings too can refuse
// the whole request before it saves any.
func CheckSettings(avatar, about Visibility) error {
	if (avatar != "" && !avatar.Valid()) || (about != "" && !about.Valid()) {
		return ErrVisibility
	}
	return nil
}

// UpdateSettings saves who sees userID's avatar and about ("": unchanged).
func (s *Service) UpdateSettings(ctx context.Context, userID string, avatar, about Visibility) (Settings, error) {
	if err := CheckSettings(avatar, about); err != nil {
		return Settings{}, err
	}
	if avatar != "" || about != "" {
		err := s.store.SetProfileSettings(ctx, userID, avatar, about)
		if errors.Is(err, store.ErrNotFound) {
			return Settings{}, identity.ErrUserNotFound
		}
		if err != nil {
			return Settings{}, fmt.Errorf("save profile settings: %w", err)
		}
	}
	return s.Settings(ctx, userID)
}

// AvatarURLs signs download URLs of an avatar.
func (s *Service) AvatarURLs(ctx context.Context, avatarID string) (media.AvatarURLs, error) {
	return s.avatars.AvatarURLs(ctx, avatarID)
}
