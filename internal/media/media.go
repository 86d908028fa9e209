// Package media owns media attachments: upload sessions, validation of
// what was uploaded, processing (dimensions, thumbnails, metadata
// stripping, probing, waveforms), who may fetch what, and cleanup.
//
// The bytes never pass through the API: a client PUTs them to a presigned
// URL of the blob store, then asks the server to complete the upload. The
// server moves the upload out of the client's reach before it reads it,
// so what it checked is what it serves.
package media

import (
	"context"
	"errors"
	"time"

	"github.com/parleychat/parley/internal/fault"
)

// Kind groups content types that are processed alike.
type Kind string

// The kinds of media.
const (
	KindImage    Kind = "image"
	KindVideo    Kind = "video"
	KindAudio    Kind = "audio"
	KindDocument Kind = "document"
)

// Status is where an upload stands.
type Status string

// Upload statuses. pending: created, waiting for the bytes and the
// complete call; processing: being checked and processed; ready: served;
// failed: refused or broken, with a Reason, and its bytes deleted.
const (
	StatusPending    Status = "pending"
	StatusProcessing Status = "processing"
	StatusReady      Status = "ready"
	StatusFailed     Status = "failed"
)

// Media is one upload and, once ready, what processing learned about it.
type Media struct {
	ID           string
	UploaderID   string
	Kind         Kind
	ContentType  string
	DeclaredSize int64
	Status       Status
	Reason       string // why it failed

	Size        int64 // the stored original, after metadata was stripped
	Width       int
	Height      int
	DurationMS  int64
	Codec       string
	Waveform    []byte // audio: 64 peak amplitudes, 0..255
	ThumbSize   int64  // 0: no thumbnail
	VariantSize int64  // 0: no compressed variant

	CreatedAt   time.Time
	CompletedAt time.Time
}

// Store is what media needs from durable storage.
type Store interface {
	CreateMedia(ctx context.Context, m Media) error
	// MediaByID returns store.ErrNotFound for an unknown id.
	MediaByID(ctx context.Context, id string) (Media, error)
	// UpdateMedia writes m's status and processing results if the stored
	// status is still from; store.ErrConflict if it is not (someone else
	// moved it first), store.ErrNotFound if the row is gone.
	UpdateMedia(ctx context.Context, m Media, from Status) error
	// MediaVisible reports whether a message carrying mediaID sits inside
	// userID's membership window of its conversation (joined_seq < seq and,
	// if it left, seq < left_seq).
	MediaVisible(ctx context.Context, mediaID, userID string) (bool, error)
	// MediaCarried reports whether any message carries mediaID.
	MediaCarried(ctx context.Context, mediaID string) (bool, error)
	// AbandonedMedia lists up to limit media that are not ready and were
	// created before t, oldest first.
	AbandonedMedia(ctx context.Context, before time.Time, limit int) ([]Media, error)
	// MediaCreatedBefore lists up to limit media of any status created
	// before t, oldest first.
	MediaCreatedBefore(ctx context.Context, before time.Time, limit int) ([]Media, error)
	// DeleteMedia deletes the rows; unknown ids are ignored.
	DeleteMedia(ctx context.Context, ids []string) error
	// MediaUploadedBy returns up to limit media items uploaded by userID.
	MediaUploadedBy(ctx context.Context, userID string, limit int) ([]Media, error)
}

// Upload is the answer to a new upload: where to PUT the bytes.
type Upload struct {
	MediaID   string
	UploadURL string
	Method    string
	ExpiresIn time.Duration
}

// View is a media item as a caller sees it, with fresh download URLs
// (empty unless ready). URLs may be server-relative.
type View struct {
	Media
	URL           string
	ThumbnailURL  string
	CompressedURL string
}

// Errors of this domain. internal/errmap gives each its wire code.
var (
	ErrNotFound     = errors.New("no such media")
	ErrBadSize      = errors.New("size must be a positive number of bytes")
	ErrBadType      = errors.New("content_type is missing or not an allowed media type")
	ErrTooLarge     = errors.New("the media is larger than its kind's limit")
	ErrNotUploaded  = errors.New("nothing has been uploaded for this media yet")
	ErrBusy         = errors.New("this media is being processed")
	ErrUploadClosed = errors.New("this media was completed: its upload URL is closed")
	// ErrRefused: the upload cannot be accepted for what it holds (or
	// could not be processed). The error's text is the reason, kept on
	// the failed upload for its uploader.
	ErrRefused         = errors.New("the media was refused")
	ErrSizeMismatch    = fault.New(ErrRefused, "the uploaded size differs from the declared size")
	ErrTimeout         = fault.New(ErrRefused, "the media could not be processed in time")
	ErrProcessingFault = fault.New(ErrRefused, "the media could not be processed")
)

// refused is an upload refused for what it contains, with the reason.
func refused(reason string) error { return fault.New(ErrRefused, reason) }
