//go:build !unix

package main

import "log/slog"

// raiseFileLimit: only Unix systems limit open files with RLIMIT_NOFILE.
func raiseFileLimit(*slog.Logger) {}
