// Package contracttest is an in-memory contract.Stub for chaincode unit
// tests. It follows the transaction semantics of the peer's simulator
// (reads see committed state only, buffered writes, the last write wins,
// one event per chaincode, callee failures discarded, call depth, the
// private range query rule, the key and value limits) without versions or
// read sets.
//
//	stub := contracttest.NewStub("authorization", chaincode)
//	stub.SetDefinitionParams(map[string]string{"adminMSP": "SAMSMSP"})
//	if err := stub.SetCreatorWithAttributes("SAMSMSP", "ao", map[string]string{"blossom.role": "Authorizing Official"}); err != nil { ... }
//	payload, err := stub.Invoke("bootstrap:Bootstrap")
//	value, ok := stub.State("account:SAMSMSP")
//
// Invoke runs one transaction: it commits the writes if the chaincode
// succeeds and discards them if it fails. A test may instead call a
// contract function directly with the Stub; its writes then stay pending
// (visible through Writes, invisible to reads) until Commit.
package contracttest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/blossom-ledger/blossom/sdk/contract"
)

// DefaultTimestamp is the transaction timestamp until SetTxTimestamp.
var DefaultTimestamp = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Write is one buffered public write.
type Write struct {
	Namespace string
	Key       string
	Value     []byte // nil when IsDelete
	IsDelete  bool
}

// PrivateWrite is one buffered private write.
type PrivateWrite struct {
	Namespace  string
	Collection string
	Key        string
	Value      []byte // nil when IsDelete
	IsDelete   bool
}

// Event is an event set by a chaincode.
type Event struct {
	Chaincode string
	Name      string
	Payload   []byte
}

// Stub is an in-memory contract.Stub. Stubs returned by NewStub and
// Register share one world: state per namespace, the transaction context
// and the registered chaincodes. It is not safe for concurrent use.
type Stub struct {
	ns    string
	depth int
	buf   *buffer // a callee's own writes; nil: the transaction's (world.top)
	w     *world
}

// buffer returns where s's writes go; a direct write to a top-level stub
// makes the pending transaction the one Writes shows.
func (s *Stub) buffer() *buffer {
	if s.buf != nil {
		return s.buf
	}
	s.w.view = s.w.top
	return s.w.top
}

var _ contract.Stub = (*Stub)(nil)

type world struct {
	channelID  string
	txID       string
	autoTxID   bool
	txCount    int
	timestamp  time.Time
	creator    *contract.ClientIdentity
	transient  map[string][]byte
	state      map[string]map[string][]byte            // ns → key → value
	private    map[string]map[string]map[string][]byte // ns → collection → key → value
	history    map[string]map[string][]contract.KeyModification
	chaincodes map[string]contract.Chaincode
	params     map[string]map[string]string
	top        *buffer // the pending transaction's writes
	view       *buffer // the writes Writes, PrivateWrites and Events show
	wrote      bool
	pvtQueried bool
}

// NewStub returns a Stub for chaincode name (its namespace) on channel
// "testchannel". cc is the chaincode Invoke runs; it may be nil when the
// test calls functions directly.
func NewStub(name string, cc contract.Chaincode) *Stub {
	w := &world{
		channelID:  "testchannel",
		autoTxID:   true,
		timestamp:  DefaultTimestamp,
		creator:    contract.NewClientIdentity("", nil),
		state:      map[string]map[string][]byte{},
		private:    map[string]map[string]map[string][]byte{},
		history:    map[string]map[string][]contract.KeyModification{},
		chaincodes: map[string]contract.Chaincode{},
		params:     map[string]map[string]string{},
	}
	if cc != nil {
		w.chaincodes[name] = cc
	}
	w.next()
	w.view = w.top
	return &Stub{ns: name, w: w}
}

// Register adds a chaincode that InvokeChaincode can call, with the
// parameters of its definition, and returns a Stub over its namespace
// (for seeding and inspecting its state).
func (s *Stub) Register(name string, cc contract.Chaincode, params map[string]string) *Stub {
	s.w.chaincodes[name] = cc
	s.w.params[name] = maps.Clone(params)
	return &Stub{ns: name, w: s.w}
}

// SetChannelID sets the channel ID.
func (s *Stub) SetChannelID(id string) { s.w.channelID = id }

// SetTxID fixes the transaction ID of the following transactions. Until
// it is called, each Invoke gets a fresh ID "tx1", "tx2", ...
func (s *Stub) SetTxID(id string) { s.w.txID, s.w.autoTxID = id, false }

