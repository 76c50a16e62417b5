package validator

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/policy"
	"github.com/blossom-ledger/blossom/internal/protocol"
	"github.com/blossom-ledger/blossom/internal/protocol/pb"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
	"github.com/blossom-ledger/blossom/internal/txn"
)

const channel = "ch1"

// fixture is a three-member channel with one peer and one client each.
type fixture struct {
	t       testing.TB
	cons    *testpki.Consortium
	peers   map[string]*testpki.Credential
	clients map[string]*testpki.Credential
	cfg     *Config
	defs    *staticDefs
	state   *memState
	now     time.Time
}

func newFixture(t testing.TB) *fixture {
	cons := testpki.NewConsortium(t, "Org1MSP", "Org2MSP", "Org3MSP")
	f := &fixture{t: t, cons: cons, peers: map[string]*testpki.Credential{}, clients: map[string]*testpki.Credential{},
		defs: &staticDefs{policies: map[string]*pb.Policy{}}, state: newMemState(), now: time.Now()}
	for _, m := range cons.Members() {
		f.peers[m.ID] = m.Issue(pki.RolePeer, "peer0", nil)
		f.clients[m.ID] = m.Issue(pki.RoleClient, "user1", nil)
	}
	f.defs.policies["kv"] = policy.ImplicitMeta(pb.ImplicitMetaPolicy_MAJORITY, "Endorsement")
	f.defs.collections = map[string]*pb.Policy{"kv/_implicit_org_Org1MSP": policy.Signature(policy.SignedBy("Org1MSP", "peer"))}
	f.refreshConfig()
	return f
}

func (f *fixture) refreshConfig() {
	f.cfg = &Config{
		ChannelID:  channel,
		Identities: f.cons.Manager(),
		Members:    []string{"Org1MSP", "Org2MSP", "Org3MSP"},
		Writers:    policy.ImplicitMeta(pb.ImplicitMetaPolicy_ANY, "Writers"),
	}
}

// tx builds an endorsed transaction by creator with the given rwset,
// endorsed by the named members' peers.
func (f *fixture) tx(creator *testpki.Credential, rwset *pb.TxReadWriteSet, endorsers ...string) []byte {
	f.t.Helper()
	prop, err := txn.NewProposal(creator.Signer, txn.Request{ChannelID: channel, Chaincode: "kv", Function: "kv:Put", Time: f.now})
	if err != nil {
		f.t.Fatal(err)
	}
	var responses []*pb.ProposalResponse
	for _, msp := range endorsers {
		r, err := txn.Endorse(f.peers[msp].Signer, prop.ProposalHash, &pb.Response{Status: 200}, rwset, &pb.ChaincodeEvents{})
		if err != nil {
			f.t.Fatal(err)
		}
		responses = append(responses, r)
	}
	env, err := txn.Assemble(creator.Signer, prop, responses)
	if err != nil {
		f.t.Fatal(err)
	}
	return env
}

func (f *fixture) block(envs ...[]byte) *pb.Block {
	data := &pb.BlockData{Envelopes: envs}
	return &pb.Block{
		Header: &pb.BlockHeader{Number: 5, DataHash: protocol.BlockDataHash(data), TimestampUnixNano: f.now.UnixNano()},
		Data:   data,
	}
}

func (f *fixture) validate(envs ...[]byte) []TxResult {
	f.t.Helper()
	res, err := New(4).Validate(f.block(envs...), f.cfg, f.defs, f.state)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func write(key, value string) *pb.TxReadWriteSet {
	return &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "kv", Writes: []*pb.KVWrite{{Key: key, Value: []byte(value)}}}}}
}

func readWrite(key string, v *pb.Version) *pb.TxReadWriteSet {
	rw := write(key, "new")
	rw.NsRwsets[0].Reads = []*pb.KVRead{{Key: key, Version: v}}
	return rw
}

func codes(res []TxResult) []pb.TxValidationCode {
	out := make([]pb.TxValidationCode, len(res))
	for i, r := range res {
		out[i] = r.Code
	}
	return out
}

