package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one run: what was asked, what was measured,
// and on what.
type Report struct {
	Scenario string   `json:"scenario"`
	Params   Scenario `json:"params"`
	// Generator is how the measured traffic was generated: GeneratorLean
	// or GeneratorSDK.
	Generator string    `json:"generator"`
	StartedAt time.Time `json:"started_at"`
	// Window is the length of the measured phase, in seconds.
	Window    float64       `json:"window_seconds"`
	Figures   Figures       `json:"figures"`
	Latencies Distributions `json:"latency"`
	Checks    Figures       `json:"checks"`
	// Commits is the server's group commits in the window, from its
	// /metrics; nil if it does not serve them.
	Commits *Commits `json:"commits,omitempty"`
	Machine Machine  `json:"machine"`
	Server  Usage    `json:"server"`
	Client  Usage    `json:"client"`
	Notes   []string `json:"notes,omitempty"`
}

// Figure is one measured number.
type Figure struct {
	Key   string // JSON key, snake_case with its unit
	Label string // table label
	Value float64
	Unit  string
}

// Figures keep their order in the table and become one JSON object.
type Figures []Figure

// MarshalJSON writes {key: value, ...} in order.
func (fs Figures) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Key)
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.FormatFloat(round(f.Value), 'f', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Distribution is one named latency distribution.
type Distribution struct {
	Key   string
	Label string
	Percentiles
}

// Distributions become one JSON object of distributions.
type Distributions []Distribution

// MarshalJSON writes {key: {p50_ms: ...}, ...} in order.
func (ls Distributions) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(l.Key)
		b.Write(k)
		b.WriteByte(':')
		p := l.Percentiles
		p.Mean, p.P50, p.P90, p.P99, p.P999, p.Max = round(p.Mean), round(p.P50), round(p.P90), round(p.P99), round(p.P999), round(p.Max)
		v, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// round keeps three decimals: microseconds for milliseconds, enough for
// rates, and JSON without float noise.
func round(v float64) float64 {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}

// Machine describes where the run happened.
type Machine struct {
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model,omitempty"`
	MemTotal   int64  `json:"mem_total_bytes,omitempty"`
	// OtherCPUCores is the CPU used during the measured window by
	// processes other than the server and the generator (for an
	// in-process or remote server, the server's own share is in it).
	OtherCPUCores *float64 `json:"other_cpu_cores,omitempty"`
}

func thisMachine() Machine {
	m := Machine{
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = procField(string(b), "model name", ":")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, ok := parseKB(procField(string(b), "MemTotal", ":")); ok {
			m.MemTotal = kb << 10
		}
	}
	return m
}

// Usage is one process's resources over the measured window. Pointers are
// nil when unknown (a --target server without --server-pid).
type Usage struct {
	Mode       string   `json:"mode,omitempty"` // server: child or target
	URL        string   `json:"url,omitempty"`
	PID        int      `json:"pid,omitempty"`
	CPUSeconds *float64 `json:"cpu_seconds"`
	// CPUCores is CPUSeconds over the window: 1.0 is one core kept busy.
	CPUCores *float64 `json:"cpu_cores"`
	// RSS is the resident set at the end of the window; PeakRSS the high
	// water mark of the whole process life.
	RSS     *int64 `json:"rss_bytes,omitempty"`
	PeakRSS *int64 `json:"peak_rss_bytes,omitempty"`
	// OpenFileLimit is the process's RLIMIT_NOFILE soft limit.
	OpenFileLimit *int64 `json:"open_file_limit,omitempty"`
	// CPUPerMessage is the process's CPU per message of the window, in
	// microseconds (scenarios that carry messages).
	CPUPerMessage *float64 `json:"cpu_per_message_us,omitempty"`
	// WriteSyscalls is the server's write system calls in the window
	// (sockets and files: /proc/PID/io syscw); WritesPerMessage the same
	// per message.
	WriteSyscalls    *int64   `json:"write_syscalls,omitempty"`
	WritesPerMessage *float64 `json:"write_syscalls_per_message,omitempty"`
	// SocketWrites and FramesSent are the server's writes to client
	// sockets and the frames they carried, in the window (/metrics);
	// SocketWritesPerMessage the writes per message.
	SocketWrites           *int64   `json:"socket_writes,omitempty"`
	FramesSent             *int64   `json:"frames_sent,omitempty"`
	SocketWritesPerMessage *float64 `json:"socket_writes_per_message,omitempty"`
}

// perMessage sets the generator's CPU per message, msgs being the
// messages of the measured window.
func (r *Report) perMessage(msgs int64) {
	if msgs <= 0 {
		return
	}
	if r.Client.CPUSeconds != nil {
		r.Client.CPUPerMessage = ptr(*r.Client.CPUSeconds / float64(msgs) * 1e6)
	}
	if r.Server.CPUSeconds != nil {
		r.Server.CPUPerMessage = ptr(*r.Server.CPUSeconds / float64(msgs) * 1e6)
	}
	if r.Server.WriteSyscalls != nil {
		r.Server.WritesPerMessage = ptr(float64(*r.Server.WriteSyscalls) / float64(msgs))
	}
	if r.Server.SocketWrites != nil {
		r.Server.SocketWritesPerMessage = ptr(float64(*r.Server.SocketWrites) / float64(msgs))
	}
}

// perConnect adds the server's CPU per connection made in the window.
func (r *Report) perConnect(conns int) {
	if r.Server.CPUSeconds != nil && conns > 0 {
		r.Figures = append(r.Figures, Figure{Key: "server_cpu_per_connect_ms", Label: "server CPU per connect",
			Value: *r.Server.CPUSeconds / float64(conns) * 1e3, Unit: "ms"})
	}
}

// WriteJSON writes the report as one JSON object on one line.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteTable writes the report for a human.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "parley bench %s — %s\n", r.Scenario, r.Params.describe())
	srv := r.Server.Mode
	if r.Server.PID != 0 {
		srv += fmt.Sprintf(" pid %d", r.Server.PID)
	}
	fmt.Fprintf(&b, "server: %s at %s; %s, %d CPUs (%s), %s\n", srv, r.Server.URL,
		r.Machine.GoVersion, r.Machine.NumCPU, r.Machine.CPUModel, gib(r.Machine.MemTotal))
	fmt.Fprintf(&b, "generator: %s\n\n", r.Generator)

	rows := [][3]string{}
	for _, f := range r.Figures {
		rows = append(rows, [3]string{f.Label, human(f.Value), f.Unit})
	}
	rows = append(rows,
		[3]string{"measured window", fmt.Sprintf("%.2f", r.Window), "s"},
		[3]string{"server CPU", optSeconds(r.Server.CPUSeconds), optCores(r.Server.CPUCores)},
		[3]string{"generator CPU", optSeconds(r.Client.CPUSeconds), optCores(r.Client.CPUCores)},
	)
	if v := r.Server.CPUPerMessage; v != nil {
		rows = append(rows, [3]string{"server CPU per message", fmt.Sprintf("%.1f", *v), "µs"})
	}
	if v := r.Client.CPUPerMessage; v != nil {
		rows = append(rows, [3]string{"generator CPU per message", fmt.Sprintf("%.1f", *v), "µs"})
	}
	if v := r.Server.WritesPerMessage; v != nil {
		rows = append(rows, [3]string{"server write syscalls per message", fmt.Sprintf("%.2f", *v), "(sockets and files)"})
	}
	if v := r.Server.SocketWritesPerMessage; v != nil {
		frames := ""
		if r.Server.FramesSent != nil && r.Server.SocketWrites != nil && *r.Server.SocketWrites > 0 {
			frames = fmt.Sprintf("(%.1f frames per write)", float64(*r.Server.FramesSent)/float64(*r.Server.SocketWrites))
		}
		rows = append(rows, [3]string{"server socket writes per message", fmt.Sprintf("%.2f", *v), frames})
	}
	rows = append(rows, [3]string{"server RSS", optBytes(r.Server.RSS), ""})
	if r.Machine.OtherCPUCores != nil {
		rows = append(rows, [3]string{"other processes' CPU", fmt.Sprintf("%.2f", *r.Machine.OtherCPUCores), "cores"})
	}
	if c := r.Commits; c != nil {
		rows = append(rows, [3]string{"commit cycles", human(c.PerSecond), "/s"})
		if c.Count > 0 {
			p99 := fmt.Sprintf("%.1f", c.P99MS)
			if c.P99Beyond {
				p99 = "> " + p99
			}
			rows = append(rows,
				[3]string{"commit time mean / p50 / p99", fmt.Sprintf("%.2f / %.1f / %s", c.MeanMS, c.P50MS, p99), "ms (p50, p99: bucket bounds)"},
				[3]string{"commit batch size (mean)", fmt.Sprintf("%.1f", c.MeanBatch), "sends (cycles with any)"},
			)
		}
	}
	lw, vw := 0, 0
	for _, row := range rows {
		lw, vw = max(lw, len([]rune(row[0]))), max(vw, len(row[1]))
	}
	for _, row := range rows {
		pad := strings.Repeat(" ", lw-len([]rune(row[0])))
		fmt.Fprintf(&b, "  %s%s  %*s %s\n", row[0], pad, vw, row[1], row[2])
	}
	if len(r.Latencies) > 0 {
		b.WriteByte('\n')
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "latency (ms)\tcount\tmean\tp50\tp90\tp99\tp99.9\tmax\t\n")
		for _, l := range r.Latencies {
			p := l.Percentiles
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", l.Label, p.Count, p.Mean, p.P50, p.P90, p.P99, p.P999, p.Max)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Checks) > 0 {
		b.WriteString("\nchecks:")
		for _, c := range r.Checks {
			fmt.Fprintf(&b, " %s=%s", c.Key, human(c.Value))
		}
		b.WriteByte('\n')
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// human prints integers with thousands separators and others with two
// decimals.
func human(v float64) string {
	if v >= 1000 || v == float64(int64(v)) {
		s := strconv.FormatInt(int64(v+0.5), 10)
		var out []byte
		for i := range s {
			if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
				out = append(out, ',')
			}
			out = append(out, s[i])
		}
		return string(out)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func optSeconds(v *float64) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f", *v)
}

func optCores(v *float64) string {
	if v == nil {
		return "s"
	}
	return fmt.Sprintf("s (%.2f cores)", *v)
}

func optBytes(v *int64) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MiB", float64(*v)/(1<<20))
}

func gib(n int64) string {
	if n == 0 {
		return "memory unknown"
	}
	return fmt.Sprintf("%.0f GiB", float64(n)/(1<<30))
}
