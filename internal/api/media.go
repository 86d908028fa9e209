package api

import (
	"context"
	"net/http"

	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/wire"
)

// Media is the media service as the API uses it.
type Media interface {
	Create(ctx context.Context, userID, contentType string, size int64) (media.Upload, error)
	Complete(ctx context.Context, userID, id string) (media.View, error)
	Get(ctx context.Context, userID, id string) (media.View, error)
}

// RegisterMedia adds the media routes to mux. onRequestHost says that m
// gives server-relative URLs (local storage without --public-url), which
// are answered on the host the client reached, if it is this server's.
func (a *API) RegisterMedia(mux *http.ServeMux, m Media, onRequestHost bool) {
	h := mediaHandlers{API: a, media: m, onRequestHost: onRequestHost}
	mux.Handle("POST /api/v1/media", a.auth(h.create))
	mux.Handle("POST /api/v1/media/{id}/complete", a.auth(h.complete))
	mux.Handle("GET /api/v1/media/{id}", a.auth(h.get))
}

type mediaHandlers struct {
	*API
	media         Media
	onRequestHost bool
}

func (h mediaHandlers) create(w http.ResponseWriter, r *http.Request) {
	var req wire.CreateMediaRequest
	if err := decode(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Size == nil {
		h.fail(w, r, media.ErrBadSize)
		return
	}
	if h.onRequestHost && !h.ownHost(r.Host, r.TLS != nil) {
		h.fail(w, r, ErrUnknownHost) // before anything is created
		return
	}
	up, err := h.media.Create(r.Context(), session(r.Context()).UserID, req.ContentType, *req.Size)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, err := h.absolute(r, up.UploadURL)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, wire.Upload{
		MediaID: up.MediaID, UploadURL: u, UploadMethod: up.Method, ExpiresIn: int64(up.ExpiresIn.Seconds()),
	})
}

func (h mediaHandlers) complete(w http.ResponseWriter, r *http.Request) {
	v, err := h.media.Complete(r.Context(), session(r.Context()).UserID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeMedia(w, r, v)
}

func (h mediaHandlers) get(w http.ResponseWriter, r *http.Request) {
	v, err := h.media.Get(r.Context(), session(r.Context()).UserID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeMedia(w, r, v)
}

func (a *API) toMedia(r *http.Request, v media.View) (wire.Media, error) {
	size := v.Size
	if v.Status != media.StatusReady {
		size = v.DeclaredSize
	}
	j := wire.Media{
		MediaID: v.ID, Status: string(v.Status), Kind: string(v.Kind), ContentType: v.ContentType, Size: size,
		Width: v.Width, Height: v.Height, DurationMS: v.DurationMS, Codec: v.Codec, Reason: v.Reason,
		UploaderID: v.UploaderID, CreatedAt: v.CreatedAt.UnixMilli(),
	}
	var err error
	for _, f := range []struct {
		dst *string
		src string
	}{{&j.URL, v.URL}, {&j.ThumbnailURL, v.ThumbnailURL}, {&j.CompressedURL, v.CompressedURL}} {
		if *f.dst, err = a.absolute(r, f.src); err != nil {
			return wire.Media{}, err
		}
	}
	if len(v.Waveform) > 0 {
		// As numbers: a []byte would go out as base64.
		j.Waveform = make([]int, len(v.Waveform))
		for i, b := range v.Waveform {
			j.Waveform[i] = int(b)
		}
	}
	return j, nil
}

func (h mediaHandlers) writeMedia(w http.ResponseWriter, r *http.Request, v media.View) {
	j, err := h.toMedia(r, v)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}