// SetTxTimestamp sets the transaction timestamp (stored in UTC).
func (s *Stub) SetTxTimestamp(t time.Time) { s.w.timestamp = t.UTC() }

// SetTransient sets the transient map of the following transactions.
func (s *Stub) SetTransient(m map[string][]byte) { s.w.transient = maps.Clone(m) }

// SetCreator sets the creator's MSP ID and DER certificate.
func (s *Stub) SetCreator(mspID string, certDER []byte) {
	s.w.creator = contract.NewClientIdentity(mspID, certDER)
}

// SetCreatorWithAttributes sets a creator with a freshly generated
// certificate (see NewCertificate) carrying attrs.
func (s *Stub) SetCreatorWithAttributes(mspID, commonName string, attrs map[string]string) error {
	der, err := NewCertificate(mspID, commonName, attrs)
	if err != nil {
		return err
	}
	s.SetCreator(mspID, der)
	return nil
}

// SetDefinitionParams sets the definition parameters of this Stub's chaincode.
func (s *Stub) SetDefinitionParams(params map[string]string) { s.w.params[s.ns] = maps.Clone(params) }

// SetState seeds committed state of this Stub's namespace (no history
// entry, no validation); a nil value removes the key.
func (s *Stub) SetState(key string, value []byte) {
	setValue(s.w.state, s.ns, key, value)
}

// SetPrivateData seeds a committed private value of this Stub's namespace;
// a nil value removes the key.
func (s *Stub) SetPrivateData(collection, key string, value []byte) {
	colls := s.w.private[s.ns]
	if colls == nil {
		colls = map[string]map[string][]byte{}
		s.w.private[s.ns] = colls
	}
	setValue(colls, collection, key, value)
}

func setValue(m map[string]map[string][]byte, outer, key string, value []byte) {
	if value == nil {
		delete(m[outer], key)
		return
	}
	if m[outer] == nil {
		m[outer] = map[string][]byte{}
	}
	m[outer][key] = slices.Clone(value)
}

// State returns the committed value of key in this Stub's namespace.
func (s *Stub) State(key string) ([]byte, bool) {
	v, ok := s.w.state[s.ns][key]
	return v, ok
}

// StateKeys returns the committed keys of this Stub's namespace, sorted.
func (s *Stub) StateKeys() []string {
	return slices.Sorted(maps.Keys(s.w.state[s.ns]))
}

// PrivateData returns the committed private value of key in collection.
func (s *Stub) PrivateData(collection, key string) ([]byte, bool) {
	v, ok := s.w.private[s.ns][collection][key]
	return v, ok
}

// Writes returns the public writes of the latest transaction, sorted by
// namespace and key: the one Invoke ran (none if it failed) or committed,
// or the pending one after a direct write.
func (s *Stub) Writes() []Write {
	var out []Write
	for _, ns := range slices.Sorted(maps.Keys(s.w.view.pub)) {
		for _, key := range slices.Sorted(maps.Keys(s.w.view.pub[ns])) {
			w := s.w.view.pub[ns][key]
			out = append(out, Write{Namespace: ns, Key: key, Value: w.value, IsDelete: w.value == nil})
		}
	}
	return out
}

// PrivateWrites returns the private writes of the latest transaction (as
// for Writes), sorted by namespace, collection and key.
func (s *Stub) PrivateWrites() []PrivateWrite {
	var out []PrivateWrite
	for _, ns := range slices.Sorted(maps.Keys(s.w.view.pvt)) {
		for _, coll := range slices.Sorted(maps.Keys(s.w.view.pvt[ns])) {
			for _, key := range slices.Sorted(maps.Keys(s.w.view.pvt[ns][coll])) {
				w := s.w.view.pvt[ns][coll][key]
				out = append(out, PrivateWrite{Namespace: ns, Collection: coll, Key: key, Value: w.value, IsDelete: w.value == nil})
			}
		}
	}
	return out
}

// Events returns the events of the latest transaction (as for Writes), by
// chaincode name.
func (s *Stub) Events() []Event {
	var out []Event
	for _, ns := range slices.Sorted(maps.Keys(s.w.view.events)) {
		out = append(out, *s.w.view.events[ns])
	}
	return out
}

// Invoke runs one transaction calling function of this Stub's chaincode
// with string arguments.
func (s *Stub) Invoke(function string, args ...string) ([]byte, error) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return s.InvokeBytes(function, b)
}

