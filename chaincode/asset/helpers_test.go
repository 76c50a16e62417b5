package asset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

const (
	sp     = "SAMSMSP"    // the service provider (adminMSP)
	ag1    = "Agency1MSP" // AUTHORIZED
	ag2    = "Agency2MSP" // AUTHORIZED
	ag3    = "Agency3MSP" // PENDING
	ag4    = "Agency4MSP" // UNAUTHORIZED
	ag9    = "Agency9MSP" // no account
	lo     = blossompolicy.RoleLicenseOwner
	acq    = blossompolicy.RoleAcquisitionOfficer
	tpoc   = blossompolicy.RoleTechnicalPointOfContact
	aoRole = blossompolicy.RoleAuthorizingOfficial
	noRole = "\x00no role" // a certificate without blossom.role
)

// members are the MSPs whose implicit collections snapshots inspect.
var members = []string{sp, ag1, ag2, ag3, ag4, ag9}

// objectTypes are every composite-key object type the chaincode writes.
var objectTypes = []string{keyAsset, keyLicenses, keyLicense, keyOrder, keyOrderStatus, keyOrderDate,
	keyAllocate, keyDeallocate, keyAllocated, keySWID, keyTrust}

// certs caches test certificates by MSP and role (key generation is the
// slow part of switching creators).
var certs sync.Map

func certFor(t testing.TB, msp, role string) []byte {
	key := msp + "\x00" + role
	if der, ok := certs.Load(key); ok {
		return der.([]byte)
	}
	attrs := map[string]string{contract.RoleAttribute: role}
	if role == noRole {
		attrs = nil
	}
	der, err := contracttest.NewCertificate(msp, "user-"+strings.ToLower(msp), attrs)
	if err != nil {
		t.Fatal(err)
	}
	certs.Store(key, der)
	return der
}

// world is a contracttest world running the asset chaincode with
// adminMSP = SAMSMSP and a fake authorization chaincode answering
// account:GetAccountStatus from statuses.
type world struct {
	t        testing.TB
	stub     *contracttest.Stub
	cc       contract.Chaincode
	statuses map[string]string // MSP → status; absent: no account
}

func newWorld(t testing.TB) *world {
	w := &world{t: t, cc: New(), statuses: map[string]string{
		sp: "AUTHORIZED", ag1: "AUTHORIZED", ag2: "AUTHORIZED", ag3: "PENDING", ag4: "UNAUTHORIZED",
	}}
	w.stub = contracttest.NewStub(ChaincodeName, w.cc)
	w.stub.SetDefinitionParams(map[string]string{AdminMSPParam: sp})
	w.stub.Register(AuthorizationChaincode, contract.New(contract.Contract{Name: "account", Functions: map[string]contract.Function{
		"GetAccountStatus": func(stub contract.Stub, args [][]byte) ([]byte, error) {
			st, ok := w.statuses[stub.GetMSPID()]
			if !ok {
				// The real chaincode's R-17 text.
				return nil, fmt.Errorf("account %s does not exist", stub.GetMSPID())
			}
			return []byte(st), nil
		},
	}}), nil)
	return w
}

// as makes the following transactions come from msp with role.
func (w *world) as(msp, role string) { w.stub.SetCreator(msp, certFor(w.t, msp, role)) }

// setRequest sets the transient request: a string or []byte is used as
// is, anything else is JSON-encoded; nil removes it.
func (w *world) setRequest(req any) {
	switch r := req.(type) {
	case nil:
		w.stub.SetTransient(nil)
	case string:
		w.stub.SetTransient(map[string][]byte{RequestKey: []byte(r)})
	case []byte:
		w.stub.SetTransient(map[string][]byte{RequestKey: r})
	default:
		b, err := json.Marshal(r)
		if err != nil {
			w.t.Fatal(err)
		}
		w.stub.SetTransient(map[string][]byte{RequestKey: b})
	}
}

// call runs one transaction through the stub (committed on success).
func (w *world) call(msp, role, fn string, req any) ([]byte, error) {
	w.as(msp, role)
	w.setRequest(req)
	return w.stub.Invoke(fn)
}

// ok runs one transaction and requires success.
func (w *world) ok(msp, role, fn string, req any) []byte {
	w.t.Helper()
	out, err := w.call(msp, role, fn, req)
	if err != nil {
		w.t.Fatalf("%s as %s %s: %v", fn, msp, role, err)
	}
	return out
}

