package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/blocks"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/wire"
)

// Blocks blocks, unblocks and lists for the caller.
type Blocks interface {
	Block(ctx context.Context, userID, blockedID string) error
	Unblock(ctx context.Context, userID, blockedID string) error
	List(ctx context.Context, userID string) ([]blocks.Block, error)
}

// RegisterBlocks adds the blocking routes to mux.
func (a *API) RegisterBlocks(mux *http.ServeMux, b Blocks) {
	mux.Handle("GET /api/v1/users/me/blocks", a.auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := b.List(r.Context(), session(r.Context()).UserID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out := make([]wire.Block, len(list))
		for i, k := range list {
			out[i] = wire.Block{UserID: k.UserID, Username: k.Username, DisplayName: k.DisplayName, BlockedAt: clock.Millis(k.BlockedAt)}
		}
		writeJSON(w, http.StatusOK, wire.BlockList{Blocks: out})
	}))
	mux.Handle("PUT /api/v1/users/me/blocks/{user_id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, b.Block(r.Context(), session(r.Context()).UserID, r.PathValue("user_id")))
	}))
	mux.Handle("DELETE /api/v1/users/me/blocks/{user_id}", a.auth(func(w http.ResponseWriter, r *http.Request) {
		a.noContent(w, r, b.Unblock(r.Context(), session(r.Context()).UserID, r.PathValue("user_id")))
	}))
}
