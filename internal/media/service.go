package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/store"
)

// Config tunes the service. Zero fields take the defaults noted.
type Config struct {
	MaxBytes  map[Kind]int64
	MaxPixels int64 // default 50,000,000
	// UploadTTL: how long an upload URL works (default 15 min);
	// DownloadTTL: how long a download URL works (default 5 min).
	UploadTTL   time.Duration
	DownloadTTL time.Duration
	// ProcessTimeout bounds the processing of one upload (default 2 min).
	ProcessTimeout time.Duration
	// Workers is how many uploads are processed at once (default
	// GOMAXPROCS): decoding is CPU- and memory-bound, so more than the
	// cores only adds memory.
	Workers int
	// AbandonAfter: an upload not completed by then is deleted by Sweep
	// (default 24 h).
	AbandonAfter time.Duration
	// Retention: media older than this is never served (nor attached),
	// even before the cleanup job has deleted it. 0: kept forever.
	Retention time.Duration
	Tools     Tools
}

// batchSize bounds one round of Sweep and ExpireBefore.
const batchSize = 100

// Service is the media domain.
type Service struct {
	st    Store
	blobs blob.Store
	clock clock.Clock
	cfg   Config
	log   *slog.Logger
	// slots is the worker pool: a token per upload being processed.
	slots chan struct{}
	// Observer, if set before use, is told of each upload processed.
	Observer Observer
}

// Observer is told of each upload processed, for metrics: its kind, the
// result (ready; refused: the file is not what it claims or breaks a
// limit; timeout; failed: a server fault) and how long processing took.
type Observer interface {
	MediaProcessed(kind Kind, result string, d time.Duration)
}

func (s *Service) processed(m Media, err error, d time.Duration) {
	if s.Observer == nil {
		return
	}
	result := "ready"
	switch _, refused := fault.Message(err, ErrRefused); {
	case err == nil:
	case errors.Is(err, ErrTimeout):
		result = "timeout"
	case refused:
		result = "refused"
	default:
		result = "failed"
	}
	s.Observer.MediaProcessed(m.Kind, result, d)
}

// NewService returns the service.
func NewService(st Store, blobs blob.Store, clk clock.Clock, cfg Config, log *slog.Logger) *Service {
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = 50_000_000
	}
	if cfg.UploadTTL <= 0 {
		cfg.UploadTTL = 15 * time.Minute
	}
	if cfg.DownloadTTL <= 0 {
		cfg.DownloadTTL = 5 * time.Minute
	}
	if cfg.ProcessTimeout <= 0 {
		cfg.ProcessTimeout = 2 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.AbandonAfter <= 0 {
		cfg.AbandonAfter = 24 * time.Hour
	}
	return &Service{st: st, blobs: blobs, clock: clk, cfg: cfg, log: log, slots: make(chan struct{}, cfg.Workers)}
}

// Object keys of one media item. Clients can write only uploadKey; the
// rest are written by the server alone.
func uploadKey(id string) string   { return id + "/upload" }
func originalKey(id string) string { return id + "/original" }
func thumbKey(id string) string    { return id + "/thumb.jpg" }
func variantKey(id string) string  { return id + "/compressed.jpg" }

func keys(id string) []string {
	return []string{uploadKey(id), originalKey(id), thumbKey(id), variantKey(id)}
}