func expect(t *testing.T, res []TxResult, want ...pb.TxValidationCode) {
	t.Helper()
	got := codes(res)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		for _, r := range res {
			t.Logf("%v: %s", r.Code, r.Reason)
		}
		t.Fatalf("codes = %v, want %v", got, want)
	}
}

func TestValidTransaction(t *testing.T) {
	f := newFixture(t)
	res := f.validate(f.tx(f.clients["Org1MSP"], write("a", "1"), "Org1MSP", "Org2MSP"))
	expect(t, res, pb.TxValidationCode_VALID)
	if res[0].RWSet == nil || res[0].TxID == "" || res[0].Invocation.Function != "kv:Put" {
		t.Fatalf("valid result lacks its effects: %+v", res[0])
	}
}

func TestEndorsementPolicy(t *testing.T) {
	f := newFixture(t)
	noWrites := &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "kv", Reads: []*pb.KVRead{{Key: "a"}}}}}
	private := &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "kv", CollectionHashedRwsets: []*pb.CollectionHashedReadWriteSet{{
		Collection: "_implicit_org_Org1MSP", HashedWrites: []*pb.KVWriteHash{{KeyHash: []byte("k"), ValueHash: []byte("v")}},
	}}}}}
	tests := []struct {
		name      string
		rwset     *pb.TxReadWriteSet
		endorsers []string
		want      pb.TxValidationCode
	}{
		{"one of three under MAJORITY", write("a", "1"), []string{"Org1MSP"}, pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"same member twice", write("a", "1"), []string{"Org1MSP", "Org1MSP"}, pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"three of three", write("a", "1"), []string{"Org1MSP", "Org2MSP", "Org3MSP"}, pb.TxValidationCode_VALID},
		{"no writes uses chaincode policy", noWrites, []string{"Org3MSP"}, pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"no writes with majority", noWrites, []string{"Org3MSP", "Org2MSP"}, pb.TxValidationCode_VALID},
		{"collection policy alone: owner", private, []string{"Org1MSP"}, pb.TxValidationCode_VALID},
		{"collection policy alone: majority without owner", private, []string{"Org2MSP", "Org3MSP"}, pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, f.validate(f.tx(f.clients["Org2MSP"], tt.rwset, tt.endorsers...)), tt.want)
		})
	}
}

func TestUnknownChaincodeFailsPolicy(t *testing.T) {
	f := newFixture(t)
	rw := &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "other", Writes: []*pb.KVWrite{{Key: "a"}}}}}
	expect(t, f.validate(f.tx(f.clients["Org1MSP"], rw, "Org1MSP", "Org2MSP")), pb.TxValidationCode_ENDORSEMENT_POLICY_FAILURE)
}

// mutateEnvelope decodes an envelope, lets fn change it and re-encodes it
// (without re-signing).
func mutateEnvelope(t *testing.T, env []byte, fn func(env *pb.Envelope, payload *pb.Payload, tx *pb.EndorsedTransaction)) []byte {
	t.Helper()
	e, payload, _, err := protocol.OpenEnvelope(env, 0)
	if err != nil {
		t.Fatal(err)
	}
	tx := new(pb.EndorsedTransaction)
	if err := protocol.Unmarshal(payload.Data, tx, 0); err != nil {
		t.Fatal(err)
	}
	fn(e, payload, tx)
	payload.Data = protocol.MustMarshal(tx)
	if e.Payload == nil {
		return protocol.MustMarshal(e)
	}
	e.Payload = protocol.MustMarshal(payload)
	return protocol.MustMarshal(e)
}

