package orderer

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Metrics are an orderer's Prometheus metrics, named after Hyperledger
// Fabric's orderer metrics so that existing dashboards read them (the
// blossom-only ones are prefixed blossom_).
type Metrics struct {
	// ValidateDuration is broadcast_validate_duration{channel,status}:
	// seconds spent checking an envelope (decoding, signature, creator,
	// channel Writers policy, size) before it is ordered or refused.
	ValidateDuration *prometheus.HistogramVec
	// ProcessedCount is broadcast_processed_count{channel,status}: envelopes
	// answered, by final status (SUCCESS once ordered in a block).
	ProcessedCount *prometheus.CounterVec
	// CheckCount is blossom_broadcast_check_count{channel,kind}: envelope
	// admissions by how they were checked. kind "full": the signature,
	// creator and policies were verified (on arrival, or again by the
	// leader after a configuration change); kind "trusted": the leader
	// took a consenter's check of a forwarded envelope made under its own
	// configuration sequence and verified nothing again.
	CheckCount *prometheus.CounterVec
	// OrderedCount is blossom_broadcast_ordered_count{channel}: envelopes
	// in blocks this orderer cut as leader and saw committed. Summed over
	// the orderers it counts every ordered envelope once.
	OrderedCount *prometheus.CounterVec
	// OverloadCount is blossom_broadcast_overload_count{channel}: envelopes
	// answered SERVICE_UNAVAILABLE "OVERLOADED" because this orderer
	// already held its bound of envelopes not yet ordered.
	OverloadCount *prometheus.CounterVec
}

// Check kinds of CheckCount.
const (
	checkFull    = "full"
	checkTrusted = "trusted"
)

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
		CheckCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blossom_broadcast_check_count", Help: "Envelope admissions: kind=full verified signature and policies, kind=trusted took a consenter's check under the same config sequence.",
		}, []string{"channel", "kind"}),
		OrderedCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blossom_broadcast_ordered_count", Help: "Envelopes in blocks this orderer cut as leader and saw committed.",
		}, []string{"channel"}),
		OverloadCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "blossom_broadcast_overload_count", Help: "Envelopes refused early because the orderer held its bound of envelopes not yet ordered.",
		}, []string{"channel"}),
	}
	reg.MustRegister(m.ValidateDuration, m.ProcessedCount, m.CheckCount, m.OrderedCount, m.OverloadCount)
	return m
}

// observeValidate records one full envelope check (nil-safe).
func (m *Metrics) observeValidate(channel string, status pb.Status, d time.Duration) {
	if m != nil {
		m.ValidateDuration.WithLabelValues(channel, status.String()).Observe(d.Seconds())
		m.CheckCount.WithLabelValues(channel, checkFull).Inc()
	}
}

// countCheck records one envelope admission of a kind (nil-safe).
func (m *Metrics) countCheck(channel, kind string) {
	if m != nil {
		m.CheckCount.WithLabelValues(channel, kind).Inc()
	}
}

// countProcessed records one answered envelope (nil-safe).
func (m *Metrics) countProcessed(channel string, status pb.Status) {
	if m != nil {
		m.ProcessedCount.WithLabelValues(channel, status.String()).Inc()
	}
}

// countOrdered records n envelopes ordered in a block this node cut (nil-safe).
func (m *Metrics) countOrdered(channel string, n int) {
	if m != nil {
		m.OrderedCount.WithLabelValues(channel).Add(float64(n))
	}
}

// countOverload records one envelope refused as overload (nil-safe).
func (m *Metrics) countOverload(channel string) {
	if m != nil {
		m.OverloadCount.WithLabelValues(channel).Inc()
	}
}
