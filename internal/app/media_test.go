package app_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/blob/s3/s3test"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/media/mediatest"
)

// mediaUpload runs the client side of an upload: create, PUT, complete.
func mediaUpload(t *testing.T, u *apptest.User, contentType string, data []byte) (client.Media, error) {
	t.Helper()
	ctx := testCtx(t)
	up, err := u.API.CreateMedia(ctx, contentType, int64(len(data)))
	if err != nil {
		return client.Media{}, err
	}
	if up.UploadMethod != "PUT" || up.ExpiresIn <= 0 || !strings.HasPrefix(up.UploadURL, "http") {
		t.Fatalf("upload = %+v", up)
	}
	if err := u.API.Upload(ctx, up, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	m, err := u.API.CompleteMedia(ctx, up.MediaID)
	if err == nil && m.MediaID != up.MediaID {
		t.Fatalf("complete answered for %s, want %s", m.MediaID, up.MediaID)
	}
	return m, err
}

func mustUpload(t *testing.T, u *apptest.User, contentType string, data []byte) client.Media {
	t.Helper()
	m, err := mediaUpload(t, u, contentType, data)
	if err != nil {
		t.Fatalf("upload %s: %v", contentType, err)
	}
	if m.Status != "ready" || m.URL == "" || m.ContentType != contentType {
		t.Fatalf("complete = %+v", m)
	}
	return m
}

func wantCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	ce, ok := err.(*client.Error)
	if !ok || ce.Status != status || ce.Code != code {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
}

func download(t *testing.T, u *apptest.User, url string) []byte {
	t.Helper()
	b, _, err := u.API.Download(testCtx(t), url, 200<<20)
	if err != nil {
		t.Fatalf("download %s: %v", url, err)
	}
	return b
}

// checkThumb: a JPEG whose longest side is at most 320 px.
func checkThumb(t *testing.T, u *apptest.User, m client.Media) {
	t.Helper()
	if m.ThumbnailURL == "" {
		t.Fatalf("%s: no thumbnail_url", m.ContentType)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(download(t, u, m.ThumbnailURL)))
	if err != nil || max(cfg.Width, cfg.Height) > 320 || cfg.Width == 0 {
		t.Fatalf("%s thumbnail: %dx%d, %v", m.ContentType, cfg.Width, cfg.Height, err)
	}
}

// sendWithMedia sends a message carrying mediaID and returns it as the
// recipient saw it.
func sendWithMedia(t *testing.T, from, to *client.Conn, conv, cmid, mediaID, kind string) {
	t.Helper()
	ctx := testCtx(t)
	if _, err := from.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: cmid, ConversationID: conv,
		MessageType: kind, Content: "ciphertext", MediaID: mediaID}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if to == nil {
		return
	}
	f, err := to.Next(ctx, "message")
	if err != nil || f.MediaID != mediaID {
		t.Fatalf("recipient got %+v, %v; want media_id %s", f, err, mediaID)
	}
}

