package chaincode

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// txContext is the state of one simulated transaction, shared by the stubs
// of every chaincode it invokes.
type txContext struct {
	ctx      context.Context
	rt       Runtime
	reader   StateReader
	tx       *Transaction
	creator  *contract.ClientIdentity
	params   map[string]map[string]string // definition parameters, by chaincode
	reads    map[string]*nsReads          // by namespace
	seqRead  map[string]bool              // chaincodes whose definition sequence was read
	iters    map[*rangeIterator]struct{}  // open iterators
	histIts  map[*historyIterator]struct{}
	keys     int // keys read and written, for MaxTxKeys
	wbytes   int // bytes written, for MaxTxWriteBytes
	wrote    bool
	pvtQuery bool
	done     bool

	// err is the first failure of the simulation itself (reader, runtime,
	// ctx): it overrides whatever the chaincode answers.
	err error
	// fatal is the first limit the transaction exceeded: the transaction
	// fails with this message even if the chaincode ignored the error.
	fatal error
}

// nsReads holds one namespace's reads.
type nsReads struct {
	reads  map[string]*pb.Version // nil version: absent
	ranges []*pb.RangeQueryInfo
	hashed map[string]map[string]*pb.Version // collection → string(key hash)
}

func newTxContext(ctx context.Context, rt Runtime, reader StateReader, tx *Transaction) *txContext {
	return &txContext{
		ctx:     ctx,
		rt:      rt,
		reader:  reader,
		tx:      tx,
		creator: contract.NewClientIdentity(tx.CreatorMSPID, tx.CreatorCert),
		params:  make(map[string]map[string]string),
		reads:   make(map[string]*nsReads),
		seqRead: make(map[string]bool),
		iters:   make(map[*rangeIterator]struct{}),
		histIts: make(map[*historyIterator]struct{}),
	}
}

// finish ends the transaction: open iterators are closed and stubs stop
// answering.
func (t *txContext) finish() {
	t.done = true
	for it := range t.iters {
		it.close()
	}
	for it := range t.histIts {
		it.close()
	}
}

// fail records a failure of the simulation itself and returns it.
func (t *txContext) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return t.err
}

// failLimit records that the transaction exceeded a limit and returns err.
func (t *txContext) failLimit(err error) error {
	if t.fatal == nil {
		t.fatal = err
	}
	return err
}

// readerError classifies an error from the reader: ErrUnknownCollection is
// the chaincode's to handle, anything else fails the simulation.
func (t *txContext) readerError(err error) error {
	if errors.Is(err, ErrUnknownCollection) {
		return err
	}
	return t.fail(err)
}

func (t *txContext) ns(name string) *nsReads {
	r := t.reads[name]
	if r == nil {
		r = &nsReads{reads: make(map[string]*pb.Version), hashed: make(map[string]map[string]*pb.Version)}
		t.reads[name] = r
	}
	return r
}

// useKeys accounts for n more keys read or written.
func (t *txContext) useKeys(n int) error {
	if t.keys+n > MaxTxKeys {
		return t.failLimit(fmt.Errorf("transaction reads and writes more than %d keys", MaxTxKeys))
	}
	t.keys += n
	return nil
}

func copyVersion(v *pb.Version) *pb.Version {
	if v == nil {
		return nil
	}
	return &pb.Version{Block: v.Block, Tx: v.Tx}
}

// recordRead records a public read; the first read of a key is kept (the
// snapshot answers every read of it alike).
func (t *txContext) recordRead(ns, key string, v *pb.Version) {
	r := t.ns(ns)
	if _, ok := r.reads[key]; !ok {
		r.reads[key] = copyVersion(v)
	}
}

func (t *txContext) recordHashedRead(ns, coll string, keyHash []byte, v *pb.Version) {
	r := t.ns(ns)
	m := r.hashed[coll]
	if m == nil {
		m = make(map[string]*pb.Version)
		r.hashed[coll] = m
	}
	if _, ok := m[string(keyHash)]; !ok {
		m[string(keyHash)] = copyVersion(v)
	}
}

// readDefinitionSequence records, once per chaincode, the read of its
// definition sequence.
func (t *txContext) readDefinitionSequence(name string) error {
	if t.seqRead[name] {
		return nil
	}
	if err := t.useKeys(1); err != nil {
		return err
	}
	key := SequenceKey(name)
	_, v, err := t.reader.GetState(LifecycleNamespace, key)
	if err != nil {
		return t.fail(err)
	}
	t.seqRead[name] = true
	t.recordRead(LifecycleNamespace, key, v)
	return nil
}

