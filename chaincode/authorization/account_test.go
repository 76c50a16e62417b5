package authorization

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
)

func TestJoin(t *testing.T) {
	w := newWorld(t)
	w.refuseAs(agency1, "account:Join", "ngac policy has not been initialized")
	w.consortium(agency1)
	w.ok(agency2, "mou:SignMOU", "1")
	w.as(agency1, blossompolicy.RoleAcquisitionOfficer)
	w.refuse("account:Join", "unknown user role: Acquisition Officer")
	w.refuseAs(agency9, "account:Join", "account Agency9MSP does not exist")
	w.refuseAs(agency2, "account:Join", "cid is not authorized to join for account Agency2MSP") // PENDING
	w.refuseAs(admin, "account:Join", "SAMSMSP has already joined")                             // joined at Bootstrap

	// A6: AUTHORIZED, not joined -> joined; status unchanged.
	w.ok(agency1, "account:Join")
	w.requireEvent(EventJoin, "")
	if a := w.account(agency1); !a.Joined || a.Status != blossompolicy.Authorized || a.MOUVersion != 1 {
		t.Fatalf("after Join: %+v", a)
	}
	w.refuseAs(agency1, "account:Join", "Agency1MSP has already joined")

	// UNAUTHORIZED members may not join.
	w.ok(agency3, "mou:SignMOU", "1")
	w.setStatus(admin, agency3, blossompolicy.Authorized)
	w.setStatus(admin, agency3, blossompolicy.Unauthorized)
	w.refuseAs(agency3, "account:Join", "cid is not authorized to join for account Agency3MSP")
	if w.account(agency3).Joined {
		t.Fatal("refused Join set joined")
	}
}

func TestAccountQueries(t *testing.T) {
	w := newWorld(t)
	if got := w.ok(agency1, "account:GetAccounts"); string(got) != "[]" {
		t.Fatalf("GetAccounts before Bootstrap = %s", got)
	}
	w.stub.SetTxTimestamp(ts1)
	w.bootstrap()
	w.stub.SetTxTimestamp(ts1.Add(1500 * time.Millisecond))
	w.ok(agency2, "mou:SignMOU", "1")
	w.ok(agency1, "mou:SignMOU", "1")
	w.stub.SetTxTimestamp(ts1.Add(time.Hour + 250*time.Millisecond + 999*time.Microsecond))
	w.setStatus(admin, agency1, blossompolicy.Authorized)
	w.ok(agency1, "account:Join")

	requireJSON(t, w.ok(agency9, "account:GetAccounts"), []Account{
		{ID: agency1, Status: blossompolicy.Authorized, MOUVersion: 1, Joined: true},
		{ID: agency2, Status: blossompolicy.Pending, MOUVersion: 1},
		{ID: admin, Status: blossompolicy.Authorized, MOUVersion: 0, Joined: true},
	})
	requireJSON(t, w.ok(agency9, "account:GetAccount", agency2), Account{ID: agency2, Status: blossompolicy.Pending, MOUVersion: 1})
	w.refuseAs(agency9, "account:GetAccount", "an account with id Agency9MSP does not exist", agency9)
	w.refuseAs(agency9, "account:GetAccount", `invalid accountId "Agency 9": an account id has 1 to 128 ASCII letters, digits, '.', '-' or '_'`, "Agency 9")
	w.refuseAs(agency9, "account:GetAccount", `invalid accountId "": an account id has 1 to 128 ASCII letters, digits, '.', '-' or '_'`, "")
	w.refuseAs(agency9, "account:GetAccount", "wrong number of arguments: want 1, got 0")

	// History: one entry per write, newest first, timestamps like Java's Instant.
	out := w.ok(agency9, "account:GetAccountHistory", agency1)
	var hist []AccountHistorySnapshot
	if err := json.Unmarshal(out, &hist); err != nil {
		t.Fatal(err)
	}
	wantStates := []Account{
		{ID: agency1, Status: blossompolicy.Authorized, MOUVersion: 1, Joined: true},
		{ID: agency1, Status: blossompolicy.Authorized, MOUVersion: 1},
		{ID: agency1, Status: blossompolicy.Pending, MOUVersion: 1},
	}
	wantTimes := []string{"2024-05-01T13:00:00.250Z", "2024-05-01T13:00:00.250Z", "2024-05-01T12:00:01.500Z"}
	if len(hist) != len(wantStates) {
		t.Fatalf("history = %s", out)
	}
	for i := range hist {
		if hist[i].Account != wantStates[i] || hist[i].Timestamp != wantTimes[i] || hist[i].TxID == "" {
			t.Fatalf("history[%d] = %+v", i, hist[i])
		}
	}
	if hist[0].TxID == hist[1].TxID {
		t.Fatal("history entries share a tx ID")
	}
	if got := w.ok(agency9, "account:GetAccountHistory", agency9); string(got) != "[]" {
		t.Fatalf("history of an unknown account = %s", got)
	}
	adminHist := w.ok(agency9, "account:GetAccountHistory", admin)
	requireJSON(t, adminHist, []AccountHistorySnapshot{{TxID: "tx2", Timestamp: "2024-05-01T12:00:00Z", Account: Account{ID: admin, Status: blossompolicy.Authorized, Joined: true}}})
}
