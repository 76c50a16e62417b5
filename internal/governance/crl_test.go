package governance_test

import (
	"bytes"
	"testing"

	"github.com/blossom-ledger/blossom/internal/governance"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

func TestMergeCRLs(t *testing.T) {
	c := testpki.NewConsortium(t, "AMSP", "BMSP")
	a, b := c.Member("AMSP"), c.Member("BMSP")
	a.Revoke(a.Issue(pki.RoleClient, "u1", nil).Cert)
	aOld := a.CRL().Raw
	a.Revoke(a.Issue(pki.RoleClient, "u2", nil).Cert)
	aNew := a.CRL().Raw
	b.Revoke(b.Issue(pki.RoleClient, "u3", nil).Cert)
	bCRL := b.CRL().Raw
	tests := []struct {
		name           string
		current, fresh [][]byte
		want           [][]byte
		ok             bool
	}{
		{"replaces the same issuer's CRL", [][]byte{aOld, bCRL}, [][]byte{aNew}, [][]byte{bCRL, aNew}, true},
		{"adds a first CRL", nil, [][]byte{aNew}, [][]byte{aNew}, true},
		{"keeps an undecodable current CRL", [][]byte{[]byte("junk")}, [][]byte{aNew}, [][]byte{[]byte("junk"), aNew}, true},
		{"refuses an undecodable fresh CRL", [][]byte{aOld}, [][]byte{[]byte("junk")}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := governance.MergeCRLs(tc.current, tc.fresh)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d CRLs, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Fatalf("CRL %d differs", i)
				}
			}
		})
	}
}
