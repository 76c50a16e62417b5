package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/blossom-ledger/blossom/internal/channelconfig"
	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/orderer"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/transport"
)

// governanceClientFile is the connection file of "blossom governance".
type governanceClientFile struct {
	Channel      string               `json:"channel"`
	Cert         string               `json:"cert"`
	Key          string               `json:"key"`
	GenesisBlock string               `json:"genesisBlock"`
	Peers        []governanceEndpoint `json:"peers"`
	Orderers     []governanceEndpoint `json:"orderers"`
	Chaincode    string               `json:"chaincode"`
	// ConfigBlock, if set, is a later config block of the channel whose
	// members are trusted instead of the genesis block's: a member added
	// after the genesis needs one that lists it (fetch-config).
	ConfigBlock string `json:"configBlock"`
}

type governanceEndpoint struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Bounds on files the governance commands read.
const (
	maxGovernancePEMFile = 16 << 20
	maxGovernanceEntries = 64
)

const governanceLong = `Propose, approve and submit channel configuration updates (DESIGN §5).

A proposal (a config update) is recorded on the ledger by the _governance
chaincode; member admins review it ("show") and record their signatures
("approve"); once the signatures satisfy the update's policies anyone
submits it ("submit"), and the ordering service checks them against the
configuration in force:

  - a member's own CRLs, intermediate CA certificates and peer endpoints:
    one admin of that member (update-crl);
  - members, roots, orderers, batch sizes, policies, capability: the channel
    Admins policy, a MAJORITY of the current members' admins (add-member,
    remove-member, set-batch, add-consenter, remove-consenter,
    update-consenter).

Every command connects as the admin named in the client file (--client),
YAML or JSON, relative paths resolved against its directory:

  channel: blossom
  cert: admin-cert.pem        # your admin certificate (+ CA chain)
  key: admin-key.pem          # its private key, mode 0600
  genesisBlock: blossom.block # the channel's genesis block (CAs to trust)
  peers:                      # your own peer first; Propose and Approve are
    - name: Org1MSP/peer0     # endorsed by all of them: list enough members'
      address: peer0.org1:7051 # peers for MAJORITY Endorsement
  orderers:
    - name: orderer0
      address: orderer0.org1:7050
  chaincode: _governance      # optional
  configBlock: config.block   # optional: a later config block to trust the
                              # members from (a member added after the
                              # genesis; see fetch-config)

The current configuration is read from your own peer. Every command first
waits (at most 10 s) until each peer of the client file that answers holds
as many blocks as the most advanced of them, so that what another member's
admin just recorded through its own peer is seen.`

func newGovernanceCommand() *cobra.Command {
	var o governanceOptions
	cmd := &cobra.Command{
		Use:   "governance",
		Short: "Propose, approve and submit channel configuration updates",
		Long:  governanceLong,
	}
	cmd.PersistentFlags().StringVar(&o.clientFile, "client", "", "client file: identity, peers and orderers (YAML or JSON)")
	cmd.PersistentFlags().DurationVar(&o.timeout, "timeout", time.Minute, "bound on the whole command")
	_ = cmd.MarkPersistentFlagRequired("client")
	cmd.AddCommand(
		newGovernanceProposeCommand(&o),
		newGovernanceShowCommand(&o),
		newGovernanceApproveCommand(&o),
		newGovernanceSubmitCommand(&o),
		newGovernanceListCommand(&o),
		newGovernanceFetchConfigCommand(&o),
	)
	return cmd
}

type governanceOptions struct {
	clientFile string
	timeout    time.Duration
}

// governanceSession is a connected admin.
type governanceSession struct {
	channel string
	ledger  *governance.Ledger
	peer    *grpc.ClientConn // the own peer, for reading the configuration
	trust   *transport.TrustSource
}

func (s *governanceSession) close() {
	s.ledger.Client.Close()
	s.peer.Close()
}

// config reads the configuration in force from the own peer and trusts
// its members' CAs from then on.
func (s *governanceSession) config(ctx context.Context) (*channelconfig.Config, error) {
	cfg, err := governance.LatestConfig(ctx, s.peer, s.channel)
	if err != nil {
		return nil, fmt.Errorf("read the channel configuration from the own peer: %w", err)
	}
	s.trust.Update(cfg.Manager())
	return cfg, nil
}