// InitializedKey is the key, in a chaincode's own namespace, that holds
// the version of its definition an init transaction initialised
// (Fabric's key). It starts with U+0000 but is no composite key, so no
// chaincode can read or write it through its stub.
const InitializedKey = "\x00" + string(utf8.MaxRune) + "initialized"

// checkInit applies init_required to the invoked chaincode name (Fabric's
// rules): while the version in force is not initialised, only an init
// invocation runs; once it is, an init invocation is refused. The read
// of InitializedKey enters the read set, so that of two concurrent init
// transactions only the first is valid. It returns the refusal message,
// or "" to go on; an invocation marked init of a chaincode that needs no
// initialisation runs as any other.
func (t *txContext) checkInit(name string) (refusal string, err error) {
	version := t.tx.InitVersion
	if version == "" {
		return "", nil
	}
	if err := t.useKeys(1); err != nil {
		return "", err
	}
	value, v, err := t.reader.GetState(name, InitializedKey)
	if err != nil {
		return "", t.fail(err)
	}
	t.recordRead(name, InitializedKey, v)
	initialised := v != nil && string(value) == version
	switch isInit := t.tx.Invocation.IsInit; {
	case !initialised && !isInit:
		return fmt.Sprintf("chaincode %s has not been initialized for this version, must call as init first", name), nil
	case initialised && isInit:
		return fmt.Sprintf("chaincode %s is already initialized but called as init", name), nil
	}
	return "", nil
}

func (t *txContext) newStub(name string, depth int) *stub {
	params, ok := t.params[name]
	if !ok {
		if t.tx.DefinitionParams != nil {
			params = maps.Clone(t.tx.DefinitionParams(name))
		}
		t.params[name] = params
	}
	return &stub{t: t, ns: name, depth: depth, params: params, writes: newWriteSet()}
}

// invoke runs function on s's chaincode through the runtime and bounds the
// response. The stub is retired when the call returns.
func (t *txContext) invoke(s *stub, function string, args [][]byte) (resp *pb.Response, err error) {
	defer func() {
		s.retired = true
		if r := recover(); r != nil {
			resp, err = panicResponse(s.ns, r), nil
		}
		if resp != nil {
			resp = boundResponse(s.ns, resp)
		}
	}()
	resp, err = t.rt.Invoke(t.ctx, s, s.ns, function, args)
	if err != nil {
		return nil, t.fail(err)
	}
	if resp == nil {
		return nil, t.fail(fmt.Errorf("runtime returned no response for chaincode %s", s.ns))
	}
	return resp, nil
}

// boundResponse enforces the size limits and UTF-8 validity (protobuf
// strings must be valid UTF-8) of a chaincode's response.
func boundResponse(name string, resp *pb.Response) *pb.Response {
	if resp.Status < StatusErrorThreshold {
		if len(resp.Payload) > MaxResponsePayloadSize {
			return errorResponse(fmt.Sprintf("chaincode %s returned a payload of %d bytes (at most %d)", name, len(resp.Payload), MaxResponsePayloadSize))
		}
		if resp.Message == "" {
			return resp
		}
	}
	return &pb.Response{Status: resp.Status, Message: boundMessage(resp.Message), Payload: resp.Payload}
}

func errorResponse(msg string) *pb.Response {
	return &pb.Response{Status: StatusError, Message: boundMessage(msg)}
}

