package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"strings"
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
			watchCertExpiry(ctx, cert, reg, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
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
