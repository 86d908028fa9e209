package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/blob/local"
	"github.com/parleychat/parley/internal/blob/s3"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/media"
)

// newMedia picks the blob store from the configuration (local files under
// the data dir unless --blob names an S3 bucket) and builds the media
// service on it. The handler serves local blob URLs; it is nil for S3,
// whose URLs the object store serves itself.
func newMedia(ctx context.Context, cfg config.Config, st media.Store, clk clock.Clock, log *slog.Logger) (*media.Service, http.Handler, error) {
	mc := cfg.Media.WithDefaults()
	var (
		blobs   blob.Store
		handler http.Handler
		loc     *local.Store
	)
	s3loc, isS3, err := mc.S3()
	if err != nil {
		return nil, nil, err
	}
	if isS3 {
		s, err := s3.New(s3.Config{Endpoint: s3loc.Endpoint, Bucket: s3loc.Bucket, Region: s3loc.Region, Secure: s3loc.Secure,
			AccessKey: mc.S3AccessKey, SecretKey: mc.S3SecretKey})
		if err != nil {
			return nil, nil, err
		}
		if err := s.EnsureBucket(ctx); err != nil {
			return nil, nil, fmt.Errorf("media: %w", err)
		}
		blobs = s
	} else {
		if cfg.Redis != "" {
			log.Warn("cluster mode with local media storage: each node serves only the media uploaded to it; use --blob s3://...")
		}
		l, err := local.Open(cfg.DataDir, mc.PublicURL, clk)
		if err != nil {
			return nil, nil, fmt.Errorf("media: %w", err)
		}
		blobs, handler, loc = l, l.Handler(), l
	}
	tools := media.Tools{}
	if err := tools.Available(); err != nil {
		log.Warn("media processing degraded", "err", err)
	}
	svc := media.NewService(st, blobs, clk, media.Config{
		MaxBytes: map[media.Kind]int64{
			media.KindImage: mc.MaxImageBytes, media.KindVideo: mc.MaxVideoBytes,
			media.KindAudio: mc.MaxAudioBytes, media.KindDocument: mc.MaxDocumentBytes,
		},
		MaxPixels: mc.MaxImagePixels, UploadTTL: mc.UploadURLTTL, DownloadTTL: mc.DownloadURLTTL,
		ProcessTimeout: mc.ProcessTimeout, Workers: mc.Workers, Tools: tools, Retention: cfg.Retention,
	}, log)
	if loc != nil {
		loc.PutGuard = svc.AcceptsUpload
	}
	return svc, handler, nil
}

// Media is the node's media service (for the retention job and tests).
func (a *App) Media() *media.Service { return a.media }
