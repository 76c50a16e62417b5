// Package chaincode runs chaincodes and simulates transactions: Simulate
// invokes a chaincode through a Runtime against a StateReader snapshot and
// records what the transaction read and wrote as the read/write sets that
// endorsers sign and committing peers validate (DESIGN §3 steps 3 and 5).
//
// The Stub a chaincode receives follows the semantics documented in
// sdk/contract: reads see committed state, never the transaction's own
// pending writes (Fabric's rule; a read records the version it saw); the
// last write to a key wins; a failing callee's writes and event are
// discarded while its reads stay recorded; private range queries exclude
// writes.
//
// Output is deterministic, so that endorsers agree byte for byte:
// namespaces sorted by name; within a namespace reads and writes sorted by
// key, range queries in execution order, collections sorted by name and
// their hashed reads and writes sorted by key hash; events sorted by
// chaincode name. Marshal with protocol.Marshal.
//
// # Read/write set contents
//
//   - KVRead: every key read with GetState in the namespace of the
//     chaincode that read it, with the version seen (unset when absent).
//     Each invoked chaincode (the top-level one and every callee) also
//     reads its definition sequence: namespace LifecycleNamespace, key
//     SequenceKey(name); a definition committed after the simulation
//     therefore invalidates the transaction (MVCC).
//   - RangeQueryInfo (phantom detection): start_key is the scanned start
//     (an empty GetStateByRange start is "\x01"). If itr_exhausted, the
//     chaincode read the whole range [start_key, end_key) (end_key ""
//     = to the end of the namespace) and reads lists every key in it;
//     otherwise it stopped early and reads covers [start_key, end_key]
//     inclusive, end_key being the last key it read. A result counts as
//     read once fetched, by Next or by a HasNext that answered true. A validator re-scans
//     that range at commit and compares keys and versions. Ranges from
//     which the chaincode read nothing are omitted.
//   - KVWrite: the last write per key; is_delete for deletes (and for
//     PutState with an empty value).
//   - CollectionHashedReadWriteSet: reads by SHA-256(key) with the version
//     of the private value's hash (from GetPrivateData and
//     GetPrivateDataHash); writes by SHA-256(key) and SHA-256(value);
//     pvt_rwset_hash = SHA-256 of the marshalled CollectionPvtReadWriteSet
//     holding the collection's private writes (set only when it has
//     writes). Private values and keys never appear in the public set.
//   - TxPvtReadWriteSet: the private writes themselves, by namespace and
//     collection, keys sorted; nil when there are none.
//   - Events: at most one per chaincode (SetEvent replaces), in
//     ChaincodeEvents sorted by chaincode name. A transaction may thus
//     carry one event of its own plus one per callee that set one; this
//     keeps Fabric's one-event rule per chaincode without letting a
//     callee's event silently replace its caller's.
//
// Range queries over private data record nothing: a transaction that
// makes one may not write (contract.ErrWriteAfterPrivateQuery), so nothing
// can depend on it. History queries record nothing and are not
// re-validated (as in Fabric).
package chaincode

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// LifecycleNamespace is the namespace of the chaincode lifecycle, where a
// chaincode's committed definition sequence lives under SequenceKey.
const LifecycleNamespace = "_lifecycle"

// SequenceKeyFormat formats the key, in LifecycleNamespace, holding the
// sequence of a chaincode's committed definition ("namespaces/<name>/sequence").
// The lifecycle writes it at each definition commit; the simulator reads
// it for every chaincode a transaction invokes.
const SequenceKeyFormat = "namespaces/%s/sequence"

// SequenceKey returns the definition sequence key of chaincode name.
func SequenceKey(name string) string { return fmt.Sprintf(SequenceKeyFormat, name) }

// Limits of one simulated transaction.
const (
	// MaxNameLength bounds a chaincode name.
	MaxNameLength = 64
	// MaxArgs bounds the arguments of an invocation.
	MaxArgs = 1024
	// MaxFunctionLength bounds an invocation's function name in bytes.
	MaxFunctionLength = 1024
	// MaxTxKeys bounds the keys a transaction reads (including range
	// results and hashed reads) and writes.
	MaxTxKeys = 100_000
	// MaxTxWriteBytes bounds the total size of the values a transaction
	// passes to PutState and PutPrivateData.
	MaxTxWriteBytes = 32 << 20
	// MaxOpenIterators bounds the iterators open at once in a transaction.
	MaxOpenIterators = 64
	// MaxResponsePayloadSize bounds a chaincode's response payload.
	MaxResponsePayloadSize = 8 << 20
	// MaxResponseMessageSize bounds a chaincode's error message; a longer
	// one is cut (at a character boundary).
	MaxResponseMessageSize = 16 << 10
)