// boundMessage makes msg valid UTF-8 of at most MaxResponseMessageSize
// bytes, cutting at a character boundary.
func boundMessage(msg string) string {
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	if len(msg) <= MaxResponseMessageSize {
		return msg
	}
	cut := MaxResponseMessageSize
	for cut > 0 && !utf8RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// writeSet holds the writes and event of one invocation; a callee's set is
// merged into its caller's when it succeeds.
type writeSet struct {
	pub    map[string]map[string][]byte            // ns → key → value (nil: delete)
	pvt    map[string]map[string]map[string][]byte // ns → collection → key → value
	events map[string]*pb.ChaincodeEvent           // by chaincode
}

func newWriteSet() *writeSet {
	return &writeSet{
		pub:    make(map[string]map[string][]byte),
		pvt:    make(map[string]map[string]map[string][]byte),
		events: make(map[string]*pb.ChaincodeEvent),
	}
}

func (w *writeSet) putPublic(ns, key string, value []byte) {
	m := w.pub[ns]
	if m == nil {
		m = make(map[string][]byte)
		w.pub[ns] = m
	}
	m[key] = value
}

func (w *writeSet) putPrivate(ns, coll, key string, value []byte) {
	colls := w.pvt[ns]
	if colls == nil {
		colls = make(map[string]map[string][]byte)
		w.pvt[ns] = colls
	}
	m := colls[coll]
	if m == nil {
		m = make(map[string][]byte)
		colls[coll] = m
	}
	m[key] = value
}

func (w *writeSet) merge(child *writeSet) {
	for ns, keys := range child.pub {
		for key, v := range keys {
			w.putPublic(ns, key, v)
		}
	}
	for ns, colls := range child.pvt {
		for coll, keys := range colls {
			for key, v := range keys {
				w.putPrivate(ns, coll, key, v)
			}
		}
	}
	maps.Copy(w.events, child.events)
}

// stub is the contract.Stub of one chaincode invocation within a
// transaction.
type stub struct {
	t       *txContext
	ns      string
	depth   int
	params  map[string]string
	writes  *writeSet
	retired bool // the invocation returned
}

var _ contract.Stub = (*stub)(nil)

var errRetired = errors.New("stub used after its invocation returned")

// check is called first by every state access: it refuses a stub whose
// invocation has returned and stops a failed or cancelled simulation.
func (s *stub) check() error {
	t := s.t
	if s.retired || t.done {
		return errRetired
	}
	if t.err != nil {
		return t.err
	}
	if err := t.ctx.Err(); err != nil {
		return t.fail(err)
	}
	return nil
}

func (s *stub) GetTxID() string           { return s.t.tx.TxID }
func (s *stub) GetChannelID() string      { return s.t.tx.ChannelID }
func (s *stub) GetTxTimestamp() time.Time { return s.t.tx.Timestamp.UTC() }
func (s *stub) GetMSPID() string          { return s.t.creator.MSPID() }

func (s *stub) GetCreator() (string, []byte) {
	return s.t.creator.MSPID(), slices.Clone(s.t.creator.CertDER())
}

func (s *stub) GetAttribute(name string) (string, bool, error) {
	return s.t.creator.Attribute(name)
}

func (s *stub) GetTransient() map[string][]byte {
	out := make(map[string][]byte, len(s.t.tx.Transient))
	for k, v := range s.t.tx.Transient {
		out[k] = slices.Clone(v)
	}
	return out
}

func (s *stub) GetDefinitionParam(name string) (string, bool) {
	v, ok := s.params[name]
	return v, ok
}

func (s *stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return contract.CreateCompositeKey(objectType, attributes)
}

func (s *stub) SplitCompositeKey(key string) (string, []string, error) {
	return contract.SplitCompositeKey(key)
}

func (s *stub) GetState(key string) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := contract.ValidateKey(key); err != nil {
		return nil, err
	}
	if err := s.t.useKeys(1); err != nil {
		return nil, err
	}
	value, v, err := s.t.reader.GetState(s.ns, key)
	if err != nil {
		return nil, s.t.readerError(err)
	}
	s.t.recordRead(s.ns, key, v)
	return value, nil
}

// checkWrite validates a write and accounts for it.
func (s *stub) checkWrite(key string, value []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := contract.ValidateKey(key); err != nil {
		return err
	}
	if err := contract.ValidateValue(value); err != nil {
		return err
	}
	t := s.t
	if t.pvtQuery {
		return contract.ErrWriteAfterPrivateQuery
	}
	if t.wbytes+len(value) > MaxTxWriteBytes {
		return t.failLimit(fmt.Errorf("transaction writes more than %d bytes", MaxTxWriteBytes))
	}
	if err := t.useKeys(1); err != nil {
		return err
	}
	t.wbytes += len(value)
	t.wrote = true
	return nil
}

// written turns a value to store into its buffered form: an empty value
// is a delete (nil), as in Fabric.
func written(value []byte) []byte {
	if len(value) == 0 {
		return nil
	}
	return slices.Clone(value)
}

func (s *stub) PutState(key string, value []byte) error {
	if err := s.checkWrite(key, value); err != nil {
		return err
	}
	s.writes.putPublic(s.ns, key, written(value))
	return nil
}

func (s *stub) DelState(key string) error { return s.PutState(key, nil) }

func (s *stub) GetStateByRange(startKey, endKey string) (contract.StateIterator, error) {
	start, end, err := contract.SimpleKeyRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	return s.publicRange(start, end)
}

func (s *stub) GetStateByPartialCompositeKey(objectType string, attributes []string) (contract.StateIterator, error) {
	start, end, err := contract.PartialCompositeKeyRange(objectType, attributes)
	if err != nil {
		return nil, err
	}
	return s.publicRange(start, end)
}

func (s *stub) openIterator() error {
	if err := s.check(); err != nil {
		return err
	}
	if len(s.t.iters)+len(s.t.histIts) >= MaxOpenIterators {
		return fmt.Errorf("more than %d iterators open: close iterators when done", MaxOpenIterators)
	}
	return nil
}

