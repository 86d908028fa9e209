package media

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/media/mediatest"
)

func TestMediaSniff(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want family
	}{
		{"jpeg", mediatest.JPEG(t, 8, 8, 80), famJPEG},
		{"png", mediatest.PNG(t, 8, 8), famPNG},
		{"gif", mediatest.GIF(t, 8, 8), famGIF},
		{"pdf", []byte("%PDF-1.7\n..."), famPDF},
		{"zip", []byte("PK\x03\x04rest"), famZIP},
		{"text", []byte("hello, world\nsecond line"), famText},
		{"binary", []byte{0, 1, 2, 3, 0xfe}, famUnknown},
		{"mp3 frame", []byte{0xff, 0xfb, 0x90, 0x64}, famMP3},
		{"adts", []byte{0xff, 0xf1, 0x50, 0x80}, famADTS},
		{"mp4", []byte("\x00\x00\x00\x20ftypisom"), famISOBMFF},
		{"ogg", []byte("OggS\x00\x02"), famOgg},
		{"webm", []byte("\x1a\x45\xdf\xa3\x9f"), famEBML},
		{"wav", []byte("RIFF\x24\x00\x00\x00WAVEfmt "), famWAV},
		{"webp", []byte("RIFF\x24\x00\x00\x00WEBPVP8 "), famWebP},
	} {
		if got := sniff(tc.data); got != tc.want {
			t.Errorf("sniff(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestMediaTypes(t *testing.T) {
	for in, want := range map[string]string{
		"image/JPEG":                "image/jpeg",
		"image/jpg":                 "image/jpeg",
		"audio/ogg; codecs=opus":    "audio/ogg",
		"text/plain; charset=utf-8": "text/plain",
	} {
		if got, _, ok := normalizeType(in); !ok || got != want {
			t.Errorf("normalizeType(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "text/html", "application/x-msdownload", "image/svg+xml", "nonsense"} {
		if _, _, ok := normalizeType(bad); ok {
			t.Errorf("normalizeType(%q) accepted", bad)
		}
	}
}

// TestMediaBombRefusedBeforeDecoding: a PNG that claims 50,000 x 50,000
// pixels (10 GB as RGBA) is refused from its header, without allocating
// anything near its pixels.
func TestMediaBombRefusedBeforeDecoding(t *testing.T) {
	bomb := mediatest.BombPNG(t, 50_000, 50_000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var m Media
	_, err := processImage(bomb, 50_000_000, &m)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("bomb: %v, want a refusal", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("refusing the bomb allocated %d bytes", alloc)
	}
}

func TestMediaJPEGStripsEXIFLosslessly(t *testing.T) {
	src := mediatest.JPEGWithEXIF(t, 64, 48, 1)
	if !bytes.Contains(src, []byte(mediatest.GPSMarker)) || !bytes.Contains(src, []byte("Exif\x00\x00")) {
		t.Fatal("fixture lacks its metadata")
	}
	var m Media
	out, err := processImage(src, 50_000_000, &m)
	if err != nil {
		t.Fatal(err)
	}
	if out.Original == nil || bytes.Contains(out.Original, []byte(mediatest.GPSMarker)) || bytes.Contains(out.Original, []byte("Exif\x00\x00")) {
		t.Fatalf("EXIF/GPS survived")
	}
	// Lossless: the entropy-coded data is byte for byte the same.
	sos := func(b []byte) []byte { return b[bytes.Index(b, []byte{0xff, 0xda}):] }
	if !bytes.Equal(sos(out.Original), sos(src)) {
		t.Fatalf("image data changed while stripping")
	}
	if m.Width != 64 || m.Height != 48 {
		t.Fatalf("size %dx%d", m.Width, m.Height)
	}
}

func TestMediaJPEGOrientationApplied(t *testing.T) {
	// Orientation 6: stored landscape, shown rotated 90° clockwise.
	src := mediatest.JPEGWithEXIF(t, 64, 48, 6)
	var m Media
	out, err := processImage(src, 50_000_000, &m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Width != 48 || m.Height != 64 {
		t.Fatalf("upright size %dx%d, want 48x64", m.Width, m.Height)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(out.Original))
	if err != nil || cfg.Width != 48 || cfg.Height != 64 || bytes.Contains(out.Original, []byte(mediatest.GPSMarker)) {
		t.Fatalf("stored original %dx%d, %v", cfg.Width, cfg.Height, err)
	}
}

func TestMediaImageFormats(t *testing.T) {
	mediatest.NeedFFmpeg(t) // for the WebP fixture
	for _, tc := range []struct {
		name string
		data []byte
		w, h int
	}{
		{"png", mediatest.PNGWithMetadata(t, 100, 50), 100, 50},
		{"gif", mediatest.GIF(t, 40, 30), 40, 30},
		{"webp", mediatest.WebPWithEXIF(t, 60, 40), 60, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(tc.data, []byte(mediatest.GPSMarker)) {
				t.Fatal("fixture lacks its metadata")
			}
			var m Media
			out, err := processImage(tc.data, 50_000_000, &m)
			if err != nil {
				t.Fatal(err)
			}
			if m.Width != tc.w || m.Height != tc.h {
				t.Fatalf("size %dx%d", m.Width, m.Height)
			}
			if out.Original == nil || bytes.Contains(out.Original, []byte(mediatest.GPSMarker)) {
				t.Fatalf("metadata survived")
			}
			// What is stored still decodes to the same size.
			cfg, _, err := image.DecodeConfig(bytes.NewReader(out.Original))
			if err != nil || cfg.Width != tc.w || cfg.Height != tc.h {
				t.Fatalf("stripped original: %dx%d, %v", cfg.Width, cfg.Height, err)
			}
			if _, _, err := image.Decode(bytes.NewReader(out.Original)); err != nil {
				t.Fatalf("stripped original does not decode: %v", err)
			}
			if out.Thumb == nil {
				t.Fatal("no thumbnail")
			}
		})
	}
}

func TestMediaThumbnailAndVariant(t *testing.T) {
	src := mediatest.JPEG(t, 3000, 2000, 90)
	var m Media
	out, err := processImage(src, 50_000_000, &m)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		w, h int
	}{{"thumbnail", out.Thumb, 320, 213}, {"variant", out.Variant, 2048, 1365}} {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(c.b))
		if err != nil || cfg.Width != c.w || cfg.Height != c.h {
			t.Errorf("%s = %dx%d, %v; want %dx%d", c.name, cfg.Width, cfg.Height, err, c.w, c.h)
		}
	}
	// A small image gets a thumbnail no larger than itself, and no variant.
	out, err = processImage(mediatest.PNG(t, 100, 80), 50_000_000, &m)
	if err != nil || out.Variant != nil {
		t.Fatalf("small image: variant %d bytes, %v", len(out.Variant), err)
	}
	if cfg, _ := jpeg.DecodeConfig(bytes.NewReader(out.Thumb)); cfg.Width != 100 || cfg.Height != 80 {
		t.Fatalf("small thumbnail %dx%d", cfg.Width, cfg.Height)
	}
}

func TestMediaCorruptImages(t *testing.T) {
	good := mediatest.JPEG(t, 64, 64, 80)
	for name, data := range map[string][]byte{
		"truncated jpeg": good[:len(good)/3],
		"header only":    good[:20],
		"garbage png":    append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...),
	} {
		var m Media
		if _, err := processImage(data, 50_000_000, &m); err == nil {
			t.Errorf("%s accepted", name)
		} else if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want a refusal", name, err)
		}
	}
}

func TestMediaVideoAndAudioProbe(t *testing.T) {
	mediatest.NeedFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var tools Tools
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := dir + "/" + name
		if err := writeFile(p, b); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var m Media
	out, err := tools.processVideo(ctx, write("v.mp4", mediatest.Video(t, "mp4")), 50_000_000, &m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Width != 320 || m.Height != 240 || m.Codec != "h264" || m.DurationMS < 1900 || m.DurationMS > 2100 || len(out.Thumb) == 0 {
		t.Fatalf("video: %+v, thumb %d bytes", m, len(out.Thumb))
	}
	m = Media{}
	if err := tools.processAudio(ctx, write("a.ogg", mediatest.Audio(t, "ogg")), &m); err != nil {
		t.Fatal(err)
	}
	if m.Codec != "opus" || m.DurationMS < 1900 || m.DurationMS > 2200 || len(m.Waveform) != WaveformBuckets {
		t.Fatalf("audio: %+v", m)
	}
	for i, v := range m.Waveform[2 : WaveformBuckets-2] {
		// A steady full-scale-ish sine: every inner bucket loud.
		if v < 20 {
			t.Fatalf("waveform bucket %d = %d: %v", i+2, v, m.Waveform)
		}
	}
	// An audio file is no video.
	m = Media{}
	if _, err := tools.processVideo(ctx, write("a.wav", mediatest.Audio(t, "wav")), 50_000_000, &m); !errors.Is(err, ErrRefused) {
		t.Fatalf("audio as video: %v", err)
	}
	// A probe that outlives its context is stopped.
	short, cancel2 := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel2()
	time.Sleep(time.Millisecond)
	if _, err := tools.processVideo(short, write("v2.mp4", mediatest.Video(t, "mp4")), 50_000_000, &m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}
}

func TestMediaWaveformBuckets(t *testing.T) {
	// Fewer peaks than buckets stretch; a full-scale peak is 255.
	got := bucket([]int{0, 32767}, 4)
	if !bytes.Equal(got, []byte{0, 0, 255, 255}) {
		t.Fatalf("bucket = %v", got)
	}
	peaks := make([]int, 640)
	peaks[639] = 16384
	got = bucket(peaks, 64)
	if got[63] != 127 || got[0] != 0 {
		t.Fatalf("bucket = %v", got)
	}
}

// TestDurationWithoutHeader: a browser's MediaRecorder writes WebM as a
// stream, with no duration in its header; the duration comes from the
// packets instead.
func TestDurationWithoutHeader(t *testing.T) {
	mediatest.NeedFFmpeg(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	streamed := func(name string, args ...string) string {
		t.Helper()
		// Written to a pipe, as a recorder streams it: no seeking back to
		// fill in the duration.
		cmd := exec.CommandContext(ctx, "ffmpeg", append(append([]string{"-v", "error"}, args...), "-f", "webm", "-")...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ffmpeg: %v", err)
		}
		p := dir + "/" + name
		if err := writeFile(p, out); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var tools Tools
	voice := streamed("voice.webm", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "libopus")
	if p, _ := tools.probe(ctx, voice); durationMS(p.Format.Duration) != 0 {
		t.Skip("this ffmpeg writes a duration into streamed WebM; nothing to test")
	}
	var m Media
	if err := tools.processAudio(ctx, voice, &m); err != nil {
		t.Fatal(err)
	}
	if m.DurationMS < 1900 || m.DurationMS > 2200 {
		t.Fatalf("voice note duration = %d ms, want about 2000", m.DurationMS)
	}
	video := streamed("clip.webm", "-f", "lavfi", "-i", "testsrc=duration=2:size=160x120:rate=10", "-c:v", "libvpx", "-b:v", "200k")
	m = Media{ContentType: "video/webm"}
	if _, err := tools.processVideo(ctx, video, 50_000_000, &m); err != nil {
		t.Fatal(err)
	}
	if m.DurationMS < 1900 || m.DurationMS > 2200 {
		t.Fatalf("video duration = %d ms, want about 2000", m.DurationMS)
	}
}