// InvokeBytes runs one transaction calling function with args: it calls
// the chaincode, commits its writes on success and discards them on error
// (a panic is turned into an error, as the peer does), then moves on to
// the next transaction. Pending writes of direct calls must be committed
// first.
func (s *Stub) InvokeBytes(function string, args [][]byte) ([]byte, error) {
	cc := s.w.chaincodes[s.ns]
	if cc == nil {
		return nil, fmt.Errorf("contracttest: no chaincode registered as %q", s.ns)
	}
	if !s.w.top.empty() {
		return nil, errors.New("contracttest: uncommitted writes of direct calls: call Commit first")
	}
	defer s.w.next()
	payload, err := invoke(cc, s.ns, s, function, args)
	if err != nil {
		s.w.view = newBuffer()
		return nil, err
	}
	s.w.commit()
	s.w.view = s.w.top
	return payload, nil
}

// Commit applies the pending writes of a test that called functions
// directly and starts the next transaction.
func (s *Stub) Commit() {
	s.w.commit()
	s.w.view = s.w.top
	s.w.next()
}

func invoke(cc contract.Chaincode, name string, stub contract.Stub, function string, args [][]byte) (payload []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			payload, err = nil, fmt.Errorf("chaincode %s panicked: %v", name, r)
		}
	}()
	return cc.Invoke(stub, function, args)
}

// next starts the next transaction.
func (w *world) next() {
	w.txCount++
	if w.autoTxID {
		w.txID = fmt.Sprintf("tx%d", w.txCount)
	}
	w.top = newBuffer()
	w.wrote, w.pvtQueried = false, false
}

// commit applies the top buffer to state and history.
func (w *world) commit() {
	b := w.top
	for ns, keys := range b.pub {
		for key, wr := range keys {
			setValue(w.state, ns, key, wr.value)
			if w.history[ns] == nil {
				w.history[ns] = map[string][]contract.KeyModification{}
			}
			w.history[ns][key] = append(w.history[ns][key], contract.KeyModification{
				TxID: w.txID, Timestamp: w.timestamp, Value: wr.value, IsDelete: wr.value == nil,
			})
		}
	}
	for ns, colls := range b.pvt {
		for coll, keys := range colls {
			for key, wr := range keys {
				if w.private[ns] == nil {
					w.private[ns] = map[string]map[string][]byte{}
				}
				setValue(w.private[ns], coll, key, wr.value)
			}
		}
	}
}

// buffer holds the writes and events of one invocation.
type buffer struct {
	pub    map[string]map[string]*write            // ns → key
	pvt    map[string]map[string]map[string]*write // ns → collection → key
	events map[string]*Event                       // by chaincode
}

type write struct{ value []byte } // nil value: delete

func (b *buffer) empty() bool {
	return len(b.pub) == 0 && len(b.pvt) == 0 && len(b.events) == 0
}

func newBuffer() *buffer {
	return &buffer{pub: map[string]map[string]*write{}, pvt: map[string]map[string]map[string]*write{}, events: map[string]*Event{}}
}

func (b *buffer) putPublic(ns, key string, value []byte) {
	if b.pub[ns] == nil {
		b.pub[ns] = map[string]*write{}
	}
	b.pub[ns][key] = &write{value: value}
}

func (b *buffer) putPrivate(ns, coll, key string, value []byte) {
	if b.pvt[ns] == nil {
		b.pvt[ns] = map[string]map[string]*write{}
	}
	if b.pvt[ns][coll] == nil {
		b.pvt[ns][coll] = map[string]*write{}
	}
	b.pvt[ns][coll][key] = &write{value: value}
}

// merge applies a successful callee's writes and events on top of b.
func (b *buffer) merge(child *buffer) {
	for ns, keys := range child.pub {
		for key, w := range keys {
			b.putPublic(ns, key, w.value)
		}
	}
	for ns, colls := range child.pvt {
		for coll, keys := range colls {
			for key, w := range keys {
				b.putPrivate(ns, coll, key, w.value)
			}
		}
	}
	for ns, e := range child.events {
		b.events[ns] = e
	}
}

// GetTxID implements contract.Stub.
func (s *Stub) GetTxID() string { return s.w.txID }

// GetChannelID implements contract.Stub.
func (s *Stub) GetChannelID() string { return s.w.channelID }

