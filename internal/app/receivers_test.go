package app_test

import (
	"context"
	"testing"
)

// The tests' outside receivers (a push service, a push relay, a bot's
// webhook) hand what they accept to a channel; these wait on it.

// nextFrom returns the next value on ch, failing the test if none comes
// before ctx ends.
func nextFrom[T any](ctx context.Context, t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("no %s arrived: %v", what, ctx.Err())
		var zero T
		return zero
	}
}

// noneFrom checks, once settled says the server has finished what it was
// given, that nothing more came on ch.
func noneFrom[T any](ctx context.Context, t testing.TB, settled func(context.Context) error, ch <-chan T, why string, show func(T) string) {
	t.Helper()
	if err := settled(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-ch:
		t.Fatalf("%s: got %s", why, show(v))
	default:
	}
}
