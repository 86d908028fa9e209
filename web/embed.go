// Package web holds the browser client's files, exactly as committed: plain
// ES modules, CSS and one HTML page with no build step, so what the server
// embeds is what the repository holds. internal/web serves them.
package web

import "embed"

// Static is the client: index.html, app.css and the modules under js/.
//
//go:embed static
var Static embed.FS
