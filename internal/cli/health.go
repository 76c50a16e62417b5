package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CertExpiryWarning is how long before its certificate expires a node
// warns (in its log and through the blossom_certificate_expiring metric).
const CertExpiryWarning = 30 * 24 * time.Hour

// certCheckInterval is how often a running node re-checks its
// certificate's expiry.
const certCheckInterval = time.Hour

// nodeOps is what a node's operations listener serves: GET /healthz (200
// while the node works), GET /readyz (200 when it can serve requests) and
// GET /metrics (Prometheus).
type nodeOps struct {
	healthy  func() error
	ready    func() error
	cert     *x509.Certificate // the node's own certificate, for expiry
	registry *prometheus.Registry
	log      *slog.Logger
}

// serveNodeOps starts the operations listener on addr; stop shuts it down.
func serveNodeOps(addr string, ops nodeOps) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("operations listener: %w", err)
	}
	if ops.registry == nil {
		ops.registry = prometheus.NewRegistry()
	}
	ops.registry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	ctx, cancel := context.WithCancel(context.Background())
	if ops.cert != nil {
		watchCertExpiry(ctx, ops.cert, ops.registry, ops.log, time.Now)
	}
	mux := http.NewServeMux()
	check := func(f func() error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := f(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.HandleFunc("GET /healthz", check(ops.healthy))
	mux.HandleFunc("GET /readyz", check(ops.ready))
	mux.Handle("GET /metrics", promhttp.HandlerFor(ops.registry, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		scancel()
	}, nil
}

// watchCertExpiry exports the certificate's expiry and, from 30 days
// before it, a warning metric and a log warning (at start and hourly).
func watchCertExpiry(ctx context.Context, cert *x509.Certificate, reg *prometheus.Registry, log *slog.Logger, now func() time.Time) {
	labels := prometheus.Labels{"subject": cert.Subject.CommonName, "serial": cert.SerialNumber.Text(16)}
	notAfter := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "blossom_certificate_not_after_seconds", Help: "Expiry of the node's certificate (Unix time).", ConstLabels: labels,
	})
	expiring := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "blossom_certificate_expiring", Help: "1 when the node's certificate expires within 30 days (renew it with blossom ca reenroll).", ConstLabels: labels,
	})
	reg.MustRegister(notAfter, expiring)
	notAfter.Set(float64(cert.NotAfter.Unix()))
	check := func() {
		left := cert.NotAfter.Sub(now())
		if left < CertExpiryWarning {
			expiring.Set(1)
			log.Warn("certificate expires soon: renew it (blossom ca reenroll) and restart the node",
				"subject", cert.Subject.CommonName, "notAfter", cert.NotAfter.UTC().Format(time.RFC3339), "daysLeft", int(left.Hours()/24))
			return
		}
		expiring.Set(0)
	}
	check()
	go func() {
		t := time.NewTicker(certCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				check()
			}
		}
	}()
}

// heightGauges registers ledger_blockchain_height (Fabric's name) per
// channel, read at each scrape.
func heightGauges(reg *prometheus.Registry, channels func() []string, height func(channel string) (uint64, error)) {
	reg.MustRegister(&heightCollector{desc: prometheus.NewDesc("ledger_blockchain_height", "Height of the channel's chain.", []string{"channel"}, nil),
		channels: channels, height: height})
}

type heightCollector struct {
	desc     *prometheus.Desc
	channels func() []string
	height   func(string) (uint64, error)
}

func (h *heightCollector) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *heightCollector) Collect(ch chan<- prometheus.Metric) {
	for _, c := range h.channels() {
		if v, err := h.height(c); err == nil {
			ch <- prometheus.MustNewConstMetric(h.desc, prometheus.GaugeValue, float64(v), c)
		}
	}
}