func (o *governanceOptions) open(ctx context.Context) (*governanceSession, error) {
	f := new(governanceClientFile)
	if err := decodeConfigFile(o.clientFile, f); err != nil {
		return nil, err
	}
	var missing []string
	for _, v := range []struct{ name, value string }{{"channel", f.Channel}, {"cert", f.Cert}, {"key", f.Key}, {"genesisBlock", f.GenesisBlock}} {
		if v.value == "" {
			missing = append(missing, v.name)
		}
	}
	if len(f.Peers) == 0 {
		missing = append(missing, "peers")
	}
	if len(f.Orderers) == 0 {
		missing = append(missing, "orderers")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", o.clientFile, strings.Join(missing, ", "))
	}
	if len(f.Peers) > maxGovernanceEntries || len(f.Orderers) > maxGovernanceEntries {
		return nil, fmt.Errorf("%s: at most %d peers and %d orderers", o.clientFile, maxGovernanceEntries, maxGovernanceEntries)
	}
	dir := filepath.Dir(o.clientFile)
	for _, p := range []*string{&f.Cert, &f.Key, &f.GenesisBlock, &f.ConfigBlock} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	key, err := pki.ReadPrivateKeyFile(f.Key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	certPEM, err := fsutil.ReadFileBounded(f.Cert, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("cert: %w", err)
	}
	certs, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("cert %s: %w", f.Cert, err)
	}
	signer, err := identity.NewKeySigner(key, certs[0])
	if err != nil {
		return nil, fmt.Errorf("cert %s: %w", f.Cert, err)
	}
	tlsCert := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		tlsCert.Certificate = append(tlsCert.Certificate, c.Raw)
	}
	genesis, err := orderer.ReadBlockFile(f.GenesisBlock)
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	gcfg, _, err := channelconfig.FromBlock(genesis)
	if err != nil {
		return nil, fmt.Errorf("genesis block %s: %w", f.GenesisBlock, err)
	}
	if gcfg.ChannelID() != f.Channel {
		return nil, fmt.Errorf("genesis block %s is for channel %s, not %s", f.GenesisBlock, gcfg.ChannelID(), f.Channel)
	}
	if f.ConfigBlock != "" {
		if gcfg, err = readConfigBlock(f.ConfigBlock, f.Channel); err != nil {
			return nil, err
		}
	}
	trust := transport.NewTrustSource(gcfg.Manager())
	ccfg := client.Config{ChannelID: f.Channel, Signer: signer, TLSCertificate: tlsCert, Trust: trust}
	var names []string
	for _, p := range f.Peers {
		ccfg.Peers = append(ccfg.Peers, client.Endpoint{Name: p.Name, Address: p.Address})
		name := p.Name
		if name == "" {
			name = p.Address // the client's name for an unnamed endpoint
		}
		names = append(names, name)
	}
	for _, e := range f.Orderers {
		ccfg.Orderers = append(ccfg.Orderers, client.Endpoint{Name: e.Name, Address: e.Address})
	}
	cl, err := client.Connect(ctx, ccfg)
	if err != nil {
		return nil, err
	}
	conn, err := transport.Dial(ctx, f.Peers[0].Address, transport.ClientTLSConfig(tlsCert, trust, pki.RolePeer), transport.WithMaxMessageSize(64<<20))
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("peer %s: %w", f.Peers[0].Address, err)
	}
	return &governanceSession{
		channel: f.Channel,
		ledger:  &governance.Ledger{Client: cl, Signer: signer, Chaincode: f.Chaincode, EndorsingPeers: names},
		peer:    conn,
		trust:   trust,
	}, nil
}

// readConfigBlock reads a client file's configBlock: a config block of
// channel.
func readConfigBlock(path, channel string) (*channelconfig.Config, error) {
	block, err := orderer.ReadBlockFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config block %s is missing: a current member's admin writes the channel's latest one with blossom governance fetch-config --out FILE once your member is admitted", path)
	}
	if err != nil {
		return nil, fmt.Errorf("config block: %w", err)
	}
	cfg, _, err := channelconfig.FromBlock(block)
	if err != nil {
		return nil, fmt.Errorf("config block %s: %w", path, err)
	}
	if cfg.ChannelID() != channel {
		return nil, fmt.Errorf("config block %s is for channel %s, not %s", path, cfg.ChannelID(), channel)
	}
	return cfg, nil
}

