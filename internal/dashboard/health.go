package dashboard

import (
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"time"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
)

// certStatus is one certificate of the channel configuration on the
// network page.
type certStatus struct {
	// Holder says whose certificate it is ("Org1MSP root CA", "orderer
	// orderer0 of Org1MSP").
	Holder   string
	Subject  string
	NotAfter string
	// Soon: it expires within 30 days; Expired: it has.
	Soon, Expired bool
}

// certRow describes the certificate der held by holder at time now.
func certRow(holder string, der []byte, now time.Time) certStatus {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return certStatus{Holder: holder, Subject: "(does not parse)"}
	}
	return certStatus{Holder: holder, Subject: c.Subject.CommonName, NotAfter: c.NotAfter.UTC().Format("2006-01-02 15:04 UTC"),
		Expired: now.After(c.NotAfter), Soon: !now.After(c.NotAfter) && c.NotAfter.Sub(now) < certWarning,
	}
}

// configCertificates lists the certificates of cfg, the channel
// configuration: each member's root and intermediate CAs and each
// orderer's certificate, the soonest to expire first.
func configCertificates(cfg *channelconfig.Config, now time.Time) []certStatus {
	type dated struct {
		row certStatus
		at  time.Time
	}
	var all []dated
	add := func(holder string, der []byte) {
		at := time.Time{}
		if c, err := x509.ParseCertificate(der); err == nil {
			at = c.NotAfter
		}
		all = append(all, dated{certRow(holder, der, now), at})
	}
	for _, id := range cfg.MemberIDs() {
		m, _ := cfg.Member(id)
		for _, der := range m.GetRootCerts() {
			add(id+" root CA", der)
		}
		for _, der := range m.GetIntermediateCerts() {
			add(id+" intermediate CA", der)
		}
	}
	for _, c := range cfg.Consenters() {
		add("orderer "+c.GetId()+" of "+c.GetMspId(), c.GetCertDer())
	}
	slices.SortStableFunc(all, func(a, b dated) int { return a.at.Compare(b.at) })
	out := make([]certStatus, len(all))
	for i, d := range all {
		out[i] = d.row
	}
	return out
}

// channelConfig reads the channel's current configuration from the
// member's peer: the newest block names the last configuration block.
func (d *Dashboard) channelConfig(ctx context.Context) (*channelconfig.Config, error) {
	if d.cfg.Client == nil {
		return nil, errors.New("no client")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := d.cfg.Client.ChannelInfo(ctx, "", d.cfg.Channel)
	if err != nil {
		return nil, err
	}
	if info.Height == 0 {
		return nil, errors.New("empty channel")
	}
	newest, err := d.cfg.Client.Block(ctx, "", d.cfg.Channel, info.Height-1)
	if err != nil {
		return nil, err
	}
	b, err := d.cfg.Client.Block(ctx, "", d.cfg.Channel, newest.GetMetadata().GetLastConfig())
	if err != nil {
		return nil, err
	}
	cfg, _, err := channelconfig.FromBlock(b)
	return cfg, err
}
