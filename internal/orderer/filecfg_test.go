package orderer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFileConfigMaxPendingEnvelopes(t *testing.T) {
	tests := []struct {
		name    string
		field   string // JSON member added to a valid file ("" for none)
		want    int
		wantErr string
	}{
		{name: "absent: the default", want: 0},
		{name: "set", field: `"maxPendingEnvelopes": 100`, want: 100},
		{name: "negative", field: `"maxPendingEnvelopes": -1`, wantErr: "maxPendingEnvelopes -1 is outside 0..1048576"},
		{name: "too large", field: `"maxPendingEnvelopes": 2000000`, wantErr: "outside 0..1048576"},
		{name: "not a number", field: `"maxPendingEnvelopes": "many"`, wantErr: "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := ""
			if tt.field != "" {
				extra = ", " + tt.field
			}
			path := filepath.Join(t.TempDir(), "orderer.json")
			body := fmt.Sprintf(`{"listenAddress": "127.0.0.1:7050", "dataDir": "d", "certFile": "c.pem", "keyFile": "k.pem"%s}`, extra)
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			fc, err := LoadFileConfig(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fc.MaxPendingEnvelopes != tt.want {
				t.Errorf("maxPendingEnvelopes %d, want %d", fc.MaxPendingEnvelopes, tt.want)
			}
		})
	}
}
