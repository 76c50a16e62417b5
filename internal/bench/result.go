package bench

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
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

// Result is one run's measurement.
type Result struct {
	Workload        Workload `json:"workload"`
	Members         int      `json:"members"`
	Endorsers       int      `json:"endorsers"`
	OfferedRate     float64  `json:"offeredRate"`
	DurationSeconds float64  `json:"durationSeconds"`
	LoadSeconds     float64  `json:"loadSeconds"`
	// WindowSeconds is from the first scheduled send to the last valid
	// commit on every peer (at least the duration): ValidTPS's divisor.
	WindowSeconds float64 `json:"windowSeconds"`
	Scheduled     int     `json:"scheduled"`
	Committed     int     `json:"committed"`
	Valid         int     `json:"valid"`
	ValidTPS      float64 `json:"validTps"`
	// Latency from the scheduled send time to the commit on the
	// submitter's own peer, and on every peer.
	LatencyOwnPeer  Latency `json:"latencyOwnPeer"`
	LatencyAllPeers Latency `json:"latencyAllPeers"`
	// Failures by cause: validation codes (MVCC_READ_CONFLICT, ...) and
	// failures before ordering (OVERLOAD, ENDORSE_FAILED, ...).
	Failures map[string]int `json:"failures"`
	Drained  bool           `json:"drained"`
	System   SystemCost     `json:"system"`
	// Crypto is the mean of the ECDSA rates measured just before
	// (CryptoBefore) and just after (CryptoAfter) the load.
	Crypto       CryptoRates `json:"crypto"`
	CryptoBefore CryptoRates `json:"cryptoBefore"`
	CryptoAfter  CryptoRates `json:"cryptoAfter"`
	Ceiling      Ceiling     `json:"ceiling"`
	// CeilingRatio = ValidTPS / Ceiling.TxPerSec.
	CeilingRatio float64 `json:"ceilingRatio"`
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
	Commit     string `json:"commit"`
	Time       string `json:"time"`
}

// DescribeMachine returns this machine and binary's description.
func DescribeMachine() Machine {
	m := Machine{NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Time: time.Now().UTC().Format(time.RFC3339), Commit: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.Commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					m.Commit += "+dirty"
				}
			}
		}
	}
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

// Report is the JSON document `blossom bench --json` prints.
type Report struct {
	Machine Machine   `json:"machine"`
	Results []*Result `json:"results"`
}

// WriteTable prints the report as a table.
func WriteTable(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "machine: %s, %d CPUs (GOMAXPROCS %d), %s, commit %s\n", r.Machine.CPUModel, r.Machine.NumCPU, r.Machine.GOMAXPROCS, r.Machine.GoVersion, r.Machine.Commit)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tmembers\tE\toffered/s\tvalid/s\town p50\tp95\tp99\tmax\tall p50\tp95\tp99\tmax\tCPU s/tx\tB/tx\tsign/s\tverify/s\tceiling/s\tratio\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.6f\t%.0f\t%.0f\t%.0f\t%.0f\t%.2f\t\n",
			x.Workload.Name, x.Members, x.Endorsers, x.OfferedRate, x.ValidTPS,
			x.LatencyOwnPeer.P50, x.LatencyOwnPeer.P95, x.LatencyOwnPeer.P99, x.LatencyOwnPeer.Max,
			x.LatencyAllPeers.P50, x.LatencyAllPeers.P95, x.LatencyAllPeers.P99, x.LatencyAllPeers.Max,
			x.System.CPUSecPerTx, x.System.BytesPerTx, x.Crypto.SignPerSec, x.Crypto.VerifyPerSec, x.Ceiling.TxPerSec, x.CeilingRatio)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "latencies in ms from the scheduled send time; ceiling =", ceilingNote(r))
	for _, x := range r.Results {
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

func ceilingNote(r *Report) string {
	if len(r.Results) == 0 {
		return "n/a"
	}
	return r.Results[0].Ceiling.Formula + " (sign, verify: ECDSA P-256 rates over all CPUs, same run)"
}
