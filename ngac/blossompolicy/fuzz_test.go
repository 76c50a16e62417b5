package blossompolicy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/blossom-ledger/blossom/ngac"
)

// FuzzLoadAuthorizationPolicy: loading whatever the ledger holds never
// panics; an accepted policy re-encodes to the same bytes and answers
// decisions and operations with results or errors, never panics.
func FuzzLoadAuthorizationPolicy(f *testing.F) {
	p, _ := consortium(f, 4)
	f.Add(mustEncode(f, p))
	f.Add(mustEncode(f, mustBootstrap(f)))
	g, err := StaticAuthorizationGraph(admin)
	if err != nil {
		f.Fatal(err)
	}
	static, err := g.Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(static)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := LoadAuthorizationPolicy(admin, data)
		if err != nil {
			return
		}
		if enc := mustEncode(t, p); !bytes.Equal(enc, data) {
			t.Fatal("accepted policy re-encodes differently")
		}
		for _, c := range []string{admin, "Agency1MSP", "Agency2MSP", "Agency9MSP"} {
			for _, obj := range []string{BlossomTarget, AccountTarget(c), VoteTarget("Agency1MSP")} {
				for _, r := range AuthorizationPrivileges() {
					if _, err := p.Decide(ao(c), r, obj); err != nil &&
						!errors.Is(err, ErrNoAccount) && !errors.Is(err, ErrUnknownObject) {
						t.Fatalf("Decide(%s, %s, %s): %v", c, r, obj, err)
					}
				}
			}
		}
		// Operations may fail on a strange policy but must leave it intact.
		before := mustEncode(t, p)
		if _, err := p.SignMOU("Agency7MSP"); err != nil && !bytes.Equal(before, mustEncode(t, p)) {
			t.Fatal("failed SignMOU changed the policy")
		}
		before = mustEncode(t, p)
		if err := p.UpdateAccountStatus("Agency1MSP", Authorized); err != nil && !bytes.Equal(before, mustEncode(t, p)) {
			t.Fatal("failed UpdateAccountStatus changed the policy")
		}
		after, err := p.Encode()
		if errors.Is(err, ngac.ErrLimit) {
			return // the operations grew the policy past MaxEncodedSize
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadAuthorizationPolicy(admin, after); err != nil {
			t.Fatalf("policy after operations does not load: %v", err)
		}
	})
}
