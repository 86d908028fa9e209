package app

import (
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/wire"
)

// serverInfo is what GET /api/v1/server reports: the media kinds this node
// can process now and the limits it was configured with.
func (a *App) serverInfo() wire.ServerInfo {
	mc := a.cfg.Media.WithDefaults()
	return wire.ServerInfo{
		Media: wire.MediaSupport{
			Image:    a.media.Supports(media.KindImage),
			Video:    a.media.Supports(media.KindVideo),
			Audio:    a.media.Supports(media.KindAudio),
			Document: a.media.Supports(media.KindDocument),
		},
		Limits: wire.ServerLimits{
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