func TestSignaturesAndCreators(t *testing.T) {
	f := newFixture(t)
	org1 := f.cons.Member("Org1MSP")
	revoked := org1.Issue(pki.RoleClient, "revoked-user", nil)
	org1.Revoke(revoked.Cert)
	expired := org1.Issue(pki.RoleClient, "old-user", nil, testpki.Options{Now: f.now.Add(-48 * time.Hour), Validity: time.Hour})
	outsider := testpki.NewConsortium(t, "EvilMSP").Member("EvilMSP").Issue(pki.RoleClient, "mallory", nil)
	f.refreshConfig() // picks up the CRL

	forged := mutateEnvelope(t, f.tx(f.clients["Org1MSP"], write("a", "1"), "Org1MSP", "Org2MSP"), func(_ *pb.Envelope, _ *pb.Payload, tx *pb.EndorsedTransaction) {
		tx.Endorsements[1].Signature = append([]byte(nil), tx.Endorsements[0].Signature...)
	})
	// Re-sign the forged envelope as the creator, so only the endorsement is bad.
	forged = resign(t, forged, f.clients["Org1MSP"])
	badCreatorSig := func() []byte {
		env := f.tx(f.clients["Org1MSP"], write("a", "1"), "Org1MSP", "Org2MSP")
		e := new(pb.Envelope)
		if err := protocol.Unmarshal(env, e, 0); err != nil {
			t.Fatal(err)
		}
		e.Signature[len(e.Signature)-1] ^= 1
		return protocol.MustMarshal(e)
	}()
	swappedInvocation := resign(t, mutateEnvelope(t, f.tx(f.clients["Org1MSP"], write("a", "1"), "Org1MSP", "Org2MSP"), func(_ *pb.Envelope, _ *pb.Payload, tx *pb.EndorsedTransaction) {
		tx.Invocation = protocol.MustMarshal(&pb.ChaincodeInvocation{Chaincode: "kv", Function: "kv:Other"})
	}), f.clients["Org1MSP"])

	tests := []struct {
		name string
		env  []byte
		want pb.TxValidationCode
	}{
		{"forged endorsement", forged, pb.TxValidationCode_BAD_SIGNATURE},
		{"creator signature altered", badCreatorSig, pb.TxValidationCode_BAD_CREATOR_SIGNATURE},
		{"revoked creator", f.tx(revoked, write("a", "1"), "Org1MSP", "Org2MSP"), pb.TxValidationCode_BAD_CREATOR},
		{"expired creator", f.tx(expired, write("a", "1"), "Org1MSP", "Org2MSP"), pb.TxValidationCode_BAD_CREATOR},
		{"non-member creator", f.tx(outsider, write("a", "1"), "Org1MSP", "Org2MSP"), pb.TxValidationCode_BAD_CREATOR},
		{"invocation swapped after endorsement", swappedInvocation, pb.TxValidationCode_BAD_RESPONSE_PAYLOAD},
		{"garbage", []byte{0x0a, 0xff, 0xff}, pb.TxValidationCode_BAD_PAYLOAD},
		{"empty", nil, pb.TxValidationCode_NIL_ENVELOPE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, f.validate(tt.env), tt.want)
		})
	}
}

func TestExpiryUsesBlockTime(t *testing.T) {
	f := newFixture(t)
	short := f.cons.Member("Org1MSP").Issue(pki.RoleClient, "short", nil, testpki.Options{Now: f.now, Validity: time.Hour})
	env := f.tx(short, write("a", "1"), "Org1MSP", "Org2MSP")
	expect(t, f.validate(env), pb.TxValidationCode_VALID)
	f.now = f.now.Add(2 * time.Hour) // the block is cut after the certificate expired
	expect(t, f.validate(env), pb.TxValidationCode_BAD_CREATOR)
}

