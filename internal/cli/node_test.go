package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeKind: blossom node and blossom backup recognise a node's kind
// from its configuration's fields, and refuse anything else.
func TestNodeKind(t *testing.T) {
	tests := []struct {
		name, text, want, wantErr string
	}{
		{"orderer", `{"listenAddress": "0.0.0.0:7050", "dataDir": "data"}`, nodeKindOrderer, ""},
		{"peer yaml", "dataDir: data\nlisten: 0.0.0.0:7051\nchannel: blossom\n", nodeKindPeer, ""},
		{"gateway", `{"mspId": "Org1MSP", "listen": "0.0.0.0:8443", "channel": "blossom"}`, nodeKindGateway, ""},
		{"ca", `{"caDir": "ca", "listen": "0.0.0.0:7054"}`, nodeKindCA, ""},
		{"unknown", `{"colour": "blue"}`, "", "not a node configuration"},
		{"not a config", "- a\n- b\n", "", "cannot unmarshal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "node.conf")
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			kind, err := nodeKind(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("kind %q, err %v, want %q", kind, err, tc.wantErr)
				}
				return
			}
			if err != nil || kind != tc.want {
				t.Fatalf("kind %q, err %v, want %q", kind, err, tc.want)
			}
		})
	}
	// Backups: an orderer's configuration is refused with the reason.
	path := filepath.Join(t.TempDir(), "orderer.json")
	os.WriteFile(path, []byte(`{"listenAddress": "0.0.0.0:7050"}`), 0o600)
	if code, _, stderr := runMain("backup", "--config", path, "--out", filepath.Join(t.TempDir(), "b.tgz")); code != 1 || !strings.Contains(stderr, "only peers and CAs are backed up") {
		t.Fatalf("backup of an orderer: exit %d %q", code, stderr)
	}
}
