package authorization

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

func TestUpdateMOU(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(admin, "mou:UpdateMOU", "ngac policy has not been initialized", "text")
	w.refuseAs(agency1, "mou:GetMOU", "Blossom MOU has not yet been created")
	w.stub.SetTxTimestamp(ts1)
	w.ok(admin, "bootstrap:Bootstrap")
	w.refuseAs(agency1, "mou:GetMOU", "Blossom MOU has not yet been created")
	if got := w.ok(agency1, "mou:GetMOUHistory"); string(got) != "[]" {
		t.Fatalf("history before any MOU = %s", got)
	}

	for _, tc := range []struct {
		name, msp, role, want string
		args                  []string
	}{
		{"arguments", admin, ao, "wrong number of arguments: want 1, got 0", nil},
		{"role", admin, blossompolicy.RoleLicenseOwner, "unknown user role: License Owner", []string{"t"}},
		{"forged admin role at another member (R-01)", agency1, "Blossom Admin", "unknown user role: Blossom Admin", []string{"t"}},
		{"member without account", agency1, ao, "account Agency1MSP does not exist", []string{"t"}},
		{"empty text", admin, ao, "text cannot be null or empty", []string{""}},
		{"text too long", admin, ao, "text is 524289 bytes long (at most 524288)", []string{strings.Repeat("x", MaxMOUTextSize+1)}},
		{"text not UTF-8", admin, ao, "text is not valid UTF-8", []string{"\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.as(tc.msp, tc.role)
			w.refuse("mou:UpdateMOU", tc.want, tc.args...)
		})
	}

	// (none) -> v1 -> v2.
	w.ok(admin, "mou:UpdateMOU", "first <text> & \"quotes\"")
	w.requireEvent(EventUpdateMOU, "")
	requireJSON(t, w.ok(agency1, "mou:GetMOU"), MOU{Text: "first <text> & \"quotes\"", Version: 1, Timestamp: "2024-05-01T12:00:00Z"})
	w.stub.SetTxTimestamp(ts1.Add(24*time.Hour + 7*time.Millisecond))
	w.ok(admin, "mou:UpdateMOU", "second")
	requireJSON(t, w.ok(agency1, "mou:GetMOU"), MOU{Text: "second", Version: 2, Timestamp: "2024-05-02T12:00:00.007Z"})
	requireJSON(t, w.ok(agency1, "mou:GetMOUHistory"), []MOU{
		{Text: "second", Version: 2, Timestamp: "2024-05-02T12:00:00.007Z"},
		{Text: "first <text> & \"quotes\"", Version: 1, Timestamp: "2024-05-01T12:00:00Z"},
	})

	// Other members, even AUTHORIZED, may not update it.
	w.ok(agency1, "mou:SignMOU", "2")
	w.refuseAs(agency1, "mou:UpdateMOU", "cid is not authorized to update the Blossom MOU", "mine")
	w.setStatus(admin, agency1, blossompolicy.Authorized)
	w.refuseAs(agency1, "mou:UpdateMOU", "cid is not authorized to update the Blossom MOU", "mine")
	// The admin only while AUTHORIZED: a super-majority demotes it.
	w.ok(agency2, "mou:SignMOU", "2")
	w.setStatus(agency1, agency2, blossompolicy.Authorized)
	w.setStatus(agency1, admin, blossompolicy.Pending)
	w.refuseAs(admin, "mou:UpdateMOU", "cid is not authorized to update the Blossom MOU", "third")
}

func TestSignMOU(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(agency1, "mou:SignMOU", "ngac policy has not been initialized", "1")
	w.ok(admin, "bootstrap:Bootstrap")
	// No MOU yet: refused, and the policy side effect is not kept.
	w.refuseAs(agency1, "mou:SignMOU", "Blossom MOU has not yet been created", "1")
	if w.policy().HasAccount(agency1) {
		t.Fatal("refused SignMOU created policy nodes")
	}
	w.ok(admin, "mou:UpdateMOU", "v1")

	for _, tc := range []struct {
		name, role, want string
		args             []string
	}{
		{"arguments", ao, "wrong number of arguments: want 1, got 2", []string{"1", "2"}},
		{"not an integer", ao, "version must be an integer", []string{"one"}},
		{"overflow", ao, "version must be an integer", []string{"99999999999999999999"}},
		{"role", blossompolicy.RoleTechnicalPointOfContact, "unknown user role: Technical Point of Contact", []string{"1"}},
		{"no role", noRole, "unknown user role: (missing blossom.role attribute)", []string{"1"}},
		{"older version", ao, "signing MOU version 0, expected version 1", []string{"0"}},
		{"future version", ao, "signing MOU version 2, expected version 1", []string{"2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.as(agency1, tc.role)
			w.refuse("mou:SignMOU", tc.want, tc.args...)
		})
	}

	// A2: a member without account signs: PENDING, mouVersion 1, not joined.
	w.ok(agency1, "mou:SignMOU", "1")
	w.requireEvent(EventSignMOU, `{"account":"Agency1MSP","version":1}`)
	if got := w.account(agency1); got != (Account{ID: agency1, Status: blossompolicy.Pending, MOUVersion: 1}) {
		t.Fatalf("account = %+v", got)
	}
	w.requireStatus(agency1, blossompolicy.Pending)
	w.refuseAs(agency1, "mou:SignMOU", "Agency1MSP has already signed MOU version 1", "1")

	// A3: re-signing a new version keeps status and joined; the admin's 0 becomes the version.
	w.setStatus(admin, agency1, blossompolicy.Authorized)
	w.ok(agency1, "account:Join")
	w.ok(admin, "mou:UpdateMOU", "v2")
	w.refuseAs(agency1, "mou:SignMOU", "signing MOU version 1, expected version 2", "1")
	policyBefore, _ := w.stub.State(blossompolicy.PolicyKey)
	w.ok(agency1, "mou:SignMOU", "2")
	if got := w.account(agency1); got != (Account{ID: agency1, Status: blossompolicy.Authorized, MOUVersion: 2, Joined: true}) {
		t.Fatalf("account after re-signing = %+v", got)
	}
	for _, wr := range w.stub.Writes() {
		if wr.Key == blossompolicy.PolicyKey {
			t.Fatal("re-signing rewrote the unchanged policy")
		}
	}
	if policyAfter, _ := w.stub.State(blossompolicy.PolicyKey); string(policyAfter) != string(policyBefore) {
		t.Fatal("policy changed")
	}
	w.ok(admin, "mou:SignMOU", "2")
	w.requireEvent(EventSignMOU, `{"account":"SAMSMSP","version":2}`)
	if got := w.account(admin); got != (Account{ID: admin, Status: blossompolicy.Authorized, MOUVersion: 2, Joined: true}) {
		t.Fatalf("admin account = %+v", got)
	}

	var hist []MOU
	if err := json.Unmarshal(w.ok(agency9, "mou:GetMOUHistory"), &hist); err != nil || len(hist) != 2 || hist[0].Version != 2 {
		t.Fatalf("history = %+v, %v", hist, err)
	}
}
