package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"

	"github.com/oklog/ulid/v2"
	"golang.org/x/image/draw"
)

// Avatar sizes: a square centre crop at AvatarSide, and a thumbnail of
// AvatarThumbSide for lists.
const (
	AvatarSide      = 640
	AvatarThumbSide = 96

	avatarQuality = 85
)

// Avatar is a picture made from an uploaded image for a user or a group.
// Its objects live under their own keys, outside any media item's, so the
// media retention expiry never deletes them: an avatar lives until its
// owner replaces or removes it (DeleteAvatar).
type Avatar struct {
	ID string
}

// AvatarURLs are an avatar's presigned download URLs, valid for the
// service's DownloadTTL.
type AvatarURLs struct {
	URL640 string
	URL96  string
}

// Avatar errors.
var (
	ErrNotImage = errors.New("an avatar must be made from an image")
	ErrNotReady = errors.New("the media is not ready: complete its upload first")
)

// Object keys of an avatar. The "avatars/" prefix never collides with a
// media item's keys (a ULID, then a slash).
func avatar640Key(id string) string { return "avatars/" + id + "/640.jpg" }
func avatar96Key(id string) string  { return "avatars/" + id + "/96.jpg" }

// validAvatarID guards the keys built from an id that comes back from
// storage: an id is a ULID, nothing that could name another object.
func validAvatarID(id string) bool {
	_, err := ulid.ParseStrict(id)
	return err == nil && !strings.ContainsAny(id, "/.")
}

// MakeAvatar makes an avatar from mediaID: a ready image uploaded by
// userID. The image is cropped to its centre square and re-encoded as a
// JPEG at 640 x 640 and 96 x 96; decoding and re-encoding leaves every
// bit of metadata (EXIF, GPS, XMP) behind. The stored original was turned
// upright when the upload completed, so the crop is upright too. Someone
// else's media is ErrNotFound, as for Complete: an id is no proof.
func (s *Service) MakeAvatar(ctx context.Context, userID, mediaID string) (Avatar, error) {
	m, err := s.load(ctx, mediaID)
	if err != nil {
		return Avatar{}, err
	}
	if m.UploaderID != userID {
		return Avatar{}, ErrNotFound
	}
	if m.Kind != KindImage {
		return Avatar{}, ErrNotImage
	}
	if m.Status != StatusReady {
		return Avatar{}, ErrNotReady
	}
	// The worker pool bounds decoding here as for uploads: an avatar
	// decodes a whole image too.
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return Avatar{}, ctx.Err()
	}
	defer func() { <-s.slots }()

	data, err := s.read(ctx, originalKey(m.ID), m.Size)
	if err != nil {
		return Avatar{}, err
	}
	big, small, err := avatarImages(data, s.cfg.MaxPixels)
	if err != nil {
		return Avatar{}, err
	}
	a := Avatar{ID: ulid.Make().String()}
	for _, o := range []struct {
		key string
		b   []byte
	}{{avatar640Key(a.ID), big}, {avatar96Key(a.ID), small}} {
		if err := s.blobs.Put(ctx, o.key, bytes.NewReader(o.b), int64(len(o.b)), "image/jpeg"); err != nil {
			_ = s.DeleteAvatar(ctx, a.ID)
			return Avatar{}, fmt.Errorf("store avatar %s: %w", o.key, err)
		}
	}
	s.log.Debug("avatar made", "avatar_id", a.ID, "media_id", m.ID)
	return a, nil
}

// avatarImages decodes an image and returns its centre square as JPEGs of
// AvatarSide and AvatarThumbSide.
func avatarImages(data []byte, maxPixels int64) (big, small []byte, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, nil, refused("the image cannot be decoded")
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px <= 0 || px > maxPixels {
		return nil, nil, refused("the image's size is out of bounds")
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, nil, refused("the image cannot be decoded")
	}
	opaque := format == "jpeg"
	sq := square(img, AvatarSide, opaque)
	if big, err = encodeJPEG(sq, avatarQuality); err != nil {
		return nil, nil, err
	}
	// The thumbnail from the 640 crop: the same look, far less work.
	if small, err = encodeJPEG(square(sq, AvatarThumbSide, true), avatarQuality); err != nil {
		return nil, nil, err
	}
	return big, small, nil
}

// square crops img to its centre square and scales that to side x side,
// enlarging a small picture too (an avatar always has its size), on a
// white background so that a transparent image makes a sensible JPEG.
func square(img image.Image, side int, opaque bool) *image.RGBA {
	b := img.Bounds()
	n := min(b.Dx(), b.Dy())
	crop := image.Rect(0, 0, n, n).Add(b.Min).Add(image.Pt((b.Dx()-n)/2, (b.Dy()-n)/2))
	dst := image.NewRGBA(image.Rect(0, 0, side, side))
	op := draw.Src
	if !opaque {
		draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		op = draw.Over
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, crop, op, nil)
	return dst
}

// AvatarURLs signs download URLs of both sizes of an avatar.
func (s *Service) AvatarURLs(ctx context.Context, avatarID string) (AvatarURLs, error) {
	if !validAvatarID(avatarID) {
		return AvatarURLs{}, fmt.Errorf("avatar id %q is malformed", avatarID)
	}
	var u AvatarURLs
	var err error
	if u.URL640, err = s.blobs.PresignGet(ctx, avatar640Key(avatarID), "image/jpeg", s.cfg.DownloadTTL); err != nil {
		return AvatarURLs{}, fmt.Errorf("presign avatar: %w", err)
	}
	if u.URL96, err = s.blobs.PresignGet(ctx, avatar96Key(avatarID), "image/jpeg", s.cfg.DownloadTTL); err != nil {
		return AvatarURLs{}, fmt.Errorf("presign avatar: %w", err)
	}
	return u, nil
}

// DeleteAvatar deletes an avatar's objects; a missing one is no error.
// Call it once nothing names the avatar any more.
func (s *Service) DeleteAvatar(ctx context.Context, avatarID string) error {
	if !validAvatarID(avatarID) {
		return fmt.Errorf("avatar id %q is malformed", avatarID)
	}
	err := errors.Join(s.blobs.Delete(ctx, avatar640Key(avatarID)), s.blobs.Delete(ctx, avatar96Key(avatarID)))
	if err != nil {
		s.log.Warn("avatar objects not deleted", "avatar_id", avatarID, "err", err)
		return fmt.Errorf("delete avatar: %w", err)
	}
	return nil
}
