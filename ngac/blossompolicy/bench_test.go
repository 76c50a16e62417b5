package blossompolicy

import "testing"

// benchDecisions are the checks a transaction makes, on a consortium of 20
// accounts.
var benchDecisions = []struct {
	caller, right, object string
}{
	{"Agency4MSP", RightVote, VoteTarget("Agency2MSP")},
	{"Agency1MSP", RightCertifyVote, VoteTarget("Agency2MSP")},
	{"Agency3MSP", RightReadATO, AccountTarget("Agency7MSP")},
	{admin, RightUpdateMOU, BlossomTarget},
	{"Agency5MSP", RightInitiateVote, AccountTarget("Agency19MSP")},
}

// BenchmarkAuthorizationDecide: one decision on the full policy of 20
// member accounts (it runs inside every authorization transaction).
func BenchmarkAuthorizationDecide(b *testing.B) {
	p, _ := consortium(b, 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := benchDecisions[i%len(benchDecisions)]
		if _, err := p.Decide(ao(d.caller), d.right, d.object); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizationLoadAndDecide: what a transaction does, decoding the
// stored policy and deciding once.
func BenchmarkAuthorizationLoadAndDecide(b *testing.B) {
	p, _ := consortium(b, 20)
	data := mustEncode(b, p)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q, err := LoadAuthorizationPolicy(admin, data)
		if err != nil {
			b.Fatal(err)
		}
		d := benchDecisions[i%len(benchDecisions)]
		if _, err := q.Decide(ao(d.caller), d.right, d.object); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizationSignMOUAndEncode: an admin operation, changing the
// policy and encoding it for the ledger.
func BenchmarkAuthorizationSignMOUAndEncode(b *testing.B) {
	p, _ := consortium(b, 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := &AuthorizationPolicy{adminMSP: p.adminMSP, g: p.g.Clone()}
		if _, err := q.SignMOU("NewAgencyMSP"); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssetDecideAccount: the asset chaincode builds its policy and
// decides on every call.
func BenchmarkAssetDecideAccount(b *testing.B) {
	p := mustAssetPolicy(b)
	c := AssetCaller{MSPID: admin, Role: RoleAcquisitionOfficer, Status: Authorized}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if ok, err := p.DecideAccount(c, ro, RightReadOrder); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
