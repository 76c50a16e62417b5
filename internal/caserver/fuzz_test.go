package caserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/blossom-ledger/blossom/internal/pki"
)

// checkDecodeError checks the shape of a decoder's refusal: a 400 with a
// code and message that does not repeat a secret taken from the input.
func checkDecodeError(t *testing.T, data []byte, apiErr *apiError) {
	t.Helper()
	if apiErr.status != http.StatusBadRequest || apiErr.code == "" || apiErr.message == "" {
		t.Fatalf("decoder refusal %d %q %q", apiErr.status, apiErr.code, apiErr.message)
	}
	var probe struct {
		Secret string `json:"secret"`
	}
	if json.Unmarshal(data, &probe) == nil && len(probe.Secret) >= 12 &&
		bytes.Count(data, []byte(probe.Secret)) == 1 && strings.Contains(apiErr.message, probe.Secret) {
		t.Fatalf("error message repeats the secret: %q", apiErr.message)
	}
}

func validCSR(f *testing.F) []byte {
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		f.Fatal(err)
	}
	csr, err := NewCSR(key, "u")
	if err != nil {
		f.Fatal(err)
	}
	return csr
}

func FuzzDecodeRegister(f *testing.F) {
	for _, seed := range []string{
		`{"enrollmentId":"u1","type":"client","attributes":{"blossom.role":"Authorizing Official"}}`,
		`{"enrollmentId":"p0","type":"peer","hosts":["p0.example","127.0.0.1"],"maxEnrollments":3,"secretTTL":"48h"}`,
		`{"enrollmentId":"a","type":"admin","attributes":{"blossom.registrar.roles":"client,peer","blossom.revoker":"true"}}`,
		`{"enrollmentId":"u1","type":"client","extra":1}`,
		`{"enrollmentId":"u1","type":"client"} x`,
		`null`, `[]`, ``, `{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, apiErr := decodeRegister(data)
		if apiErr != nil {
			if p != nil {
				t.Fatal("params returned with an error")
			}
			checkDecodeError(t, data, apiErr)
			return
		}
		if err := pki.ValidateEnrollmentID(p.enrollmentID); err != nil {
			t.Fatalf("accepted enrollment ID: %v", err)
		}
		if _, err := pki.ParseRole(string(p.role)); err != nil {
			t.Fatalf("accepted role: %v", err)
		}
		if err := pki.ValidateAttributes(p.attributes); err != nil {
			t.Fatalf("accepted attributes: %v", err)
		}
		if p.maxEnrollments < 1 || p.maxEnrollments > MaxEnrollmentsLimit {
			t.Fatalf("accepted maxEnrollments %d", p.maxEnrollments)
		}
		if p.secretTTL < MinSecretTTL || p.secretTTL > MaxSecretTTL {
			t.Fatalf("accepted secretTTL %v", p.secretTTL)
		}
		if !p.role.IsNode() && len(p.dnsNames)+len(p.ipAddresses) > 0 {
			t.Fatal("accepted hosts for a user role")
		}
		if len(p.dnsNames)+len(p.ipAddresses) > pki.MaxHosts {
			t.Fatal("accepted too many hosts")
		}
	})
}

func FuzzDecodeEnroll(f *testing.F) {
	csr := validCSR(f)
	good, _ := json.Marshal(EnrollRequest{EnrollmentID: "u1", Secret: "s3cr3t-s3cr3t-s3cr3t", CSR: csr})
	f.Add(good)
	f.Add([]byte(`{"enrollmentId":"u1","secret":"abcdefghijklmnop","csr":"AAAA"}`))
	f.Add([]byte(`{"enrollmentId":"u1","secret":"abcdefghijklmnop","csr":"!!"}`))
	f.Add([]byte(`{"enrollmentId":"u1","secret":"abcdefghijklmnop","unknownabcdefghijklmnop":1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, apiErr := decodeEnroll(data)
		if apiErr != nil {
			if p != nil {
				t.Fatal("params returned with an error")
			}
			checkDecodeError(t, data, apiErr)
			return
		}
		if pki.ValidateEnrollmentID(p.enrollmentID) != nil || p.secret == "" || len(p.secret) > maxSecretLen || p.csr == nil {
			t.Fatalf("accepted invalid enroll request %q", data)
		}
		if p.csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR whose signature does not verify")
		}
	})
}

