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
	cert     func() *x509.Certificate // the node's current certificate, for expiry
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

// watchCertExpiry exports the expiry of the node's current certificate
// (read at each scrape, so a certificate reloaded on SIGHUP shows at once)
// and, from 30 days before it, a warning metric and a log warning (at
// start and hourly).
func watchCertExpiry(ctx context.Context, cert func() *x509.Certificate, reg *prometheus.Registry, log *slog.Logger, now func() time.Time) {
	reg.MustRegister(&certExpiryCollector{cert: cert, now: now})
	check := func() {
		c := cert()
		if left := c.NotAfter.Sub(now()); left < CertExpiryWarning {
			log.Warn("certificate expires soon: renew it (blossom ca reenroll), then reload the node (SIGHUP; see docs/operations.md, Certificate rotation)",
				"subject", c.Subject.CommonName, "serial", c.SerialNumber.Text(16), "notAfter", c.NotAfter.UTC().Format(time.RFC3339), "daysLeft", int(left.Hours()/24))
		}
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

// certExpiryCollector exports blossom_certificate_not_after_seconds and
// blossom_certificate_expiring for the certificate current at the scrape,
// labelled with its subject and serial.
type certExpiryCollector struct {
	cert func() *x509.Certificate
	now  func() time.Time
}

var (
	certNotAfterDesc = prometheus.NewDesc("blossom_certificate_not_after_seconds",
		"Expiry of the node's certificate (Unix time).", []string{"subject", "serial"}, nil)
	certExpiringDesc = prometheus.NewDesc("blossom_certificate_expiring",
		"1 when the node's certificate expires within 30 days (renew it with blossom ca reenroll).", []string{"subject", "serial"}, nil)
)

func (c *certExpiryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- certNotAfterDesc
	ch <- certExpiringDesc
}

func (c *certExpiryCollector) Collect(ch chan<- prometheus.Metric) {
	cert := c.cert()
	subject, serial := cert.Subject.CommonName, cert.SerialNumber.Text(16)
	expiring := 0.0
	if cert.NotAfter.Sub(c.now()) < CertExpiryWarning {
		expiring = 1
	}
	ch <- prometheus.MustNewConstMetric(certNotAfterDesc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()), subject, serial)
	ch <- prometheus.MustNewConstMetric(certExpiringDesc, prometheus.GaugeValue, expiring, subject, serial)
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
