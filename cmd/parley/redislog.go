package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisLogger routes go-redis's own log lines (a connection lost, a
// pool's trouble) into the server's slog, as warnings: they are what an
// operator looks for when Redis flaps, and on stderr in go-redis's own
// format they were the only lines of a node that were not JSON.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client", "detail", strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// routeRedisLog sets go-redis's logger. go-redis has only a global one
// (redis.SetLogger; its Options take none), so it is set here, once, by
// the process, and never by library code, where tests and several apps
// in one process would fight over it.
func routeRedisLog(log *slog.Logger) {
	redis.SetLogger(redisLogger{log: log.With("component", "go-redis")})
}
