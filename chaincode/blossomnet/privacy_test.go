package blossomnet

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/chaincode/asset"
	"github.com/blossom-ledger/blossom/chaincode/authorization"
	"github.com/blossom-ledger/blossom/internal/peer"
)

// privateStore returns every private key and value peer i holds for the
// BloSS@M chaincodes, by collection ("<chaincode>/<collection>").
func (n *Network) privateStore(t *testing.T, i int) map[string]string {
	t.Helper()
	state := n.PeerChannel(i).Ledger().State()
	out := map[string]string{}
	for _, ns := range []string{authorization.ChaincodeName, asset.ChaincodeName} {
		for m := range n.Members {
			coll := peer.ImplicitCollection(n.MSP(m))
			it, err := state.PrivateRange(ns, coll, "", "")
			if err != nil {
				t.Fatalf("peer %d: %s/%s: %v", i, ns, coll, err)
			}
			var b strings.Builder
			for it.Next() {
				b.WriteString(it.Key() + "=" + string(it.Value()) + "\n")
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			it.Close()
			if b.Len() > 0 {
				out[ns+"/"+coll] = b.String()
			}
		}
	}
	return out
}

// fileText returns the concatenated contents of the files under dir whose
// path contains part ("" for all).
func fileText(t *testing.T, dir, part string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist): // a Pebble file removed during the walk
			return nil
		case err != nil:
			return err
		case d.IsDir() || !strings.Contains(path, part):
			return nil
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// requireOnlyIn fails if one of values is in the text of a holder other
// than those of mayHold (by name).
func requireOnlyIn(t *testing.T, what string, texts map[string]string, values []string, mayHold ...string) {
	t.Helper()
	for name, text := range texts {
		for _, v := range values {
			if strings.Contains(text, v) && !slices.Contains(mayHold, name) {
				t.Errorf("%s %q is in %s", what, v, name)
			}
		}
	}
}

// requireWhere is requireOnlyIn also failing unless each of values is in
// the text of every holder of mayHold.
func requireWhere(t *testing.T, what string, texts map[string]string, values []string, mayHold ...string) {
	t.Helper()
	requireOnlyIn(t, what, texts, values, mayHold...)
	for _, name := range mayHold {
		for _, v := range values {
			if !strings.Contains(texts[name], v) {
				t.Errorf("%s %q is not in %s", what, v, name)
			}
		}
	}
}

// checkPrivacy checks, after the onboarding and license journeys, where
// the secrets went: agency's ATO and its leased license IDs, the license
// IDs and salts of the service provider, in the peers' private stores,
// in every file of every node, and in the public ledger (block files and
// public state). The private stores, read through the ledger, are the
// authoritative check; the file search sees plain bytes (block files,
// raft logs, Pebble's write-ahead logs and memtables at this size), and
// its required finds (salts at the service provider, the ATO and leases
// at the agency) show it is not searching in vain.
func checkPrivacy(t *testing.T, n *Network, p *pool, agency int, memos map[int]string) {
	other := 3 - agency // the third member, another agency
	name := func(i int) string { return n.MSP(i) }
	var neverLeased []string
	for _, id := range p.ids {
		if id != p.returned && !slices.Contains(p.leased, id) {
			neverLeased = append(neverLeased, id)
		}
	}
	everLeased := append([]string{p.returned}, p.leased...)

	// Private stores: a peer holds values of its own member's collection
	// only; the agency's holds its ATO and its current leases, the
	// service provider's the IDs and salts.
	stores := map[string]string{}
	for i := range n.Members {
		for coll, text := range n.privateStore(t, i) {
			if want := peer.ImplicitCollection(name(i)); !strings.HasSuffix(coll, "/"+want) {
				t.Errorf("peer %d holds values of %s", i, coll)
			}
			stores[name(i)] += text
		}
	}
	requireWhere(t, "ATO memo", stores, []string{memos[agency]}, name(agency))
	requireWhere(t, "ATO memo", stores, []string{memos[other]}, name(other))
	requireWhere(t, "salt", stores, p.salts, name(sp))
	requireWhere(t, "leased license ID", stores, p.leased, name(sp), name(agency))
	requireWhere(t, "license ID", stores, neverLeased, name(sp))
	requireOnlyIn(t, "returned license ID", stores, []string{p.returned}, name(sp), name(agency))
	requireOnlyIn(t, "SWID tag of the returned license", stores, []string{p.swidTag}) // deleted with the return

	// Files: the same on disk, everything included (transient stores,
	// indexes, history); the orderers hold only the public ledger.
	files := map[string]string{}
	for i, m := range n.Members {
		files[name(i)] = fileText(t, m.PeerDir, "")
		files["orderer of "+name(i)] = fileText(t, m.OrdererDir, "")
	}
	requireWhere(t, "ATO memo", files, []string{memos[agency]}, name(agency))
	requireWhere(t, "salt", files, p.salts, name(sp))
	requireWhere(t, "license ID", files, everLeased, name(sp), name(agency))
	requireWhere(t, "license ID", files, neverLeased, name(sp))
	requireWhere(t, "SWID tag", files, []string{p.swidTag}, name(agency))

	// Public ledger: the block files reveal none of them.
	blocks := map[string]string{}
	for i, m := range n.Members {
		blocks[name(i)] = fileText(t, m.PeerDir, string(filepath.Separator)+"blocks"+string(filepath.Separator))
		if len(blocks[name(i)]) == 0 {
			t.Fatalf("no block files under %s", m.PeerDir)
		}
	}
	secrets := append(append([]string{memos[1], memos[2], p.swidTag}, p.ids...), p.salts...)
	requireOnlyIn(t, "secret", blocks, secrets)

	// Public state of the asset chaincode: license markers (hashes) only.
	it, err := n.PeerChannel(other).Ledger().State().Range(asset.ChaincodeName, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	markers := 0
	for it.Next() {
		if _, err := hex.DecodeString(it.Key()); err != nil || len(it.Key()) != 64 || string(it.Value()) != "\x00" {
			t.Errorf("public asset state %q = %q", it.Key(), it.Value())
		}
		markers++
	}
	if err := it.Err(); err != nil || markers != len(p.ids) {
		t.Fatalf("public asset state: %d markers, want %d (%v)", markers, len(p.ids), err)
	}
	if len(p.ids) == 0 || len(neverLeased) == 0 || len(p.leased) == 0 {
		t.Fatalf("vacuous pool: %+v", p)
	}
}
