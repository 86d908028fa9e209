// Package mediatest makes real media files for tests: images with Go's
// encoders (and hand-built metadata blocks), video and audio with
// ffmpeg's test sources.
package mediatest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// GPSMarker is a string planted in the metadata of the *WithMetadata
// images: it must not survive processing.
const GPSMarker = "GPS-48.8584N-2.2945E-SECRET"

// Picture draws a w x h gradient with some structure.
func Picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(x * 255 / max(1, w-1))
			img.Pix[i+1] = uint8(y * 255 / max(1, h-1))
			img.Pix[i+2] = uint8((x ^ y) & 0xff)
			img.Pix[i+3] = 0xff
		}
	}
	return img
}

// JPEG encodes a w x h picture.
func JPEG(t testing.TB, w, h, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Picture(w, h), &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// PNG encodes a w x h picture.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, Picture(w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// GIF encodes a two-frame animation with a comment extension carrying
// GPSMarker.
func GIF(t testing.TB, w, h int) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}}
	g := &gif.GIF{LoopCount: 0}
	for f := range 2 {
		p := image.NewPaletted(image.Rect(0, 0, w, h), pal)
		for i := range p.Pix {
			p.Pix[i] = uint8((i + f) % 3)
		}
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// A comment extension right before the trailer.
	comment := append([]byte{0x21, 0xfe, byte(len(GPSMarker))}, GPSMarker...)
	comment = append(comment, 0)
	out := append(bytes.Clone(b[:len(b)-1]), comment...)
	return append(out, 0x3b)
}

// exifAPP1 builds an APP1 EXIF segment with an orientation tag and a GPS
// IFD whose map datum is GPSMarker.
func exifAPP1(orientation uint16) []byte {
	le := binary.LittleEndian
	tiff := []byte("II*\x00")
	tiff = le.AppendUint32(tiff, 8)
	// IFD0 at 8: two entries, then the next-IFD offset.
	const ifd0Len = 2 + 2*12 + 4
	gpsOff := uint32(8 + ifd0Len)
	tiff = le.AppendUint16(tiff, 2)
	tiff = le.AppendUint16(tiff, 0x0112) // Orientation
	tiff = le.AppendUint16(tiff, 3)      // SHORT
	tiff = le.AppendUint32(tiff, 1)
	tiff = le.AppendUint16(tiff, orientation)
	tiff = le.AppendUint16(tiff, 0)
	tiff = le.AppendUint16(tiff, 0x8825) // GPSInfo IFD pointer
	tiff = le.AppendUint16(tiff, 4)      // LONG
	tiff = le.AppendUint32(tiff, 1)
	tiff = le.AppendUint32(tiff, gpsOff)
	tiff = le.AppendUint32(tiff, 0)
	// GPS IFD: one entry, GPSMapDatum (ASCII), stored after the IFD.
	marker := append([]byte(GPSMarker), 0)
	strOff := gpsOff + 2 + 12 + 4
	tiff = le.AppendUint16(tiff, 1)
	tiff = le.AppendUint16(tiff, 0x0012)
	tiff = le.AppendUint16(tiff, 2)
	tiff = le.AppendUint32(tiff, uint32(len(marker)))
	tiff = le.AppendUint32(tiff, strOff)
	tiff = le.AppendUint32(tiff, 0)
	tiff = append(tiff, marker...)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	return append(seg, payload...)
}

// JPEGWithEXIF is a JPEG with an EXIF APP1 block holding a GPS IFD (with
// GPSMarker) and the given orientation, and a COM segment with the marker.
func JPEGWithEXIF(t testing.TB, w, h int, orientation uint16) []byte {
	t.Helper()
	b := JPEG(t, w, h, 90)
	com := []byte{0xff, 0xfe}
	com = binary.BigEndian.AppendUint16(com, uint16(len(GPSMarker)+2))
	com = append(com, GPSMarker...)
	out := append([]byte{0xff, 0xd8}, exifAPP1(orientation)...)
	out = append(out, com...)
	return append(out, b[2:]...)
}

// Chunk encodes one PNG chunk.
func Chunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// PNGWithMetadata is a PNG with tEXt and eXIf chunks holding GPSMarker.
func PNGWithMetadata(t testing.TB, w, h int) []byte {
	t.Helper()
	b := PNG(t, w, h)
	iend := len(b) - 12
	out := bytes.Clone(b[:iend])
	out = append(out, Chunk("tEXt", []byte("Location\x00"+GPSMarker))...)
	out = append(out, Chunk("eXIf", exifAPP1(1)[10:])...)
	return append(out, b[iend:]...)
}

