// Command parley is the Parley messaging server.
//
//	parley serve [flags]   run the server (parley serve -h lists the flags)
//	parley chaos [flags]   run users under faults and check the ledger
//	parley version         print the version, commit and build date
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
	"github.com/parleychat/parley/internal/buildinfo"
	"github.com/parleychat/parley/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "bench":
		return bench(args[1:], stdout, stderr)
	case "chaos":
		return chaosCmd(args[1:], stdout, stderr)
	case "cleanup":
		return cleanup(args[1:], stdout, stderr)
	case "backup":
		return backupCmd(args[1:], stdout, stderr)
	case "restore":
		return restoreCmd(args[1:], stdout, stderr)
	case "migrate":
		return migrate(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, buildinfo.Get())
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "parley: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: parley <command> [flags]

commands:
  serve     run the server (embedded: SQLite and local disk under --data-dir)
  bench     measure a server under load (parley bench -h)
  chaos     run simulated users under injected faults and check nothing was lost (parley chaos -h)
  cleanup   run one retention cleanup pass over --data-dir and exit
  backup    copy a data dir, while it serves, into a new dir (parley backup -h)
  restore   restore a backup into a new data dir (parley restore -h)
  migrate   copy a stopped embedded deployment into PostgreSQL and S3 (parley migrate -h)
  version   print the version, commit and build date

Run 'parley serve -h' for the server's flags; each flag also reads PARLEY_<FLAG>.
`)
}

func serve(args []string, stderr io.Writer) int {
	cfg, err := config.Load("parley serve", args, os.Getenv, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "parley serve:", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	warnUnknownEnv(log, os.Environ())
	raiseFileLimit(log)
	routeRedisLog(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.New(ctx, cfg, log, nil)
	if err != nil {
		log.Error("start", "err", err)
		return 1
	}
	if err := a.ListenAndServe(ctx); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// warnUnknownEnv warns of each PARLEY_* variable no setting reads: a
// misspelt one would leave its setting at the default without a word.
func warnUnknownEnv(log *slog.Logger, environ []string) {
	for _, v := range config.UnknownEnv(environ) {
		if v.Suggestion != "" {
			log.Warn("unknown environment variable, ignored", "variable", v.Name, "did_you_mean", v.Suggestion)
		} else {
			log.Warn("unknown environment variable, ignored", "variable", v.Name)
		}
	}
}
