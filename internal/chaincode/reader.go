package chaincode

import (
	"errors"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// StateReader is the committed state a simulation reads: one consistent
// snapshot of a channel's ledger, which the peer adapts from the ledger's
// snapshot. Values returned are owned by the caller. Namespaces are
// chaincode names.
//
// Any error the reader returns fails the simulation (Simulate returns it),
// except an error wrapping ErrUnknownCollection, which the chaincode sees
// as a refusal. A peer that is not a member of a collection returns a
// *PrivateDataNotHeldError from the value reads of that collection (not
// from GetPrivateDataHash, which every peer can answer).
type StateReader interface {
	// Height is the snapshot's height: the number of blocks committed.
	Height() uint64
	// GetState returns the value and version of key, or (nil, nil, nil)
	// when absent.
	GetState(namespace, key string) (value []byte, version *pb.Version, err error)
	// GetStateRange iterates the keys of namespace in [start, end) in
	// byte-wise key order; end "" means no upper bound; empty when
	// end != "" and end <= start.
	GetStateRange(namespace, start, end string) (StateIterator, error)
	// GetHistory iterates the committed modifications of key, newest first.
	GetHistory(namespace, key string) (HistoryIterator, error)
	// GetPrivateData returns the private value of key in collection and the
	// version of its hash, or (nil, nil, nil) when absent.
	GetPrivateData(namespace, collection, key string) (value []byte, version *pb.Version, err error)
	// GetPrivateDataHash returns the SHA-256 of the private value whose key
	// hashes to keyHash, and its version, or (nil, nil, nil) when absent.
	GetPrivateDataHash(namespace, collection string, keyHash []byte) (valueHash []byte, version *pb.Version, err error)
	// GetPrivateDataRange is GetStateRange over a collection's values.
	GetPrivateDataRange(namespace, collection, start, end string) (StateIterator, error)
}

// VersionedKV is one result of a range scan.
type VersionedKV struct {
	Key     string
	Value   []byte
	Version *pb.Version
}

// StateIterator walks a range scan. Next returns (nil, nil) once
// exhausted. Close may be called at any time, more than once.
type StateIterator interface {
	Next() (*VersionedKV, error)
	Close()
}

// HistoryIterator walks a key's history, newest first. Next returns
// (nil, nil) once exhausted.
type HistoryIterator interface {
	Next() (*contract.KeyModification, error)
	Close()
}

// ErrUnknownCollection is wrapped by a reader's error for a collection the
// chaincode's definition does not declare; the chaincode sees the error.
var ErrUnknownCollection = errors.New("unknown collection")

// PrivateDataNotHeldError reports that this peer holds no values of a
// collection because its member is not in the collection. The gateway
// re-routes the proposal to a member of the collection.
type PrivateDataNotHeldError struct {
	Namespace  string
	Collection string
}

func (e *PrivateDataNotHeldError) Error() string {
	return "PRIVATE_DATA_NOT_HELD(" + e.Collection + ")"
}
