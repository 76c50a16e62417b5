package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/gateway/gatewaytest"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider/oidctest"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/testutil/testpki"
)

// txEnv is a running gateway and the files blossom tx reads.
type txEnv struct {
	gw     *gatewaytest.Gateway
	dir    string
	caFile string
}

func startTxEnv(t *testing.T) *txEnv {
	t.Helper()
	c := testpki.NewConsortium(t, "GatewayTLSMSP")
	cred := c.Member("GatewayTLSMSP").Issue(pki.RoleGateway, "gateway", nil)
	pool := x509.NewCertPool()
	pool.AddCert(c.Root.Cert)
	gw := gatewaytest.Start(t, gatewaytest.Options{TLS: &oidctest.TLS{Cert: cred.TLS, Pool: pool}})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pki.EncodeCertificatePEM(c.Root.Cert.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	return &txEnv{gw: gw, dir: dir, caFile: caFile}
}

// user writes a client credential of the gateway's member with role and
// returns its cert and key files.
func (e *txEnv) user(t *testing.T, name, role string) (certFile, keyFile string) {
	t.Helper()
	cred := e.gw.AppCredential(t, name, role)
	certFile, keyFile = filepath.Join(e.dir, name+"-cert.pem"), filepath.Join(e.dir, name+"-key.pem")
	var chain []byte
	for _, der := range cred.TLS.Certificate {
		chain = append(chain, pki.EncodeCertificatePEM(der)...)
	}
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePrivateKeyFile(keyFile, cred.Key); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

type txOutput struct {
	TxID   *string         `json:"txId"`
	Status *string         `json:"status"`
	Block  *uint64         `json:"block"`
	Result json.RawMessage `json:"result"`
}

func decodeTxOutput(t *testing.T, stdout string) (txOutput, map[string]json.RawMessage) {
	t.Helper()
	var o txOutput
	var fields map[string]json.RawMessage
	if strings.Count(stdout, "\n") != 1 || json.Unmarshal([]byte(stdout), &o) != nil || json.Unmarshal([]byte(stdout), &fields) != nil {
		t.Fatalf("stdout is not one JSON object: %q", stdout)
	}
	return o, fields
}

func TestTxCommand(t *testing.T) {
	e := startTxEnv(t)
	cert, key := e.user(t, "app1", "Acquisition Officer")
	noRoleCert, noRoleKey := e.user(t, "app2", "")
	gwFlags := []string{"--gateway", e.gw.URL, "--cert", cert, "--key", key, "--cacert", e.caFile, "--channel", "blossom", "--chaincode", "kv"}
	tx := func(op string, extra ...string) (int, string, string) {
		return runMain(append(append([]string{"tx", op}, gwFlags...), extra...)...)
	}

	// Submit: exit 0, {txId, status, block, result}; the second argument,
	// a JSON object, is stored as its compact text.
	code, stdout, stderr := tx("submit", "--function", "kv:Put", "--args", `["doc", {"a": [1, 2], "b": "x"}]`)
	if code != 0 {
		t.Fatalf("submit: exit %d, stderr %q", code, stderr)
	}
	o, fields := decodeTxOutput(t, stdout)
	if len(fields) != 4 || o.TxID == nil || len(*o.TxID) != 64 || *o.Status != "VALID" || o.Block == nil || *o.Block == 0 || string(o.Result) != "null" {
		t.Fatalf("submit output %s", stdout)
	}
	if h := e.gw.Net.PeerChannel(0).Height(); h <= *o.Block {
		t.Fatalf("own peer at height %d after block %d", h, *o.Block)
	}

	// Evaluate: {result} parsed as JSON.
	code, stdout, stderr = tx("evaluate", "--function", "kv:Get", "--args", `["doc"]`)
	if code != 0 {
		t.Fatalf("evaluate: exit %d, stderr %q", code, stderr)
	}
	o, fields = decodeTxOutput(t, stdout)
	if len(fields) != 1 || string(o.Result) != `{"a":[1,2],"b":"x"}` {
		t.Fatalf("evaluate output %s", stdout)
	}
	// A payload that is not JSON comes back as a string.
	if code, _, stderr = tx("submit", "--function", "kv:Put", "--args", `["plain", "not json"]`); code != 0 {
		t.Fatalf("submit plain: exit %d %q", code, stderr)
	}
	if _, stdout, _ = tx("evaluate", "--function", "kv:Get", "--args", `["plain"]`); strings.TrimSpace(stdout) != `{"result":"not json"}` {
		t.Fatalf("evaluate plain: %s", stdout)
	}

	// Chaincode refusal: exit 2, the message verbatim on stderr's first line.
	const msg = `license "L-9" is already assigned to agency2`
	for _, op := range []string{"submit", "evaluate"} {
		code, stdout, stderr = tx(op, "--function", "kv:Fail", "--args", `["`+strings.ReplaceAll(msg, `"`, `\"`)+`"]`)
		if first, _, _ := strings.Cut(stderr, "\n"); code != 2 || first != msg || stdout != "" {
			t.Fatalf("%s kv:Fail: exit %d, stdout %q, stderr %q", op, code, stdout, stderr)
		}
	}

	// Invalidated: exit 3, the object on stdout with the validation code.
	code, stdout, stderr = tx("submit", "--function", "kv:Put", "--args", `["solo","x"]`, "--endorsers", "Org2MSP")
	if code != 3 {
		t.Fatalf("single endorser: exit %d, stderr %q", code, stderr)
	}
	if o, _ = decodeTxOutput(t, stdout); *o.Status != "ENDORSEMENT_POLICY_FAILURE" || *o.Block == 0 {
		t.Fatalf("invalidated output %s", stdout)
	}

	// Exit 1: usage, auth and network errors.
	usage := []struct {
		name string
		args []string
	}{
		{"args not an array", append(append([]string{"tx", "submit"}, gwFlags...), "--function", "kv:Put", "--args", `{"a":1}`)},
		{"transient not an object", append(append([]string{"tx", "submit"}, gwFlags...), "--function", "kv:Put", "--transient", `[1]`)},
		{"no function", append([]string{"tx", "submit"}, gwFlags...)},
		{"no credentials", []string{"tx", "submit", "--gateway", e.gw.URL, "--channel", "blossom", "--chaincode", "kv", "--function", "kv:Put"}},
		{"member without devnet", append(append([]string{"tx", "submit"}, gwFlags...), "--function", "kv:Put", "--member", "x")},
		{"no role", []string{"tx", "submit", "--gateway", e.gw.URL, "--cert", noRoleCert, "--key", noRoleKey, "--cacert", e.caFile,
			"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Put", "--args", `["a","b"]`}},
		{"unreachable gateway", []string{"tx", "evaluate", "--gateway", "https://127.0.0.1:1", "--cert", cert, "--key", key, "--cacert", e.caFile,
			"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Get", "--args", `["a"]`}},
		{"missing devnet", []string{"tx", "submit", "--devnet", t.TempDir(), "--member", "org1", "--user", "app1",
			"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Get"}},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(tc.args...)
			if code != 1 || stdout != "" || stderr == "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
	keyPEM, _ := os.ReadFile(key)
	if strings.Contains(e.gw.Logs.String(), string(keyPEM)) {
		t.Fatal("a key reached the gateway's logs")
	}
}

func TestTxDevnet(t *testing.T) {
	e := startTxEnv(t)
	cert, key := e.user(t, "acq", "Acquisition Officer")
	dn := map[string]any{
		"ready": true, "channel": "blossom", "caBundle": e.caFile, "orderers": []string{},
		"members": []any{
			map[string]any{"name": "org1", "mspId": "Org1MSP", "admin": true, "gateway": e.gw.URL, "dashboard": "", "oidcIssuer": "",
				"caUrl": "", "peers": []string{}, "users": []any{map[string]any{"name": "acq", "role": "Acquisition Officer", "password": "pw-0123456789", "cert": cert, "key": key}}},
			map[string]any{"name": "org2", "mspId": "Org2MSP", "admin": false, "gateway": "https://127.0.0.1:1", "peers": []string{}, "users": []any{}},
			map[string]any{"name": "org3", "mspId": "Org3MSP", "admin": false, "gateway": "https://127.0.0.1:1", "peers": []string{}, "users": []any{}},
		},
	}
	data, _ := json.Marshal(dn)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DevnetFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain("tx", "submit", "--devnet", dir, "--member", "org1", "--user", "acq",
		"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Put", "--args", `["d","1"]`)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	o, _ := decodeTxOutput(t, stdout)
	// With --devnet the answer comes only after every peer committed.
	for i := range e.gw.Net.Members {
		if h := e.gw.Net.PeerChannel(i).Height(); h <= *o.Block {
			t.Fatalf("peer %d at height %d after block %d", i, h, *o.Block)
		}
	}
	if strings.Contains(stdout+stderr, "pw-0123456789") {
		t.Fatal("a password was printed")
	}
	// Unknown user and a devnet that is not ready: exit 1.
	if code, _, _ := runMain("tx", "submit", "--devnet", dir, "--member", "org1", "--user", "nobody",
		"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Get"); code != 1 {
		t.Fatalf("unknown user: exit %d", code)
	}
	dn["ready"] = false
	data, _ = json.Marshal(dn)
	os.WriteFile(filepath.Join(dir, DevnetFile), data, 0o600)
	if code, _, stderr := runMain("tx", "evaluate", "--devnet", dir, "--member", "org1", "--user", "acq",
		"--channel", "blossom", "--chaincode", "kv", "--function", "kv:Get", "--args", `["d"]`); code != 1 || !strings.Contains(stderr, "not ready") {
		t.Fatalf("not ready: exit %d %q", code, stderr)
	}
}

func TestParseTxArgs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{``, nil, false},
		{`[]`, []string{}, false},
		{`["a", "é\n"]`, []string{"a", "é\n"}, false},
		{`[1, 2.5, true, null, {"b": 1, "a": [ 2 ]}]`, []string{"1", "2.5", "true", "null", `{"b":1,"a":[2]}`}, false},
		{`["a"] x`, nil, true},
		{`{"a":1}`, nil, true},
		{`[`, nil, true},
	}
	for _, tc := range tests {
		got, err := parseTxArgs(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if tc.wantErr {
			continue
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%q: got %q", tc.in, got)
		}
		for i := range got {
			if string(got[i]) != tc.want[i] {
				t.Fatalf("%q: arg %d = %q, want %q", tc.in, i, got[i], tc.want[i])
			}
		}
	}
}

func FuzzParseTxArgs(f *testing.F) {
	for _, s := range []string{`[]`, `["a",1,{"x":[true]}]`, `[`, `{"a":1}`, `["\u00e9"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := parseTxArgs(s)
		if err == nil && len(args) > maxTxArgs {
			t.Fatal("too many args accepted")
		}
		parseTxTransient(s)
	})
}

func FuzzParseDevnet(f *testing.F) {
	f.Add([]byte(`{"ready":true,"channel":"blossom","caBundle":"/ca.pem","members":[{"name":"a","mspId":"AMSP","users":[{"name":"u","cert":"/c","key":"/k"}]}]}`))
	f.Add([]byte(`{"members":[{"name":"a"}]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDevnet(data)
		if err != nil {
			if d != nil {
				t.Fatal("devnet with an error")
			}
			return
		}
		for _, m := range d.Members {
			if m.Name == "" || m.MSPID == "" {
				t.Fatal("member without name accepted")
			}
		}
	})
}