func FuzzDecodeReenroll(f *testing.F) {
	good, _ := json.Marshal(ReenrollRequest{CSR: validCSR(f)})
	f.Add(good)
	f.Add([]byte(`{"csr":""}`))
	f.Add([]byte(`{"csr":null}`))
	f.Add([]byte(`{"csr":"MAA="}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, apiErr := decodeReenroll(data)
		if apiErr != nil {
			if csr != nil {
				t.Fatal("CSR returned with an error")
			}
			checkDecodeError(t, data, apiErr)
			return
		}
		if csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR whose signature does not verify")
		}
	})
}

func FuzzDecodeRevoke(f *testing.F) {
	for _, seed := range []string{
		`{"enrollmentId":"u1","reason":"keyCompromise"}`,
		`{"serial":"DEADbeef"}`,
		`{"serial":"0"}`,
		`{"enrollmentId":"u1","serial":"1"}`,
		`{"reason":"certificateHold","serial":"1"}`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, apiErr := decodeRevoke(data)
		if apiErr != nil {
			if p != nil {
				t.Fatal("params returned with an error")
			}
			checkDecodeError(t, data, apiErr)
			return
		}
		if (p.enrollmentID == "") == (p.serial == nil) {
			t.Fatal("accepted a revoke without exactly one target")
		}
		if p.serial != nil && (p.serial.Sign() <= 0 || p.serial.BitLen() > 160) {
			t.Fatalf("accepted serial %v", p.serial)
		}
		if code, ok := revocationReasons[p.reasonName]; !ok || code != p.reason {
			t.Fatalf("accepted reason %q (%d)", p.reasonName, p.reason)
		}
	})
}

func FuzzDecodeGenCRL(f *testing.F) {
	for _, seed := range []string{`{}`, `null`, `{"a":1}`, ` {} `, `{}{}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if apiErr := decodeGenCRL(data); apiErr != nil {
			checkDecodeError(t, data, apiErr)
		}
	})
}

// FuzzHandler drives the whole HTTP handler (without TLS, so as an
// unauthenticated caller) with arbitrary methods, paths and bodies: it must
// always answer JSON, never 5xx, and never change the state.
func FuzzHandler(f *testing.F) {
	// One CA for the whole fuzzing run; state must stay identical.
	dir := f.TempDir()
	rootDir := f.TempDir()
	root, err := InitRoot(rootDir, RootOptions{Name: "fuzz root"})
	if err != nil {
		f.Fatal(err)
	}
	csr, err := Init(dir, testMSP, pki.ECDSAP256)
	if err != nil {
		f.Fatal(err)
	}
	certPEM, err := SignIntermediateCSR(rootDir, csr, 0)
	if err != nil {
		f.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := Install(dir, certPEM, pki.EncodeCertificatePEM(root.Raw), InstallOptions{Logger: quiet}); err != nil {
		f.Fatal(err)
	}
	srv, err := Open(Config{Dir: dir, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	handler := srv.Handler()
	digest := func() string {
		var buf bytes.Buffer
		srv.st.scan(nil, []byte(""), func(k, v []byte) (bool, error) {
			buf.Write(k)
			buf.Write(v)
			return true, nil
		})
		return buf.String()
	}
	before := digest()

	enroll, _ := json.Marshal(EnrollRequest{EnrollmentID: BootstrapRegistrar, Secret: "wrong-secret-value", CSR: validCSR(f)})
	f.Add("POST", PathEnroll, enroll)
	f.Add("POST", PathRegister, []byte(`{"enrollmentId":"x","type":"client"}`))
	f.Add("GET", PathCRL, []byte(nil))
	f.Add("GET", PathIdentities+"?limit=1", []byte(nil))
	f.Add("DELETE", "/healthz", []byte(nil))
	f.Add("POST", "/api/v1/../v1/enroll", []byte(`{}`))
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		req := httptest.NewRequest(method, "https://ca.example"+path, bytes.NewReader(body))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: status %d: %s", method, path, rec.Code, rec.Body.Bytes())
		}
		if rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: not a JSON answer: %q", method, path, rec.Body.Bytes())
		}
		if rec.Code != http.StatusOK {
			var eb ErrorBody
			if json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error.Code == "" {
				t.Fatalf("%s %s: error without code: %q", method, path, rec.Body.Bytes())
			}
		}
		if digest() != before {
			t.Fatalf("%s %s changed the state", method, path)
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}