// Create starts an upload of size bytes of contentType by userID.
func (s *Service) Create(ctx context.Context, userID, contentType string, size int64) (Upload, error) {
	ct, rule, ok := normalizeType(contentType)
	if !ok {
		return Upload{}, ErrBadType
	}
	if size <= 0 {
		return Upload{}, ErrBadSize
	}
	if limit := s.cfg.MaxBytes[rule.kind]; limit > 0 && size > limit {
		return Upload{}, fault.Newf(ErrTooLarge, "a %s may be at most %d bytes, this one is %d", rule.kind, limit, size)
	}
	m := Media{ID: ulid.Make().String(), UploaderID: userID, Kind: rule.kind, ContentType: ct,
		DeclaredSize: size, Status: StatusPending, CreatedAt: s.clock.Now()}
	// The row first: an upload URL never exists for a media Sweep cannot
	// find.
	if err := s.st.CreateMedia(ctx, m); err != nil {
		return Upload{}, fmt.Errorf("create media: %w", err)
	}
	u, err := s.blobs.PresignPut(ctx, uploadKey(m.ID), size, s.cfg.UploadTTL)
	if err != nil {
		return Upload{}, fmt.Errorf("presign upload: %w", err)
	}
	return Upload{MediaID: m.ID, UploadURL: u, Method: "PUT", ExpiresIn: s.cfg.UploadTTL}, nil
}

// Complete checks and processes the upload; only its uploader may
// complete it (anyone else gets ErrNotFound: an id is no proof of
// anything). Completing a ready upload again answers it again.
func (s *Service) Complete(ctx context.Context, userID, id string) (View, error) {
	m, err := s.load(ctx, id)
	if err != nil {
		return View{}, err
	}
	if m.UploaderID != userID {
		return View{}, ErrNotFound
	}
	switch m.Status {
	case StatusReady:
		return s.view(ctx, m)
	case StatusFailed:
		return View{}, refused(m.Reason)
	case StatusProcessing:
		return View{}, ErrBusy
	}
	info, err := s.blobs.Stat(ctx, uploadKey(id))
	if errors.Is(err, blob.ErrNotFound) {
		return View{}, ErrNotUploaded
	}
	if err != nil {
		return View{}, fmt.Errorf("stat upload: %w", err)
	}
	if info.Size != m.DeclaredSize {
		return View{}, s.fail(ctx, m, StatusPending, ErrSizeMismatch)
	}

	// A slot of the pool before the claim: a request that gives up while
	// queued leaves the upload pending, to be completed again.
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return View{}, ctx.Err()
	}
	defer func() { <-s.slots }()

	m.Status = StatusProcessing
	if err := s.st.UpdateMedia(ctx, m, StatusPending); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return View{}, ErrBusy
		}
		return View{}, fmt.Errorf("claim media: %w", err)
	}
	// Processing finishes even if the client hangs up: the result is
	// recorded, and GET /media/{id} shows it.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ProcessTimeout)
	defer cancel()
	start := s.clock.Now()
	began := time.Now() // the metric's duration: real time spent, whatever the injected clock
	if err := s.process(pctx, &m); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && pctx.Err() != nil {
			err = ErrTimeout
		}
		s.processed(m, err, time.Since(began))
		return View{}, s.fail(pctx, m, StatusProcessing, err)
	}
	s.processed(m, nil, time.Since(began))
	m.Status, m.Reason, m.CompletedAt = StatusReady, "", s.clock.Now()
	if err := s.st.UpdateMedia(pctx, m, StatusProcessing); err != nil {
		return View{}, fmt.Errorf("record processed media: %w", err)
	}
	s.log.Debug("media ready", "media_id", m.ID, "kind", m.Kind, "size", m.Size, "took", s.clock.Now().Sub(start))
	return s.view(ctx, m)
}

// fail records cause on the upload (from status from), deletes every byte
// of it and returns the error to answer with. A cause without a wire code
// is a server fault: it is logged, and the reason kept is a generic one.
func (s *Service) fail(ctx context.Context, m Media, from Status, cause error) error {
	reason, ok := fault.Message(cause, ErrRefused)
	if !ok {
		reason = ErrProcessingFault.Error()
		s.log.Error("media processing failed", "media_id", m.ID, "kind", m.Kind, "err", cause)
	}
	m.Status, m.Reason = StatusFailed, reason
	m.Size, m.ThumbSize, m.VariantSize = 0, 0, 0
	// The row first: if another request moved the upload on meanwhile,
	// its objects are not ours to delete.
	if err := s.st.UpdateMedia(ctx, m, from); err != nil {
		return errors.Join(cause, fmt.Errorf("record failed media: %w", err))
	}
	_ = s.deleteObjects(ctx, m.ID)
	if ok {
		return cause
	}
	// A server fault stays one on the wire (500 internal): the upload is
	// failed all the same, with a generic reason.
	return fmt.Errorf("process media %s: %w", m.ID, cause)
}

