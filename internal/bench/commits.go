package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The server's histograms of its group commits (internal/metrics). Only
// commits that carried messages are observed: a commit of receipts alone
// is not in them.
const (
	commitSecondsMetric = "parley_commit_seconds"
	commitBatchMetric   = "parley_commit_batch_size"
)

// Commits summarises the server's group commits during the measured
// window, from the deltas of its /metrics histograms between the window's
// ends. Quantiles are bucket upper bounds: the histogram knows no better.
type Commits struct {
	Count     int64   `json:"count"`
	PerSecond float64 `json:"commits_per_s"`
	MeanMS    float64 `json:"mean_ms"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	// P99Beyond: the p99 lies past the last finite bucket, P99MS.
	P99Beyond bool    `json:"p99_beyond_last_bucket,omitempty"`
	MeanBatch float64 `json:"mean_batch_size"`
}

// histogram is one Prometheus histogram as scraped: cumulative counts per
// upper bound, in the order of the exposition (ascending, +Inf last).
type histogram struct {
	bounds []float64
	counts []float64
	sum    float64
	count  float64
}

// sub returns h minus an earlier scrape of the same histogram.
func (h histogram) sub(before histogram) (histogram, error) {
	if len(h.bounds) != len(before.bounds) {
		return histogram{}, fmt.Errorf("histogram buckets changed between scrapes (%d, then %d)", len(before.bounds), len(h.bounds))
	}
	d := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts)), sum: h.sum - before.sum, count: h.count - before.count}
	for i := range h.counts {
		if h.bounds[i] != before.bounds[i] {
			return histogram{}, fmt.Errorf("histogram bucket %d changed between scrapes", i)
		}
		d.counts[i] = h.counts[i] - before.counts[i]
	}
	return d, nil
}

// quantile returns the upper bound of the first bucket holding the q-th
// observation, and false if that is the +Inf bucket (then the bound is
// the last finite one).
func (h histogram) quantile(q float64) (float64, bool) {
	if h.count <= 0 || len(h.bounds) == 0 {
		return 0, true
	}
	rank := q * h.count
	lastFinite := 0.0
	for i, b := range h.bounds {
		if !math.IsInf(b, 1) {
			lastFinite = b
		}
		if h.counts[i] >= rank {
			if math.IsInf(b, 1) {
				return lastFinite, false
			}
			return b, true
		}
	}
	return lastFinite, false
}

// parseHistograms reads the Prometheus text exposition format and returns
// the named histograms (those present). Only what a histogram without
// labels other than le needs is parsed: _bucket, _sum and _count lines.
func parseHistograms(r io.Reader, names ...string) (map[string]*histogram, error) {
	out := map[string]*histogram{}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, labels, value, ok := splitSample(line)
		if !ok {
			return nil, fmt.Errorf("metrics: malformed line %q", line)
		}
		base, suffix := name, ""
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, s); ok && want[b] {
				base, suffix = b, s
				break
			}
		}
		if suffix == "" {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %s: %w", line, err)
		}
		h := out[base]
		if h == nil {
			h = &histogram{}
			out[base] = h
		}
		switch suffix {
		case "_sum":
			h.sum = v
		case "_count":
			h.count = v
		case "_bucket":
			le, ok := label(labels, "le")
			if !ok {
				return nil, fmt.Errorf("metrics: bucket without le: %q", line)
			}
			bound, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return nil, fmt.Errorf("metrics: %s: %w", line, err)
			}
			h.bounds = append(h.bounds, bound)
			h.counts = append(h.counts, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return out, nil
}

// splitSample splits `name{labels} value [timestamp]`.
func splitSample(line string) (name, labels, value string, ok bool) {
	rest := line
	if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
		j := strings.LastIndexByte(line, '}')
		if j < i {
			return "", "", "", false
		}
		name, labels, rest = line[:i], line[i+1:j], line[j+1:]
	} else {
		var found bool
		name, rest, found = strings.Cut(line, " ")
		if !found {
			return "", "", "", false
		}
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", "", "", false
	}
	return name, labels, f[0], true
}

// label returns a label's value from `a="x",le="0.5"`. Values here are
// numbers or +Inf, so escapes are not handled.
func label(labels, key string) (string, bool) {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && k == key {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// commitScrape is the commit histograms of every node at one moment.
type commitScrape struct {
	seconds, batch histogram
}

// scrapeCommits reads the commit histograms of the server (and every
// other node of its cluster, summed). ok is false if a node does not
// serve them: a --target server may not expose /metrics to the harness.
func (e *env) scrapeCommits(ctx context.Context) (commitScrape, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var total commitScrape
	for i, node := range append([]string{e.url}, e.opt.Nodes...) {
		hs, err := fetchHistograms(ctx, e.http, strings.TrimRight(node, "/")+"/metrics", commitSecondsMetric, commitBatchMetric)
		if err != nil {
			return commitScrape{}, false
		}
		s, b := hs[commitSecondsMetric], hs[commitBatchMetric]
		if s == nil || b == nil {
			return commitScrape{}, false
		}
		if i == 0 {
			total = commitScrape{seconds: *s, batch: *b}
			continue
		}
		if !total.seconds.add(*s) || !total.batch.add(*b) {
			return commitScrape{}, false
		}
	}
	return total, true
}

// add adds another node's histogram of the same buckets.
func (h *histogram) add(o histogram) bool {
	if len(h.bounds) != len(o.bounds) {
		return false
	}
	counts := make([]float64, len(h.counts))
	for i := range h.counts {
		if h.bounds[i] != o.bounds[i] {
			return false
		}
		counts[i] = h.counts[i] + o.counts[i]
	}
	h.counts, h.sum, h.count = counts, h.sum+o.sum, h.count+o.count
	return true
}

func fetchHistograms(ctx context.Context, hc *http.Client, url string, names ...string) (map[string]*histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	// The plain text format: the only one parseHistograms reads.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	return parseHistograms(bytes.NewReader(b), names...)
}

// scrapeWrites reads the server's socket writes and frames sent so far
// (every node of its cluster summed); ok is false if a node does not
// serve them.
func (e *env) scrapeWrites(ctx context.Context) (writes, frames float64, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, node := range append([]string{e.url}, e.opt.Nodes...) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(node, "/")+"/metrics", nil)
		if err != nil {
			return 0, 0, false
		}
		req.Header.Set("Accept", "text/plain;version=0.0.4")
		resp, err := e.http.Do(req)
		if err != nil {
			return 0, 0, false
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, 0, false
		}
		w, okw := counterValue(b, "parley_socket_writes_total")
		f, okf := counterValue(b, "parley_frames_sent_total")
		if !okw || !okf {
			return 0, 0, false
		}
		writes, frames = writes+w, frames+f
	}
	return writes, frames, true
}

// counterValue finds an unlabelled sample in the text format.
func counterValue(b []byte, name string) (float64, bool) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(name+" "))
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(string(bytes.TrimSpace(rest)), 64)
		return v, err == nil
	}
	return 0, false
}

// commitsBetween summarises the commits between two scrapes d apart.
func commitsBetween(before, after commitScrape, d time.Duration) (*Commits, error) {
	s, err := after.seconds.sub(before.seconds)
	if err != nil {
		return nil, err
	}
	b, err := after.batch.sub(before.batch)
	if err != nil {
		return nil, err
	}
	c := &Commits{Count: int64(math.Round(s.count)), PerSecond: round(s.count / d.Seconds())}
	if s.count <= 0 {
		return c, nil
	}
	c.MeanMS = round(s.sum / s.count * 1e3)
	p50, _ := s.quantile(0.50)
	p99, in := s.quantile(0.99)
	c.P50MS, c.P99MS, c.P99Beyond = round(p50*1e3), round(p99*1e3), !in
	if b.count > 0 {
		c.MeanBatch = round(b.sum / b.count)
	}
	return c, nil
}
