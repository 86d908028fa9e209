package app

import (
	"github.com/parleychat/parley/internal/api"
	"github.com/parleychat/parley/internal/media"
)

// serverInfo is what GET /api/v1/server reports: the media kinds this node
// can process now and the limits it was configured with.
func (a *App) serverInfo() api.ServerInfo {
	mc := a.cfg.Media.WithDefaults()
	return api.ServerInfo{
		Media: api.MediaSupport{
			Image:    a.media.Supports(media.KindImage),
			Video:    a.media.Supports(media.KindVideo),
			Audio:    a.media.Supports(media.KindAudio),
			Document: a.media.Supports(media.KindDocument),
		},
		Limits: api.Limits{
			MaxContentBytes:  a.cfg.Limits.MaxContentBytes,
			MaxGroupSize:     a.cfg.MaxGroupSize,
			MaxImageBytes:    mc.MaxImageBytes,
			MaxVideoBytes:    mc.MaxVideoBytes,
			MaxAudioBytes:    mc.MaxAudioBytes,
			MaxDocumentBytes: mc.MaxDocumentBytes,
			MaxImagePixels:   mc.MaxImagePixels,
		},
	}
}