func resign(t *testing.T, env []byte, signer *testpki.Credential) []byte {
	t.Helper()
	e := new(pb.Envelope)
	if err := protocol.Unmarshal(env, e, 0); err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Signer.Sign(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	e.Signature = sig
	return protocol.MustMarshal(e)
}

func TestWrongChannel(t *testing.T) {
	f := newFixture(t)
	env := f.tx(f.clients["Org1MSP"], write("a", "1"), "Org1MSP", "Org2MSP")
	f.cfg.ChannelID = "other"
	expect(t, f.validate(env), pb.TxValidationCode_TARGET_CHAIN_NOT_FOUND)
}

func TestDuplicates(t *testing.T) {
	f := newFixture(t)
	env := f.tx(f.clients["Org1MSP"], write("a", "1"), "Org1MSP", "Org2MSP")
	expect(t, f.validate(env, env), pb.TxValidationCode_VALID, pb.TxValidationCode_DUPLICATE_TXID)
	res := f.validate(env)
	f.state.txIDs[res[0].TxID] = true
	expect(t, f.validate(env), pb.TxValidationCode_DUPLICATE_TXID)
}

func TestMVCC(t *testing.T) {
	f := newFixture(t)
	f.state.put("kv", "a", &pb.Version{Block: 1, Tx: 0})
	f.state.put("kv", "r1", &pb.Version{Block: 1, Tx: 1})
	f.state.put("kv", "r3", &pb.Version{Block: 1, Tx: 2})
	c := f.clients["Org1MSP"]
	current := &pb.Version{Block: 1, Tx: 0}
	stale := &pb.Version{Block: 0, Tx: 3}

	rangeRead := func(exhausted bool, reads ...*pb.KVRead) *pb.TxReadWriteSet {
		return &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "kv",
			RangeQueries: []*pb.RangeQueryInfo{{StartKey: "r", EndKey: "s", ItrExhausted: exhausted, Reads: reads}},
			Writes:       []*pb.KVWrite{{Key: "out", Value: []byte("x")}}}}}
	}
	fullRange := []*pb.KVRead{{Key: "r1", Version: &pb.Version{Block: 1, Tx: 1}}, {Key: "r3", Version: &pb.Version{Block: 1, Tx: 2}}}

	t.Run("read and write same key in one block", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, readWrite("a", current), "Org1MSP", "Org2MSP"), f.tx(c, readWrite("a", current), "Org1MSP", "Org2MSP")),
			pb.TxValidationCode_VALID, pb.TxValidationCode_MVCC_READ_CONFLICT)
	})
	t.Run("stale read", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, readWrite("a", stale), "Org1MSP", "Org2MSP")), pb.TxValidationCode_MVCC_READ_CONFLICT)
	})
	t.Run("read of absent key that now exists", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, readWrite("a", nil), "Org1MSP", "Org2MSP")), pb.TxValidationCode_MVCC_READ_CONFLICT)
	})
	t.Run("invalid transaction's writes do not conflict", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, readWrite("a", stale), "Org1MSP", "Org2MSP"), f.tx(c, readWrite("a", current), "Org1MSP", "Org2MSP")),
			pb.TxValidationCode_MVCC_READ_CONFLICT, pb.TxValidationCode_VALID)
	})
	t.Run("range unchanged", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, rangeRead(true, fullRange...), "Org1MSP", "Org2MSP")), pb.TxValidationCode_VALID)
	})
	t.Run("range missing a committed key", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, rangeRead(true, fullRange[0]), "Org1MSP", "Org2MSP")), pb.TxValidationCode_PHANTOM_READ_CONFLICT)
	})
	t.Run("range stopped early ignores later keys", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, rangeRead(false, fullRange[0]), "Org1MSP", "Org2MSP")), pb.TxValidationCode_VALID)
	})
	t.Run("range with a key inserted earlier in the block", func(t *testing.T) {
		expect(t, f.validate(f.tx(c, write("r2", "x"), "Org1MSP", "Org2MSP"), f.tx(c, rangeRead(true, fullRange...), "Org1MSP", "Org2MSP")),
			pb.TxValidationCode_VALID, pb.TxValidationCode_PHANTOM_READ_CONFLICT)
	})
}

// BenchmarkValidateBlock measures block validation throughput (500
// transactions, creator signature + 2 endorsements each) against the ECDSA
// P-256 verification ceiling. The two are paired: each iteration verifies
// 3×500 raw signatures on every CPU, then validates the block, so outside
// load on this shared machine hits both alike.
func BenchmarkValidateBlock(b *testing.B) {
	f := newFixture(b)
	const n = 500
	envs := make([][]byte, n)
	for i := range envs {
		envs[i] = f.tx(f.clients["Org1MSP"], write(fmt.Sprintf("k%d", i), "0123456789"), "Org1MSP", "Org2MSP")
	}
	block := f.block(envs...)
	v := New(0)
	// Warm the identity cache as a running peer would be.
	if _, err := v.Validate(block, f.cfg, f.defs, f.state); err != nil {
		b.Fatal(err)
	}
	var rawTime, validateTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rawTime += verifyInParallel(b, 3*n, v.workers)
		start := time.Now()
		res, err := v.Validate(block, f.cfg, f.defs, f.state)
		validateTime += time.Since(start)
		if err != nil || res[n-1].Code != pb.TxValidationCode_VALID {
			b.Fatalf("validate: %v %v", err, res[n-1].Reason)
		}
	}
	b.ReportMetric(float64(n*b.N)/validateTime.Seconds(), "tx/s")
	b.ReportMetric(float64(n*b.N)/rawTime.Seconds(), "ceiling-tx/s")
	b.ReportMetric(rawTime.Seconds()/validateTime.Seconds(), "fraction-of-ceiling")
}

