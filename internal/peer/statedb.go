package peer

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/blossom-ledger/blossom/internal/chaincode"
	"github.com/blossom-ledger/blossom/internal/ledger"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/validator"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

func pbVersion(v ledger.Version) *pb.Version { return &pb.Version{Block: v.Block, Tx: v.Tx} }

// snapshotReader is a ledger snapshot as the chaincode simulator's
// chaincode.StateReader. It reads blocks for history values through the
// ledger itself, which only holds more blocks than the snapshot, never
// fewer.
type snapshotReader struct {
	snap    *ledger.Snapshot
	ledger  *ledger.Ledger
	self    string   // this peer's MSP ID
	members []string // the channel's members, for implicit collections
	// collections resolves collections (implicit and explicit).
	collections collectionView
	// creator is the proposal creator's MSP ID, for memberOnlyRead.
	creator string
}

var _ chaincode.StateReader = (*snapshotReader)(nil)

func (r *snapshotReader) Height() uint64 { return r.snap.Height() }

func (r *snapshotReader) GetState(ns, key string) ([]byte, *pb.Version, error) {
	vv, err := r.snap.Get(ns, key)
	if err != nil || vv == nil {
		return nil, nil, err
	}
	return vv.Value, pbVersion(vv.Version), nil
}

func (r *snapshotReader) GetStateRange(ns, start, end string) (chaincode.StateIterator, error) {
	if end != "" && end <= start {
		return emptyIterator{}, nil
	}
	it, err := r.snap.Range(ns, start, end)
	if err != nil {
		return nil, err
	}
	return &rangeIterator{it: it}, nil
}

func (r *snapshotReader) GetHistory(ns, key string) (chaincode.HistoryIterator, error) {
	it, err := r.snap.History(ns, key, true)
	if err != nil {
		return nil, err
	}
	return &historyIterator{it: it, ledger: r.ledger, ns: ns, key: key}, nil
}

// privateRead classifies a private read: unknown collection, an explicit
// memberOnlyRead collection the creator's member is not in (errMemberOnly),
// a collection this peer's member is not in (PRIVATE_DATA_NOT_HELD), or
// nil for one of its own.
func (r *snapshotReader) privateRead(ns, collection string) error {
	members, explicit, ok := r.collections.membersOf(ns, collection)
	switch {
	case !ok:
		return fmt.Errorf("%w: %s", chaincode.ErrUnknownCollection, contract.QuoteKey(collection))
	case explicit != nil && explicit.MemberOnlyRead && !slices.Contains(members, r.creator):
		return fmt.Errorf("%w: %s may not read collection %s of %s (memberOnlyRead)", errMemberOnly, r.creator, collection, ns)
	case !slices.Contains(members, r.self):
		return &chaincode.PrivateDataNotHeldError{Namespace: ns, Collection: collection}
	}
	return nil
}

// errMemberOnly is wrapped by a refusal of a memberOnlyRead or
// memberOnlyWrite collection to a creator of another member.
var errMemberOnly = errors.New(CodeMemberOnly)

// GetPrivateData serves a key of a collection of this peer's member from
// the snapshot; a value the block hashes name but this peer misses is an
// error (ledger.ErrPrivateDataMissing), never an older value.
func (r *snapshotReader) GetPrivateData(ns, collection, key string) ([]byte, *pb.Version, error) {
	if err := r.privateRead(ns, collection); err != nil {
		return nil, nil, err
	}
	vv, err := r.snap.GetPrivateData(ns, collection, key)
	if err != nil || vv == nil {
		return nil, nil, err
	}
	return vv.Value, pbVersion(vv.Version), nil
}

// GetPrivateDataHash serves the hashed private state every peer keeps.
func (r *snapshotReader) GetPrivateDataHash(ns, collection string, keyHash []byte) ([]byte, *pb.Version, error) {
	if _, _, ok := r.collections.membersOf(ns, collection); !ok {
		return nil, nil, fmt.Errorf("%w: %s", chaincode.ErrUnknownCollection, contract.QuoteKey(collection))
	}
	vv, err := r.snap.GetPrivateDataHash(ns, collection, keyHash)
	if err != nil || vv == nil {
		return nil, nil, err
	}
	return vv.Value, pbVersion(vv.Version), nil
}