// GetTxTimestamp implements contract.Stub.
func (s *Stub) GetTxTimestamp() time.Time { return s.w.timestamp }

// GetCreator implements contract.Stub.
func (s *Stub) GetCreator() (string, []byte) {
	return s.w.creator.MSPID(), slices.Clone(s.w.creator.CertDER())
}

// GetMSPID implements contract.Stub.
func (s *Stub) GetMSPID() string { return s.w.creator.MSPID() }

// GetAttribute implements contract.Stub.
func (s *Stub) GetAttribute(name string) (string, bool, error) {
	return s.w.creator.Attribute(name)
}

// GetTransient implements contract.Stub.
func (s *Stub) GetTransient() map[string][]byte {
	out := make(map[string][]byte, len(s.w.transient))
	for k, v := range s.w.transient {
		out[k] = slices.Clone(v)
	}
	return out
}

// GetDefinitionParam implements contract.Stub.
func (s *Stub) GetDefinitionParam(name string) (string, bool) {
	v, ok := s.w.params[s.ns][name]
	return v, ok
}

// GetState implements contract.Stub.
func (s *Stub) GetState(key string) ([]byte, error) {
	if err := contract.ValidateKey(key); err != nil {
		return nil, err
	}
	return slices.Clone(s.w.state[s.ns][key]), nil
}

func (s *Stub) checkWrite(key string, value []byte) error {
	if err := contract.ValidateKey(key); err != nil {
		return err
	}
	if err := contract.ValidateValue(value); err != nil {
		return err
	}
	if s.w.pvtQueried {
		return contract.ErrWriteAfterPrivateQuery
	}
	s.w.wrote = true
	return nil
}

// PutState implements contract.Stub.
func (s *Stub) PutState(key string, value []byte) error {
	if err := s.checkWrite(key, value); err != nil {
		return err
	}
	s.buffer().putPublic(s.ns, key, nilIfEmpty(value))
	return nil
}

// DelState implements contract.Stub.
func (s *Stub) DelState(key string) error { return s.PutState(key, nil) }

func nilIfEmpty(v []byte) []byte {
	if len(v) == 0 {
		return nil
	}
	return slices.Clone(v)
}

// GetStateByRange implements contract.Stub.
func (s *Stub) GetStateByRange(startKey, endKey string) (contract.StateIterator, error) {
	start, end, err := contract.SimpleKeyRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	return newIterator(s.w.state[s.ns], start, end), nil
}

// GetStateByPartialCompositeKey implements contract.Stub.
func (s *Stub) GetStateByPartialCompositeKey(objectType string, attributes []string) (contract.StateIterator, error) {
	start, end, err := contract.PartialCompositeKeyRange(objectType, attributes)
	if err != nil {
		return nil, err
	}
	return newIterator(s.w.state[s.ns], start, end), nil
}

// CreateCompositeKey implements contract.Stub.
func (s *Stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return contract.CreateCompositeKey(objectType, attributes)
}

// SplitCompositeKey implements contract.Stub.
func (s *Stub) SplitCompositeKey(key string) (string, []string, error) {
	return contract.SplitCompositeKey(key)
}

// GetHistoryForKey implements contract.Stub: the modifications committed
// by this Stub's transactions (not SetState seeds), newest first.
func (s *Stub) GetHistoryForKey(key string) (contract.HistoryIterator, error) {
	if err := contract.ValidateKey(key); err != nil {
		return nil, err
	}
	mods := slices.Clone(s.w.history[s.ns][key])
	slices.Reverse(mods)
	return &historyIterator{mods: mods}, nil
}

// GetPrivateData implements contract.Stub.
func (s *Stub) GetPrivateData(collection, key string) ([]byte, error) {
	if err := validatePrivate(collection, key); err != nil {
		return nil, err
	}
	return slices.Clone(s.w.private[s.ns][collection][key]), nil
}

// GetPrivateDataHash implements contract.Stub.
func (s *Stub) GetPrivateDataHash(collection, key string) ([]byte, error) {
	if err := validatePrivate(collection, key); err != nil {
		return nil, err
	}
	v, ok := s.w.private[s.ns][collection][key]
	if !ok {
		return nil, nil
	}
	h := sha256.Sum256(v)
	return h[:], nil
}

func validatePrivate(collection, key string) error {
	if err := contract.ValidateCollection(collection); err != nil {
		return err
	}
	return contract.ValidateKey(key)
}