// run opens a session bounded by --timeout and calls fn.
func (o *governanceOptions) run(cmd *cobra.Command, fn func(ctx context.Context, s *governanceSession, out io.Writer) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
	defer cancel()
	s, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	catchUpPeers(ctx, s.ledger.Client, s.ledger.EndorsingPeers)
	return fn(ctx, s, cmd.OutOrStdout())
}

// peerCatchUp bounds how long a command waits for the client file's peers
// to hold the blocks the most advanced of them holds.
const peerCatchUp = 10 * time.Second

// catchUpPeers waits (at most peerCatchUp) until every peer of the client
// file that answers holds as many blocks as the highest of them: what
// another member's admin just recorded through its own peer (a proposal,
// an approval) must be in every endorser's state, and in the own peer's
// that answers reads, for the command to see it. A peer that does not
// answer is left to the command to report.
func catchUpPeers(ctx context.Context, cl *client.Client, peers []string) {
	ctx, cancel := context.WithTimeout(ctx, peerCatchUp)
	defer cancel()
	heights := make(map[string]uint64, len(peers))
	var highest uint64
	for _, p := range peers {
		if info, err := cl.ChannelInfo(ctx, p, ""); err == nil {
			heights[p] = info.GetHeight()
			highest = max(highest, info.GetHeight())
		}
	}
	var wg sync.WaitGroup
	for p, h := range heights {
		if h < highest {
			wg.Go(func() { cl.WaitForPeerHeight(ctx, p, "", highest) })
		}
	}
	wg.Wait()
}

func readPEMFiles(paths []string) ([]byte, error) {
	if len(paths) > maxGovernanceEntries {
		return nil, fmt.Errorf("at most %d files", maxGovernanceEntries)
	}
	var out []byte
	for _, p := range paths {
		data, err := fsutil.ReadFileBounded(p, maxGovernancePEMFile)
		if err != nil {
			return nil, err
		}
		out = append(out, data...)
		out = append(out, '\n')
	}
	return out, nil
}

