package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"google.golang.org/grpc"

	"github.com/blossom-ledger/blossom/internal/client"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Ledger drives the _lifecycle chaincode through a client: Approve and
// Commit are transactions (the client's identity must be an admin of its
// member), the others are evaluations on the client's own peer.
type Ledger struct {
	Client *client.Client
	// EndorsingPeers endorse Approve and Commit: enough members' peers to
	// satisfy EndorsementPolicy (MAJORITY Endorsement).
	EndorsingPeers []string
}

func (l *Ledger) submit(ctx context.Context, function string, d *Definition) (*Definition, uint64, error) {
	canonical, err := d.Canonical()
	if err != nil {
		return nil, 0, err
	}
	res, err := l.Client.Submit(ctx, txn.Request{Chaincode: Name, Function: "lifecycle:" + function, Args: [][]byte{canonical}}, l.EndorsingPeers)
	if err != nil {
		return nil, 0, fmt.Errorf("lifecycle:%s: %w", function, err)
	}
	out, err := DecodeDefinition(res.Result)
	if err != nil {
		return nil, 0, fmt.Errorf("lifecycle:%s answered: %w", function, err)
	}
	return out, res.Block, nil
}

// Approve records the client's member's approval of d and waits for its
// commit; it returns the block holding it.
func (l *Ledger) Approve(ctx context.Context, d *Definition) (uint64, error) {
	_, block, err := l.submit(ctx, "ApproveForMyOrg", d)
	return block, err
}

// Commit commits d (a MAJORITY of members must have approved exactly d)
// and waits for its commit; it returns the block holding it.
func (l *Ledger) Commit(ctx context.Context, d *Definition) (uint64, error) {
	_, block, err := l.submit(ctx, "Commit", d)
	return block, err
}

func (l *Ledger) evaluate(ctx context.Context, function string, out any, args ...[]byte) error {
	raw, err := l.Client.Evaluate(ctx, txn.Request{Chaincode: Name, Function: "lifecycle:" + function, Args: args})
	if err != nil {
		return fmt.Errorf("lifecycle:%s: %w", function, err)
	}
	if len(raw) > MaxListed*MaxDefinitionBytes {
		return fmt.Errorf("lifecycle:%s answered %d bytes", function, len(raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("lifecycle:%s answer does not decode: %v", function, err)
	}
	return nil
}

// CheckCommitReadiness reports, for each current member, whether it
// approved exactly d.
func (l *Ledger) CheckCommitReadiness(ctx context.Context, d *Definition) (map[string]bool, error) {
	canonical, err := d.Canonical()
	if err != nil {
		return nil, err
	}
	var out map[string]bool
	return out, l.evaluate(ctx, "CheckCommitReadiness", &out, canonical)
}

// QueryDefinition returns chaincode name's committed definition.
func (l *Ledger) QueryDefinition(ctx context.Context, name string) (*Definition, error) {
	var out Definition
	return &out, l.evaluate(ctx, "QueryDefinition", &out, []byte(name))
}

// QueryApprovals returns the approvals of chaincode name's definition of
// the given sequence, by member.
func (l *Ledger) QueryApprovals(ctx context.Context, name string, sequence uint64) (map[string]*Definition, error) {
	var out map[string]*Definition
	return out, l.evaluate(ctx, "QueryApprovals", &out, []byte(name), []byte(strconv.FormatUint(sequence, 10)))
}

// List returns the committed definitions, by name.
func (l *Ledger) List(ctx context.Context) ([]*Definition, error) {
	var out []*Definition
	return out, l.evaluate(ctx, "ListDefinitions", &out)
}

// installChunk is the chunk size of an Install stream.
const installChunk = 512 << 10

// Install sends a chaincode package to a peer's ChaincodeAdmin service
// over conn (the caller must be an admin of the peer's member) and
// returns its package ID.
func Install(ctx context.Context, conn grpc.ClientConnInterface, pkg []byte) (string, error) {
	stream, err := pb.NewChaincodeAdminClient(conn).Install(ctx)
	if err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	for off := 0; off < len(pkg); off += installChunk {
		end := min(off+installChunk, len(pkg))
		if err := stream.Send(&pb.InstallChaincodeRequest{Chunk: pkg[off:end]}); err != nil {
			if err == io.EOF {
				break // the server ended the call: CloseAndRecv has its status
			}
			return "", fmt.Errorf("install: %w", err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	return resp.PackageId, nil
}

// ListInstalled lists the packages installed on the peer behind conn.
func ListInstalled(ctx context.Context, conn grpc.ClientConnInterface) ([]*pb.InstalledChaincode, error) {
	resp, err := pb.NewChaincodeAdminClient(conn).ListInstalled(ctx, &pb.ListInstalledChaincodesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list installed: %w", err)
	}
	return resp.Installed, nil
}
