package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestWatchCertExpiry(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		left     time.Duration
		expiring float64
	}{
		{"60 days left", 60 * 24 * time.Hour, 0},
		{"31 days left", 31 * 24 * time.Hour, 0},
		{"29 days left", 29 * 24 * time.Hour, 1},
		{"expired", -time.Hour, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert := &x509.Certificate{Subject: pkix.Name{CommonName: "peer-sams"}, SerialNumber: big.NewInt(42), NotAfter: now.Add(tc.left)}
			reg := prometheus.NewRegistry()
			var logs bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			watchCertExpiry(ctx, func() *x509.Certificate { return cert }, reg, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, f := range families {
				for _, m := range f.GetMetric() {
					got[f.GetName()] = m.GetGauge().GetValue()
					if len(m.GetLabel()) != 2 {
						t.Fatalf("%s labels %v", f.GetName(), m.GetLabel())
					}
				}
			}
			if got["blossom_certificate_expiring"] != tc.expiring || got["blossom_certificate_not_after_seconds"] != float64(cert.NotAfter.Unix()) {
				t.Fatalf("metrics %v", got)
			}
			if warned := strings.Contains(logs.String(), "certificate expires soon"); warned != (tc.expiring == 1) {
				t.Fatalf("warning logged: %v, logs %q", warned, logs.String())
			}
		})
	}
}

// TestNodeOpsLivenessAndReadiness: /healthz answers from the liveness
// check and /readyz from the readiness check, each 503 with its reason
// when its check fails.
func TestNodeOpsLivenessAndReadiness(t *testing.T) {
	tests := []struct {
		name               string
		live, ready        error
		healthz, readyz    int
		healthzBody, rBody string
	}{
		{"live and ready", nil, nil, 200, 200, "ok", "ok"},
		{"live, not ready", nil, errors.New("channel blossom has no leader"), 200, 503, "ok", "channel blossom has no leader"},
		{"not live", errors.New("channel blossom halted"), errors.New("channel blossom halted"), 503, 503, "channel blossom halted", "channel blossom halted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			stop, err := serveNodeOps(addr, nodeOps{
				healthy: func() error { return tc.live }, ready: func() error { return tc.ready },
				log: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			for path, want := range map[string]struct {
				code int
				body string
			}{"/healthz": {tc.healthz, tc.healthzBody}, "/readyz": {tc.readyz, tc.rBody}} {
				resp, err := http.Get("http://" + addr + path)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want.code || strings.TrimSpace(string(body)) != want.body {
					t.Fatalf("%s: %d %q, want %d %q", path, resp.StatusCode, body, want.code, want.body)
				}
			}
		})
	}
}

// gatherCertMetrics returns the certificate metrics' values and serial
// label.
func gatherCertMetrics(t *testing.T, reg *prometheus.Registry) (values map[string]float64, serial string) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values = map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			values[f.GetName()] = m.GetGauge().GetValue()
			for _, l := range m.GetLabel() {
				if l.GetName() == "serial" {
					serial = l.GetValue()
				}
			}
		}
	}
	return values, serial
}

// TestCertExpiryFollowsReload: the metrics describe the certificate current
// at each scrape, so a certificate reloaded on SIGHUP clears the warning.
func TestCertExpiryFollowsReload(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var current atomic.Pointer[x509.Certificate]
	current.Store(&x509.Certificate{Subject: pkix.Name{CommonName: "peer-sams"}, SerialNumber: big.NewInt(1), NotAfter: now.Add(10 * 24 * time.Hour)})
	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchCertExpiry(ctx, current.Load, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
	if got, serial := gatherCertMetrics(t, reg); got["blossom_certificate_expiring"] != 1 || serial != "1" {
		t.Fatalf("before the reload: %v serial %s", got, serial)
	}
	renewed := &x509.Certificate{Subject: pkix.Name{CommonName: "peer-sams"}, SerialNumber: big.NewInt(2), NotAfter: now.Add(365 * 24 * time.Hour)}
	current.Store(renewed)
	got, serial := gatherCertMetrics(t, reg)
	if got["blossom_certificate_expiring"] != 0 || got["blossom_certificate_not_after_seconds"] != float64(renewed.NotAfter.Unix()) || serial != "2" {
		t.Fatalf("after the reload: %v serial %s", got, serial)
	}
}
