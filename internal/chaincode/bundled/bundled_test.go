package bundled

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestPackages(t *testing.T) {
	saved := files
	t.Cleanup(func() { files = saved })

	files = nil
	if _, err := Package("asset"); err == nil || !strings.Contains(err.Error(), "make bundle") {
		t.Errorf("without bundles: %v", err)
	}
	files = fstest.MapFS{
		"packages/asset.tar.gz":  {Data: []byte("asset package")},
		"packages/kvtest.tar.gz": {Data: []byte("kvtest package")},
		"packages/README":        {Data: []byte("not a package")},
	}
	if got := strings.Join(Names(), ","); got != "asset,kvtest" {
		t.Errorf("names %q", got)
	}
	tests := []struct{ name, want, err string }{
		{"asset", "asset package", ""},
		{"kvtest", "kvtest package", ""},
		{"README", "", "bundled: asset, kvtest"},
		{"../x", "", "no bundled chaincode"},
	}
	for _, tc := range tests {
		got, err := Package(tc.name)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v; want error %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v", tc.name, got, err)
		}
	}
}