// verifyInParallel times count raw ECDSA P-256 verifications (SHA-256 of a
// short message + VerifyASN1) spread over workers goroutines.
func verifyInParallel(b *testing.B, count, workers int) time.Duration {
	key, _ := ecdsaKey()
	msg := []byte("ceiling")
	digest := sha256.Sum256(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
	start := time.Now()
	done := make(chan bool)
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < count/workers; i++ {
				d := sha256.Sum256(msg)
				if !ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) {
					b.Error("verify failed")
				}
			}
			done <- true
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
	return time.Since(start)
}

func ecdsaKey() (*ecdsa.PrivateKey, error) {
	k, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		return nil, err
	}
	return k.(*ecdsa.PrivateKey), nil
}

// staticDefs is a fixed set of endorsement policies.
type staticDefs struct {
	policies    map[string]*pb.Policy
	collections map[string]*pb.Policy
}

func (d *staticDefs) EndorsementPolicy(ns string) (*pb.Policy, error) {
	if p, ok := d.policies[ns]; ok {
		return p, nil
	}
	return nil, ErrUnknownChaincode
}

func (d *staticDefs) CollectionPolicy(ns, coll string) (*pb.Policy, error) {
	if p, ok := d.collections[ns+"/"+coll]; ok {
		return p, nil
	}
	return nil, ErrUnknownChaincode
}

// memState is committed state as maps: enough to drive phase two.
type memState struct {
	versions map[string]map[string]*pb.Version
	txIDs    map[string]bool
}

func newMemState() *memState {
	return &memState{versions: map[string]map[string]*pb.Version{}, txIDs: map[string]bool{}}
}

func (s *memState) put(ns, key string, v *pb.Version) {
	if s.versions[ns] == nil {
		s.versions[ns] = map[string]*pb.Version{}
	}
	s.versions[ns][key] = v
}

func (s *memState) Version(ns, key string) (*pb.Version, error) { return s.versions[ns][key], nil }

func (s *memState) RangeVersions(ns, start, end string, limit int) ([]KeyVersion, error) {
	var out []KeyVersion
	for k, v := range s.versions[ns] {
		if k >= start && (end == "" || k < end) {
			out = append(out, KeyVersion{Key: k, Version: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *memState) HashedVersion(ns, coll string, keyHash []byte) (*pb.Version, error) {
	return nil, nil
}
func (s *memState) TxIDExists(txID string) (bool, error) { return s.txIDs[txID], nil }

var _ identity.Signer = (*identity.KeySigner)(nil)

func TestUnstorableWriteDoesNotConflict(t *testing.T) {
	f := newFixture(t)
	f.cfg.CheckWriteKey = func(ns, key string) error {
		if key == "bad" {
			return fmt.Errorf("key %q refused", key)
		}
		return nil
	}
	f.state.put("kv", "a", &pb.Version{Block: 1})
	refused := &pb.TxReadWriteSet{NsRwsets: []*pb.NsReadWriteSet{{Namespace: "kv", Writes: []*pb.KVWrite{{Key: "a", Value: []byte("x")}, {Key: "bad"}}}}}
	c := f.clients["Org1MSP"]
	res := f.validate(f.tx(c, refused, "Org1MSP", "Org2MSP"), f.tx(c, readWrite("a", &pb.Version{Block: 1}), "Org1MSP", "Org2MSP"))
	expect(t, res, pb.TxValidationCode_INVALID_WRITESET, pb.TxValidationCode_VALID)
}
