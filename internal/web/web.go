// Package web serves Parley's browser client: the files embedded from the
// repository's web/static directory, exactly as committed (there is no build
// step), with their content types and caching headers, and index.html for
// the client's own routes (/c/{conversation_id}) when a browser navigates to
// them. The JavaScript SDK's modules (sdk/js/src) are served the same way
// under /sdk/.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	sdkjs "github.com/parleychat/parley/sdk/js"
	webfiles "github.com/parleychat/parley/web"
)

// reserved are the server's own path prefixes: an unknown path under one of
// them is a 404, never the client's page.
var reserved = []string{"/api", "/ws", "/blob", "/healthz", "/readyz", "/metrics", "/debug", sdkPrefix}

// sdkPrefix is where the JavaScript SDK's modules are served: a page
// imports /sdk/index.js.
const sdkPrefix = "/sdk"

// contentTypes pins the types of the files the client is made of, so they do
// not depend on the host's mime tables; other extensions fall back to
// mime.TypeByExtension.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".txt":         "text/plain; charset=utf-8",
}

// csp confines the page to its own scripts and styles. Media may come from
// wherever the media service presigns its URLs (the local /blob or an
// S3-compatible store), and uploads go there too.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; " +
	"connect-src 'self' ws: wss: http: https:; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one file, held in memory with its validators.
type asset struct {
	name        string
	contentType string
	body        []byte
	etag        string
	gz          []byte // gzip of body when that is smaller, else nil
	gzETag      string
}

type handler struct {
	assets map[string]*asset // by URL path: "/", "/app.css", "/js/main.js"
	index  *asset
}

// Handler serves the embedded client. Register it on "/" (no method: the
// more specific API, WebSocket and health patterns take precedence, and a
// method-qualified "GET /" would conflict with the API's "/api/").
func Handler() http.Handler { return embedded() }

// embedded reads and compresses the embedded files once per process: they
// cannot change.
var embedded = sync.OnceValue(func() *handler {
	sub, err := fs.Sub(webfiles.Static, "static")
	if err != nil {
		panic(fmt.Sprintf("web: %v", err)) // the embed pattern guarantees the directory
	}
	h, err := newHandler(sub)
	if err != nil {
		panic(fmt.Sprintf("web: %v", err)) // only an index.html removed from web/static
	}
	sdk, err := fs.Sub(sdkjs.Source, "src")
	if err != nil {
		panic(fmt.Sprintf("web: %v", err)) // the embed pattern guarantees the directory
	}
	if err := h.add(sdk, sdkPrefix); err != nil {
		panic(fmt.Sprintf("web: %v", err))
	}
	return h
})

// newHandler reads every file of fsys once; the files never change while
// the process runs, so validators are computed here and not per request.
func newHandler(fsys fs.FS) (*handler, error) {
	h := &handler{assets: map[string]*asset{}}
	if err := h.add(fsys, ""); err != nil {
		return nil, err
	}
	h.index = h.assets["/index.html"]
	if h.index == nil {
		return nil, fmt.Errorf("client files have no index.html")
	}
	h.assets["/"] = h.index
	return h, nil
}

// add serves every file of fsys under the URL path prefix ("" for the root).
func (h *handler) add(fsys fs.FS, prefix string) error {
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h.assets[prefix+"/"+p] = newAsset(p, body)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read client files under %q: %w", prefix+"/", err)
	}
	return nil
}

func newAsset(name string, body []byte) *asset {
	ext := path.Ext(name)
	ct, ok := contentTypes[ext]
	if !ok {
		ct = mime.TypeByExtension(ext)
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(body)
	a := &asset{name: name, contentType: ct, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if compressible(ct) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			a.gz = buf.Bytes()
			a.gzETag = `"` + hex.EncodeToString(sum[:12]) + `-gz"`
		}
	}
	return a
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if a, ok := h.assets[p]; ok {
		h.serve(w, r, a)
		return
	}
	if isReserved(p) {
		notFound(w, p)
		return
	}
	if isNavigation(r) {
		h.serve(w, r, h.index)
		return
	}
	notFound(w, p)
}

// serve answers with a, revalidated by ETag. Every response says no-cache:
// the file names carry no content hash (nothing builds them), so a browser
// must ask each time whether its copy is current; the strong ETag makes
// that a 304 without a body.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if a == h.index {
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Frame-Options", "DENY")
	}
	body, etag := a.body, a.etag
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		// A range of the gzip stream would be useless to the client, so a
		// range request gets the identity body.
		if r.Header.Get("Range") == "" && acceptsGzip(r) {
			body, etag = a.gz, a.gzETag
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(body))
}

func isReserved(p string) bool {
	for _, pre := range reserved {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// isNavigation reports whether a browser is loading a page (typing a URL,
// following a link, reloading /c/{id}), as opposed to a script, an image or
// an API client asking for a resource that does not exist.
func isNavigation(r *http.Request) bool {
	if mode := r.Header.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// notFound answers a 404: JSON in the API's error shape under /api, plain
// text elsewhere.
func notFound(w http.ResponseWriter, p string) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such endpoint"}}` + "\n"))
		return
	}
	http.Error(w, "404 page not found", http.StatusNotFound)
}
