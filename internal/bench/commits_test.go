package bench

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// exposition renders the two commit histograms as the server's /metrics
// does (client_golang's text format), with other metrics around them.
func exposition(secCounts []int, secSum float64, batchCounts []int, batchSum float64) string {
	var b strings.Builder
	b.WriteString("# HELP go_gc_duration_seconds A summary.\n# TYPE go_gc_duration_seconds summary\n")
	b.WriteString("go_gc_duration_seconds{quantile=\"0.5\"} 1.2e-05\ngo_gc_duration_seconds_sum 0.001\ngo_gc_duration_seconds_count 7\n")
	b.WriteString("# HELP parley_commit_batch_size Sends per group commit.\n# TYPE parley_commit_batch_size histogram\n")
	cum := 0
	for i, n := range batchCounts {
		cum += n
		le := "+Inf"
		if i < len(batchCounts)-1 {
			le = fmt.Sprint(1 << i)
		}
		fmt.Fprintf(&b, "parley_commit_batch_size_bucket{le=%q} %d\n", le, cum)
	}
	fmt.Fprintf(&b, "parley_commit_batch_size_sum %g\nparley_commit_batch_size_count %d\n", batchSum, cum)
	b.WriteString("# HELP parley_commit_seconds Duration of one group commit.\n# TYPE parley_commit_seconds histogram\n")
	cum = 0
	for i, n := range secCounts {
		cum += n
		le := "+Inf"
		if i < len(secCounts)-1 {
			le = fmt.Sprint(0.0001 * float64(int(1)<<i))
		}
		fmt.Fprintf(&b, "parley_commit_seconds_bucket{le=%q} %d\n", le, cum)
	}
	fmt.Fprintf(&b, "parley_commit_seconds_sum %g\nparley_commit_seconds_count %d\n", secSum, cum)
	b.WriteString("parley_commit_seconds_bucket_total_is_not_a_bucket 3\nparley_connections 64\n")
	return b.String()
}

func scrapeOf(t *testing.T, text string) commitScrape {
	t.Helper()
	hs, err := parseHistograms(strings.NewReader(text), commitSecondsMetric, commitBatchMetric)
	if err != nil {
		t.Fatal(err)
	}
	s, b := hs[commitSecondsMetric], hs[commitBatchMetric]
	if s == nil || b == nil {
		t.Fatalf("histograms missing: %v", hs)
	}
	return commitScrape{seconds: *s, batch: *b}
}

func TestCommitHistogramDeltas(t *testing.T) {
	// Buckets 0.1, 0.2, 0.4, 0.8, 1.6 ms, +Inf; batch buckets 1, 2, 4, +Inf.
	before := scrapeOf(t, exposition([]int{5, 5, 0, 0, 0, 0}, 0.002, []int{10, 0, 0, 0}, 10))
	// 100 more commits: 40 under 0.2 ms, 59 under 0.8 ms, 1 under 1.6 ms,
	// 2 s of commit time in all; 300 more sends.
	after := scrapeOf(t, exposition([]int{5, 45, 0, 59, 1, 0}, 2.002, []int{10, 20, 80, 0}, 310))
	if got := len(after.seconds.bounds); got != 6 || !math.IsInf(after.seconds.bounds[5], 1) {
		t.Fatalf("bounds = %v", after.seconds.bounds)
	}
	c, err := commitsBetween(before, after, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := Commits{Count: 100, PerSecond: 33.333, MeanMS: 20, P50MS: 0.8, P99MS: 0.8, MeanBatch: 3}
	if c.Count != want.Count || c.PerSecond != want.PerSecond || math.Abs(c.MeanMS-want.MeanMS) > 1e-9 ||
		math.Abs(c.P50MS-want.P50MS) > 1e-9 || math.Abs(c.P99MS-want.P99MS) > 1e-9 || c.MeanBatch != want.MeanBatch || c.P99Beyond {
		t.Errorf("commits = %+v, want %+v", *c, want)
	}

	// A tail in the +Inf bucket reports the last finite bound, marked.
	tail := scrapeOf(t, exposition([]int{5, 5, 0, 0, 0, 50}, 100, []int{10, 0, 0, 50}, 60))
	c, err = commitsBetween(before, tail, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !c.P99Beyond || math.Abs(c.P99MS-1.6) > 1e-9 {
		t.Errorf("p99 in +Inf: %+v", *c)
	}

	// No commit in the window: a rate of zero and nothing else.
	c, err = commitsBetween(before, before, time.Second)
	if err != nil || c.Count != 0 || c.PerSecond != 0 || c.MeanMS != 0 {
		t.Errorf("no commits: %+v, %v", c, err)
	}

	// Buckets that changed between scrapes (another server) are refused.
	other := scrapeOf(t, exposition([]int{5, 5, 0}, 0.002, []int{10, 0, 0, 0}, 10))
	if _, err := commitsBetween(before, other, time.Second); err == nil {
		t.Error("histograms of different buckets subtracted without an error")
	}
}

func TestParseHistogramsMalformed(t *testing.T) {
	for _, text := range []string{
		"parley_commit_seconds_bucket{le=\"0.1\"}\n",
		"parley_commit_seconds_bucket{le=\"x\"} 1\n",
		"parley_commit_seconds_bucket{} 1\n",
		"parley_commit_seconds_sum abc\n",
	} {
		if _, err := parseHistograms(strings.NewReader(text), commitSecondsMetric); err == nil {
			t.Errorf("%q parsed without an error", text)
		}
	}
}
