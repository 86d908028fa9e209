// Command testsummary reads `go test -json` on stdin and prints what a
// person needs: one line per package, the output of every failed test,
// every skipped test with its reason, and a closing count. It exits 1 if
// anything failed (or did not build).
//
//	go test -race -json ./... | go run ./internal/devtools/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	if !summarize(os.Stdin, os.Stdout) {
		os.Exit(1)
	}
}

// summarize reads a `go test -json` stream from in and writes the summary
// to out. It reports false if a test or a package failed.
func summarize(in io.Reader, out io.Writer) bool {
	outputs := map[string][]string{} // package/test -> output lines
	var passed, failed, skipped int
	var skips, failures []string
	failedPkg := false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, line) // not JSON: a build error, say
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			outputs[key] = append(outputs[key], e.Output)
		case "pass":
			if e.Test == "" {
				fmt.Fprintf(out, "ok   %s %.1fs\n", e.Package, e.Elapsed)
			} else {
				passed++
			}
			delete(outputs, key)
		case "skip":
			if e.Test == "" {
				delete(outputs, key) // a package with no tests
				continue
			}
			skipped++
			skips = append(skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(outputs[key])))
			delete(outputs, key)
		case "fail", "build-fail":
			if e.Test == "" {
				failedPkg = true
				fmt.Fprintf(out, "FAIL %s\n", e.Package)
			} else {
				failed++
				failures = append(failures, e.Package+" "+e.Test)
			}
			for _, o := range outputs[key] {
				fmt.Fprint(out, o)
			}
			delete(outputs, key)
		}
	}
	if len(skips) > 0 {
		sort.Strings(skips)
		fmt.Fprintln(out, "\nSkipped (not run here; CI runs them all):")
		for _, s := range skips {
			fmt.Fprintln(out, "  "+s)
		}
	}
	if len(failures) > 0 {
		fmt.Fprintln(out, "\nFailed:")
		for _, f := range failures {
			fmt.Fprintln(out, "  "+f)
		}
	}
	fmt.Fprintf(out, "\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return failed == 0 && !failedPkg
}

// logLine is the start of a t.Log, t.Skip or t.Error message in a test's
// output: "    file_test.go:42: the message". Its further lines follow
// with eight spaces.
var logLine = regexp.MustCompile(`^    \S+\.go:\d+: ?(.*)$`)

// skipReason is the message of the t.Skip (or t.Skipf) that ended a test,
// from the test's output lines: the last message the test logged before
// its "--- SKIP" line. The "=== RUN" and "--- SKIP" lines themselves name
// the test, not the reason; a bare t.SkipNow leaves none.
func skipReason(output []string) string {
	var msg []string
	for _, o := range output {
		o = strings.TrimRight(o, "\n")
		if m := logLine.FindStringSubmatch(o); m != nil {
			// apptest's service skips begin "SKIP: " for the parser this
			// replaced, which looked for that; it says nothing here.
			msg = []string{strings.TrimPrefix(m[1], "SKIP: ")}
			continue
		}
		if rest, ok := strings.CutPrefix(o, "        "); ok && msg != nil {
			msg = append(msg, rest) // a message of several lines
			continue
		}
		if strings.HasPrefix(o, "--- SKIP") {
			break
		}
	}
	if msg == nil {
		return "(no reason given)"
	}
	return strings.Join(msg, "\n      ")
}