// ValidateName checks a chaincode name: 1 to MaxNameLength characters from
// [A-Za-z0-9_-] (system chaincodes start with '_').
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("chaincode name must be 1 to %d characters", MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("chaincode name %s has a character outside [A-Za-z0-9_-]", contract.QuoteKey(name))
		}
	}
	return nil
}

// Transaction is what Simulate runs: the proposal's context and invocation.
type Transaction struct {
	ChannelID string
	TxID      string
	Timestamp time.Time // the proposal's timestamp
	// CreatorMSPID and CreatorCert are the validated creator.
	CreatorMSPID string
	CreatorCert  []byte // DER
	Transient    map[string][]byte
	Invocation   *pb.ChaincodeInvocation
	// DefinitionParams returns the named parameters of a chaincode's
	// committed definition (the one in force at the snapshot); nil means
	// no chaincode has parameters.
	DefinitionParams func(chaincode string) map[string]string
	// InitVersion is, when the invoked chaincode's definition requires
	// initialisation (init_required), that definition's version; "" when
	// it does not. See Simulate.
	InitVersion string
}

func (t *Transaction) validate() error {
	switch {
	case t == nil || t.Invocation == nil:
		return errors.New("simulate: no invocation")
	case t.ChannelID == "" || len(t.ChannelID) > 256 || !utf8.ValidString(t.ChannelID):
		return errors.New("simulate: channel ID must be valid UTF-8 of 1 to 256 bytes")
	case t.TxID == "" || len(t.TxID) > 256 || !utf8.ValidString(t.TxID):
		return errors.New("simulate: transaction ID must be valid UTF-8 of 1 to 256 bytes")
	case t.Timestamp.IsZero():
		return errors.New("simulate: no timestamp")
	case t.CreatorMSPID == "" || len(t.CreatorCert) == 0:
		return errors.New("simulate: no creator")
	case len(t.Invocation.Function) > MaxFunctionLength || !utf8.ValidString(t.Invocation.Function):
		return fmt.Errorf("simulate: function name must be valid UTF-8 of at most %d bytes", MaxFunctionLength)
	case len(t.Invocation.Args) > MaxArgs:
		return fmt.Errorf("simulate: %d arguments (at most %d)", len(t.Invocation.Args), MaxArgs)
	}
	if err := ValidateName(t.Invocation.Chaincode); err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	return nil
}

// Result is a simulation's outcome. When the chaincode refused
// (Response.Status >= StatusErrorThreshold), RWSet, PvtRWSet and Events
// are nil: there is nothing to endorse.
type Result struct {
	Response *pb.Response
	RWSet    *pb.TxReadWriteSet
	PvtRWSet *pb.TxPvtReadWriteSet // nil without private writes
	Events   *pb.ChaincodeEvents
	// Height is the height of the snapshot the simulation read.
	Height uint64
}

// Simulate runs tx's invocation through rt against reader and returns the
// chaincode's response with the read/write sets and events. A chaincode
// refusal or panic is a Result whose Response carries the chaincode's
// message verbatim (status StatusError). An error means the simulation
// could not be carried out (a reader or runtime failure, a cancelled ctx,
// a *PrivateDataNotHeldError, bad input) and nothing must be endorsed.
func Simulate(ctx context.Context, rt Runtime, reader StateReader, tx *Transaction) (*Result, error) {
	if err := tx.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := newTxContext(ctx, rt, reader, tx)
	defer t.finish()

	name := tx.Invocation.Chaincode
	if err := t.readDefinitionSequence(name); err != nil {
		return nil, err
	}
	if refusal, err := t.checkInit(name); err != nil {
		return nil, err
	} else if refusal != "" {
		return &Result{Response: errorResponse(refusal), Height: reader.Height()}, nil
	}
	top := t.newStub(name, 0)
	resp, err := t.invoke(top, tx.Invocation.Function, tx.Invocation.Args)
	switch {
	case t.err != nil:
		return nil, t.err
	case err != nil:
		return nil, err
	case t.fatal != nil:
		resp = errorResponse(t.fatal.Error())
	}
	res := &Result{Response: resp, Height: reader.Height()}
	if resp.Status >= StatusErrorThreshold {
		return res, nil
	}
	if tx.InitVersion != "" && tx.Invocation.IsInit {
		top.writes.putPublic(name, InitializedKey, []byte(tx.InitVersion))
	}
	res.RWSet, res.PvtRWSet, res.Events, err = t.build(top.writes)
	if err != nil {
		return nil, err
	}
	return res, nil
}