func newGovernanceProposeCommand(o *governanceOptions) *cobra.Command {
	var id, description string
	cmd := &cobra.Command{
		Use:   "propose (add-member|remove-member|update-crl|set-batch|add-consenter|remove-consenter|update-consenter) --id ID [flags]",
		Short: "Build a config update from the current configuration and record it as a proposal",
		Long: `Build a config update from the configuration in force (read from your own
peer) and record it on the ledger as proposal ID (1 to 64 of [A-Za-z0-9_.-]).
It prints the update's hash: approvers pass it to "approve" after reviewing
the proposal with "show". Proposing does not sign: approve it yourself too.`,
	}
	cmd.PersistentFlags().StringVar(&id, "id", "", "proposal ID")
	cmd.PersistentFlags().StringVar(&description, "description", "", "what the proposal is for (at most 4096 bytes)")
	_ = cmd.MarkPersistentFlagRequired("id")
	propose := func(cmd *cobra.Command, build func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error)) error {
		if err := governance.ValidateID(id); err != nil {
			return err
		}
		return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
			cfg, err := s.config(ctx)
			if err != nil {
				return err
			}
			upd, err := build(cfg)
			if err != nil {
				return err
			}
			raw, err := protocol.Marshal(upd)
			if err != nil {
				return err
			}
			block, err := s.ledger.Propose(ctx, id, description, raw)
			if err != nil {
				return err
			}
			p, err := s.ledger.Get(ctx, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "proposal %s recorded in block %d (config sequence %d)\nupdate hash: %s\n", id, block, cfg.Sequence(), p.UpdateHash)
			return nil
		})
	}

	var mspID string
	var roots, intermediates, crls, endpoints []string
	add := &cobra.Command{
		Use:   "add-member --id ID --msp-id MSP --root-certs FILE [--intermediate-certs FILE] [--crls FILE] [--peer-endpoint HOST:PORT]",
		Short: "Propose adding a member (channel Admins: a majority of members' admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rootsPEM, err := readPEMFiles(roots)
			if err != nil {
				return err
			}
			interPEM, err := readPEMFiles(intermediates)
			if err != nil {
				return err
			}
			crlPEM, err := readPEMFiles(crls)
			if err != nil {
				return err
			}
			m, err := governance.MemberFromPEM(mspID, rootsPEM, interPEM, crlPEM, endpoints)
			if err != nil {
				return err
			}
			return propose(cmd, func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error) { return governance.AddMember(cfg, m) })
		},
	}
	add.Flags().StringVar(&mspID, "msp-id", "", "the new member's MSP ID")
	add.Flags().StringSliceVar(&roots, "root-certs", nil, "PEM file(s) of the member's root CA certificates")
	add.Flags().StringSliceVar(&intermediates, "intermediate-certs", nil, "PEM file(s) of the member's intermediate CA certificates")
	add.Flags().StringSliceVar(&crls, "crls", nil, "PEM file(s) of the member's CRLs")
	add.Flags().StringSliceVar(&endpoints, "peer-endpoint", nil, "host:port of the member's peers")
	_ = add.MarkFlagRequired("msp-id")
	_ = add.MarkFlagRequired("root-certs")

	var rmID string
	remove := &cobra.Command{
		Use:   "remove-member --id ID --msp-id MSP",
		Short: "Propose removing a member (channel Admins: a majority of members' admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return propose(cmd, func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error) { return governance.RemoveMember(cfg, rmID) })
		},
	}
	remove.Flags().StringVar(&rmID, "msp-id", "", "the member to remove")
	_ = remove.MarkFlagRequired("msp-id")

	var crlMSP, crlFile string
	crl := &cobra.Command{
		Use:   "update-crl --id ID --msp-id MSP --crl FILE",
		Short: "Propose replacing a member's CRLs (one admin of that member suffices)",
		Long: `Propose replacing member MSP's CRLs with the X509 CRL PEM blocks of FILE (each
signed by one of the member's CAs). The change is governed by MSP.Admins: one
admin of that member approves it alone, no other member is needed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := fsutil.ReadFileBounded(crlFile, maxGovernancePEMFile)
			if err != nil {
				return err
			}
			ders, err := governance.CRLsFromPEM(data)
			if err != nil {
				return fmt.Errorf("%s: %w", crlFile, err)
			}
			return propose(cmd, func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error) {
				return governance.UpdateCRLs(cfg, crlMSP, ders)
			})
		},
	}
	crl.Flags().StringVar(&crlMSP, "msp-id", "", "the member whose CRLs are replaced")
	crl.Flags().StringVar(&crlFile, "crl", "", "PEM file of the member's CRLs (replaces all of them)")
	_ = crl.MarkFlagRequired("msp-id")
	_ = crl.MarkFlagRequired("crl")

	var bc governance.BatchChange
	batch := &cobra.Command{
		Use:   "set-batch --id ID [--max-count N] [--absolute-max-bytes N] [--preferred-max-bytes N] [--batch-timeout D]",
		Short: "Propose new block batch parameters (channel Admins: a majority of members' admins)",
		Long: `Propose new batch parameters of the ordering service; flags left out keep their
current value. The result is checked as the ordering service checks it
(e.g. preferred max bytes at most absolute max bytes).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return propose(cmd, func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error) { return governance.SetBatch(cfg, bc) })
		},
	}
	batch.Flags().Uint32Var(&bc.MaxMessageCount, "max-count", 0, "most transactions in a block")
	batch.Flags().Uint32Var(&bc.AbsoluteMaxBytes, "absolute-max-bytes", 0, "largest block (and envelope) in bytes")
	batch.Flags().Uint32Var(&bc.PreferredMaxBytes, "preferred-max-bytes", 0, "preferred block size in bytes")
	batch.Flags().DurationVar(&bc.Timeout, "batch-timeout", 0, "longest wait before cutting a block (whole milliseconds)")

	var consMSP, consAddr, consCert string
	addConsenter := &cobra.Command{
		Use:   "add-consenter --id ID --msp-id MSP --address HOST:PORT --cert FILE",
		Short: "Propose adding an orderer to the Raft consenters (channel Admins: a majority of members' admins)",
		Long: `Propose adding the orderer whose certificate is FILE (PEM; its CN is the
consenter ID, and it must be an orderer certificate of member MSP, already a
channel member) at HOST:PORT to the channel's Raft consenters. One consenter
joins or leaves per update. Once the update is committed, start the orderer
(blossom node --config orderer/orderer.json): it joins from the genesis
block, catches up from the other orderers and votes from then on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			certPEM, err := fsutil.ReadFileBounded(consCert, maxGovernancePEMFile)
			if err != nil {
				return err
			}
			cs, err := governance.ConsenterFromPEM(consMSP, consAddr, certPEM)
			if err != nil {
				return fmt.Errorf("%s: %w", consCert, err)
			}
			return propose(cmd, func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error) { return governance.AddConsenter(cfg, cs) })
		},
	}
	addConsenter.Flags().StringVar(&consMSP, "msp-id", "", "the orderer's member")
	addConsenter.Flags().StringVar(&consAddr, "address", "", "host:port where the other orderers and peers reach it")
	addConsenter.Flags().StringVar(&consCert, "cert", "", "PEM file of the orderer's certificate")
	for _, f := range []string{"msp-id", "address", "cert"} {
		_ = addConsenter.MarkFlagRequired(f)
	}

	var consID string
	removeConsenter := &cobra.Command{
		Use:   "remove-consenter --id ID --consenter ORDERER_ID",
		Short: "Propose removing an orderer from the Raft consenters (channel Admins: a majority of members' admins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return propose(cmd, func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error) {
				return governance.RemoveConsenter(cfg, consID)
			})
		},
	}
	removeConsenter.Flags().StringVar(&consID, "consenter", "", "the consenter ID (its certificate's CN)")
	_ = removeConsenter.MarkFlagRequired("consenter")

	var updID, updCert string
	updateConsenter := &cobra.Command{
		Use:   "update-consenter --id ID --consenter ORDERER_ID --cert FILE",
		Short: "Propose replacing an orderer's certificate (channel Admins: a majority of members' admins)",
		Long: `Propose replacing consenter ORDERER_ID's certificate with FILE (PEM; a
certificate renewed with blossom ca reenroll: same CN, an orderer certificate
of the same member); its member and address stay. Give the orderer the new
certificate and key first (install the files, then SIGHUP: it stages them);
it switches to them when it applies this update's config block, without a
restart. An orderer that has not staged the certificate keeps its old one and
the other orderers refuse its Raft streams until it is given the new one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			certPEM, err := fsutil.ReadFileBounded(updCert, maxGovernancePEMFile)
			if err != nil {
				return err
			}
			return propose(cmd, func(cfg *channelconfig.Config) (*pb.ConfigUpdate, error) {
				return governance.UpdateConsenterCertificate(cfg, updID, certPEM)
			})
		},
	}
	updateConsenter.Flags().StringVar(&updID, "consenter", "", "the consenter ID (its certificate's CN)")
	updateConsenter.Flags().StringVar(&updCert, "cert", "", "PEM file of the orderer's new certificate")
	_ = updateConsenter.MarkFlagRequired("consenter")
	_ = updateConsenter.MarkFlagRequired("cert")

	cmd.AddCommand(add, remove, crl, batch, addConsenter, removeConsenter, updateConsenter)
	return cmd
}

