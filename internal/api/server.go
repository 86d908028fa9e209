package api

import "net/http"

// ServerInfo is the answer of GET /api/v1/server: what this server can
// process and the limits it enforces, so a client offers only what will
// work and warns before the server refuses. The client package's
// ServerInfo is the same shape.
type ServerInfo struct {
	Media  MediaSupport `json:"media"`
	Limits Limits       `json:"limits"`
}

// MediaSupport says, per media kind, whether uploads of it can be
// processed now (video and audio need ffmpeg on the server).
type MediaSupport struct {
	Image    bool `json:"image"`
	Video    bool `json:"video"`
	Audio    bool `json:"audio"`
	Document bool `json:"document"`
}

// Limits are the server's configured limits, in bytes where they are sizes.
type Limits struct {
	MaxContentBytes  int   `json:"max_content_bytes"`
	MaxGroupSize     int   `json:"max_group_size"`
	MaxImageBytes    int64 `json:"max_image_bytes"`
	MaxVideoBytes    int64 `json:"max_video_bytes"`
	MaxAudioBytes    int64 `json:"max_audio_bytes"`
	MaxDocumentBytes int64 `json:"max_document_bytes"`
	MaxImagePixels   int64 `json:"max_image_pixels"`
}

// RegisterServerInfo adds GET /api/v1/server to mux. info is called for
// each request, so what it reports (ffmpeg installed or removed) is current.
func (a *API) RegisterServerInfo(mux *http.ServeMux, info func() ServerInfo) {
	mux.Handle("GET /api/v1/server", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, info())
	}))
}