// process moves the upload out of the client's reach, checks what it
// really is, and makes what its kind needs. On success m carries the
// results and every object is written.
func (s *Service) process(ctx context.Context, m *Media) error {
	if err := s.blobs.Move(ctx, uploadKey(m.ID), originalKey(m.ID)); err != nil {
		return fmt.Errorf("move upload: %w", err)
	}
	// Re-checked after the move: from here on the client cannot change it.
	info, err := s.blobs.Stat(ctx, originalKey(m.ID))
	if err != nil {
		return fmt.Errorf("stat original: %w", err)
	}
	if info.Size != m.DeclaredSize {
		return ErrSizeMismatch
	}
	m.Size = info.Size
	_, rule, _ := normalizeType(m.ContentType)

	var out output
	switch m.Kind {
	case KindImage:
		data, err := s.read(ctx, originalKey(m.ID), info.Size)
		if err != nil {
			return err
		}
		if err := checkFamily(rule, data, m.ContentType); err != nil {
			return err
		}
		if out, err = processImage(data, s.cfg.MaxPixels, m); err != nil {
			return err
		}
	case KindVideo, KindAudio:
		path, head, err := s.download(ctx, originalKey(m.ID))
		if err != nil {
			return err
		}
		defer os.Remove(path)
		if err := checkFamily(rule, head, m.ContentType); err != nil {
			return err
		}
		if m.Kind == KindVideo {
			out, err = s.cfg.Tools.processVideo(ctx, path, s.cfg.MaxPixels, m)
		} else {
			err = s.cfg.Tools.processAudio(ctx, path, m)
		}
		if err != nil {
			return err
		}
	default:
		rc, err := s.blobs.Open(ctx, originalKey(m.ID))
		if err != nil {
			return fmt.Errorf("open original: %w", err)
		}
		head := make([]byte, sniffLen)
		n, err := io.ReadFull(rc, head)
		rc.Close()
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read original: %w", err)
		}
		if err := checkFamily(rule, head[:n], m.ContentType); err != nil {
			return err
		}
	}

	put := func(key string, b []byte, ct string) (int64, error) {
		if err := s.blobs.Put(ctx, key, bytes.NewReader(b), int64(len(b)), ct); err != nil {
			return 0, fmt.Errorf("store %s: %w", key, err)
		}
		return int64(len(b)), nil
	}
	if out.Original != nil {
		if m.Size, err = put(originalKey(m.ID), out.Original, m.ContentType); err != nil {
			return err
		}
	}
	if out.Thumb != nil {
		if m.ThumbSize, err = put(thumbKey(m.ID), out.Thumb, "image/jpeg"); err != nil {
			return err
		}
	}
	if out.Variant != nil {
		if m.VariantSize, err = put(variantKey(m.ID), out.Variant, "image/jpeg"); err != nil {
			return err
		}
	}
	return nil
}

func checkFamily(rule typeRule, head []byte, ct string) error {
	if f := sniff(head[:min(len(head), sniffLen)]); !rule.accepts(f) {
		what := string(f)
		if f == famUnknown {
			what = "of an unknown type"
		}
		return refused(fmt.Sprintf("the uploaded bytes are %s, not %s", what, ct))
	}
	return nil
}

// read loads a whole object of the expected size.
func (s *Service) read(ctx context.Context, key string, size int64) ([]byte, error) {
	rc, err := s.blobs.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if int64(len(data)) != size {
		return nil, ErrSizeMismatch
	}
	return data, nil
}

