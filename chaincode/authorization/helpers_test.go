package authorization

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
	"github.com/blossom-ledger/blossom/sdk/contract/contracttest"
)

const (
	admin   = "SAMSMSP"
	agency1 = "Agency1MSP"
	agency2 = "Agency2MSP"
	agency3 = "Agency3MSP"
	agency9 = "Agency9MSP" // never signs the MOU
	ao      = blossompolicy.RoleAuthorizingOfficial
	noRole  = "\x00no role" // as(): a certificate without blossom.role
)

// members are the MSPs whose ATO collections snapshot() inspects.
var members = []string{admin, agency1, agency2, agency3, agency9}

// certs caches test certificates by MSP and role (key generation is the
// slow part of setting a creator).
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
	der, err := contracttest.NewCertificate(msp, "user-"+msp, attrs)
	if err != nil {
		t.Fatal(err)
	}
	certs.Store(key, der)
	return der
}

// world is a contracttest world running the authorization chaincode with
// adminMSP = SAMSMSP.
type world struct {
	t    testing.TB
	stub *contracttest.Stub
	cc   contract.Chaincode
}

func newWorld(t testing.TB) *world {
	cc := New()
	stub := contracttest.NewStub(ChaincodeName, cc)
	stub.SetDefinitionParams(map[string]string{AdminMSPParam: admin})
	return &world{t: t, stub: stub, cc: cc}
}

// as makes the following transactions come from msp with role (default:
// Authorizing Official).
func (w *world) as(msp string, role ...string) {
	r := ao
	if len(role) > 0 {
		r = role[0]
	}
	w.stub.SetCreator(msp, certFor(w.t, msp, r))
}

// transient sets the transient map from alternating keys and values.
func (w *world) transient(kv ...string) {
	m := map[string][]byte{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = []byte(kv[i+1])
	}
	w.stub.SetTransient(m)
}

// ok runs a transaction as msp's Authorizing Official and requires success.
func (w *world) ok(msp, fn string, args ...string) []byte {
	w.t.Helper()
	w.as(msp)
	out, err := w.stub.Invoke(fn, args...)
	if err != nil {
		w.t.Fatalf("%s as %s%q: %v", fn, msp, args, err)
	}
	return out
}

// query runs a transaction as msp's Authorizing Official and returns its
// payload and error.
func (w *world) query(msp, fn string, args ...string) ([]byte, error) {
	w.as(msp)
	return w.stub.Invoke(fn, args...)
}

// state is everything the chaincode may have changed: public keys and the
// ATO of every member.
type state map[string]string

func (w *world) snapshot() state {
	s := state{}
	for _, k := range w.stub.StateKeys() {
		v, _ := w.stub.State(k)
		s["public "+k] = string(v)
	}
	for _, m := range members {
		if v, ok := w.stub.PrivateData(ImplicitCollection(m), atoKey(m)); ok {
			s["private "+m] = string(v)
		}
	}
	return s
}

// refuse calls fn directly (so that a write made before the failing check
// would stay visible) with the current creator and requires the error
// want, exactly, with no write, no event and no state change.
func (w *world) refuse(fn, want string, args ...string) {
	w.t.Helper()
	w.stub.Commit() // start from an empty pending transaction
	before := w.snapshot()
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	_, err := w.cc.Invoke(w.stub, fn, b)
	if err == nil {
		w.t.Fatalf("%s%q succeeded, want error %q", fn, args, want)
	}
	if err.Error() != want {
		w.t.Fatalf("%s%q error:\n got %q\nwant %q", fn, args, err.Error(), want)
	}
	if ws, pws, evs := w.stub.Writes(), w.stub.PrivateWrites(), w.stub.Events(); len(ws)+len(pws)+len(evs) != 0 {
		w.t.Fatalf("%s%q failed but left writes %v, private writes %v, events %v", fn, args, ws, pws, evs)
	}
	w.stub.Commit()
	if after := w.snapshot(); !maps.Equal(before, after) {
		w.t.Fatalf("%s%q failed but changed the state", fn, args)
	}
}

// refuseAs is refuse with msp's creator of role (default AO).
func (w *world) refuseAs(msp, fn, want string, args ...string) {
	w.t.Helper()
	w.as(msp)
	w.refuse(fn, want, args...)
}

// account returns a member's stored account.
func (w *world) account(m string) Account {
	w.t.Helper()
	v, ok := w.stub.State(accountKey(m))
	if !ok {
		w.t.Fatalf("no account %s", m)
	}
	a, err := decodeAccount(accountKey(m), v)
	if err != nil {
		w.t.Fatal(err)
	}
	return *a
}

