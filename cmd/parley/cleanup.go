package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/config"
)

// cleanup runs one retention pass over a data directory and exits: for
// operators who want the space back now, or run it from cron. It is safe
// while a server runs on the same data (each batch is a short
// transaction); senders then learn of expiries on their next connect.
func cleanup(args []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load("parley cleanup", args, os.Getenv, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "parley cleanup:", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	warnUnknownEnv(log, os.Environ())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log, nil)
	if err != nil {
		log.Error("open", "err", err)
		return 1
	}
	sum, err := a.Cleanup(ctx)
	fmt.Fprintf(stdout, "expired messages %d (%d bytes), expired statuses %d, receipt events %d, sessions %d, media %d (%d bytes), abandoned uploads %d, in %s\n",
		sum.ExpiredMessages, sum.ExpiredBytes, sum.ExpiredStatuses, sum.ReceiptEvents, sum.Devices,
		sum.Media, sum.MediaBytes, sum.AbandonedUploads, sum.Duration)
	if err != nil {
		log.Error("cleanup", "err", err)
		return 1
	}
	return 0
}