// okInto runs one transaction, requires success and decodes its result.
func (w *world) okInto(msp, role, fn string, req any, v any) {
	w.t.Helper()
	out := w.ok(msp, role, fn, req)
	if err := json.Unmarshal(out, v); err != nil {
		w.t.Fatalf("%s: decoding %.300s: %v", fn, out, err)
	}
}

// state is everything the chaincode may change: public keys and the
// composite keys of every member's implicit collection.
type state map[string]string

func (w *world) snapshot() state {
	w.t.Helper()
	s := state{}
	for _, k := range w.stub.StateKeys() {
		v, _ := w.stub.State(k)
		s["public "+k] = string(v)
	}
	for _, m := range members {
		coll := ImplicitCollection(m)
		for _, ot := range objectTypes {
			it, err := w.stub.GetPrivateDataByPartialCompositeKey(coll, ot, nil)
			if err != nil {
				w.t.Fatal(err)
			}
			for it.HasNext() {
				kv, err := it.Next()
				if err != nil {
					w.t.Fatal(err)
				}
				s[coll+" "+kv.Key] = string(kv.Value)
			}
			it.Close()
		}
	}
	w.stub.Commit() // the range reads above belong to a transaction of their own
	return s
}

// refuse calls fn directly as msp/role (so that a write made before the
// failing check would stay visible) and requires the error want, exactly,
// with no write, no event and no state change.
func (w *world) refuse(msp, role, fn string, req any, want string) {
	w.t.Helper()
	before := w.snapshot()
	w.as(msp, role)
	w.setRequest(req)
	_, err := w.cc.Invoke(w.stub, fn, nil)
	if err == nil {
		w.t.Fatalf("%s as %s %q succeeded, want error %q", fn, msp, role, want)
	}
	if err.Error() != want {
		w.t.Fatalf("%s as %s %q error:\n got %q\nwant %q", fn, msp, role, err.Error(), want)
	}
	if ws, pws, evs := w.stub.Writes(), w.stub.PrivateWrites(), w.stub.Events(); len(ws)+len(pws)+len(evs) != 0 {
		w.t.Fatalf("%s failed but left writes %v, private writes %v, events %v", fn, ws, pws, evs)
	}
	w.stub.Commit()
	if after := w.snapshot(); !maps.Equal(before, after) {
		w.t.Fatalf("%s failed but changed the state", fn)
	}
}

// Endorsement: a peer view of the world.

// errNotHeld is what a peer answers for a value read of a collection of
// another member (internal/chaincode.PrivateDataNotHeldError's text).
type errNotHeld string

func (e errNotHeld) Error() string { return "PRIVATE_DATA_NOT_HELD(" + string(e) + ")" }

// peerStub simulates a function on one member's peer (DESIGN §11): it
// reads the world's committed state, answers private value reads only for
// its member's implicit collection (hash reads for every collection), and
// keeps its writes to itself.
type peerStub struct {
	*contracttest.Stub
	member string
	writes map[string][]byte // "public\x00key" or "<collection>\x00key" → value (nil: delete)
	events int
}

func newPeerStub(s *contracttest.Stub, member string) *peerStub {
	return &peerStub{Stub: s, member: member, writes: map[string][]byte{}}
}

func (p *peerStub) holds(coll string) error {
	if coll != ImplicitCollection(p.member) {
		return errNotHeld(coll)
	}
	return nil
}

func (p *peerStub) GetPrivateData(coll, key string) ([]byte, error) {
	if err := p.holds(coll); err != nil {
		return nil, err
	}
	return p.Stub.GetPrivateData(coll, key)
}

func (p *peerStub) GetPrivateDataByRange(coll, start, end string) (contract.StateIterator, error) {
	if err := p.holds(coll); err != nil {
		return nil, err
	}
	return p.Stub.GetPrivateDataByRange(coll, start, end)
}

func (p *peerStub) GetPrivateDataByPartialCompositeKey(coll, objectType string, attrs []string) (contract.StateIterator, error) {
	if err := p.holds(coll); err != nil {
		return nil, err
	}
	return p.Stub.GetPrivateDataByPartialCompositeKey(coll, objectType, attrs)
}

func (p *peerStub) PutState(key string, value []byte) error {
	if err := contract.ValidateKey(key); err != nil {
		return err
	}
	p.writes["public\x00"+key] = slices.Clone(value)
	return nil
}

func (p *peerStub) DelState(key string) error { return p.PutState(key, nil) }