// policy returns the stored policy.
func (w *world) policy() *blossompolicy.AuthorizationPolicy {
	w.t.Helper()
	v, ok := w.stub.State(blossompolicy.PolicyKey)
	if !ok {
		w.t.Fatal("no policy")
	}
	p, err := blossompolicy.LoadAuthorizationPolicy(admin, v)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// requireStatus checks a member's status in the account and the policy.
func (w *world) requireStatus(m string, want Status) {
	w.t.Helper()
	if got := w.account(m).Status; got != want {
		w.t.Fatalf("account %s status = %s, want %s", m, got, want)
	}
	if got, err := w.policy().AccountStatus(m); err != nil || got != want {
		w.t.Fatalf("policy status of %s = %s, %v; want %s", m, got, err, want)
	}
	if got, err := w.query(m, "account:GetAccountStatus"); err != nil || string(got) != string(want) {
		w.t.Fatalf("GetAccountStatus as %s = %q, %v; want %s", m, got, err, want)
	}
}

// ongoing returns the ongoing vote.
func (w *world) ongoing() Vote {
	w.t.Helper()
	out := w.ok(admin, "vote:GetOngoingVote")
	var v Vote
	if err := json.Unmarshal(out, &v); err != nil {
		w.t.Fatal(err)
	}
	return v
}

// event returns the single event of the last transaction.
func (w *world) event() contracttest.Event {
	w.t.Helper()
	evs := w.stub.Events()
	if len(evs) != 1 {
		w.t.Fatalf("events = %v, want one", evs)
	}
	return evs[0]
}

func (w *world) requireEvent(name, payload string) {
	w.t.Helper()
	ev := w.event()
	if ev.Name != name || string(ev.Payload) != payload {
		w.t.Fatalf("event = %s %s, want %s %s", ev.Name, ev.Payload, name, payload)
	}
}

// bootstrap runs Bootstrap and publishes MOU version 1.
func (w *world) bootstrap() {
	w.t.Helper()
	w.ok(admin, "bootstrap:Bootstrap")
	w.ok(admin, "mou:UpdateMOU", "MOU v1")
}

// runVote initiates a vote, casts ballots (in voter order, then certifies as
// the initiator and returns whether it passed.
func (w *world) runVote(initiator, target string, status Status, ballots map[string]bool) bool {
	w.t.Helper()
	w.ok(initiator, "vote:InitiateVote", target, string(status), "because")
	for _, m := range slices.Sorted(maps.Keys(ballots)) {
		w.ok(m, "vote:Vote", fmt.Sprint(ballots[m]))
	}
	return string(w.ok(initiator, "vote:CertifyOngoingVote")) == "true"
}

// setStatus runs a vote on target that every voter approves.
func (w *world) setStatus(initiator, target string, status Status) {
	w.t.Helper()
	w.ok(initiator, "vote:InitiateVote", target, string(status), "")
	for _, m := range w.ongoing().Voters {
		w.ok(m, "vote:Vote", "true")
	}
	if got := w.ok(initiator, "vote:CertifyOngoingVote"); string(got) != "true" {
		w.t.Fatalf("vote on %s did not pass", target)
	}
	w.requireStatus(target, status)
}

// consortium bootstraps, then makes each agency sign the MOU and be voted
// AUTHORIZED.
func (w *world) consortium(agencies ...string) {
	w.t.Helper()
	w.bootstrap()
	for _, a := range agencies {
		w.ok(a, "mou:SignMOU", "1")
		w.setStatus(admin, a, blossompolicy.Authorized)
	}
}

// seed writes committed state directly, bypassing the chaincode: the
// policy and the accounts of statuses, for states the public API cannot
// reach (spec §3.1 invariant, R-14).
func (w *world) seed(statuses map[string]Status) {
	w.t.Helper()
	pol, err := blossompolicy.NewAuthorizationPolicy(admin)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, m := range slices.Sorted(maps.Keys(statuses)) {
		if _, err := pol.SignMOU(m); err != nil {
			w.t.Fatal(err)
		}
		if err := pol.UpdateAccountStatus(m, statuses[m]); err != nil {
			w.t.Fatal(err)
		}
		b, _ := contract.CanonicalJSON(Account{ID: m, Status: statuses[m], MOUVersion: 1, Joined: m == admin})
		w.stub.SetState(accountKey(m), b)
	}
	data, err := pol.Encode()
	if err != nil {
		w.t.Fatal(err)
	}
	w.stub.SetState(blossompolicy.PolicyKey, data)
	mou, _ := contract.CanonicalJSON(MOU{Text: "seeded", Version: 1, Timestamp: formatInstant(contracttest.DefaultTimestamp)})
	w.stub.SetState(mouKey, mou)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := contract.CanonicalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func requireJSON(t testing.TB, got []byte, want any) {
	t.Helper()
	if w := mustJSON(t, want); !bytes.Equal(got, []byte(w)) {
		t.Fatalf("got  %s\nwant %s", got, w)
	}
}

var ts1 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
