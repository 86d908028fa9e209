// Package sdkjs holds Parley's JavaScript SDK (plain ES modules under src/,
// typed with JSDoc, no build step) so that the server can serve it to
// browsers at /sdk/ exactly as committed. The npm package is built from the
// same files; see README.md.
package sdkjs

import "embed"

// Source is the SDK's modules: src/index.js and the modules it imports.
//
//go:embed src
var Source embed.FS
