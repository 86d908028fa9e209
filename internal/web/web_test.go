package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	sdkjs "github.com/parleychat/parley/sdk/js"
	webfiles "github.com/parleychat/parley/web"
)

// serve runs one request through the handler mounted as the app mounts it:
// on "/" beside the API's own "/api/" catch-all.
func serve(t *testing.T, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":{"code":"not_found","message":"api"}}`)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("/", Handler()) // must not conflict with the patterns above
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

var navigate = map[string]string{"Sec-Fetch-Mode": "navigate", "Accept": "text/html,application/xhtml+xml"}

func TestHandler(t *testing.T) {
	index, err := fs.ReadFile(webfiles.Static, "static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		method   string
		target   string
		header   map[string]string
		status   int
		ctype    string
		bodyHas  string
		isIndex  bool
		cacheHdr string
	}{
		{name: "root", method: "GET", target: "/", status: 200, ctype: "text/html; charset=utf-8", isIndex: true, cacheHdr: "no-cache"},
		{name: "index.html", method: "GET", target: "/index.html", status: 200, ctype: "text/html; charset=utf-8", isIndex: true},
		{name: "head root", method: "HEAD", target: "/", status: 200, ctype: "text/html; charset=utf-8"},
		{name: "module", method: "GET", target: "/js/main.js", status: 200, ctype: "text/javascript; charset=utf-8", bodyHas: "import", cacheHdr: "no-cache"},
		{name: "nested module", method: "GET", target: "/js/views/chat.js", status: 200, ctype: "text/javascript; charset=utf-8"},
		{name: "css", method: "GET", target: "/app.css", status: 200, ctype: "text/css; charset=utf-8"},
		{name: "svg", method: "GET", target: "/favicon.svg", status: 200, ctype: "image/svg+xml"},
		{name: "client route, navigation", method: "GET", target: "/c/01JABCDEF", header: navigate, status: 200, ctype: "text/html; charset=utf-8", isIndex: true},
		{name: "client route, old browser", method: "GET", target: "/c/01JABCDEF", header: map[string]string{"Accept": "text/html"}, status: 200, isIndex: true},
		{name: "client route, fetch", method: "GET", target: "/c/01JABCDEF", header: map[string]string{"Sec-Fetch-Mode": "cors", "Accept": "*/*"}, status: 404},
		{name: "missing module", method: "GET", target: "/js/nope.js", header: map[string]string{"Sec-Fetch-Mode": "no-cors"}, status: 404},
		{name: "api stays JSON", method: "GET", target: "/api/v1/nope", header: navigate, status: 404, ctype: "application/json", bodyHas: `"not_found"`},
		{name: "ws is not the page", method: "GET", target: "/ws/x", header: navigate, status: 404},
		{name: "blob is not the page", method: "GET", target: "/blob/abc", header: navigate, status: 404},
		{name: "metrics sub-path", method: "GET", target: "/metrics/x", header: navigate, status: 404},
		{name: "health still served", method: "GET", target: "/healthz", status: 200, bodyHas: "ok"},
		{name: "post", method: "POST", target: "/", status: 405},
		{name: "post client route", method: "POST", target: "/c/x", header: navigate, status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(t, tc.method, tc.target, tc.header)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (body %q)", rec.Code, tc.status, rec.Body.String())
			}
			if tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q, want %q", rec.Header().Get("Content-Type"), tc.ctype)
			}
			if tc.bodyHas != "" && !strings.Contains(rec.Body.String(), tc.bodyHas) {
				t.Errorf("body lacks %q", tc.bodyHas)
			}
			if tc.isIndex && !bytes.Equal(rec.Body.Bytes(), index) {
				t.Errorf("body is not index.html")
			}
			if tc.cacheHdr != "" && rec.Header().Get("Cache-Control") != tc.cacheHdr {
				t.Errorf("Cache-Control %q, want %q", rec.Header().Get("Cache-Control"), tc.cacheHdr)
			}
			if tc.status == 200 && tc.target != "/healthz" && rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
			if tc.method == "HEAD" && rec.Body.Len() != 0 {
				t.Errorf("HEAD has a body")
			}
			if tc.status == 405 && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestIndexHasCSP(t *testing.T) {
	rec := serve(t, "GET", "/", nil)
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
}

func TestETagRevalidation(t *testing.T) {
	first := serve(t, "GET", "/js/client.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q", etag)
	}
	again := serve(t, "GET", "/js/client.js", map[string]string{"If-None-Match": etag})
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Fatalf("revalidation: status %d, %d bytes", again.Code, again.Body.Len())
	}
	other := serve(t, "GET", "/js/main.js", nil).Header().Get("ETag")
	if other == etag {
		t.Fatalf("two files share the ETag %s", etag)
	}
}

