package authorization

import (
	"strings"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

// requireATO checks the stored ATO of m in m's implicit collection.
func (w *world) requireATO(m string, want ATO) {
	w.t.Helper()
	got, ok := w.stub.PrivateData(ImplicitCollection(m), atoKey(m))
	if !ok {
		w.t.Fatalf("no ATO for %s", m)
	}
	if s := mustJSON(w.t, want); string(got) != s {
		w.t.Fatalf("ATO of %s:\n got %s\nwant %s", m, got, s)
	}
}

func TestATOLifecycle(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(agency1, "ato:CreateATO", "ngac policy has not been initialized")
	w.consortium(agency2)
	w.stub.SetTxTimestamp(ts1)
	w.ok(agency1, "mou:SignMOU", "1") // agency1 stays PENDING

	// CreateATO refusals.
	for _, tc := range []struct {
		name, msp, role, want string
		transient             []string
		args                  []string
	}{
		{"arguments", agency1, ao, "wrong number of arguments: want 0, got 1", nil, []string{agency2}},
		{"role", agency1, blossompolicy.RoleAcquisitionOfficer, "unknown user role: Acquisition Officer", nil, nil},
		{"never signed the MOU", agency9, ao, "account Agency9MSP does not exist", nil, nil},
		{"memo too long", agency1, ao, "memo is 131073 bytes long (at most 131072)", []string{"memo", strings.Repeat("m", MaxMemoSize+1)}, nil},
		{"artifacts not UTF-8", agency1, ao, "artifacts is not valid UTF-8", []string{"artifacts", "\xc3"}, nil},
	} {
		t.Run("CreateATO "+tc.name, func(t *testing.T) {
			w.transient(tc.transient...)
			w.as(tc.msp, tc.role)
			w.refuse("ato:CreateATO", tc.want, tc.args...)
		})
	}
	// UpdateATO and GetATO before any ATO.
	w.transient("memo", "m")
	w.refuseAs(agency1, "ato:UpdateATO", "Agency1MSP has not created an ATO yet")
	w.refuseAs(agency1, "ato:GetATO", "Agency1MSP has not created an ATO yet", agency1)
	w.refuseAs(agency2, "ato:GetATO", "Agency9MSP has not created an ATO yet", agency9)

	// (none) -> v1 by a PENDING member, into its own collection only.
	w.stub.SetTxID("ato-1")
	w.transient("memo", "memo 1", "artifacts", "https://example.org/ato-1")
	w.ok(agency1, "ato:CreateATO")
	w.requireEvent(EventCreateATO, `{"account":"Agency1MSP"}`)
	pws := w.stub.PrivateWrites()
	if len(pws) != 1 || pws[0].Collection != "_implicit_org_Agency1MSP" || pws[0].Key != "ato:Agency1MSP" || len(w.stub.Writes()) != 0 {
		t.Fatalf("CreateATO writes: public %v private %v", w.stub.Writes(), pws)
	}
	v1 := ATO{ID: "ato-1", CreationTimestamp: "2024-05-01T12:00:00Z", LastUpdatedTimestamp: "2024-05-01T12:00:00Z",
		Version: 1, Memo: "memo 1", Artifacts: "https://example.org/ato-1", Feedback: []Feedback{}}
	w.requireATO(agency1, v1)
	requireJSON(t, w.ok(agency1, "ato:GetATO", agency1), v1)
	requireJSON(t, w.ok(agency2, "ato:GetATO", agency1), v1) // AUTHORIZED reads any ATO
	requireJSON(t, w.ok(admin, "ato:GetATO", agency1), v1)

	// Reads by PENDING members of others' ATOs, and other refusals.
	w.stub.SetTxID("ato-2")
	w.transient("memo", "admin memo")
	w.ok(admin, "ato:CreateATO")
	w.refuseAs(agency1, "ato:GetATO", "cid is not authorized to read the ATO of account SAMSMSP", admin)
	w.refuseAs(agency1, "ato:GetATO", "Agency9MSP has not created an ATO yet", agency9)
	w.refuseAs(agency9, "ato:GetATO", "account Agency9MSP does not exist", agency1)
	w.as(agency2, blossompolicy.RoleLicenseOwner)
	w.refuse("ato:GetATO", "unknown user role: License Owner", agency1)
	w.refuseAs(agency2, "ato:GetATO", "Agency3MSP has not created an ATO yet", agency3)

	// Feedback on v1 by the owner and by an AUTHORIZED member.
	w.transient("targetAccountId", agency1, "atoVersion", "1", "comments", "own note")
	w.ok(agency1, "ato:SubmitFeedback")
	w.requireEvent(EventSubmitFeedback, `{"targetAccountId":"Agency1MSP","commenterAccountId":"Agency1MSP"}`)
	w.transient("targetAccountId", agency1, "atoVersion", "1", "comments", "please add the SSP")
	w.ok(agency2, "ato:SubmitFeedback")
	w.requireEvent(EventSubmitFeedback, `{"targetAccountId":"Agency1MSP","commenterAccountId":"Agency2MSP"}`)
	if pws := w.stub.PrivateWrites(); len(pws) != 1 || pws[0].Collection != "_implicit_org_Agency1MSP" {
		t.Fatalf("feedback written to %v, want the target's collection", pws)
	}
	fb := []Feedback{{ATOVersion: 1, AccountID: agency1, Comments: "own note"}, {ATOVersion: 1, AccountID: agency2, Comments: "please add the SSP"}}
	v1.Feedback = fb
	w.requireATO(agency1, v1)

	// v1 -> v2: empty fields keep their value, feedback survives.
	w.stub.SetTxID("ato-3")
	w.stub.SetTxTimestamp(ts1.Add(time.Hour))
	w.transient("artifacts", "https://example.org/ato-2")
	w.ok(agency1, "ato:UpdateATO")
	w.requireEvent(EventUpdateATO, `{"account":"Agency1MSP"}`)
	v2 := v1
	v2.Version, v2.LastUpdatedTimestamp, v2.Artifacts = 2, "2024-05-01T13:00:00Z", "https://example.org/ato-2"
	w.requireATO(agency1, v2)
	w.transient("memo", "memo 3")
	w.ok(agency1, "ato:UpdateATO")
	v3 := v2
	v3.Version, v3.Memo = 3, "memo 3"
	w.requireATO(agency1, v3)

	// Feedback only on the current version.
	w.transient("targetAccountId", agency1, "atoVersion", "2", "comments", "late")
	w.refuseAs(agency2, "ato:SubmitFeedback", "submitting feedback on incorrect ATO version: current version 3, got 2")

	// CreateATO again restarts at v1 with a new id and no feedback.
	w.stub.SetTxID("ato-4")
	w.transient()
	w.ok(agency1, "ato:CreateATO")
	w.requireATO(agency1, ATO{ID: "ato-4", CreationTimestamp: "2024-05-01T13:00:00Z", LastUpdatedTimestamp: "2024-05-01T13:00:00Z",
		Version: 1, Feedback: []Feedback{}})
	// Every ATO stays in its owner's collection only.
	if _, ok := w.stub.PrivateData(ImplicitCollection(admin), atoKey(agency1)); ok {
		t.Fatal("Agency1's ATO stored in the admin's collection")
	}
}

func TestSubmitFeedbackChecks(t *testing.T) {
	w := newWorld(t)
	w.consortium(agency2)
	w.ok(agency1, "mou:SignMOU", "1") // PENDING
	w.ok(agency3, "mou:SignMOU", "1") // PENDING, no ATO
	w.transient("memo", "a")
	w.ok(agency1, "ato:CreateATO")
	w.ok(admin, "ato:CreateATO")

	for _, tc := range []struct {
		name, msp, role, want string
		transient             []string
	}{
		// Field checks, in order.
		{"all missing", agency2, ao, "targetAccountId cannot be null or empty", nil},
		{"target empty", agency2, ao, "targetAccountId cannot be null or empty", []string{"targetAccountId", "", "atoVersion", "x", "comments", ""}},
		{"version missing", agency2, ao, "atoVersion cannot be null or empty", []string{"targetAccountId", agency1, "comments", ""}},
		{"comments empty", agency2, ao, "comments cannot be null or empty", []string{"targetAccountId", agency1, "atoVersion", "x", "comments", ""}},
		{"version not an integer (R-32)", agency2, ao, "atoVersion must be an integer", []string{"targetAccountId", agency1, "atoVersion", "1.0", "comments", "c"}},
		{"bad target id", agency2, ao, `invalid targetAccountId "Agency 1": an account id has 1 to 128 ASCII letters, digits, '.', '-' or '_'`, []string{"targetAccountId", "Agency 1", "atoVersion", "1", "comments", "c"}},
		{"comments too long", agency2, ao, "comments is 16385 bytes long (at most 16384)", []string{"targetAccountId", agency1, "atoVersion", "1", "comments", strings.Repeat("c", MaxCommentsSize+1)}},
		// Then the checks of GetATO(target).
		{"role", agency2, blossompolicy.RoleTechnicalPointOfContact, "unknown user role: Technical Point of Contact", []string{"targetAccountId", agency1, "atoVersion", "1", "comments", "c"}},
		{"caller without account", agency9, ao, "account Agency9MSP does not exist", []string{"targetAccountId", agency1, "atoVersion", "1", "comments", "c"}},
		{"PENDING member on another's ATO", agency1, ao, "cid is not authorized to read the ATO of account SAMSMSP", []string{"targetAccountId", admin, "atoVersion", "1", "comments", "c"}},
		{"PENDING member on a third member", agency3, ao, "cid is not authorized to read the ATO of account Agency1MSP", []string{"targetAccountId", agency1, "atoVersion", "1", "comments", "c"}},
		{"target never signed (R-31)", agency2, ao, "Agency9MSP has not created an ATO yet", []string{"targetAccountId", agency9, "atoVersion", "1", "comments", "c"}},
		{"target without ATO", agency2, ao, "Agency3MSP has not created an ATO yet", []string{"targetAccountId", agency3, "atoVersion", "1", "comments", "c"}},
		{"wrong version", agency2, ao, "submitting feedback on incorrect ATO version: current version 1, got 0", []string{"targetAccountId", agency1, "atoVersion", "0", "comments", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.transient(tc.transient...)
			w.as(tc.msp, tc.role)
			w.refuse("ato:SubmitFeedback", tc.want)
		})
	}
}

// TestATOOfAnotherMember: no function writes another member's ATO except
// SubmitFeedback's append; CreateATO and UpdateATO always act on the
// caller's own member, whatever the transient input says.
func TestATOOfAnotherMember(t *testing.T) {
	w := newWorld(t)
	w.consortium(agency1, agency2)
	w.transient("memo", "agency2's own")
	w.ok(agency2, "ato:CreateATO")
	before, _ := w.stub.PrivateData(ImplicitCollection(agency2), atoKey(agency2))
	w.transient("memo", "overwrite", "targetAccountId", agency2, "account", agency2)
	w.ok(agency1, "ato:CreateATO")
	w.ok(agency1, "ato:UpdateATO")
	after, _ := w.stub.PrivateData(ImplicitCollection(agency2), atoKey(agency2))
	if string(before) != string(after) {
		t.Fatal("Agency1 changed Agency2's ATO")
	}
	// UNAUTHORIZED members keep managing their own ATO but lose access to others'.
	w.setStatus(agency1, agency2, blossompolicy.Unauthorized)
	w.refuseAs(agency2, "ato:GetATO", "cid is not authorized to read the ATO of account Agency1MSP", agency1)
	w.transient("memo", "still mine")
	w.ok(agency2, "ato:UpdateATO")
	w.ok(agency2, "ato:GetATO", agency2)
}
