package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"testing"

	"github.com/parleychat/parley/internal/media/mediatest"
)

// fuzzSeeds adds small real images of each format, with and without
// metadata, to a fuzz target's corpus. WebP needs ffmpeg to make, so its
// seeds are committed under testdata/fuzz instead.
func fuzzSeeds(f *testing.F) {
	jpg := mediatest.JPEG(f, 8, 8, 90)
	// A comment segment after the scan, before EOI: metadata that a
	// strip which stops at the first SOS would keep.
	com := []byte{0xff, 0xfe, 0, byte(2 + len(mediatest.GPSMarker))}
	late := append(append(bytes.Clone(jpg[:len(jpg)-2]), append(com, mediatest.GPSMarker...)...), 0xff, 0xd9)
	for _, b := range [][]byte{
		jpg,
		mediatest.JPEGWithEXIF(f, 8, 6, 6),
		late,
		mediatest.PNG(f, 8, 8),
		mediatest.PNGWithMetadata(f, 8, 8),
		mediatest.BombPNG(f, 50000, 50000),
		mediatest.GIF(f, 8, 8),
	} {
		f.Add(b)
	}
}

// FuzzStripImage runs each format's metadata stripper on arbitrary bytes.
// A stripper refuses with errCorrupt or returns a file that: is no larger;
// holds no metadata (no APPn but JFIF, ICC and Adobe nor COM in a JPEG,
// only the kept chunks in a PNG, no EXIF or XMP chunk or flag in a WebP,
// and stripping it again changes nothing); and, when the input decodes as
// an image of that format, decodes to the same format, size and pixels.
func FuzzStripImage(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		strippers := map[string]func([]byte) ([]byte, error){
			"jpeg": func(b []byte) ([]byte, error) { out, _, err := stripJPEG(b); return out, err },
			"png":  stripPNG,
			"webp": stripWebP,
			"gif":  func(b []byte) ([]byte, error) { out, _, err := stripGIF(b); return out, err },
		}
		for format, strip := range strippers {
			out, err := strip(data)
			if err != nil {
				if !errors.Is(err, errCorrupt) {
					t.Fatalf("%s: refusal is not errCorrupt: %v", format, err)
				}
				continue
			}
			if len(out) > len(data) {
				t.Fatalf("%s: stripping grew %d bytes to %d", format, len(data), len(out))
			}
			again, err := strip(out)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("%s: stripping the stripped file changed it (err %v)", format, err)
			}
			if m := metadataLeft(format, out); m != "" {
				t.Fatalf("%s: stripped file still holds %s", format, m)
			}
			samePicture(t, format, data, out)
		}
	})
}

// samePicture checks that, when before decodes as format, after decodes
// too, as the same format, size and pixels.
func samePicture(t *testing.T, format string, before, after []byte) {
	t.Helper()
	cfg, got, err := image.DecodeConfig(bytes.NewReader(before))
	if err != nil || got != format || int64(cfg.Width)*int64(cfg.Height) > 1<<14 {
		return
	}
	img, _, err := image.Decode(bytes.NewReader(before))
	if err != nil {
		return
	}
	cfg2, got2, err := image.DecodeConfig(bytes.NewReader(after))
	if err != nil || got2 != format || cfg2.Width != cfg.Width || cfg2.Height != cfg.Height {
		t.Fatalf("%s: stripped file's header is %s %dx%d (err %v), was %dx%d", format, got2, cfg2.Width, cfg2.Height, err, cfg.Width, cfg.Height)
	}
	img2, _, err := image.Decode(bytes.NewReader(after))
	if err != nil {
		t.Fatalf("%s: the image decoded before stripping, not after: %v", format, err)
	}
	if img.Bounds() != img2.Bounds() {
		t.Fatalf("%s: bounds %v became %v", format, img.Bounds(), img2.Bounds())
	}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, a1 := img.At(x, y).RGBA()
			r2, g2, b2, a2 := img2.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				t.Fatalf("%s: pixel (%d,%d) changed", format, x, y)
			}
		}
	}
}

// metadataLeft names a metadata block left in a stripped file, or "".
func metadataLeft(format string, b []byte) string {
	switch format {
	case "jpeg":
		for _, m := range jpegMarkers(b) {
			if m == 0xfe || m >= 0xe1 && m <= 0xef && m != 0xe2 && m != 0xee {
				return "a metadata segment"
			}
		}
	case "png":
		for i := 8; i+8 <= len(b); {
			n := int(binary.BigEndian.Uint32(b[i:]))
			if typ := string(b[i+4 : i+8]); !pngKeep[typ] {
				return "chunk " + typ
			}
			i += 12 + n
		}
	case "webp":
		for i := 12; i+8 <= len(b); {
			fourcc := string(b[i : i+4])
			n := int(binary.LittleEndian.Uint32(b[i+4:]))
			if fourcc == "EXIF" || fourcc == "XMP " {
				return "chunk " + fourcc
			}
			if fourcc == "VP8X" && n > 0 && i+8 < len(b) && b[i+8]&0x0c != 0 {
				return "an EXIF or XMP flag"
			}
			i += 8 + n + n&1
		}
	}
	return ""
}

