package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/parleychat/parley/wire"
)

// RegisterSpec serves the protocol's machine-readable documents, public
// and cacheable: GET /api/openapi.json (the REST API) and GET
// /api/asyncapi.json (the WebSocket). They are package wire's embedded
// documents, which its tests check against the wire types.
func RegisterSpec(mux *http.ServeMux) {
	mux.Handle("GET /api/openapi.json", specHandler(wire.OpenAPI()))
	mux.Handle("GET /api/asyncapi.json", specHandler(wire.AsyncAPI()))
}

// specHandler answers doc with an ETag of its content, so a client
// revalidates with If-None-Match (304) instead of fetching it again.
func specHandler(doc []byte) http.Handler {
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("ETag", etag)
		// ServeContent answers If-None-Match, HEAD and ranges.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
	})
}
