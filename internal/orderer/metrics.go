package orderer

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Metrics are an orderer's Prometheus metrics, named after Hyperledger
// Fabric's orderer metrics so that existing dashboards read them.
type Metrics struct {
	// ValidateDuration is broadcast_validate_duration{channel,status}:
	// seconds spent checking an envelope (decoding, signature, creator,
	// channel Writers policy, size) before it is ordered or refused.
	ValidateDuration *prometheus.HistogramVec
	// ProcessedCount is broadcast_processed_count{channel,status}: envelopes
	// answered, by final status (SUCCESS once ordered in a block).
	ProcessedCount *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ValidateDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "broadcast_validate_duration", Help: "The time to validate a transaction in seconds.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"channel", "status"}),
		ProcessedCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "broadcast_processed_count", Help: "The number of transactions processed.",
		}, []string{"channel", "status"}),
	}
	reg.MustRegister(m.ValidateDuration, m.ProcessedCount)
	return m
}

// observeValidate records one envelope check (nil-safe).
func (m *Metrics) observeValidate(channel string, status pb.Status, d time.Duration) {
	if m != nil {
		m.ValidateDuration.WithLabelValues(channel, status.String()).Observe(d.Seconds())
	}
}

// countProcessed records one answered envelope (nil-safe).
func (m *Metrics) countProcessed(channel string, status pb.Status) {
	if m != nil {
		m.ProcessedCount.WithLabelValues(channel, status.String()).Inc()
	}
}