// jpegMarkers lists the markers of a JPEG file, those between and after
// the scans included: in entropy-coded data, 0xff is followed by 0x00
// (a stuffed byte), a restart marker or fill, or else a marker.
func jpegMarkers(b []byte) []byte {
	var ms []byte
	i := 2
	for i+1 < len(b) {
		if b[i] != 0xff {
			i++ // entropy-coded data
			continue
		}
		m := b[i+1]
		switch {
		case m == 0x00 || m == 0xff || m >= 0xd0 && m <= 0xd7 || m == 0x01:
			i += 2 - boolInt(m == 0xff)
			continue
		case m == 0xd9:
			return append(ms, m)
		}
		ms = append(ms, m)
		if i+4 > len(b) {
			return ms
		}
		i += 2 + int(binary.BigEndian.Uint16(b[i+2:]))
	}
	return ms
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// FuzzProcessImage runs the upload path's image processing on arbitrary
// bytes under a small pixel budget. A refusal is ErrRefused; an accepted
// image is within the budget, its stored original (stripped) decodes as
// the same format with the dimensions recorded (turned for an EXIF
// rotation, re-encoded as JPEG), holds no metadata, and its thumbnail is
// a JPEG no larger than ThumbSide.
func FuzzProcessImage(f *testing.F) {
	fuzzSeeds(f)
	const maxPixels = 1 << 14
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Media
		out, err := processImage(data, maxPixels, &m)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("refusal is not ErrRefused: %v", err)
			}
			return
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("accepted an image whose header does not decode: %v", err)
		}
		if m.Width <= 0 || m.Height <= 0 || int64(m.Width)*int64(m.Height) > maxPixels {
			t.Fatalf("accepted %dx%d, budget %d", m.Width, m.Height, maxPixels)
		}
		if !(m.Width == cfg.Width && m.Height == cfg.Height) && !(format == "jpeg" && m.Width == cfg.Height && m.Height == cfg.Width) {
			t.Fatalf("recorded %dx%d for a %dx%d %s", m.Width, m.Height, cfg.Width, cfg.Height, format)
		}
		stored := data
		if out.Original != nil {
			stored = out.Original
		}
		scfg, sformat, err := image.DecodeConfig(bytes.NewReader(stored))
		if err != nil || sformat != format || scfg.Width != m.Width || scfg.Height != m.Height {
			t.Fatalf("stored original is %s %dx%d (err %v), recorded %s %dx%d", sformat, scfg.Width, scfg.Height, err, format, m.Width, m.Height)
		}
		if s := metadataLeft(format, stored); s != "" {
			t.Fatalf("stored %s original still holds %s", format, s)
		}
		if out.Thumb == nil {
			t.Fatal("no thumbnail")
		}
		th, err := jpeg.DecodeConfig(bytes.NewReader(out.Thumb))
		if err != nil || th.Width > ThumbSide || th.Height > ThumbSide || th.Width <= 0 || th.Height <= 0 {
			t.Fatalf("thumbnail %dx%d (err %v)", th.Width, th.Height, err)
		}
	})
}

// FuzzAvatarImages makes avatars of arbitrary bytes under a small pixel
// budget: a refusal is ErrRefused; otherwise both images are JPEGs of
// exactly AvatarSide and AvatarThumbSide squared, whatever the input's
// shape.
func FuzzAvatarImages(f *testing.F) {
	fuzzSeeds(f)
	f.Add(mediatest.PNG(f, 1, 9))
	const maxPixels = 1 << 12
	f.Fuzz(func(t *testing.T, data []byte) {
		big, small, err := avatarImages(data, maxPixels)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("refusal is not ErrRefused: %v", err)
			}
			return
		}
		for _, c := range []struct {
			b    []byte
			side int
		}{{big, AvatarSide}, {small, AvatarThumbSide}} {
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(c.b))
			if err != nil || cfg.Width != c.side || cfg.Height != c.side {
				t.Fatalf("avatar %dx%d (err %v), want %d square", cfg.Width, cfg.Height, err, c.side)
			}
		}
	})
}
