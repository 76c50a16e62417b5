package bench

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSearchMax runs the search against networks that keep up with every
// rate up to a capacity: it must find the capacity within the precision,
// never probe above maxRate, and stay within maxSteps.
func TestSearchMax(t *testing.T) {
	tests := []struct {
		name                string
		capacity            float64 // highest rate accepted (0: none)
		start, maxRate      float64
		maxSteps            int
		wantLo, wantHi      float64 // the result's bounds
		wantProbes, maxProb int
	}{
		{"ramp then bisect", 300, 50, 100000, 16, 273, 300, 0, 16},
		{"capped by maxRate", 1e9, 50, 400, 16, 400, 400, 4, 4}, // 50 100 200 400
		{"start too high: ramp down", 30, 200, 100000, 16, 28, 30, 0, 16},
		{"nothing keeps up", 0, 8, 100000, 16, 0, 0, 4, 4}, // 8 4 2 1
		{"step bound", 300, 50, 100000, 3, 200, 200, 3, 3},
		{"exact start", 50, 50, 100000, 16, 46, 50, 0, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var probes []float64
			got, err := searchMax(tt.start, tt.maxRate, 0.1, tt.maxSteps, func(r float64) (bool, error) {
				probes = append(probes, r)
				if r > tt.maxRate || r < 1 {
					t.Errorf("probed %v", r)
				}
				return r <= tt.capacity, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got < tt.wantLo || got > tt.wantHi || got > tt.capacity {
				t.Errorf("found %v, want in [%v, %v] (probes %v)", got, tt.wantLo, tt.wantHi, probes)
			}
			if len(probes) > tt.maxProb || (tt.wantProbes > 0 && len(probes) != tt.wantProbes) {
				t.Errorf("%d probes %v", len(probes), probes)
			}
		})
	}
	boom := errors.New("boom")
	if _, err := searchMax(50, 1000, 0.1, 16, func(float64) (bool, error) { return true, boom }); !errors.Is(err, boom) {
		t.Errorf("probe error lost: %v", err)
	}
}

func TestKeptUp(t *testing.T) {
	ok := func() *Result {
		return &Result{Scheduled: 100, Valid: 100, Drained: true, Failures: map[string]int{}, LatencyMs: Latency{P99: 400}}
	}
	tests := []struct {
		name   string
		change func(*Result)
		want   bool
		why    string
	}{
		{"all valid, fast", func(*Result) {}, true, ""},
		{"overload", func(r *Result) { r.Failures[FailOverload] = 1; r.Valid = 99 }, false, "OVERLOAD"},
		{"not drained", func(r *Result) { r.Drained = false }, false, "drain"},
		{"too few valid", func(r *Result) { r.Valid = 94; r.Failures["MVCC_READ_CONFLICT"] = 6 }, false, "94 of 100"},
		{"95% valid", func(r *Result) { r.Valid = 95; r.Failures["MVCC_READ_CONFLICT"] = 5 }, true, ""},
		{"slow", func(r *Result) { r.LatencyMs.P99 = 1000.5 }, false, "p99"},
		{"mix, 5% of operations without a free actor", func(r *Result) { r.Mix = testMixResult(5, 95) }, true, ""},
		{"mix, 6% of operations without a free actor", func(r *Result) { r.Mix = testMixResult(6, 94) }, false, "lease actor busy"},
	}
	for _, tt := range tests {
		r := ok()
		tt.change(r)
		got, why := keptUp(r, time.Second)
		if got != tt.want || !strings.Contains(why, tt.why) {
			t.Errorf("%s: %v %q, want %v %q", tt.name, got, why, tt.want, tt.why)
		}
	}
}

// testMixResult is a mix record of busy operations skipped for want of a
// free actor (checkouts) and others skipped for the actors' state (votes).
func testMixResult(busy, other int) *MixResult {
	return &MixResult{Ops: map[string]*OpStats{
		OpCheckout: {Scheduled: busy, Skipped: map[string]int{SkipLeasesBusy: busy}},
		OpVote:     {Scheduled: other, Skipped: map[string]int{SkipVoteOngoing: other}},
	}}
}

// TestBuildCommit: a test binary carries no VCS stamp, so the commit is
// the checkout's HEAD, +dirty while tracked files are modified (the tests
// run inside the repository), when git is installed, else "unknown".
func TestBuildCommit(t *testing.T) {
	got := BuildCommit()
	want := "unknown"
	if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		want = strings.TrimSpace(string(out))
		if changes, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err != nil || len(changes) > 0 {
			want += "+dirty"
		}
	}
	if got != want {
		t.Errorf("BuildCommit() = %q, want %q", got, want)
	}
	if want != "unknown" && !regexp.MustCompile(`^[0-9a-f]{40}(\+dirty)?$`).MatchString(got) {
		t.Errorf("commit %q", got)
	}
	for s, ok := range map[string]bool{strings.Repeat("a", 40): true, strings.Repeat("A", 40): false, "abc": false, fmt.Sprint(strings.Repeat("0", 39), "g"): false} {
		if isHexCommit(s) != ok {
			t.Errorf("isHexCommit(%q) != %v", s, ok)
		}
	}
}
