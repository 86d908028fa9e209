package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// TestServerInfo: GET /api/v1/server answers the configured limits and
// which media kinds can be processed, video and audio only while ffprobe
// and ffmpeg can be found. PATH is pointed at a directory with stand-ins
// for them, then at an empty one, so the test means the same with or
// without ffmpeg installed (no t.Parallel: it sets PATH).
func TestServerInfo(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Limits.MaxContentBytes = 1000
	cfg.MaxGroupSize = 7
	cfg.Media.MaxImageBytes = 1 << 20
	srv := apptest.Start(t, cfg, nil)
	alice := srv.NewUser(ctx, "alice")

	if _, err := srv.Client().Server(ctx); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("without a token: %v, want unauthorized", err)
	}

	withTools := t.TempDir()
	for _, name := range []string{"ffmpeg", "ffprobe"} {
		if err := os.WriteFile(filepath.Join(withTools, name), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	wantLimits := client.Limits{
		MaxContentBytes: 1000, MaxGroupSize: 7,
		MaxImageBytes: 1 << 20, MaxVideoBytes: 64 << 20, MaxAudioBytes: 16 << 20, MaxDocumentBytes: 100 << 20,
		MaxImagePixels: 50_000_000,
	}
	for _, tc := range []struct {
		name, path string
		av         bool
	}{
		{"ffmpeg found", withTools, true},
		{"no ffmpeg", t.TempDir(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			got, err := alice.API.Server(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := client.ServerInfo{
				Media:  client.MediaSupport{Image: true, Video: tc.av, Audio: tc.av, Document: true},
				Limits: wantLimits,
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("GET /api/v1/server = %+v\nwant %+v", got, want)
			}
		})
	}

	// The field names on the wire, as docs/PROTOCOL.md gives them.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/server", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+alice.Session.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var raw map[string]map[string]any
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil || res.StatusCode != http.StatusOK ||
		res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("raw answer: %d %s, %v", res.StatusCode, res.Header.Get("Content-Type"), err)
	}
	for section, keys := range map[string][]string{
		"media":  {"image", "video", "audio", "document"},
		"limits": {"max_content_bytes", "max_group_size", "max_image_bytes", "max_video_bytes", "max_audio_bytes", "max_document_bytes", "max_image_pixels"},
	} {
		if len(raw[section]) != len(keys) {
			t.Errorf("%s has %d fields, want %d: %v", section, len(raw[section]), len(keys), raw[section])
		}
		for _, k := range keys {
			if _, ok := raw[section][k]; !ok {
				t.Errorf("%s.%s missing: %v", section, k, raw[section])
			}
		}
	}
}
