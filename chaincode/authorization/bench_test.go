package authorization

import (
	"fmt"
	"testing"
)

// BenchmarkTransactions measures typical transactions in a consortium of
// 1 + members accounts: each loads (and the vote functions store) the
// whole NGAC policy, whose size grows with the members.
func BenchmarkTransactions(b *testing.B) {
	for _, members := range []int{3, 30} {
		w := newWorld(b)
		agencies := make([]string, members)
		for i := range agencies {
			agencies[i] = fmt.Sprintf("Agency%dMSP", i+1)
		}
		w.consortium(agencies...)
		policy, _ := w.stub.State("policy")
		b.Run(fmt.Sprintf("members=%d/policy=%dB/GetAccountStatus", members, len(policy)), func(b *testing.B) {
			w.as(agency1)
			for b.Loop() {
				if _, err := w.stub.Invoke("account:GetAccountStatus"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("members=%d/GetATO", members), func(b *testing.B) {
			w.transient("memo", "m")
			w.ok(agency2, "ato:CreateATO")
			w.as(agency1)
			for b.Loop() {
				if _, err := w.stub.Invoke("ato:GetATO", agency2); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("members=%d/Vote", members), func(b *testing.B) {
			w.ok(agency1, "vote:InitiateVote", agency2, "AUTHORIZED", "")
			w.as(agency1)
			for b.Loop() {
				if _, err := w.stub.Invoke("vote:Vote", "true"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
