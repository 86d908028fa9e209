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
	"os"
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
	os.Exit(run())
}

func run() int {
	outputs := map[string][]string{} // package/test -> output lines
	var passed, failed, skipped int
	var skips, failures []string
	failedPkg := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Action == "" {
			fmt.Println(line) // not JSON: a build error, say
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			outputs[key] = append(outputs[key], e.Output)
		case "pass":
			if e.Test == "" {
				fmt.Printf("ok   %s %.1fs\n", e.Package, e.Elapsed)
			} else {
				passed++
			}
			delete(outputs, key)
		case "skip":
			if e.Test == "" {
				delete(outputs, key)
				continue
			}
			skipped++
			reason := ""
			for _, o := range outputs[key] {
				t := strings.TrimSpace(o)
				if i := strings.Index(t, "SKIP:"); i >= 0 {
					reason = t[i+len("SKIP:"):]
					break
				}
				if t != "" && !strings.HasPrefix(t, "=== ") && !strings.HasPrefix(t, "--- ") && reason == "" {
					reason = t
				}
			}
			skips = append(skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason))
			delete(outputs, key)
		case "fail", "build-fail":
			if e.Test == "" {
				failedPkg = true
				fmt.Printf("FAIL %s\n", e.Package)
				for _, o := range outputs[key] {
					fmt.Print(o)
				}
			} else {
				failed++
				failures = append(failures, e.Package+" "+e.Test)
				for _, o := range outputs[key] {
					fmt.Print(o)
				}
			}
			delete(outputs, key)
		}
	}
	if len(skips) > 0 {
		sort.Strings(skips)
		fmt.Println("\nSkipped (not run here; CI runs them all):")
		for _, s := range skips {
			fmt.Println("  " + s)
		}
	}
	if len(failures) > 0 {
		fmt.Println("\nFailed:")
		for _, f := range failures {
			fmt.Println("  " + f)
		}
	}
	fmt.Printf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 || failedPkg {
		return 1
	}
	return 0
}