func (s *stub) publicRange(start, end string) (contract.StateIterator, error) {
	if err := s.openIterator(); err != nil {
		return nil, err
	}
	it, err := s.t.reader.GetStateRange(s.ns, start, end)
	if err != nil {
		return nil, s.t.readerError(err)
	}
	info := &pb.RangeQueryInfo{StartKey: start, EndKey: start}
	r := s.t.ns(s.ns)
	r.ranges = append(r.ranges, info)
	ri := &rangeIterator{s: s, it: it, info: info, end: end}
	s.t.iters[ri] = struct{}{}
	return ri, nil
}

func (s *stub) GetHistoryForKey(key string) (contract.HistoryIterator, error) {
	if err := s.openIterator(); err != nil {
		return nil, err
	}
	if err := contract.ValidateKey(key); err != nil {
		return nil, err
	}
	it, err := s.t.reader.GetHistory(s.ns, key)
	if err != nil {
		return nil, s.t.readerError(err)
	}
	hi := &historyIterator{s: s, it: it}
	s.t.histIts[hi] = struct{}{}
	return hi, nil
}

func validatePrivate(collection, key string) error {
	if err := contract.ValidateCollection(collection); err != nil {
		return err
	}
	return contract.ValidateKey(key)
}

func hashOf(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func (s *stub) GetPrivateData(collection, key string) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := validatePrivate(collection, key); err != nil {
		return nil, err
	}
	if err := s.t.useKeys(1); err != nil {
		return nil, err
	}
	value, v, err := s.t.reader.GetPrivateData(s.ns, collection, key)
	if err != nil {
		return nil, s.t.readerError(err)
	}
	s.t.recordHashedRead(s.ns, collection, hashOf([]byte(key)), v)
	return value, nil
}

func (s *stub) GetPrivateDataHash(collection, key string) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := validatePrivate(collection, key); err != nil {
		return nil, err
	}
	if err := s.t.useKeys(1); err != nil {
		return nil, err
	}
	keyHash := hashOf([]byte(key))
	valueHash, v, err := s.t.reader.GetPrivateDataHash(s.ns, collection, keyHash)
	if err != nil {
		return nil, s.t.readerError(err)
	}
	s.t.recordHashedRead(s.ns, collection, keyHash, v)
	return valueHash, nil
}

func (s *stub) PutPrivateData(collection, key string, value []byte) error {
	if err := contract.ValidateCollection(collection); err != nil {
		return err
	}
	if err := s.checkWrite(key, value); err != nil {
		return err
	}
	s.writes.putPrivate(s.ns, collection, key, written(value))
	return nil
}

func (s *stub) DelPrivateData(collection, key string) error {
	return s.PutPrivateData(collection, key, nil)
}

func (s *stub) GetPrivateDataByRange(collection, startKey, endKey string) (contract.StateIterator, error) {
	start, end, err := contract.SimpleKeyRange(startKey, endKey)
	if err != nil {
		return nil, err
	}
	return s.privateRange(collection, start, end)
}

func (s *stub) GetPrivateDataByPartialCompositeKey(collection, objectType string, attributes []string) (contract.StateIterator, error) {
	start, end, err := contract.PartialCompositeKeyRange(objectType, attributes)
	if err != nil {
		return nil, err
	}
	return s.privateRange(collection, start, end)
}

func (s *stub) privateRange(collection, start, end string) (contract.StateIterator, error) {
	if err := contract.ValidateCollection(collection); err != nil {
		return nil, err
	}
	if err := s.openIterator(); err != nil {
		return nil, err
	}
	if s.t.wrote {
		return nil, contract.ErrPrivateQueryAfterWrite
	}
	it, err := s.t.reader.GetPrivateDataRange(s.ns, collection, start, end)
	if err != nil {
		return nil, s.t.readerError(err)
	}
	s.t.pvtQuery = true
	ri := &rangeIterator{s: s, it: it, end: end}
	s.t.iters[ri] = struct{}{}
	return ri, nil
}

func (s *stub) SetEvent(name string, payload []byte) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := contract.ValidateEvent(name, payload); err != nil {
		return err
	}
	s.writes.events[s.ns] = &pb.ChaincodeEvent{Chaincode: s.ns, TxId: s.t.tx.TxID, Name: name, Payload: slices.Clone(payload)}
	return nil
}

