package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Result is one run's measurement. The fields DESIGN.md §10 names
// (validTxPerSec, ceilingTxPerSec, signPerSec, verifyPerSec, latencyMs,
// failures, machine, commit) are at its top level.
type Result struct {
	// ValidTxPerSec = Valid / WindowSeconds.
	ValidTxPerSec float64 `json:"validTxPerSec"`
	// CeilingTxPerSec is the ECDSA ceiling (Ceiling.TxPerSec) implied by
	// SignPerSec and VerifyPerSec, the means of the ECDSA P-256 rates
	// measured just before and just after the load (over all CPUs).
	CeilingTxPerSec float64 `json:"ceilingTxPerSec"`
	SignPerSec      float64 `json:"signPerSec"`
	VerifyPerSec    float64 `json:"verifyPerSec"`
	// LatencyMs is from the scheduled send time to the commit on the
	// submitter's own peer; LatencyAllPeersMs to the commit on every peer.
	LatencyMs         Latency `json:"latencyMs"`
	LatencyAllPeersMs Latency `json:"latencyAllPeersMs"`
	// Failures by cause: validation codes (MVCC_READ_CONFLICT, ...) and
	// failures before ordering (OVERLOAD, ENDORSE_FAILED, ...).
	Failures map[string]int `json:"failures"`
	Machine  *Machine       `json:"machine"`
	// Commit is the measured build's VCS commit (see BuildCommit).
	Commit string `json:"commit"`

	Workload        Workload `json:"workload"`
	Members         int      `json:"members"`
	Endorsers       int      `json:"endorsers"`
	OfferedRate     float64  `json:"offeredRate"`
	DurationSeconds float64  `json:"durationSeconds"`
	LoadSeconds     float64  `json:"loadSeconds"`
	// WindowSeconds is from the first scheduled send to the last valid
	// commit on every peer (at least the duration): ValidTxPerSec's divisor.
	WindowSeconds float64    `json:"windowSeconds"`
	Scheduled     int        `json:"scheduled"`
	Committed     int        `json:"committed"`
	Valid         int        `json:"valid"`
	Drained       bool       `json:"drained"`
	System        SystemCost `json:"system"`
	// CryptoBefore and CryptoAfter are the ECDSA rates measured just
	// before and just after the load.
	CryptoBefore CryptoRates `json:"cryptoBefore"`
	CryptoAfter  CryptoRates `json:"cryptoAfter"`
	Ceiling      Ceiling     `json:"ceiling"`
	// CeilingRatio = ValidTxPerSec / CeilingTxPerSec.
	CeilingRatio float64 `json:"ceilingRatio"`
	// FindMax is the search's record when the result is --find-max's
	// best step.
	FindMax *FindMaxRecord `json:"findMax,omitempty"`
	// Mix is the blossom-mix workload's per-operation record.
	Mix *MixResult `json:"mix,omitempty"`

	// validByEndorsers counts valid transactions by their number of
	// endorsers, for the ceiling of workloads that mix them.
	validByEndorsers map[int]int
}

// SystemCost is what the run cost this machine per valid transaction.
type SystemCost struct {
	// Scope says whose costs these are: "network+load generator" when the
	// nodes run in this process, else "load generator only".
	Scope         string  `json:"scope"`
	CPUSeconds    float64 `json:"cpuSeconds"`
	CPUSecPerTx   float64 `json:"cpuSecondsPerTx"`
	BytesWritten  int64   `json:"bytesWritten"` // /proc/self/io write_bytes (-1: unavailable)
	BytesPerTx    float64 `json:"bytesWrittenPerTx"`
	DataDirGrowth int64   `json:"dataDirGrowth"` // bytes the data directories grew (-1: unknown)
	DataDirPerTx  float64 `json:"dataDirGrowthPerTx"`
}

type sysStats struct {
	cpu      time.Duration
	written  int64
	dirBytes int64
	scope    string
}

func readSysStats(target Target) sysStats {
	s := sysStats{written: -1, dirBytes: -1, scope: "load generator only"}
	if target.InProcess {
		s.scope = "network+load generator"
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.written = procWriteBytes()
	if len(target.DataDirs) > 0 {
		s.dirBytes = 0
		for _, d := range target.DataDirs {
			s.dirBytes += dirSize(d)
		}
	}
	return s
}

func (after sysStats) sub(before sysStats, valid int) SystemCost {
	c := SystemCost{Scope: after.scope, CPUSeconds: round3((after.cpu - before.cpu).Seconds()), BytesWritten: -1, DataDirGrowth: -1}
	per := func(x float64) float64 {
		if valid == 0 {
			return 0
		}
		return x / float64(valid)
	}
	c.CPUSecPerTx = per(c.CPUSeconds)
	if after.written >= 0 && before.written >= 0 {
		c.BytesWritten = after.written - before.written
		c.BytesPerTx = round3(per(float64(c.BytesWritten)))
	}
	if after.dirBytes >= 0 && before.dirBytes >= 0 {
		c.DataDirGrowth = after.dirBytes - before.dirBytes
		c.DataDirPerTx = round3(per(float64(c.DataDirGrowth)))
	}
	return c
}

// procWriteBytes reads write_bytes of /proc/self/io (-1 if unavailable).
func procWriteBytes() int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

func dirSize(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// Machine describes where a report was measured.
type Machine struct {
	CPUModel   string `json:"cpuModel"`
	NumCPU     int    `json:"numCpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"goVersion"`
	OS         string `json:"os"`
	Time       string `json:"time"`
}

// DescribeMachine returns this machine's description.
func DescribeMachine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Time: time.Now().UTC().Format(time.RFC3339)}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.CPUModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return m
}

