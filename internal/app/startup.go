package app

import (
	"net"

	"github.com/parleychat/parley/internal/buildinfo"
)

// logStart writes the one line an operator reads to know what started:
// which build, on what, with which limits in force.
func (a *App) logStart(addr net.Addr) {
	bi := buildinfo.Get()
	storeKind, busKind, blobKind := "sqlite", "local", "local"
	if a.cfg.Store != "" {
		storeKind = "postgres"
	}
	if a.cluster != nil {
		busKind = "redis"
	}
	if _, ok, _ := a.cfg.Media.S3(); ok {
		blobKind = "s3"
	}
	admin := "off"
	if a.adminLn != nil {
		admin = a.adminLn.Addr().String()
	}
	var debug []any
	if a.debugClock != nil {
		// Loud on purpose: a server whose clock can be moved is a test rig.
		debug = append(debug, "debug_clock", true)
		if off := a.debugClock.Offset(); off != 0 {
			debug = append(debug, "clock_offset", off)
		}
	}
	a.log.Info("serving", append([]any{
		"version", bi.Version, "commit", bi.Commit, "built", bi.Date, "go", bi.GoVersion,
		"addr", addr.String(), "admin_addr", admin, "data_dir", a.cfg.DataDir,
		"store", storeKind, "bus", busKind, "blob", blobKind,
		// The caps as resolved: --max-conns auto from the file limit.
		"file_limit", a.caps.fileLimit, "max_conns", a.caps.tcp, "max_websockets", a.caps.ws,
		"limits", a.cfg.Abuse,
	}, debug...)...)
}