// BombPNG is a valid-looking PNG header claiming w x h pixels over a
// 1 x 1 image's data: decoding it would allocate w*h*4 bytes.
func BombPNG(t testing.TB, w, h uint32) []byte {
	t.Helper()
	b := bytes.Clone(PNG(t, 1, 1))
	// IHDR: 8 signature, 4 length, 4 type, then width and height.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// NeedFFmpeg skips (or, under CI=true, fails) a test without ffmpeg.
func NeedFFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := tool + " not found: install the ffmpeg package (apt-get install ffmpeg) to run this test"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// FFmpeg runs ffmpeg with args and the output file name out (in a temp
// dir), returning the file's bytes.
func FFmpeg(t testing.TB, out string, args ...string) []byte {
	t.Helper()
	NeedFFmpeg(t)
	path := filepath.Join(t.TempDir(), out)
	cmd := exec.Command("ffmpeg", append(append([]string{"-v", "error", "-nostdin", "-y"}, args...), path)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, msg)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// VideoLocation is the place Video writes into its container's metadata,
// as a phone does: it must not survive processing.
const VideoLocation = "+48.8584+002.2945/"

// Video makes a 2 s 320x240 test video (ext is mp4, mov or webm) that
// carries VideoLocation and a title in its metadata.
func Video(t testing.TB, ext string) []byte {
	src := []string{"-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=10",
		"-metadata", "location=" + VideoLocation, "-metadata", "title=" + GPSMarker}
	switch ext {
	case "webm":
		return FFmpeg(t, "v.webm", append(src, "-c:v", "libvpx", "-b:v", "200k")...)
	default:
		return FFmpeg(t, "v."+ext, append(src, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast")...)
	}
}

// Audio makes a 2 s 440 Hz tone: ext is mp3, aac (ADTS), m4a, ogg
// (Opus) or wav.
func Audio(t testing.TB, ext string) []byte {
	src := []string{"-f", "lavfi", "-i", "sine=frequency=440:duration=2"}
	switch ext {
	case "mp3":
		return FFmpeg(t, "a.mp3", append(src, "-c:a", "libmp3lame")...)
	case "aac":
		return FFmpeg(t, "a.aac", append(src, "-c:a", "aac", "-f", "adts")...)
	case "m4a":
		return FFmpeg(t, "a.m4a", append(src, "-c:a", "aac")...)
	case "ogg":
		return FFmpeg(t, "a.ogg", append(src, "-c:a", "libopus")...)
	default:
		return FFmpeg(t, "a.wav", src...)
	}
}

// WebP makes a w x h WebP (lossy, via ffmpeg's libwebp).
func WebP(t testing.TB, w, h int) []byte {
	src := PNG(t, w, h)
	in := filepath.Join(t.TempDir(), "in.png")
	if err := os.WriteFile(in, src, 0o600); err != nil {
		t.Fatal(err)
	}
	return FFmpeg(t, "out.webp", "-i", in, "-c:v", "libwebp", "-frames:v", "1")
}

// WebPWithEXIF wraps a simple WebP's image chunk in an extended (VP8X)
// file carrying an EXIF chunk with GPSMarker.
func WebPWithEXIF(t testing.TB, w, h int) []byte {
	t.Helper()
	b := WebP(t, w, h)
	if string(b[12:16]) != "VP8 " && string(b[12:16]) != "VP8L" {
		t.Fatalf("unexpected WebP layout %q", b[12:16])
	}
	img := b[12:]
	le := binary.LittleEndian
	vp8x := []byte("VP8X")
	vp8x = le.AppendUint32(vp8x, 10)
	flags := []byte{0x08, 0, 0, 0} // EXIF present
	vp8x = append(vp8x, flags...)
	wm, hm := uint32(w-1), uint32(h-1)
	vp8x = append(vp8x, byte(wm), byte(wm>>8), byte(wm>>16), byte(hm), byte(hm>>8), byte(hm>>16))
	exif := exifAPP1(1)[10:] // the TIFF structure
	ec := []byte("EXIF")
	ec = le.AppendUint32(ec, uint32(len(exif)))
	ec = append(ec, exif...)
	if len(exif)%2 == 1 {
		ec = append(ec, 0)
	}
	body := append(append(append([]byte("WEBP"), vp8x...), img...), ec...)
	out := []byte("RIFF")
	out = le.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}