// GetPrivateDataRange serves a range of a collection of this peer's member;
// it fails (ledger.ErrPrivateDataMissing) while the peer misses any of the
// collection's data, rather than return an incomplete or stale range.
func (r *snapshotReader) GetPrivateDataRange(ns, collection, start, end string) (chaincode.StateIterator, error) {
	if err := r.privateRead(ns, collection); err != nil {
		return nil, err
	}
	if end != "" && end <= start {
		return emptyIterator{}, nil
	}
	it, err := r.snap.PrivateRange(ns, collection, start, end)
	if err != nil {
		return nil, err
	}
	return &privateRangeIterator{it: it}, nil
}

// privateRangeIterator adapts a ledger private range iterator. Close is
// idempotent.
type privateRangeIterator struct {
	it     *ledger.PrivateRangeIterator
	closed bool
}

func (i *privateRangeIterator) Next() (*chaincode.VersionedKV, error) {
	if i.closed {
		return nil, nil
	}
	if !i.it.Next() {
		return nil, i.it.Err()
	}
	return &chaincode.VersionedKV{Key: i.it.Key(), Value: i.it.Value(), Version: pbVersion(i.it.Version())}, nil
}

func (i *privateRangeIterator) Close() {
	if !i.closed {
		i.closed = true
		i.it.Close()
	}
}

// rangeIterator adapts a ledger range iterator. Close is idempotent.
type rangeIterator struct {
	it     *ledger.RangeIterator
	closed bool
}

func (i *rangeIterator) Next() (*chaincode.VersionedKV, error) {
	if i.closed {
		return nil, nil
	}
	if !i.it.Next() {
		return nil, i.it.Err()
	}
	return &chaincode.VersionedKV{Key: i.it.Key(), Value: i.it.Value(), Version: pbVersion(i.it.Version())}, nil
}

func (i *rangeIterator) Close() {
	if !i.closed {
		i.closed = true
		i.it.Close()
	}
}

type emptyIterator struct{}

func (emptyIterator) Next() (*chaincode.VersionedKV, error) { return nil, nil }
func (emptyIterator) Close()                                {}

// historyIterator adapts a ledger history iterator, fetching what each
// version wrote from its block. Close is idempotent.
type historyIterator struct {
	it      *ledger.HistoryIterator
	ledger  *ledger.Ledger
	ns, key string
	closed  bool
}

func (h *historyIterator) Next() (*contract.KeyModification, error) {
	if h.closed {
		return nil, nil
	}
	if !h.it.Next() {
		return nil, h.it.Err()
	}
	w, err := h.ledger.HistoricalWrite(h.ns, h.key, h.it.Entry().Version)
	if err != nil {
		return nil, err
	}
	m := &contract.KeyModification{TxID: w.TxID, Timestamp: time.Unix(0, w.TimestampUnixNano).UTC(), IsDelete: w.IsDelete}
	if !w.IsDelete {
		m.Value = w.Value
	}
	return m, nil
}

func (h *historyIterator) Close() {
	if !h.closed {
		h.closed = true
		h.it.Close()
	}
}

// committedState is the ledger's committed state as the validator's
// validator.Committed. The channel validates a block only between commits
// (on the goroutine that commits), so the live state is the state before
// the block.
type committedState struct{ l *ledger.Ledger }

var _ validator.Committed = committedState{}

func (c committedState) Version(ns, key string) (*pb.Version, error) {
	v, ok, err := c.l.State().GetVersion(ns, key)
	if err != nil || !ok {
		return nil, err
	}
	return pbVersion(v), nil
}

func (c committedState) RangeVersions(ns, start, end string, limit int) ([]validator.KeyVersion, error) {
	if end != "" && end <= start {
		return nil, nil
	}
	it, err := c.l.State().Range(ns, start, end)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []validator.KeyVersion
	for (limit <= 0 || len(out) < limit) && it.Next() {
		out = append(out, validator.KeyVersion{Key: it.Key(), Version: pbVersion(it.Version())})
	}
	return out, it.Err()
}

// HashedVersion is the committed version of a private key, by hash, from
// the hashed private state every peer keeps from the blocks.
func (c committedState) HashedVersion(ns, collection string, keyHash []byte) (*pb.Version, error) {
	h, err := c.l.State().GetPrivateDataHash(ns, collection, keyHash)
	if err != nil || h == nil {
		return nil, err
	}
	return pbVersion(h.Version), nil
}

func (c committedState) TxIDExists(txID string) (bool, error) { return c.l.TxIDExists(txID) }