// download copies an object to a temporary file for ffmpeg, which needs
// to seek (an MP4's index may sit at its end); it returns the path and the
// first bytes.
func (s *Service) download(ctx context.Context, key string) (string, []byte, error) {
	rc, err := s.blobs.Open(ctx, key)
	if err != nil {
		return "", nil, fmt.Errorf("open %s: %w", key, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp("", "parley-media-*")
	if err != nil {
		return "", nil, fmt.Errorf("temp file: %w", err)
	}
	head := &limitedBuffer{max: sniffLen}
	_, err = io.Copy(f, io.TeeReader(rc, head))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", nil, fmt.Errorf("download %s: %w", key, err)
	}
	return f.Name(), head.Bytes(), nil
}

// Get returns a media item with fresh download URLs. Its uploader may see
// it, and so may any user with a message carrying it inside their
// membership window of that message's conversation; anyone else gets
// ErrNotFound, the same answer as for an id that does not exist.
func (s *Service) Get(ctx context.Context, userID, id string) (View, error) {
	if err := s.CanUse(ctx, userID, id); err != nil {
		return View{}, err
	}
	m, err := s.load(ctx, id)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, m)
}

// CanUse reports (nil) whether userID may attach media id to a message:
// the same rule as Get. The send path can call it so that an id learned
// elsewhere cannot be shared into a conversation to gain access.
func (s *Service) CanUse(ctx context.Context, userID, id string) error {
	m, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if m.UploaderID == userID {
		return nil
	}
	ok, err := s.st.MediaVisible(ctx, id, userID)
	if err != nil {
		return fmt.Errorf("check media access: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// AcceptsUpload tells a blob store serving signed upload URLs whether key
// may still be written: only the upload of a media item that is pending.
// A completed item's URL stays signed until it expires, and a write to it
// would only leave bytes nobody processes.
func (s *Service) AcceptsUpload(ctx context.Context, key string) error {
	id, ok := strings.CutSuffix(key, "/upload")
	if !ok {
		return ErrNotFound
	}
	m, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if m.Status != StatusPending {
		return ErrUploadClosed
	}
	return nil
}

func (s *Service) load(ctx context.Context, id string) (Media, error) {
	m, err := s.st.MediaByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Media{}, ErrNotFound
	}
	if err != nil {
		return Media{}, fmt.Errorf("load media: %w", err)
	}
	if s.cfg.Retention > 0 && m.CreatedAt.Before(s.clock.Now().Add(-s.cfg.Retention)) {
		return Media{}, ErrNotFound
	}
	return m, nil
}

// view signs the download URLs of a ready item; others have none.
func (s *Service) view(ctx context.Context, m Media) (View, error) {
	v := View{Media: m}
	if m.Status != StatusReady {
		return v, nil
	}
	var err error
	ttl := s.cfg.DownloadTTL
	if v.URL, err = s.blobs.PresignGet(ctx, originalKey(m.ID), m.ContentType, ttl); err != nil {
		return View{}, fmt.Errorf("presign download: %w", err)
	}
	if m.ThumbSize > 0 {
		if v.ThumbnailURL, err = s.blobs.PresignGet(ctx, thumbKey(m.ID), "image/jpeg", ttl); err != nil {
			return View{}, fmt.Errorf("presign thumbnail: %w", err)
		}
	}
	if m.VariantSize > 0 {
		if v.CompressedURL, err = s.blobs.PresignGet(ctx, variantKey(m.ID), "image/jpeg", ttl); err != nil {
			return View{}, fmt.Errorf("presign variant: %w", err)
		}
	}
	return v, nil
}

// DownloadTTL is how long the URLs of a View stay valid.
func (s *Service) DownloadTTL() time.Duration { return s.cfg.DownloadTTL }

// deleteObjects deletes every object of a media item, best effort (a
// leftover is logged; Sweep and ExpireBefore delete before the row, so
// they retry).
func (s *Service) deleteObjects(ctx context.Context, id string) error {
	var errs []error
	for _, k := range keys(id) {
		if err := s.blobs.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.log.Warn("media objects not deleted", "media_id", id, "err", err)
	}
	return err
}

// Sweep deletes uploads that were not completed (pending, failed, or
// stuck in processing by a crash) within AbandonAfter of their creation,
// objects first, then rows, in batches of at most 100. It returns how
// many it deleted.
func (s *Service) Sweep(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.Add(-s.cfg.AbandonAfter)
	total := 0
	for {
		batch, err := s.st.AbandonedMedia(ctx, cutoff, batchSize)
		if err != nil {
			return total, fmt.Errorf("list abandoned media: %w", err)
		}
		n, _, err := s.remove(ctx, batch)
		total += n
		if err != nil || len(batch) < batchSize {
			return total, err
		}
	}
}

// ExpireBefore deletes up to limit media items (any status) created
// before t: their bytes, thumbnails, variants and rows, in batches of at
// most 100. It returns how many it deleted and the bytes freed; a caller
// with more to expire calls again until n < limit.
func (s *Service) ExpireBefore(ctx context.Context, t time.Time, limit int) (n int, freed int64, err error) {
	for n < limit {
		want := min(batchSize, limit-n)
		batch, err := s.st.MediaCreatedBefore(ctx, t, want)
		if err != nil {
			return n, freed, fmt.Errorf("list expired media: %w", err)
		}
		k, b, err := s.remove(ctx, batch)
		n, freed = n+k, freed+b
		if err != nil || len(batch) < want {
			return n, freed, err
		}
	}
	return n, freed, nil
}

// DeleteUploads deletes every media item userID uploaded, whatever its
// status: an account deleted takes its media with it, from others'
// conversations too (they answer not_found from then on).
func (s *Service) DeleteUploads(ctx context.Context, userID string) (n int, err error) {
	for {
		batch, err := s.st.MediaUploadedBy(ctx, userID, batchSize)
		if err != nil {
			return n, fmt.Errorf("list uploads: %w", err)
		}
		k, _, err := s.remove(ctx, batch)
		n += k
		if err != nil || len(batch) < batchSize {
			return n, err
		}
	}
}

// EraseUnused deletes a media item, objects and row, unless a message
// still carries it: a message deleted for everyone takes its media with
// it, but a forward of it keeps it. (The uploader attaching it again
// between the check and the deletion would find it gone; the window is
// a few milliseconds after a deletion the uploader itself made or saw.)
func (s *Service) EraseUnused(ctx context.Context, id string) error {
	carried, err := s.st.MediaCarried(ctx, id)
	if err != nil {
		return fmt.Errorf("check media use: %w", err)
	}
	if carried {
		return nil
	}
	m, err := s.st.MediaByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil // gone already (expired, its uploader deleted)
	}
	if err != nil {
		return fmt.Errorf("load media: %w", err)
	}
	_, _, err = s.remove(ctx, []Media{m})
	return err
}

// remove deletes the objects then the rows of batch. An item whose
// objects could not all be deleted keeps its row, to be retried.
func (s *Service) remove(ctx context.Context, batch []Media) (int, int64, error) {
	ids := make([]string, 0, len(batch))
	var freed int64
	for _, m := range batch {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		if s.deleteObjects(ctx, m.ID) != nil {
			continue
		}
		ids = append(ids, m.ID)
		freed += m.Size + m.ThumbSize + m.VariantSize
	}
	if len(ids) == 0 {
		if len(batch) > 0 {
			return 0, 0, errors.New("media objects could not be deleted")
		}
		return 0, 0, nil
	}
	if err := s.st.DeleteMedia(ctx, ids); err != nil {
		return 0, 0, fmt.Errorf("delete media rows: %w", err)
	}
	return len(ids), freed, nil
}