// mediaKinds is one real, generated file per supported format.
func mediaKinds(t *testing.T) []struct {
	ct, kind string
	data     []byte
	w, h     int
} {
	mediatest.NeedFFmpeg(t)
	type k = struct {
		ct, kind string
		data     []byte
		w, h     int
	}
	return []k{
		{"image/jpeg", "image", mediatest.JPEGWithEXIF(t, 640, 480, 1), 640, 480},
		{"image/png", "image", mediatest.PNGWithMetadata(t, 300, 200), 300, 200},
		{"image/gif", "image", mediatest.GIF(t, 50, 40), 50, 40},
		{"image/webp", "image", mediatest.WebPWithEXIF(t, 120, 90), 120, 90},
		{"video/mp4", "video", mediatest.Video(t, "mp4"), 320, 240},
		{"video/quicktime", "video", mediatest.Video(t, "mov"), 320, 240},
		{"video/webm", "video", mediatest.Video(t, "webm"), 320, 240},
		{"audio/mpeg", "audio", mediatest.Audio(t, "mp3"), 0, 0},
		{"audio/aac", "audio", mediatest.Audio(t, "aac"), 0, 0},
		{"audio/mp4", "audio", mediatest.Audio(t, "m4a"), 0, 0},
		{"audio/ogg", "audio", mediatest.Audio(t, "ogg"), 0, 0},
		{"audio/wav", "audio", mediatest.Audio(t, "wav"), 0, 0},
		{"application/pdf", "document", []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"), 0, 0},
	}
}

// testMediaFlow uploads each kind, checks what processing found, sends it
// in a message and has the recipient fetch it; an outsider cannot.
func testMediaFlow(t *testing.T, srv *apptest.Server) {
	ctx := testCtx(t)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ac, bc := alice.Dial(ctx), bob.Dial(ctx)
	for i, k := range mediaKinds(t) {
		t.Run(strings.ReplaceAll(k.ct, "/", "_"), func(t *testing.T) {
			m := mustUpload(t, alice, k.ct, k.data)
			if m.Kind != k.kind || m.Width != k.w || m.Height != k.h || m.UploaderID != alice.UserID {
				t.Fatalf("metadata = %+v", m)
			}
			switch k.kind {
			case "image":
				checkThumb(t, alice, m)
				stored := download(t, alice, m.URL)
				if bytes.Contains(stored, []byte(mediatest.GPSMarker)) || int64(len(stored)) != m.Size {
					t.Fatalf("stored image: %d bytes (size %d), metadata kept: %v", len(stored), m.Size,
						bytes.Contains(stored, []byte(mediatest.GPSMarker)))
				}
			case "video":
				checkThumb(t, alice, m)
				if !bytes.Contains(k.data, []byte(mediatest.GPSMarker)) {
					t.Fatal("fixture lacks its metadata")
				}
				stored := download(t, alice, m.URL)
				kept := bytes.Contains(stored, []byte(mediatest.GPSMarker)) || bytes.Contains(stored, []byte(mediatest.VideoLocation))
				if kept || int64(len(stored)) != m.Size {
					t.Fatalf("stored video: %d bytes (size %d), metadata kept: %v", len(stored), m.Size, kept)
				}
				if m.DurationMS < 1900 || m.DurationMS > 2100 || m.Codec == "" {
					t.Fatalf("video metadata = %+v", m)
				}
			case "audio":
				if m.DurationMS < 1900 || m.DurationMS > 2300 || len(m.Waveform) != 64 || m.ThumbnailURL != "" {
					t.Fatalf("audio metadata = %+v", m)
				}
			case "document":
				if !bytes.Equal(download(t, alice, m.URL), k.data) || m.ThumbnailURL != "" {
					t.Fatalf("document not stored as is")
				}
			}

			// Before any message carries it, only the uploader sees it.
			if _, err := bob.API.GetMedia(ctx, m.MediaID); err == nil {
				t.Fatalf("bob sees media no message carries")
			} else {
				wantCode(t, err, http.StatusNotFound, "not_found")
			}
			sendWithMedia(t, ac, bc, conv.ConversationID, "m"+string(rune('a'+i)), m.MediaID, k.kind)
			got, err := bob.API.GetMedia(ctx, m.MediaID)
			if err != nil || got.Status != "ready" || got.URL == "" || got.Size != m.Size {
				t.Fatalf("bob's GET = %+v, %v", got, err)
			}
			body := download(t, bob, got.URL)
			if int64(len(body)) != m.Size {
				t.Fatalf("bob downloaded %d bytes, want %d", len(body), m.Size)
			}
			_, err = carol.API.GetMedia(ctx, m.MediaID)
			wantCode(t, err, http.StatusNotFound, "not_found")
		})
	}
}

func TestMediaFlowLocal(t *testing.T) {
	srv := apptest.Start(t, apptest.Config(t), nil)
	testMediaFlow(t, srv)
	// Processing is timed by kind and result, before the upload's answer.
	_, body := get(testCtx(t), t, srv.URL+"/metrics")
	if v, _ := metricValue(body, `parley_media_processing_seconds_count{kind="image",result="ready"}`); v < 1 {
		t.Errorf("no image processing measured:\n%s", grepLines(body, "parley_media_processing_seconds_count"))
	}
}

// TestMediaFlowS3 runs the same flow on a real S3-compatible server.
func TestMediaFlowS3(t *testing.T) {
	gw := s3test.Start(t)
	s3cfg := gw.Config(t)
	cfg := apptest.Config(t)
	cfg.Media.Blob = s3test.URL(s3cfg)
	cfg.Media.S3AccessKey, cfg.Media.S3SecretKey = s3cfg.AccessKey, s3cfg.SecretKey
	srv := apptest.Start(t, cfg, nil)
	testMediaFlow(t, srv)

	// Nothing lands under the data dir: the bytes live in the bucket.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "media")); !os.IsNotExist(err) {
		t.Fatalf("local media dir with an S3 store: %v", err)
	}
	// The object store itself refuses a tampered URL.
	ctx := testCtx(t)
	alice := srv.NewUser(ctx, "alice")
	m := mustUpload(t, alice, "image/png", mediatest.PNG(t, 10, 10))
	_, _, err := alice.API.Download(ctx, strings.Replace(m.URL, "X-Amz-Signature=", "X-Amz-Signature=0", 1), 1<<20)
	wantCode(t, err, http.StatusForbidden, "forbidden")
}

