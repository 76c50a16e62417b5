package peer

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a peer's Prometheus metrics, named after Hyperledger
// Fabric's peer metrics so that existing dashboards read them.
type Metrics struct {
	// BlockProcessingTime is ledger_block_processing_time{channel}: seconds
	// from a pulled block's arrival to its commit (validation included).
	BlockProcessingTime *prometheus.HistogramVec
	// ProposalDuration is endorser_proposal_duration{success}: seconds to
	// answer a proposal (endorsement or evaluation).
	ProposalDuration *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		BlockProcessingTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ledger_block_processing_time", Help: "Time taken in seconds for ledger block processing.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"channel"}),
		ProposalDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "endorser_proposal_duration", Help: "The time to complete a proposal.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"success"}),
	}
	reg.MustRegister(m.BlockProcessingTime, m.ProposalDuration)
	return m
}

// observeBlock records one block's processing (nil-safe).
func (m *Metrics) observeBlock(channel string, d time.Duration) {
	if m != nil {
		m.BlockProcessingTime.WithLabelValues(channel).Observe(d.Seconds())
	}
}

// observeProposal records one proposal (nil-safe): success means an
// endorsement or evaluation result was returned without error.
func (m *Metrics) observeProposal(success bool, d time.Duration) {
	if m != nil {
		label := "false"
		if success {
			label = "true"
		}
		m.ProposalDuration.WithLabelValues(label).Observe(d.Seconds())
	}
}
