package contract

import (
	"errors"
	"fmt"
	"time"
)

// MaxCallDepth is how deep chaincode-to-chaincode calls may nest: the
// invoked chaincode runs at depth 0 and each InvokeChaincode adds one, so
// a chain of MaxCallDepth calls succeeds and one more fails.
const MaxCallDepth = 8

// Stub is a chaincode's view of one transaction. A Stub is valid only
// during the call that received it and is not safe for concurrent use.
// The package documentation describes the transaction semantics every
// implementation follows.
type Stub interface {
	// GetTxID returns the transaction ID.
	GetTxID() string
	// GetChannelID returns the channel the transaction runs on.
	GetChannelID() string
	// GetTxTimestamp returns the timestamp the client put in the proposal
	// (UTC). Endorsers refuse proposals far from their clock, so it is
	// close to real time and identical on every endorser.
	GetTxTimestamp() time.Time

	// GetCreator returns the submitting client's MSP ID and DER certificate.
	GetCreator() (mspID string, certDER []byte)
	// GetMSPID returns the submitting client's MSP ID.
	GetMSPID() string
	// GetAttribute returns the value of a blossom attribute (such as
	// RoleAttribute) of the creator's certificate. found is false when the
	// certificate does not carry it; err is set when the certificate or
	// its attribute extension is malformed.
	GetAttribute(name string) (value string, found bool, err error)

	// GetTransient returns a copy of the proposal's transient map: private
	// input that is signed by the client but never stored in a block.
	GetTransient() map[string][]byte
	// GetDefinitionParam returns a named parameter of this chaincode's
	// committed definition (for example "adminMSP"), approved with the
	// definition by the lifecycle majority.
	GetDefinitionParam(name string) (value string, found bool)

	// GetState returns the committed value of key, or nil if absent.
	GetState(key string) ([]byte, error)
	// PutState writes key (an empty value deletes it).
	PutState(key string, value []byte) error
	// DelState deletes key.
	DelState(key string) error
	// GetStateByRange iterates the keys in [startKey, endKey) in key order.
	// An empty startKey starts at the first simple key, an empty endKey
	// runs to the end; composite keys are never included. Neither bound may
	// start with U+0000.
	GetStateByRange(startKey, endKey string) (StateIterator, error)
	// GetStateByPartialCompositeKey iterates the composite keys of
	// objectType whose leading attributes equal attributes.
	GetStateByPartialCompositeKey(objectType string, attributes []string) (StateIterator, error)
	// CreateCompositeKey is the package function CreateCompositeKey.
	CreateCompositeKey(objectType string, attributes []string) (string, error)
	// SplitCompositeKey is the package function SplitCompositeKey.
	SplitCompositeKey(compositeKey string) (objectType string, attributes []string, err error)
	// GetHistoryForKey iterates the committed modifications of key, newest
	// first. History reads are not re-validated at commit.
	GetHistoryForKey(key string) (HistoryIterator, error)

	// GetPrivateData returns the committed private value of key in
	// collection, or nil if absent. Only peers of the collection's members
	// hold values.
	GetPrivateData(collection, key string) ([]byte, error)
	// GetPrivateDataHash returns the SHA-256 of the committed private
	// value of key in collection, or nil if absent. Every peer of the
	// channel can answer it.
	GetPrivateDataHash(collection, key string) ([]byte, error)
	// PutPrivateData writes key in collection: the value travels only to
	// the collection's members, its hash goes into the block.
	PutPrivateData(collection, key string, value []byte) error
	// DelPrivateData deletes key in collection.
	DelPrivateData(collection, key string) error
	// GetPrivateDataByRange iterates private keys in [startKey, endKey) of
	// collection; only in transactions that write nothing.
	GetPrivateDataByRange(collection, startKey, endKey string) (StateIterator, error)
	// GetPrivateDataByPartialCompositeKey is GetStateByPartialCompositeKey
	// over a collection; only in transactions that write nothing.
	GetPrivateDataByPartialCompositeKey(collection, objectType string, attributes []string) (StateIterator, error)

	// SetEvent sets this chaincode's event for the transaction, replacing
	// an earlier one. It is published only if the transaction commits.
	SetEvent(name string, payload []byte) error
	// InvokeChaincode calls function of another chaincode on the same
	// channel within this transaction and returns its payload. A refusal by
	// the callee is an *InvokeError carrying its message verbatim.
	InvokeChaincode(chaincode, function string, args [][]byte) ([]byte, error)
}

// KV is one result of a state query.
type KV struct {
	Key   string
	Value []byte
}

// KeyModification is one committed change of a key.
type KeyModification struct {
	TxID      string
	Timestamp time.Time // the transaction's timestamp
	Value     []byte    // nil when IsDelete
	IsDelete  bool
}

// StateIterator walks the results of a range or composite-key query.
// HasNext reports whether Next has a result (or an error) to return; Close
// releases the iterator and must be called when done.
type StateIterator interface {
	HasNext() bool
	Next() (*KV, error)
	Close() error
}

// HistoryIterator walks the history of a key, newest first.
type HistoryIterator interface {
	HasNext() bool
	Next() (*KeyModification, error)
	Close() error
}

// InvokeError is returned by InvokeChaincode when the called chaincode
// refused the call. Its Error text is the callee's message verbatim, so a
// caller that returns it passes the message on unchanged.
type InvokeError struct {
	Chaincode string
	Message   string
}

func (e *InvokeError) Error() string { return e.Message }

// Errors every Stub implementation returns for the same refusals, so that
// chaincode unit tests against contracttest see the peer's messages.
var (
	// ErrCallDepth refuses an InvokeChaincode beyond MaxCallDepth.
	ErrCallDepth = fmt.Errorf("chaincode calls nest more than %d deep", MaxCallDepth)
	// ErrPrivateQueryAfterWrite refuses a private data range query in a
	// transaction that has written.
	ErrPrivateQueryAfterWrite = errors.New("private data range queries are allowed only in transactions that write nothing")
	// ErrWriteAfterPrivateQuery refuses a write in a transaction that ran a
	// private data range query.
	ErrWriteAfterPrivateQuery = errors.New("a transaction that ran a private data range query may not write")
)
