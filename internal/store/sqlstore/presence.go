package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/store"
)

var _ presence.Store = (*Store)(nil)

// SetLastSeen implements presence.Store.
func (s *Store) SetLastSeen(ctx context.Context, userID string, at time.Time) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET last_seen = ? WHERE id = ?`, ms(at), userID); err != nil {
		return fmt.Errorf("set last seen: %w", err)
	}
	return nil
}

// LastSeen implements presence.Store.
func (s *Store) LastSeen(ctx context.Context, userID string) (time.Time, error) {
	var ls sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT last_seen FROM users WHERE id = ?`, userID).Scan(&ls); err != nil {
		return time.Time{}, notFound(err)
	}
	if !ls.Valid {
		return time.Time{}, nil
	}
	return fromMS(ls.Int64), nil
}

// PresenceSettings implements presence.Store.
func (s *Store) PresenceSettings(ctx context.Context, userID string) (presence.Settings, error) {
	var st presence.Settings
	err := s.r.QueryRowContext(ctx, `SELECT last_seen_visibility, online_visibility FROM users WHERE id = ?`, userID).
		Scan(&st.LastSeen, &st.Online)
	return st, notFound(err)
}

// SetPresenceSettings implements presence.Store.
func (s *Store) SetPresenceSettings(ctx context.Context, userID string, st presence.Settings) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE users SET last_seen_visibility = ?, online_visibility = ? WHERE id = ?`,
		string(st.LastSeen), string(st.Online), userID); err != nil {
		return fmt.Errorf("set presence settings: %w", err)
	}
	return nil
}

// contactRows are the rows a user's contact set is made of, in one query
// (its one parameter, the user id, given five times): kind 1, a 1:1
// peer, with the 1:1's creator and whether the other member has written
// (migrations/0006_contacts.sql); kind 2, the user's own explicit choice
// about a peer; kind 3, a peer's explicit choice about the user
// (migrations/0011_contacts.sql); kind 4, a user it blocks or who blocks
// it (migrations/0012_blocks.sql). A third column of kinds 2 to 4 is
// empty and the fourth the choice's state (0 for a block).
const contactRows = `
		SELECT 1, other.user_id, c.created_by, c.answered FROM members me
		  JOIN conversations c ON c.id = me.conversation_id AND c.type = '1:1'
		  JOIN members other ON other.conversation_id = me.conversation_id AND other.user_id != me.user_id
		       AND other.left_seq IS NULL
		 WHERE me.user_id = ?
		UNION ALL
		SELECT 2, contact_id, '', state FROM contacts WHERE user_id = ?
		UNION ALL
		SELECT 3, user_id, '', state FROM contacts WHERE contact_id = ?
		UNION ALL
		SELECT 4, blocked_id, '', 0 FROM blocks WHERE user_id = ?
		UNION ALL
		SELECT 4, user_id, '', 0 FROM blocks WHERE blocked_id = ?`

// Explicit contact states (migrations/0011_contacts.sql).
const (
	contactRemoved = 0
	contactAdded   = 1
)

// contactsBuilder makes a user's contact set from contactRows: the
// default rule (the other member of a 1:1 is chosen by its creator
// always, and by the other one once it has written), then the explicit
// choices over it, whichever way they go.
type contactsBuilder struct {
	user                  string
	chosen, chosenBy      map[string]bool // by the default rule
	myChoice, theirChoice map[string]bool // explicit: added (true) or removed
	blocked               []string
}

func newContactsBuilder(userID string) *contactsBuilder {
	return &contactsBuilder{user: userID, chosen: map[string]bool{}, chosenBy: map[string]bool{},
		myChoice: map[string]bool{}, theirChoice: map[string]bool{}}
}

// row adds one row of contactRows.
func (b *contactsBuilder) row(kind int, other, creator string, n int) {
	switch kind {
	case 1:
		if creator == b.user || n != 0 {
			b.chosen[other] = true
		}
		if creator == other || n != 0 {
			b.chosenBy[other] = true
		}
	case 2:
		b.myChoice[other] = n == contactAdded
	case 3:
		b.theirChoice[other] = n == contactAdded
	case 4:
		if !slices.Contains(b.blocked, other) {
			b.blocked = append(b.blocked, other)
		}
	}
}

// set is the contact set, each list sorted: explicit choices over the
// default rule.
func (b *contactsBuilder) set() presence.ContactSet {
	slices.Sort(b.blocked)
	return presence.ContactSet{Chosen: effective(b.chosen, b.myChoice), ChosenBy: effective(b.chosenBy, b.theirChoice),
		Blocked: b.blocked}
}

func effective(byDefault, explicit map[string]bool) []string {
	var out []string
	for id := range byDefault {
		if _, ok := explicit[id]; !ok {
			out = append(out, id)
		}
	}
	for id, added := range explicit {
		if added {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Contacts implements presence.Store.
func (s *Store) Contacts(ctx context.Context, userID string) (presence.ContactSet, error) {
	rows, err := s.r.QueryContext(ctx, contactRows, userID, userID, userID, userID, userID)
	if err != nil {
		return presence.ContactSet{}, fmt.Errorf("contacts: %w", err)
	}
	defer rows.Close()
	b := newContactsBuilder(userID)
	for rows.Next() {
		var kind, n int
		var other, creator string
		if err := rows.Scan(&kind, &other, &creator, &n); err != nil {
			return presence.ContactSet{}, err
		}
		b.row(kind, other, creator, n)
	}
	return b.set(), rows.Err()
}

// PresenceView implements presence.Store: the settings and the contacts
// in one round trip, the first row the user's own.
func (s *Store) PresenceView(ctx context.Context, userID string) (presence.Settings, presence.ContactSet, error) {
	rows, err := s.r.QueryContext(ctx, `
		SELECT 0, last_seen_visibility, online_visibility, 0 FROM users WHERE id = ?
		UNION ALL`+contactRows+`
		ORDER BY 1`, userID, userID, userID, userID, userID, userID)
	if err != nil {
		return presence.Settings{}, presence.ContactSet{}, fmt.Errorf("presence view: %w", err)
	}
	defer rows.Close()
	var (
		st    presence.Settings
		found bool
	)
	b := newContactsBuilder(userID)
	for rows.Next() {
		var kind, n int
		var a, c string
		if err := rows.Scan(&kind, &a, &c, &n); err != nil {
			return presence.Settings{}, presence.ContactSet{}, err
		}
		if kind == 0 {
			st, found = presence.Settings{LastSeen: presence.Visibility(a), Online: presence.Visibility(c)}, true
			continue
		}
		b.row(kind, a, c, n)
	}
	if err := rows.Err(); err != nil {
		return presence.Settings{}, presence.ContactSet{}, err
	}
	if !found {
		return presence.Settings{}, presence.ContactSet{}, store.ErrNotFound
	}
	return st, b.set(), nil
}

// PresenceSettingsMany implements presence.Store.
func (s *Store) PresenceSettingsMany(ctx context.Context, ids []string) (map[string]presence.Settings, error) {
	out := make(map[string]presence.Settings, len(ids))
	err := s.queryIn(ctx, `SELECT id, last_seen_visibility, online_visibility FROM users WHERE id IN (%s)`, ids,
		func(rows *sql.Rows) error {
			var id string
			var st presence.Settings
			if err := rows.Scan(&id, &st.LastSeen, &st.Online); err != nil {
				return err
			}
			out[id] = st
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("presence settings: %w", err)
	}
	return out, nil
}
