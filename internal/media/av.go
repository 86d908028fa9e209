package media

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// Tools runs ffprobe and ffmpeg (Debian package ffmpeg) for video and
// audio. Every run is bound to the caller's context, so the processing
// timeout kills a stuck process.
type Tools struct {
	FFprobe string // default "ffprobe"
	FFmpeg  string // default "ffmpeg"
}

// WaveformBuckets is the length of an audio waveform.
const WaveformBuckets = 64

type probeResult struct {
	Streams []struct {
		CodecType   string `json:"codec_type"`
		CodecName   string `json:"codec_name"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		Duration    string `json:"duration"`
		Disposition struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		Tags         map[string]string `json:"tags"`
		SideDataList []struct {
			Rotation float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// run runs a tool, returning its stdout; stderr (bounded) goes into the
// error.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout bytes.Buffer
	stderr := &limitedBuffer{max: 2048}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// A child that keeps the pipes open must not hang us past the kill.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (t Tools) ffprobe() string { return cmp(t.FFprobe, "ffprobe") }
func (t Tools) ffmpeg() string  { return cmp(t.FFmpeg, "ffmpeg") }

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Available reports whether both tools can be found.
func (t Tools) Available() error {
	for _, n := range []string{t.ffprobe(), t.ffmpeg()} {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s not found: video and audio uploads will fail (install the ffmpeg package)", n)
		}
	}
	return nil
}

func (t Tools) probe(ctx context.Context, path string) (probeResult, error) {
	out, err := run(ctx, t.ffprobe(), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path)
	if err != nil {
		if ctx.Err() != nil {
			return probeResult{}, err
		}
		// ffprobe failing on the file is the file's fault, not ours.
		return probeResult{}, refused("the file cannot be read as audio or video")
	}
	var p probeResult
	if err := json.Unmarshal(out, &p); err != nil {
		return probeResult{}, fmt.Errorf("parse ffprobe output: %w", err)
	}
	return p, nil
}

// packetsDuration measures a file whose header states no duration (a
// browser's MediaRecorder writes WebM so) by the end of its last packet.
// 0 when it cannot tell.
func (t Tools) packetsDuration(ctx context.Context, path string) int64 {
	out, err := run(ctx, t.ffprobe(), "-v", "error", "-show_entries", "packet=pts_time,duration_time",
		"-of", "csv=p=0", path)
	if err != nil {
		return 0
	}
	var end float64
	for _, line := range strings.Split(string(out), "\n") {
		pts, dur, _ := strings.Cut(strings.TrimSpace(line), ",")
		p, err := strconv.ParseFloat(pts, 64)
		if err != nil {
			continue
		}
		d, _ := strconv.ParseFloat(dur, 64)
		end = max(end, p+d)
	}
	return durationMS(strconv.FormatFloat(end, 'f', -1, 64))
}

func durationMS(s string) int64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return int64(math.Round(f * 1000))
}

// processVideo probes a video file and makes its poster-frame thumbnail.
func (t Tools) processVideo(ctx context.Context, path string, maxPixels int64, m *Media) (output, error) {
	p, err := t.probe(ctx, path)
	if err != nil {
		return output{}, err
	}
	var found bool
	for _, s := range p.Streams {
		if s.CodecType != "video" || s.Disposition.AttachedPic != 0 {
			continue
		}
		found = true
		m.Width, m.Height, m.Codec = s.Width, s.Height, s.CodecName
		m.DurationMS = durationMS(s.Duration)
		// Phones record portrait video as landscape plus a rotation:
		// report the size it is shown at (ffmpeg turns the poster too).
		rot := 0.0
		if r, ok := s.Tags["rotate"]; ok {
			rot, _ = strconv.ParseFloat(r, 64)
		}
		for _, sd := range s.SideDataList {
			if sd.Rotation != 0 {
				rot = sd.Rotation
			}
		}
		if r := int(math.Abs(rot)) % 180; r == 90 {
			m.Width, m.Height = m.Height, m.Width
		}
		break
	}
	if !found || m.Width <= 0 || m.Height <= 0 {
		return output{}, refused("the file has no video stream")
	}
	if int64(m.Width)*int64(m.Height) > maxPixels {
		return output{}, refused(fmt.Sprintf("the video is %d x %d pixels, more than the %d allowed", m.Width, m.Height, maxPixels))
	}
	if d := durationMS(p.Format.Duration); d > 0 {
		m.DurationMS = d
	}
	if m.DurationMS == 0 {
		m.DurationMS = t.packetsDuration(ctx, path)
	}
	// The poster frame and the metadata-free remux are independent: run
	// them side by side.
	var thumb, clean []byte
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		thumb, err = t.poster(gctx, path)
		return err
	})
	g.Go(func() error {
		var err error
		clean, err = t.stripVideo(gctx, path, m.ContentType)
		return err
	})
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return output{}, ctx.Err()
		}
		return output{}, err
	}
	return output{Thumb: thumb, Original: clean}, nil
}

// poster is the first frame, scaled to fit ThumbSide, as a JPEG.
func (t Tools) poster(ctx context.Context, path string) ([]byte, error) {
	scale := fmt.Sprintf("scale=w='min(%d,iw)':h='min(%d,ih)':force_original_aspect_ratio=decrease", ThumbSide, ThumbSide)
	thumb, err := run(ctx, t.ffmpeg(), "-v", "error", "-nostdin", "-ss", "0", "-i", path,
		"-frames:v", "1", "-vf", scale, "-f", "image2pipe", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "5", "-")
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, refused("no frame of the video can be decoded")
	}
	if len(thumb) == 0 {
		return nil, refused("no frame of the video can be decoded")
	}
	return thumb, nil
}

// stripVideo remuxes the video without its metadata (phones write the
// place a video was shot into its container: QuickTime's ISO 6709
// location, MP4's ©xyz), copying the streams as they are: nothing is
// re-encoded. faststart puts an MP4's index first, so players can start
// before the whole file has arrived.
func (t Tools) stripVideo(ctx context.Context, path, contentType string) ([]byte, error) {
	args := []string{"-v", "error", "-nostdin", "-i", path, "-map", "0:v", "-map", "0:a?",
		"-map_metadata", "-1", "-map_chapters", "-1", "-c", "copy"}
	switch contentType {
	case "video/webm":
		args = append(args, "-f", "webm")
	case "video/quicktime":
		args = append(args, "-movflags", "+faststart", "-f", "mov")
	default:
		args = append(args, "-movflags", "+faststart", "-f", "mp4")
	}
	out := path + ".clean"
	defer os.Remove(out)
	if _, err := run(ctx, t.ffmpeg(), append(args, "-y", out)...); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, refused("the video's streams cannot be copied")
	}
	return os.ReadFile(out)
}

// processAudio probes an audio file and computes its waveform.
func (t Tools) processAudio(ctx context.Context, path string, m *Media) error {
	p, err := t.probe(ctx, path)
	if err != nil {
		return err
	}
	var found bool
	for _, s := range p.Streams {
		if s.CodecType == "audio" {
			found = true
			m.Codec = s.CodecName
			m.DurationMS = durationMS(s.Duration)
			break
		}
	}
	if !found {
		return refused("the file has no audio stream")
	}
	if d := durationMS(p.Format.Duration); d > 0 {
		m.DurationMS = d
	}
	if m.DurationMS == 0 {
		m.DurationMS = t.packetsDuration(ctx, path)
	}
	wf, err := t.waveform(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return refused("the audio cannot be decoded")
	}
	m.Waveform = wf
	return nil
}

// waveform decodes the first audio stream to 8 kHz mono PCM, streamed (a
// long recording never sits in memory whole), keeps the peak of every
// 0.1 s, and folds those into WaveformBuckets peaks scaled to 0..255
// (255 = full scale).
func (t Tools) waveform(ctx context.Context, path string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, t.ffmpeg(), "-v", "error", "-nostdin", "-i", path,
		"-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "8000", "-")
	stderr := &limitedBuffer{max: 2048}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	const window = 800 // samples: 0.1 s at 8 kHz
	var peaks []int
	peak, n := 0, 0
	r := bufio.NewReaderSize(stdout, 64<<10)
	var sample [2]byte
	for {
		if _, err := io.ReadFull(r, sample[:]); err != nil {
			break
		}
		v := int(int16(binary.LittleEndian.Uint16(sample[:])))
		if v < 0 {
			v = -v
		}
		peak = max(peak, v)
		if n++; n == window {
			peaks, peak, n = append(peaks, peak), 0, 0
		}
	}
	if n > 0 {
		peaks = append(peaks, peak)
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if len(peaks) == 0 {
		return nil, errors.New("no audio samples")
	}
	return bucket(peaks, WaveformBuckets), nil
}

// bucket folds peaks into n buckets (max of each), scaled to 0..255.
func bucket(peaks []int, n int) []byte {
	out := make([]byte, n)
	for i := range n {
		lo, hi := i*len(peaks)/n, (i+1)*len(peaks)/n
		if hi <= lo {
			// Fewer peaks than buckets: stretch.
			lo, hi = min(lo, len(peaks)-1), min(lo, len(peaks)-1)+1
		}
		p := 0
		for _, v := range peaks[lo:hi] {
			p = max(p, v)
		}
		out[i] = byte(min(255, (p*255+16383)/32768))
	}
	return out
}
