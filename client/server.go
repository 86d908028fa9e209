package client

import (
	"context"
	"net/http"
)

// ServerInfo is what a server can process and the limits it enforces
// (GET /api/v1/server).
type ServerInfo struct {
	Media  MediaSupport `json:"media"`
	Limits Limits       `json:"limits"`
}

// MediaSupport says, per media kind, whether the server can process
// uploads of it now. Video and audio need ffmpeg on the server: without
// it an upload of either fails at complete.
type MediaSupport struct {
	Image    bool `json:"image"`
	Video    bool `json:"video"`
	Audio    bool `json:"audio"`
	Document bool `json:"document"`
}

// Limits are the server's limits; sizes are in bytes (message content in
// bytes of UTF-8, not characters).
type Limits struct {
	MaxContentBytes  int   `json:"max_content_bytes"`
	MaxGroupSize     int   `json:"max_group_size"` // the creator counted
	MaxImageBytes    int64 `json:"max_image_bytes"`
	MaxVideoBytes    int64 `json:"max_video_bytes"`
	MaxAudioBytes    int64 `json:"max_audio_bytes"`
	MaxDocumentBytes int64 `json:"max_document_bytes"`
	MaxImagePixels   int64 `json:"max_image_pixels"`
}

// Server returns what the server can process and its limits.
func (c *Client) Server(ctx context.Context) (ServerInfo, error) {
	var s ServerInfo
	err := c.do(ctx, http.MethodGet, "/api/v1/server", nil, &s)
	return s, err
}