// BuildCommit is the running binary's VCS commit from its build
// information ("+dirty" when built from a modified tree); failing that
// (go run, go test, -buildvcs=false), the HEAD of the git checkout holding
// the working directory, "+dirty" if tracked files differ from it;
// failing that, "unknown".
func BuildCommit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		commit, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if commit != "" {
			if dirty {
				commit += "+dirty"
			}
			return commit
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	commit := strings.TrimSpace(string(out))
	if err != nil || !isHexCommit(commit) {
		return "unknown"
	}
	if changes, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err != nil || len(changes) > 0 {
		commit += "+dirty" // modified tracked files (or status unknown)
	}
	return commit
}

func isHexCommit(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Report is the JSON document `blossom bench --json` prints: machine and
// commit, every result in Results, and, when there is exactly one result,
// that result's fields at the top level too (the embedded Result), so a
// script reads .validTxPerSec or .latencyMs.p99 directly.
type Report struct {
	Machine Machine `json:"machine"`
	Commit  string  `json:"commit"`
	*Result
	Results []*Result `json:"results"`
}

// NewReport describes this machine and build, ready for results.
func NewReport() *Report {
	return &Report{Machine: DescribeMachine(), Commit: BuildCommit()}
}

// Add appends a result, stamping it with the report's machine and commit.
func (r *Report) Add(res *Result) {
	m := r.Machine
	res.Machine, res.Commit = &m, r.Commit
	r.Results = append(r.Results, res)
	r.Result = nil
	if len(r.Results) == 1 {
		r.Result = res
	}
}

// WriteTable prints the report as a table.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "machine: %s, %d CPUs (GOMAXPROCS %d), %s, commit %s\n", r.Machine.CPUModel, r.Machine.NumCPU, r.Machine.GOMAXPROCS, r.Machine.GoVersion, r.Commit)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tmembers\tE\toffered/s\tvalid/s\town p50\tp95\tp99\tmax\tall p50\tp95\tp99\tmax\tCPU s/tx\tB/tx\tsign/s\tverify/s\tceiling/s\tratio\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.6f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t\n",
			x.Workload.Name, x.Members, x.Endorsers, x.OfferedRate, x.ValidTxPerSec,
			x.LatencyMs.P50, x.LatencyMs.P95, x.LatencyMs.P99, x.LatencyMs.Max,
			x.LatencyAllPeersMs.P50, x.LatencyAllPeersMs.P95, x.LatencyAllPeersMs.P99, x.LatencyAllPeersMs.Max,
			x.System.CPUSecPerTx, x.System.BytesPerTx, x.SignPerSec, x.VerifyPerSec, x.CeilingTxPerSec, x.CeilingRatio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "latencies in ms from the scheduled send time; ceiling =", ceilingNote(r))
	for _, x := range r.Results {
		if x.FindMax != nil {
			writeSteps(w, x)
		}
		if x.Mix != nil {
			writeMix(w, x)
		}
		if len(x.Failures) == 0 {
			continue
		}
		var causes []string
		for k, v := range x.Failures {
			causes = append(causes, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(causes)
		fmt.Fprintf(w, "%s failures of %d scheduled: %s\n", x.Workload.Name, x.Scheduled, strings.Join(causes, " "))
	}
	return nil
}

// writeMix prints a blossom-mix run's operations.
func writeMix(w io.Writer, x *Result) {
	m := x.Mix
	fmt.Fprintf(w, "%s: %s, %d lease actors (%d lost), %.1f completed ops/s, rate = scheduled ops/s\n", x.Workload.Name, m.Weights, m.Leases, m.LostActors, m.OpsPerSec)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tscheduled\tskipped\tstarted\tcompleted\tfailed\ttx\tvalid tx\tp50 ms\tp99 ms\tsign/op\tverify/op\tceiling op/s\t")
	for _, op := range OpKinds {
		st := m.Ops[op]
		if st == nil {
			continue
		}
		skipped, failed := 0, 0
		for _, n := range st.Skipped {
			skipped += n
		}
		for _, n := range st.Failed {
			failed += n
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t\n", op, st.Scheduled, skipped, st.Started, st.Completed, failed,
			st.Transactions, st.ValidTransactions, st.LatencyMs.P50, st.LatencyMs.P99, st.SignsPerOp, st.VerifiesPerOp, st.CeilingOpsPerSec)
	}
	tw.Flush()
	for _, op := range OpKinds {
		st := m.Ops[op]
		if st == nil {
			continue
		}
		if len(st.Skipped) > 0 {
			fmt.Fprintf(w, "  %s skipped: %s\n", op, causes(st.Skipped))
		}
		if len(st.Failed) > 0 {
			fmt.Fprintf(w, "  %s failed: %s\n", op, causes(st.Failed))
		}
	}
}

// writeSteps prints a --find-max search's steps.
func writeSteps(w io.Writer, x *Result) {
	fm := x.FindMax
	fmt.Fprintf(w, "%s find-max: best %.0f tx/s (%s; %.0f s steps):", x.Workload.Name, fm.BestRate, fm.Criterion, fm.StepSeconds)
	for _, s := range fm.Steps {
		verdict := "ok"
		if !s.KeptUp {
			verdict = s.Why
		}
		fmt.Fprintf(w, " %.0f/s %s;", s.OfferedRate, verdict)
	}
	fmt.Fprintln(w)
}

func ceilingNote(r *Report) string {
	if len(r.Results) == 0 {
		return "n/a"
	}
	return r.Results[0].Ceiling.Formula + " (sign, verify: ECDSA P-256 rates over all CPUs, same run)"
}