func TestGzip(t *testing.T) {
	plain := serve(t, "GET", "/js/client.js", nil)
	zipped := serve(t, "GET", "/js/client.js", map[string]string{"Accept-Encoding": "gzip, br"})
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", zipped.Header().Get("Content-Encoding"))
	}
	if zipped.Header().Get("ETag") == plain.Header().Get("ETag") {
		t.Fatal("the gzip body has the identity body's ETag")
	}
	if !strings.Contains(zipped.Header().Get("Vary"), "Accept-Encoding") {
		t.Fatal("no Vary: Accept-Encoding")
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain.Body.Bytes()) {
		t.Fatal("gunzipped body differs")
	}
	refused := serve(t, "GET", "/js/client.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
	if refused.Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip sent though refused")
	}
	ranged := serve(t, "GET", "/js/client.js", map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
	if ranged.Code != http.StatusPartialContent || ranged.Header().Get("Content-Encoding") != "" || ranged.Body.Len() != 10 {
		t.Fatalf("range: status %d, encoding %q, %d bytes", ranged.Code, ranged.Header().Get("Content-Encoding"), ranged.Body.Len())
	}
}

var (
	importRe = regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]`)
	srcRe    = regexp.MustCompile(`(?:src|href)="(/[^"]*)"`)
)

// TestReferencesResolve catches a broken module import or a missing asset
// without a browser: every file index.html names, every relative import of
// every module, and every import of the SDK (/sdk/…) is embedded.
func TestReferencesResolve(t *testing.T) {
	static, err := fs.Sub(webfiles.Static, "static")
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := fs.Sub(sdkjs.Source, "src")
	if err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool {
		_, err := fs.Stat(static, strings.TrimPrefix(p, "/"))
		return err == nil
	}
	index, _ := fs.ReadFile(static, "index.html")
	for _, m := range srcRe.FindAllStringSubmatch(string(index), -1) {
		if !exists(m[1]) {
			t.Errorf("index.html names %s, which is not embedded", m[1])
		}
	}
	n := 0
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		n++
		src, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		for _, m := range importRe.FindAllStringSubmatch(string(src), -1) {
			spec := m[1] + m[2]
			if sdkFile, ok := strings.CutPrefix(spec, sdkPrefix+"/"); ok {
				if _, err := fs.Stat(sdk, sdkFile); err != nil {
					t.Errorf("%s imports %q, which is not in sdk/js/src", p, spec)
				}
				continue
			}
			if !strings.HasPrefix(spec, ".") {
				t.Errorf("%s imports %q: only relative imports and the SDK's exist without a build step", p, spec)
				continue
			}
			if !exists(path.Join(path.Dir(p), spec)) {
				t.Errorf("%s imports %q, which is not embedded", p, spec)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("found only %d modules", n)
	}
}

// TestClientSpeaksThroughSDK keeps the protocol in one place: the web
// client's modules open no WebSocket and make no fetch of their own, and
// name no API path; every call and frame goes through the SDK (/sdk/). The
// one XMLHttpRequest is upload.js's PUT to a presigned URL.
func TestClientSpeaksThroughSDK(t *testing.T) {
	static, err := fs.Sub(webfiles.Static, "static")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := regexp.MustCompile(`\bnew\s+WebSocket\b|\bfetch\s*\(|['"\x60]/api/|['"\x60]/ws\b|XMLHttpRequest`)
	err = fs.WalkDir(static, "js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		src, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") || strings.HasPrefix(strings.TrimSpace(line), "*") {
				continue
			}
			if m := forbidden.FindString(line); m != "" && !(p == "js/upload.js" && m == "XMLHttpRequest") {
				t.Errorf("%s:%d: %q: the web client talks to the server through the SDK only", p, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSDKServed: the JavaScript SDK's modules are served under /sdk/ as
// committed, as JavaScript, with the static files' caching and gzip, every
// relative import among them resolves, and /sdk is the server's own prefix
// (an unknown module is a 404, never the page).
func TestSDKServed(t *testing.T) {
	src, err := fs.Sub(sdkjs.Source, "src")
	if err != nil {
		t.Fatal(err)
	}
	want, err := fs.ReadFile(src, "index.js")
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(t, "GET", "/sdk/index.js", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("GET /sdk/index.js: status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Fatal("/sdk/index.js is not sdk/js/src/index.js")
	}
	if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("ETag") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", rec.Header())
	}
	if z := serve(t, "GET", "/sdk/index.js", map[string]string{"Accept-Encoding": "gzip"}); z.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", z.Header())
	}
	if nf := serve(t, "GET", "/sdk/nope.js", navigate); nf.Code != http.StatusNotFound {
		t.Fatalf("GET /sdk/nope.js: status %d, want 404", nf.Code)
	}
	n := 0
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		n++
		if r := serve(t, "GET", "/sdk/"+p, nil); r.Code != http.StatusOK {
			t.Errorf("GET /sdk/%s: status %d", p, r.Code)
		}
		body, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		for _, m := range importRe.FindAllStringSubmatch(string(body), -1) {
			spec := m[1] + m[2]
			if !strings.HasPrefix(spec, "./") {
				t.Errorf("%s imports %q: the SDK has no dependencies and no build step", p, spec)
				continue
			}
			if _, err := fs.Stat(src, path.Join(path.Dir(p), spec)); err != nil {
				t.Errorf("%s imports %q, which is not embedded", p, spec)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d SDK modules embedded", n)
	}
}
