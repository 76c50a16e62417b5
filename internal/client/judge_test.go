package client

import (
	"errors"
	"testing"

	"github.com/blossom-ledger/blossom/internal/protocol/pb"
)

// TestJudgeBroadcast: what Broadcast does with each kind of orderer answer;
// in particular an OVERLOADED answer ends the round (the client pauses
// rather than trying the other orderers at once) and does not count as an
// attempt that may have been ordered.
func TestJudgeBroadcast(t *testing.T) {
	const dup = "DUPLICATE_TXID: transaction ab is already ordered"
	tests := []struct {
		name         string
		status       pb.Status
		info         string
		uncertain    bool
		wantNext     broadcastNext
		wantOrdered  bool
		wantErrState pb.Status // 0: no error
	}{
		{name: "success", status: pb.Status_SUCCESS, wantNext: broadcastDone, wantOrdered: true},
		{name: "duplicate after an uncertain attempt", status: pb.Status_CONFLICT, info: dup, uncertain: true, wantNext: broadcastDone},
		{name: "duplicate on a first attempt", status: pb.Status_CONFLICT, info: dup, wantNext: broadcastDone, wantErrState: pb.Status_CONFLICT},
		{name: "overloaded", status: pb.Status_SERVICE_UNAVAILABLE, info: "OVERLOADED: this orderer already holds 4096 envelopes not yet ordered", wantNext: broadcastPause, wantErrState: pb.Status_SERVICE_UNAVAILABLE},
		{name: "overloaded after an uncertain attempt", status: pb.Status_SERVICE_UNAVAILABLE, info: "OVERLOADED: x", uncertain: true, wantNext: broadcastPause, wantErrState: pb.Status_SERVICE_UNAVAILABLE},
		{name: "not leader", status: pb.Status_SERVICE_UNAVAILABLE, info: "NOT_LEADER: no leader accepted the envelope in time", wantNext: broadcastTryNext, wantOrdered: true, wantErrState: pb.Status_SERVICE_UNAVAILABLE},
		{name: "outcome unknown", status: pb.Status_SERVICE_UNAVAILABLE, info: "OUTCOME_UNKNOWN: leadership lost", wantNext: broadcastTryNext, wantOrdered: true, wantErrState: pb.Status_SERVICE_UNAVAILABLE},
		{name: "overloaded not as a prefix", status: pb.Status_SERVICE_UNAVAILABLE, info: "NOT_LEADER: OVERLOADED", wantNext: broadcastTryNext, wantOrdered: true, wantErrState: pb.Status_SERVICE_UNAVAILABLE},
		{name: "forbidden", status: pb.Status_FORBIDDEN, info: "creator is not a writer", wantNext: broadcastDone, wantErrState: pb.Status_FORBIDDEN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, ordered, err := judgeBroadcast("orderer0", &pb.BroadcastResponse{Status: tt.status, Info: tt.info}, tt.uncertain)
			if next != tt.wantNext || ordered != tt.wantOrdered {
				t.Errorf("next %d, may be ordered %v; want %d, %v", next, ordered, tt.wantNext, tt.wantOrdered)
			}
			var be *BroadcastError
			switch {
			case tt.wantErrState == 0 && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErrState != 0 && (!errors.As(err, &be) || be.Status != tt.wantErrState || be.Info != tt.info || be.Orderer != "orderer0"):
				t.Errorf("error %v, want a BroadcastError %s %q from orderer0", err, tt.wantErrState, tt.info)
			}
		})
	}
}