func (s *stub) InvokeChaincode(chaincode, function string, args [][]byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.depth >= contract.MaxCallDepth {
		return nil, contract.ErrCallDepth
	}
	if err := ValidateName(chaincode); err != nil {
		return nil, err
	}
	if len(function) > MaxFunctionLength || len(args) > MaxArgs {
		return nil, fmt.Errorf("invoke %s: function name over %d bytes or more than %d arguments", chaincode, MaxFunctionLength, MaxArgs)
	}
	t := s.t
	if err := t.readDefinitionSequence(chaincode); err != nil {
		return nil, err
	}
	callee := t.newStub(chaincode, s.depth+1)
	resp, err := t.invoke(callee, function, args)
	if err != nil {
		return nil, err
	}
	if t.err != nil {
		return nil, t.err
	}
	if resp.Status >= StatusErrorThreshold {
		return nil, &contract.InvokeError{Chaincode: chaincode, Message: resp.Message}
	}
	s.writes.merge(callee.writes)
	return resp.Payload, nil
}

// rangeIterator walks a range scan for the chaincode. For public ranges it
// records in info each result as it is fetched from the reader (by
// HasNext or Next: a HasNext that answers true already tells the chaincode
// that a key exists) and the extent of the range read; for private ranges
// info is nil.
type rangeIterator struct {
	s      *stub
	it     StateIterator
	info   *pb.RangeQueryInfo
	end    string // the query's end bound
	next   *VersionedKV
	err    error
	peeked bool
	closed bool
}

// fetch reads the next result from the reader, once.
func (r *rangeIterator) fetch() {
	if r.peeked {
		return
	}
	r.peeked = true
	if err := r.s.t.ctx.Err(); err != nil {
		r.err = r.s.t.fail(err)
		return
	}
	kv, err := r.it.Next()
	if err != nil {
		r.err = r.s.t.fail(err)
		return
	}
	if kv == nil {
		if r.info != nil {
			r.info.ItrExhausted = true
			r.info.EndKey = r.end
		}
		return
	}
	if err := r.s.t.useKeys(1); err != nil {
		r.err = err
		return
	}
	r.next = kv
	if r.info != nil {
		r.info.Reads = append(r.info.Reads, &pb.KVRead{Key: kv.Key, Version: copyVersion(kv.Version)})
		r.info.EndKey = kv.Key
	}
}

func (r *rangeIterator) usable() error {
	if r.closed {
		return errors.New("iterator is closed")
	}
	if r.s.t.done {
		return errRetired
	}
	return nil
}

func (r *rangeIterator) HasNext() bool {
	if r.usable() != nil {
		return false
	}
	r.fetch()
	return r.err != nil || r.next != nil
}

func (r *rangeIterator) Next() (*contract.KV, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	r.fetch()
	if r.err != nil {
		return nil, r.err
	}
	if r.next == nil {
		return nil, errors.New("iterator exhausted")
	}
	kv := r.next
	r.next, r.peeked = nil, false
	return &contract.KV{Key: kv.Key, Value: kv.Value}, nil
}

func (r *rangeIterator) Close() error {
	r.close()
	return nil
}

func (r *rangeIterator) close() {
	if r.closed {
		return
	}
	r.closed = true
	r.it.Close()
	delete(r.s.t.iters, r)
}

// historyIterator walks a key's history for the chaincode.
type historyIterator struct {
	s      *stub
	it     HistoryIterator
	next   *contract.KeyModification
	err    error
	peeked bool
	closed bool
}

func (h *historyIterator) fetch() {
	if h.peeked {
		return
	}
	h.peeked = true
	if err := h.s.t.ctx.Err(); err != nil {
		h.err = h.s.t.fail(err)
		return
	}
	h.next, h.err = h.it.Next()
	if h.err != nil {
		h.err = h.s.t.fail(h.err)
	}
}

func (h *historyIterator) usable() error {
	if h.closed {
		return errors.New("iterator is closed")
	}
	if h.s.t.done {
		return errRetired
	}
	return nil
}

func (h *historyIterator) HasNext() bool {
	if h.usable() != nil {
		return false
	}
	h.fetch()
	return h.err != nil || h.next != nil
}

func (h *historyIterator) Next() (*contract.KeyModification, error) {
	if err := h.usable(); err != nil {
		return nil, err
	}
	h.fetch()
	if h.err != nil {
		return nil, h.err
	}
	if h.next == nil {
		return nil, errors.New("iterator exhausted")
	}
	m := h.next
	h.next, h.peeked = nil, false
	return m, nil
}

func (h *historyIterator) Close() error {
	h.close()
	return nil
}

func (h *historyIterator) close() {
	if h.closed {
		return
	}
	h.closed = true
	h.it.Close()
	delete(h.s.t.histIts, h)
}