// PutPrivateData implements contract.Stub.
func (s *Stub) PutPrivateData(collection, key string, value []byte) error {
	if err := contract.ValidateCollection(collection); err != nil {
		return err
	}
	if err := s.checkWrite(key, value); err != nil {
		return err
	}
	s.buffer().putPrivate(s.ns, collection, key, nilIfEmpty(value))
	return nil
}

// DelPrivateData implements contract.Stub.
func (s *Stub) DelPrivateData(collection, key string) error {
	return s.PutPrivateData(collection, key, nil)
}

func (s *Stub) privateQuery(collection string) error {
	if err := contract.ValidateCollection(collection); err != nil {
		return err
	}
	if s.w.wrote {
		return contract.ErrPrivateQueryAfterWrite
	}
	s.w.pvtQueried = true
	return nil
}

// GetPrivateDataByRange implements contract.Stub.
func (s *Stub) GetPrivateDataByRange(collection, startKey, endKey string) (contract.StateIterator, error) {
	start, end, err := contract.SimpleKeyRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	if err := s.privateQuery(collection); err != nil {
		return nil, err
	}
	return newIterator(s.w.private[s.ns][collection], start, end), nil
}

// GetPrivateDataByPartialCompositeKey implements contract.Stub.
func (s *Stub) GetPrivateDataByPartialCompositeKey(collection, objectType string, attributes []string) (contract.StateIterator, error) {
	start, end, err := contract.PartialCompositeKeyRange(objectType, attributes)
	if err != nil {
		return nil, err
	}
	if err := s.privateQuery(collection); err != nil {
		return nil, err
	}
	return newIterator(s.w.private[s.ns][collection], start, end), nil
}

// SetEvent implements contract.Stub.
func (s *Stub) SetEvent(name string, payload []byte) error {
	if err := contract.ValidateEvent(name, payload); err != nil {
		return err
	}
	s.buffer().events[s.ns] = &Event{Chaincode: s.ns, Name: name, Payload: slices.Clone(payload)}
	return nil
}

// InvokeChaincode implements contract.Stub.
func (s *Stub) InvokeChaincode(chaincode, function string, args [][]byte) ([]byte, error) {
	if s.depth >= contract.MaxCallDepth {
		return nil, contract.ErrCallDepth
	}
	cc := s.w.chaincodes[chaincode]
	if cc == nil {
		return nil, fmt.Errorf("chaincode %s is not defined on channel %s", chaincode, s.w.channelID)
	}
	callee := &Stub{ns: chaincode, depth: s.depth + 1, buf: newBuffer(), w: s.w}
	payload, err := invoke(cc, chaincode, callee, function, args)
	if err != nil {
		return nil, &contract.InvokeError{Chaincode: chaincode, Message: err.Error()}
	}
	s.buffer().merge(callee.buf)
	return payload, nil
}

// iterator walks a snapshot of the keys of one map in [start, end).
type iterator struct {
	kvs    []contract.KV
	closed bool
}

func newIterator(m map[string][]byte, start, end string) *iterator {
	it := &iterator{}
	for k, v := range m {
		if k >= start && (end == "" || k < end) {
			it.kvs = append(it.kvs, contract.KV{Key: k, Value: slices.Clone(v)})
		}
	}
	sort.Slice(it.kvs, func(i, j int) bool { return strings.Compare(it.kvs[i].Key, it.kvs[j].Key) < 0 })
	return it
}

var errClosed = errors.New("iterator is closed")

func (it *iterator) HasNext() bool { return !it.closed && len(it.kvs) > 0 }

func (it *iterator) Next() (*contract.KV, error) {
	if it.closed {
		return nil, errClosed
	}
	if len(it.kvs) == 0 {
		return nil, errors.New("iterator exhausted")
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return &kv, nil
}

func (it *iterator) Close() error { it.closed = true; return nil }

type historyIterator struct {
	mods   []contract.KeyModification
	closed bool
}

func (it *historyIterator) HasNext() bool { return !it.closed && len(it.mods) > 0 }

func (it *historyIterator) Next() (*contract.KeyModification, error) {
	if it.closed {
		return nil, errClosed
	}
	if len(it.mods) == 0 {
		return nil, errors.New("iterator exhausted")
	}
	m := it.mods[0]
	it.mods = it.mods[1:]
	m.Value = slices.Clone(m.Value)
	return &m, nil
}

func (it *historyIterator) Close() error { it.closed = true; return nil }