func TestMediaRefusals(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")

	for _, tc := range []struct {
		ct     string
		size   int64
		status int
		code   string
	}{
		{"image/png", 0, 400, "invalid"},
		{"image/png", -5, 400, "invalid"},
		{"text/html", 10, 400, "invalid"},
		{"", 10, 400, "invalid"},
		{"application/x-msdownload", 10, 400, "invalid"},
		{"image/png", 16<<20 + 1, 413, "too_large"},
		{"video/mp4", 64<<20 + 1, 413, "too_large"},
		{"audio/mpeg", 16<<20 + 1, 413, "too_large"},
		{"application/pdf", 100<<20 + 1, 413, "too_large"},
	} {
		_, err := alice.API.CreateMedia(ctx, tc.ct, tc.size)
		wantCode(t, err, tc.status, tc.code)
	}
	// A body without a size, or not JSON.
	wantCode(t, alice.API.Do(ctx, http.MethodPost, "/api/v1/media", map[string]any{"content_type": "image/png"}, nil), 400, "invalid")
	wantCode(t, alice.API.Do(ctx, http.MethodPost, "/api/v1/media", map[string]any{"content_type": "image/png", "size": "big"}, nil), 400, "invalid")
	wantCode(t, srv.Client().Do(ctx, http.MethodPost, "/api/v1/media", map[string]any{"content_type": "image/png", "size": 1}, nil), 401, "unauthorized")

	// A PNG declared as a video: 422, failed with a reason, bytes gone.
	png := mediatest.PNG(t, 20, 20)
	_, err := mediaUpload(t, alice, "video/mp4", png)
	wantCode(t, err, http.StatusUnprocessableEntity, "invalid")
	_, body := get(ctx, t, srv.URL+"/metrics")
	if v, _ := metricValue(body, `parley_media_processing_seconds_count{kind="video",result="refused"}`); v != 1 {
		t.Errorf("a refused video counted %v times:\n%s", v, grepLines(body, "parley_media_processing_seconds_count"))
	}
	media := mediaDirFiles(t, srv)
	if len(media) != 0 {
		t.Fatalf("a refused upload left files: %v", media)
	}

	// The decompression bomb.
	_, err = mediaUpload(t, alice, "image/png", mediatest.BombPNG(t, 50_000, 50_000))
	wantCode(t, err, http.StatusUnprocessableEntity, "invalid")

	// Truncated files of each processed kind.
	jpg := mediatest.JPEG(t, 200, 200, 80)
	_, err = mediaUpload(t, alice, "image/jpeg", jpg[:len(jpg)/2])
	wantCode(t, err, http.StatusUnprocessableEntity, "invalid")
	mediatest.NeedFFmpeg(t)
	vid := mediatest.Video(t, "mp4")
	_, err = mediaUpload(t, alice, "video/mp4", vid[:200])
	wantCode(t, err, http.StatusUnprocessableEntity, "invalid")
	// An audio file declared as a video: the right container, no picture.
	_, err = mediaUpload(t, alice, "video/mp4", mediatest.Audio(t, "m4a"))
	wantCode(t, err, http.StatusUnprocessableEntity, "invalid")

	// Completing before uploading: 422, and the upload stays usable.
	up, err := alice.API.CreateMedia(ctx, "image/png", int64(len(png)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.API.CompleteMedia(ctx, up.MediaID)
	wantCode(t, err, http.StatusUnprocessableEntity, "invalid")
	if err := alice.API.Upload(ctx, up, bytes.NewReader(png), int64(len(png))); err != nil {
		t.Fatal(err)
	}
	// Someone else's upload: 404, as if it did not exist.
	_, err = bob.API.CompleteMedia(ctx, up.MediaID)
	wantCode(t, err, http.StatusNotFound, "not_found")
	m, err := alice.API.CompleteMedia(ctx, up.MediaID)
	if err != nil || m.Status != "ready" {
		t.Fatalf("complete after upload = %+v, %v", m, err)
	}
	// Completing again answers the same.
	if again, err := alice.API.CompleteMedia(ctx, up.MediaID); err != nil || again.Size != m.Size {
		t.Fatalf("second complete = %+v, %v", again, err)
	}
	// Its upload URL is closed now: a reuse stores nothing.
	err = alice.API.Upload(ctx, up, bytes.NewReader(png), int64(len(png)))
	wantCode(t, err, http.StatusConflict, "conflict")
	for _, f := range mediaDirFiles(t, srv) {
		if strings.Contains(f, up.MediaID) && strings.HasSuffix(f, "upload") {
			t.Fatalf("a reused upload URL left %s behind", f)
		}
	}
	// The failed upload shows its reason to its uploader only.
	up2, _ := alice.API.CreateMedia(ctx, "audio/mpeg", int64(len(png)))
	_ = alice.API.Upload(ctx, up2, bytes.NewReader(png), int64(len(png)))
	_, err = alice.API.CompleteMedia(ctx, up2.MediaID)
	wantCode(t, err, http.StatusUnprocessableEntity, "invalid")
	f, err := alice.API.GetMedia(ctx, up2.MediaID)
	if err != nil || f.Status != "failed" || f.Reason == "" || f.URL != "" {
		t.Fatalf("failed media = %+v, %v", f, err)
	}
	_, err = bob.API.GetMedia(ctx, up2.MediaID)
	wantCode(t, err, http.StatusNotFound, "not_found")
	_, err = alice.API.GetMedia(ctx, "01NOSUCHMEDIA")
	wantCode(t, err, http.StatusNotFound, "not_found")
}

func mediaDirFiles(t *testing.T, srv *apptest.Server) []string {
	t.Helper()
	var files []string
	_ = filepath.Walk(filepath.Join(srv.Cfg.DataDir, "media"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

func rawDo(t *testing.T, method, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// TestMediaSignatures: local blob URLs are signed and expire; a tampered
// or expired one is 403 forbidden with a JSON error body.
func TestMediaSignatures(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	srv := apptest.Start(t, apptest.Config(t), clk)
	alice := srv.NewUser(ctx, "alice")
	png := mediatest.PNG(t, 16, 16)

	up, err := alice.API.CreateMedia(ctx, "image/png", int64(len(png)))
	if err != nil {
		t.Fatal(err)
	}
	tampered := []string{
		strings.Replace(up.UploadURL, "sig=", "sig=00", 1)[:len(up.UploadURL)],
		strings.Replace(up.UploadURL, "size=", "size=1", 1),
		strings.Replace(up.UploadURL, "exp=", "exp=9", 1),
		strings.Replace(up.UploadURL, "/upload?", "/original?", 1),
	}
	for _, u := range tampered {
		code, body := rawDo(t, http.MethodPut, u, png)
		if code != http.StatusForbidden || !strings.Contains(body, `"code":"forbidden"`) {
			t.Fatalf("tampered PUT %s = %d %s", u, code, body)
		}
	}
	// The upload URL lives minutes: past it, 403.
	clk.Advance(time.Hour)
	code, body := rawDo(t, http.MethodPut, up.UploadURL, png)
	if code != http.StatusForbidden || !strings.Contains(body, "expired") {
		t.Fatalf("expired PUT = %d %s", code, body)
	}

	m := mustUpload(t, alice, "image/png", png)
	if code, _ := rawDo(t, http.MethodGet, m.URL, nil); code != http.StatusOK {
		t.Fatalf("fresh GET = %d", code)
	}
	code, body = rawDo(t, http.MethodGet, strings.Replace(m.URL, "ct=image%2Fpng", "ct=text%2Fhtml", 1), nil)
	if code != http.StatusForbidden {
		t.Fatalf("GET with a changed content type = %d %s", code, body)
	}
	// Download URLs are short-lived; GET /media/{id} hands out fresh ones.
	clk.Advance(10 * time.Minute)
	if code, _ := rawDo(t, http.MethodGet, m.URL, nil); code != http.StatusForbidden {
		t.Fatalf("expired GET = %d", code)
	}
	fresh, err := alice.API.GetMedia(ctx, m.MediaID)
	if err != nil || fresh.URL == m.URL {
		t.Fatalf("GET /media = %+v, %v", fresh, err)
	}
	if !bytes.Equal(download(t, alice, fresh.URL), png) {
		t.Fatal("fresh URL serves other bytes")
	}
	// The signing key persists: URLs survive a restart.
	srv.Restart()
	if !bytes.Equal(download(t, alice, fresh.URL), png) {
		t.Fatal("URL did not survive a restart")
	}
	fi, err := os.Stat(filepath.Join(srv.Cfg.DataDir, "media.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signing key file: %v %v", err, fi)
	}
}

// TestMediaAuthorization: the membership window decides who may fetch.
func TestMediaAuthorization(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol, dave := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol"), srv.NewUser(ctx, "dave")
	g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	m := mustUpload(t, alice, "image/png", mediatest.PNG(t, 30, 30))
	if _, err := alice.API.GetMedia(ctx, m.MediaID); err != nil {
		t.Fatalf("uploader GET: %v", err)
	}
	sendWithMedia(t, ac, nil, g.ConversationID, "g1", m.MediaID, "image")
	for _, u := range []*apptest.User{bob, carol} {
		if _, err := u.API.GetMedia(ctx, m.MediaID); err != nil {
			t.Fatalf("member %s GET: %v", u.Username, err)
		}
	}
	// dave joins after the message: not his to see.
	if _, err := alice.API.AddParticipant(ctx, g.ConversationID, dave.UserID); err != nil {
		t.Fatal(err)
	}
	_, err = dave.API.GetMedia(ctx, m.MediaID)
	wantCode(t, err, http.StatusNotFound, "not_found")
	// Media sent after carol left is not hers.
	if err := carol.API.RemoveParticipant(ctx, g.ConversationID, carol.UserID); err != nil {
		t.Fatal(err)
	}
	m2 := mustUpload(t, alice, "image/png", mediatest.PNG(t, 31, 31))
	sendWithMedia(t, ac, nil, g.ConversationID, "g2", m2.MediaID, "image")
	_, err = carol.API.GetMedia(ctx, m2.MediaID)
	wantCode(t, err, http.StatusNotFound, "not_found")
	if _, err := bob.API.GetMedia(ctx, m2.MediaID); err != nil {
		t.Fatalf("bob GET m2: %v", err)
	}
	if _, err := dave.API.GetMedia(ctx, m2.MediaID); err != nil {
		t.Fatalf("dave GET m2: %v", err)
	}
}

// TestMediaCleanup: uploads never completed are deleted a day later, and
// ExpireBefore deletes old media with all their objects.
func TestMediaCleanup(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	srv := apptest.Start(t, apptest.Config(t), clk)
	alice := srv.NewUser(ctx, "alice")
	png := mediatest.PNG(t, 40, 40)

	ready := mustUpload(t, alice, "image/png", png)
	uploaded, _ := alice.API.CreateMedia(ctx, "image/png", int64(len(png)))
	if err := alice.API.Upload(ctx, uploaded, bytes.NewReader(png), int64(len(png))); err != nil {
		t.Fatal(err)
	}
	empty, _ := alice.API.CreateMedia(ctx, "image/png", 123)
	svc := srv.App.Media()

	// Not yet a day: nothing goes.
	clk.Advance(23 * time.Hour)
	if n, err := svc.Sweep(ctx, clk.Now()); err != nil || n != 0 {
		t.Fatalf("early sweep = %d, %v", n, err)
	}
	clk.Advance(2 * time.Hour)
	if n, err := svc.Sweep(ctx, clk.Now()); err != nil || n != 2 {
		t.Fatalf("sweep = %d, %v; want 2", n, err)
	}
	for _, id := range []string{uploaded.MediaID, empty.MediaID} {
		_, err := alice.API.GetMedia(ctx, id)
		wantCode(t, err, http.StatusNotFound, "not_found")
	}
	for _, f := range mediaDirFiles(t, srv) {
		if !strings.Contains(f, ready.MediaID) {
			t.Fatalf("swept upload left %s", f)
		}
	}
	if _, err := alice.API.GetMedia(ctx, ready.MediaID); err != nil {
		t.Fatalf("ready media swept: %v", err)
	}

	// Expiry by age takes ready media too, with everything they made.
	n, freed, err := svc.ExpireBefore(ctx, clk.Now(), 10)
	if err != nil || n != 1 || freed < ready.Size {
		t.Fatalf("ExpireBefore = %d, %d bytes, %v", n, freed, err)
	}
	_, err = alice.API.GetMedia(ctx, ready.MediaID)
	wantCode(t, err, http.StatusNotFound, "not_found")
	if left := mediaDirFiles(t, srv); len(left) != 0 {
		t.Fatalf("expired media left %v", left)
	}
}

// TestMediaExpireBeforeIsBounded: at most limit items per call.
func TestMediaExpireBeforeIsBounded(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	srv := apptest.Start(t, apptest.Config(t), clk)
	alice := srv.NewUser(ctx, "alice")
	for range 5 {
		if _, err := alice.API.CreateMedia(ctx, "application/pdf", 10); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Second)
	svc := srv.App.Media()
	for _, want := range []int{2, 2, 1, 0} {
		if n, _, err := svc.ExpireBefore(ctx, clk.Now(), 2); err != nil || n != want {
			t.Fatalf("ExpireBefore = %d, %v; want %d", n, err, want)
		}
	}
}

// BenchmarkMediaVideoUploadToReady measures upload→ready for a ~10 MiB
// MP4 on local blobs: create, PUT, complete (probe + poster frame).
func BenchmarkMediaVideoUploadToReady(b *testing.B) {
	mediatest.NeedFFmpeg(b)
	video := mediatest.FFmpeg(b, "big.mp4", "-f", "lavfi", "-i", "testsrc2=duration=10:size=1280x720:rate=30",
		"-f", "lavfi", "-i", "anoisesrc=duration=10", "-vf", "noise=alls=30:allf=t",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "9400k", "-maxrate", "9400k", "-bufsize", "1M", "-c:a", "aac", "-shortest")
	b.Logf("video: %.1f MiB", float64(len(video))/(1<<20))
	cfg := apptest.Config(b)
	cfg.Media.MaxVideoBytes = 64 << 20
	srv := apptest.Start(b, cfg, nil)
	// A bound, so a stall fails the benchmark instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	u := srv.NewUser(ctx, "bench")
	b.SetBytes(int64(len(video)))
	b.ResetTimer()
	for b.Loop() {
		up, err := u.API.CreateMedia(ctx, "video/mp4", int64(len(video)))
		if err != nil {
			b.Fatal(err)
		}
		if err := u.API.Upload(ctx, up, bytes.NewReader(video), int64(len(video))); err != nil {
			b.Fatal(err)
		}
		if m, err := u.API.CompleteMedia(ctx, up.MediaID); err != nil || m.Status != "ready" {
			b.Fatalf("complete: %+v, %v", m, err)
		}
	}
}

// TestMediaURLsOnlyOnThisServersHost: without --public-url, media URLs are
// built on the host a client reached, and only if that host is this
// server: a forged Host header gets no links to elsewhere.
func TestMediaURLsOnlyOnThisServersHost(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice := srv.NewUser(ctx, "alice")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	post := func(host string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/media",
			strings.NewReader(`{"content_type":"image/png","size":10}`))
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+alice.Session.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, host := range []string{"evil.example", "evil.example:" + port, "127.0.0.1:1", "10.9.8.7:" + port} {
		if status, body := post(host); status != http.StatusBadRequest || !strings.Contains(body, "public-url") {
			t.Errorf("Host %s: %d %s, want 400 naming --public-url", host, status, body)
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port} {
		status, body := post(host)
		if status != http.StatusCreated || !strings.Contains(body, `"upload_url":"http://`+host+`/`) {
			t.Errorf("Host %s: %d %s, want 201 with an upload URL on it", host, status, body)
		}
	}
}
