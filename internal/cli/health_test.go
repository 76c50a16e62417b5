package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
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
