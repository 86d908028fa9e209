package api

import (
	"net/http"

	"github.com/parleychat/parley/wire"
)

// RegisterServerInfo adds GET /api/v1/server to mux: what this server can
// process and the limits it enforces, so a client offers only what will
// work and warns before the server refuses. info is called for each
// request, so what it reports (ffmpeg installed or removed) is current.
func (a *API) RegisterServerInfo(mux *http.ServeMux, info func() wire.ServerInfo) {
	mux.Handle("GET /api/v1/server", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, info())
	}))
}