func newGovernanceShowCommand(o *governanceOptions) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "show --id ID",
		Short: "Print a proposal: description, proposer, update hash, signatures and the update itself",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
				p, err := s.ledger.Get(ctx, id)
				if err != nil {
					return err
				}
				upd := new(pb.ConfigUpdate)
				if err := protocol.Unmarshal(p.Update, upd, governance.MaxUpdateBytes); err != nil {
					return err
				}
				text, err := protojson.MarshalOptions{Multiline: true}.Marshal(upd)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "proposal %s: %s\nproposed by %s/%s at %s\nupdate hash: %s\n", p.ID, p.Description,
					p.Proposer.MSPID, p.Proposer.EnrollmentID, p.ProposedAt.Format(time.RFC3339), p.UpdateHash)
				for _, a := range p.Signatures {
					fmt.Fprintf(out, "signed by %s/%s at %s\n", a.Signer.MSPID, a.Signer.EnrollmentID, a.ApprovedAt.Format(time.RFC3339))
				}
				fmt.Fprintf(out, "update:\n%s\n", text)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "proposal ID")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

func newGovernanceApproveCommand(o *governanceOptions) *cobra.Command {
	var id, hash string
	cmd := &cobra.Command{
		Use:   "approve --id ID --hash UPDATE_HASH",
		Short: "Sign a proposal's update as your admin identity and record the signature",
		Long: `Sign proposal ID's update and record the signature on the ledger. --hash is the
update hash you reviewed ("show"); the command refuses if the recorded update
has another hash. Approving again replaces your earlier signature.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
				p, block, err := s.ledger.Approve(ctx, id, hash)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "approved %s (update hash %s) in block %d\n", p.ID, p.UpdateHash, block)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "proposal ID")
	cmd.Flags().StringVar(&hash, "hash", "", "the update hash you reviewed")
	_ = cmd.MarkFlagRequired("id")
	_ = cmd.MarkFlagRequired("hash")
	return cmd
}

func newGovernanceSubmitCommand(o *governanceOptions) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "submit --id ID",
		Short: "Assemble a proposal's config update with its signatures and send it to the ordering service",
		Long: `Assemble the CONFIG_UPDATE of proposal ID with every recorded signature and
broadcast it. The ordering service checks the signatures against the
configuration in force and refuses (FORBIDDEN) an update whose policies they
do not satisfy. On success the command waits until your own peer has the new
configuration and prints its sequence.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
				before, err := s.config(ctx)
				if err != nil {
					return err
				}
				txID, err := s.ledger.Submit(ctx, s.channel, id)
				if err != nil {
					return err
				}
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					cfg, err := s.config(ctx)
					if err != nil {
						return err
					}
					if cfg.Sequence() > before.Sequence() {
						fmt.Fprintf(out, "submitted %s (transaction %s): configuration sequence %d\n", id, txID, cfg.Sequence())
						return nil
					}
					select {
					case <-ctx.Done():
						return fmt.Errorf("submitted %s (transaction %s), but the own peer has not reached a new configuration: %w", id, txID, ctx.Err())
					case <-tick.C:
					}
				}
			})
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "proposal ID")
	_ = cmd.MarkFlagRequired("id")
	return cmd
}

