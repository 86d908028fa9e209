package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// TestCreateGroupNamesEveryUnknownUser: a group asked for with several
// IDs, some unknown, is refused with a message naming each unknown one.
func TestCreateGroupNamesEveryUnknownUser(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	for _, tc := range []struct {
		name     string
		ids      []string
		want     string
		notNamed []string
	}{
		{"one unknown", []string{bob.UserID, "nobody-1"}, "unknown user nobody-1", []string{bob.UserID}},
		{"two unknown", []string{"nobody-1", bob.UserID, "nobody-2"}, "unknown users nobody-1, nobody-2", []string{bob.UserID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alice.API.CreateGroup(ctx, "trip", tc.ids)
			ce, ok := err.(*client.Error)
			if !ok || ce.Status != http.StatusUnprocessableEntity || ce.Code != "invalid" || ce.Message != tc.want {
				t.Fatalf("got %v, want 422 invalid %q", err, tc.want)
			}
			for _, id := range tc.notNamed {
				if strings.Contains(ce.Message, id) {
					t.Fatalf("message %q names %s, who exists", ce.Message, id)
				}
			}
		})
	}
	if list, err := alice.API.Conversations(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after refusals: %d conversations, %v; want none", len(list), err)
	}
}