func (p *peerStub) PutPrivateData(coll, key string, value []byte) error {
	if err := contract.ValidateCollection(coll); err != nil {
		return err
	}
	if err := contract.ValidateKey(key); err != nil {
		return err
	}
	p.writes[coll+"\x00"+key] = slices.Clone(value)
	return nil
}

func (p *peerStub) DelPrivateData(coll, key string) error { return p.PutPrivateData(coll, key, nil) }

func (p *peerStub) SetEvent(string, []byte) error { p.events++; return nil }

// simulation is one peer's outcome.
type simulation struct {
	payload []byte
	err     string
	writes  map[string][]byte
	events  int
}

func (a simulation) equal(b simulation) bool {
	return bytes.Equal(a.payload, b.payload) && a.err == b.err && a.events == b.events &&
		maps.EqualFunc(a.writes, b.writes, bytes.Equal)
}

// simulate runs fn on member's peer with the current creator and request.
func (w *world) simulate(member, fn string) simulation {
	p := newPeerStub(w.stub, member)
	out, err := w.cc.Invoke(p, fn, nil)
	s := simulation{payload: out, writes: p.writes, events: p.events}
	if err != nil {
		s.err = err.Error()
	}
	return s
}

// endorsers returns the members whose peers must endorse writes: the
// owner of every written collection, and the service provider (the
// chaincode's endorsement policy) for public writes and for transactions
// that write nothing.
func endorsers(writes map[string][]byte) []string {
	set := map[string]bool{}
	for k := range writes {
		space, _, _ := strings.Cut(k, "\x00")
		if space == "public" {
			set[sp] = true
		} else {
			set[strings.TrimPrefix(space, "_implicit_org_")] = true
		}
	}
	if len(set) == 0 {
		set[sp] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// submit runs fn as msp/role the way the gateway would: it simulates it on
// the peer of each of peers (which must be exactly the members whose
// endorsement the writes require), requires identical outcomes, then
// commits it through the stub, whose outcome must match too.
func (w *world) submit(msp, role, fn string, req any, peers ...string) ([]byte, error) {
	w.t.Helper()
	w.as(msp, role)
	w.setRequest(req)
	first := w.simulate(peers[0], fn)
	for _, p := range peers[1:] {
		if s := w.simulate(p, fn); !s.equal(first) {
			w.t.Fatalf("%s: the peers of %s and %s simulate differently:\n%s: %q %v\n%s: %q %v", fn, peers[0], p,
				peers[0], first.err, first.writes, p, s.err, s.writes)
		}
	}
	if first.err == "" {
		if need := endorsers(first.writes); !slices.Equal(need, slices.Sorted(slices.Values(peers))) {
			w.t.Fatalf("%s: its writes need the endorsement of %v, the test expects %v", fn, need, peers)
		}
	}
	out, err := w.stub.Invoke(fn)
	real := simulation{payload: out}
	if err != nil {
		real.err = err.Error()
	}
	if real.err != first.err || !bytes.Equal(real.payload, first.payload) {
		w.t.Fatalf("%s: committed outcome %q %q differs from the simulated %q %q", fn, real.payload, real.err, first.payload, first.err)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// submitOK is submit requiring success.
func (w *world) submitOK(msp, role, fn string, req any, peers ...string) []byte {
	w.t.Helper()
	out, err := w.submit(msp, role, fn, req, peers...)
	if err != nil {
		w.t.Fatalf("%s as %s %s: %v", fn, msp, role, err)
	}
	return out
}

// evaluate runs a read-only fn as msp/role on peer's view and requires
// success and no write; it returns the result.
func (w *world) evaluate(msp, role, fn string, req any, peer string, v any) {
	w.t.Helper()
	w.as(msp, role)
	w.setRequest(req)
	s := w.simulate(peer, fn)
	if s.err != "" {
		w.t.Fatalf("%s as %s %s on %s's peer: %s", fn, msp, role, peer, s.err)
	}
	if len(s.writes) != 0 || s.events != 0 {
		w.t.Fatalf("%s is a query but wrote %v", fn, s.writes)
	}
	w.stub.Commit() // the simulation's range reads belong to their own transaction
	if v != nil {
		if err := json.Unmarshal(s.payload, v); err != nil {
			w.t.Fatalf("%s: decoding %.300s: %v", fn, s.payload, err)
		}
	}
}

// errorIs reports whether err's text is want.
func errorIs(err error, want string) bool { return err != nil && err.Error() == want }