func newGovernanceListCommand(o *governanceOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List recorded proposals: ID, update hash, proposer and signers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *governanceSession, out io.Writer) error {
				list, err := s.ledger.List(ctx)
				if err != nil {
					return err
				}
				if len(list) == 0 {
					fmt.Fprintln(out, "no proposals")
					return nil
				}
				for _, p := range list {
					signers := strings.Join(p.Signers, ", ")
					if signers == "" {
						signers = "none"
					}
					fmt.Fprintf(out, "%s\t%s\tproposed by %s/%s\tsigned by %s\t%s\n", p.ID, p.UpdateHash, p.Proposer.MSPID, p.Proposer.EnrollmentID, signers, p.Description)
				}
				return nil
			})
		},
	}
}

func newGovernanceFetchConfigCommand(o *governanceOptions) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "fetch-config --out FILE",
		Short: "Write the channel's latest configuration block, read from your own peer",
		Long: `Write the config block in force (read from your own peer) to FILE and print
its number and configuration sequence. A member added after the genesis
block needs it: its admin's client file (configBlock) and its nodes trust
the channel's members from it, since the genesis block does not list the
new member. Give it to the new member out of band, as the genesis block.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, func(ctx context.Context, s *governanceSession, w io.Writer) error {
				cfg, block, err := governance.LatestConfigBlock(ctx, s.peer, s.channel)
				if err != nil {
					return fmt.Errorf("read the channel configuration from the own peer: %w", err)
				}
				if err := orderer.WriteBlockFile(out, block); err != nil {
					return err
				}
				fmt.Fprintf(w, "config block %d (configuration sequence %d) written to %s\n", block.GetHeader().GetNumber(), cfg.Sequence(), out)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the block to")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
