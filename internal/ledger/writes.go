package ledger

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// Bounds on state keys. A validator must mark a transaction whose writes
// break them invalid (TxPublicWrites reports it), since Commit refuses a
// block whose valid transactions carry such writes.
const (
	MaxNamespaceBytes = 256
	MaxKeyBytes       = 64 << 10
)

// Write is one public write (or delete) of a valid transaction.
type Write struct {
	Namespace string
	Key       string
	IsDelete  bool
	Value     []byte // nil for a delete
}

// CheckWriteKey reports whether (namespace, key) may be stored: the
// namespace is 1..MaxNamespaceBytes bytes of UTF-8 without NUL, the key
// 1..MaxKeyBytes bytes of UTF-8 (NUL allowed, as composite keys use it).
func CheckWriteKey(namespace, key string) error {
	switch {
	case namespace == "":
		return errors.New("empty namespace")
	case len(namespace) > MaxNamespaceBytes:
		return fmt.Errorf("namespace of %d bytes (limit %d)", len(namespace), MaxNamespaceBytes)
	case strings.IndexByte(namespace, 0) >= 0 || !utf8.ValidString(namespace):
		return fmt.Errorf("namespace %q is not NUL-free UTF-8", namespace)
	case key == "":
		return fmt.Errorf("empty key in namespace %q", namespace)
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("key of %d bytes in namespace %q (limit %d)", len(key), namespace, MaxKeyBytes)
	case !utf8.ValidString(key):
		return fmt.Errorf("key in namespace %q is not UTF-8", namespace)
	}
	return nil
}

// checkWrite checks one write given to Commit.
func checkWrite(w Write) error {
	if err := CheckWriteKey(w.Namespace, w.Key); err != nil {
		return err
	}
	if w.IsDelete && len(w.Value) > 0 {
		return fmt.Errorf("delete of %s/%q carries a value", w.Namespace, w.Key)
	}
	return nil
}

// TxPublicWrites returns the public writes of one envelope in rwset order:
// for an ENDORSER_TRANSACTION the writes of its TxReadWriteSet (parsed from
// EndorsedTransaction -> ProposalResponsePayload -> TxReadWriteSet), for a
// CONFIG envelope none. Any other type, a malformed message or a write that
// CheckWriteKey refuses is an error. Deletes come back with a nil value.
func TxPublicWrites(envelope []byte) ([]Write, error) {
	_, payload, hdr, err := protocol.OpenEnvelope(envelope, MaxRecordBytes)
	if err != nil {
		return nil, err
	}
	switch hdr.Type {
	case pb.HeaderType_CONFIG:
		return nil, nil
	case pb.HeaderType_ENDORSER_TRANSACTION:
	default:
		return nil, fmt.Errorf("envelope of type %s has no public writes", hdr.Type)
	}
	rwset, err := txReadWriteSet(payload.Data)
	if err != nil {
		return nil, err
	}
	var writes []Write
	for _, ns := range rwset.NsRwsets {
		for _, w := range ns.Writes {
			if err := CheckWriteKey(ns.Namespace, w.Key); err != nil {
				return nil, err
			}
			write := Write{Namespace: ns.Namespace, Key: w.Key, IsDelete: w.IsDelete}
			if !w.IsDelete {
				write.Value = w.Value
			}
			writes = append(writes, write)
		}
	}
	return writes, nil
}

// txReadWriteSet decodes the read/write set of an ENDORSER_TRANSACTION
// payload's data.
func txReadWriteSet(data []byte) (*pb.TxReadWriteSet, error) {
	tx := new(pb.EndorsedTransaction)
	if err := protocol.Unmarshal(data, tx, MaxRecordBytes); err != nil {
		return nil, err
	}
	prp := new(pb.ProposalResponsePayload)
	if err := protocol.Unmarshal(tx.ResponsePayload, prp, MaxRecordBytes); err != nil {
		return nil, err
	}
	rwset := new(pb.TxReadWriteSet)
	if err := protocol.Unmarshal(prp.Results, rwset, MaxRecordBytes); err != nil {
		return nil, err
	}
	return rwset, nil
}

// ExtractPublicWrites returns, for each envelope of block, the public writes
// it commits: TxPublicWrites for a VALID transaction, nothing for the
// others. codes has one entry per envelope. This is how Open replays blocks
// and how Verify rebuilds the state, so a validator that hands Commit its own
// writes must hand exactly these.
func ExtractPublicWrites(block *pb.Block, codes []pb.TxValidationCode) ([][]Write, error) {
	envs := block.GetData().GetEnvelopes()
	if len(codes) != len(envs) {
		return nil, fmt.Errorf("%d validation codes for %d transactions", len(codes), len(envs))
	}
	writes := make([][]Write, len(envs))
	for i, env := range envs {
		if codes[i] != pb.TxValidationCode_VALID {
			continue
		}
		w, err := TxPublicWrites(env)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		writes[i] = w
	}
	return writes, nil
}
