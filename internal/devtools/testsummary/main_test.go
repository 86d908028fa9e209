package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestSummarizeRecordedStream feeds a recorded `go test -json` stream
// (testdata/skips.json: `go test -json ./...` over testdata/demo_test.go.txt
// as demo/demo_test.go, beside a package with no tests, with Go 1.26) and
// compares the summary with testdata/skips.golden. The stream has a skip
// with a reason, one after a t.Log, one of two lines, a bare SkipNow, a
// skip in a parallel test, a skipped subtest and a failure.
func TestSummarizeRecordedStream(t *testing.T) {
	in, err := os.Open(filepath.Join("testdata", "skips.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	if summarize(in, &out) {
		t.Error("summarize reported success for a stream with a failed test")
	}
	golden := filepath.Join("testdata", "skips.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("summary differs from %s (go test -run %s -update rewrites it)\n--- got:\n%s\n--- want:\n%s", golden, t.Name(), out.Bytes(), want)
	}
}

func TestSkipReason(t *testing.T) {
	for _, tc := range []struct {
		name   string
		output []string
		want   string
	}{
		{"reason", []string{"=== RUN   TestX\n", "    x_test.go:9: no PostgreSQL\n", "--- SKIP: TestX (0.00s)\n"}, "no PostgreSQL"},
		{"the last message wins", []string{"    x_test.go:8: probing\n", "    x_test.go:9: no ffmpeg\n", "--- SKIP: TestX (0.00s)\n"}, "no ffmpeg"},
		{"two lines", []string{"    x_test.go:9: needs node\n", "        and chromium\n", "--- SKIP: TestX (0.00s)\n"}, "needs node\n      and chromium"},
		{"paused and continued", []string{"=== RUN   TestX\n", "=== PAUSE TestX\n", "=== CONT  TestX\n", "    x_test.go:9: later\n", "--- SKIP: TestX (0.00s)\n"}, "later"},
		{"a SKIP: prefix in the message", []string{"    cluster.go:27: SKIP: PostgreSQL at 127.0.0.1 is not available\n", "--- SKIP: TestX (0.00s)\n"}, "PostgreSQL at 127.0.0.1 is not available"},
		{"SkipNow", []string{"=== RUN   TestX\n", "--- SKIP: TestX (0.00s)\n"}, "(no reason given)"},
		{"printed output is no reason", []string{"=== RUN   TestX\n", "hello from fmt\n", "--- SKIP: TestX (0.00s)\n"}, "(no reason given)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := skipReason(tc.output); got != tc.want {
				t.Errorf("skipReason = %q, want %q", got, tc.want)
			}
		})
	}
}
