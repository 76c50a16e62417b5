package oidcprovider

import (
	"crypto/fips140"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTOTPVectors checks RFC 6238 appendix B's vectors (the low six digits
// of the eight-digit values) for SHA-1 and SHA-256. In FIPS 140-only mode
// SHA-1 is refused instead.
func TestTOTPVectors(t *testing.T) {
	tests := []struct {
		alg    TOTPAlgorithm
		secret string
		unix   int64
		want   string
	}{
		{TOTPSHA1, "12345678901234567890", 59, "287082"},
		{TOTPSHA1, "12345678901234567890", 1111111109, "081804"},
		{TOTPSHA1, "12345678901234567890", 1234567890, "005924"},
		{TOTPSHA1, "12345678901234567890", 20000000000, "353130"},
		{TOTPSHA256, "12345678901234567890123456789012", 59, "119246"},
		{TOTPSHA256, "12345678901234567890123456789012", 1111111109, "084774"},
		{TOTPSHA256, "12345678901234567890123456789012", 1234567890, "819424"},
		{TOTPSHA256, "12345678901234567890123456789012", 20000000000, "737706"},
	}
	for _, tc := range tests {
		if tc.alg == TOTPSHA1 && fips140.Enforced() {
			if err := tc.alg.check(); err == nil {
				t.Fatal("SHA-1 TOTP accepted in FIPS 140-only mode")
			}
			continue
		}
		if got := TOTPCode(tc.alg, []byte(tc.secret), time.Unix(tc.unix, 0)); got != tc.want {
			t.Errorf("%s TOTP at %d = %s, want %s", tc.alg, tc.unix, got, tc.want)
		}
	}
	if DefaultTOTPAlgorithm() == TOTPSHA1 && fips140.Enforced() {
		t.Fatal("the default TOTP algorithm is SHA-1 in FIPS 140-only mode")
	}
	if err := TOTPAlgorithm("MD5").check(); err == nil {
		t.Fatal("unknown TOTP algorithm accepted")
	}
}

func TestVerifyTOTP(t *testing.T) {
	alg := DefaultTOTPAlgorithm()
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0) // step 37037037
	step := now.Unix() / 30
	tests := []struct {
		name     string
		code     string
		lastStep int64
		wantOK   bool
		wantStep int64
	}{
		{"current", TOTPCode(alg, secret, now), 0, true, step},
		{"previous step", TOTPCode(alg, secret, now.Add(-30*time.Second)), 0, true, step - 1},
		{"next step", TOTPCode(alg, secret, now.Add(30*time.Second)), 0, true, step + 1},
		{"two steps old", TOTPCode(alg, secret, now.Add(-60*time.Second)), 0, false, 0},
		{"replayed", TOTPCode(alg, secret, now), step, false, 0},
		{"spaces", " " + TOTPCode(alg, secret, now) + " ", 0, true, step},
		{"letters", "12a456", 0, false, 0},
		{"short", "12345", 0, false, 0},
		{"empty", "", 0, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := verifyTOTP(alg, secret, tc.code, now, tc.lastStep)
			if ok != tc.wantOK || (ok && got != tc.wantStep) {
				t.Fatalf("verifyTOTP = %d, %t; want %d, %t", got, ok, tc.wantStep, tc.wantOK)
			}
		})
	}
	if uri := TOTPKeyURI("Agency 1", "tpoc", TOTPSHA256, secret); !strings.HasPrefix(uri, "otpauth://totp/Agency%201:tpoc?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&") || !strings.Contains(uri, "algorithm=SHA256") {
		t.Fatalf("key URI %s", uri)
	}
}

func TestLockoutTable(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLockout(LockoutPolicy{MaxFailures: 3, Window: time.Minute, LockFor: 5 * time.Minute}, func() time.Time { return now })
	steps := []struct {
		advance    time.Duration
		fail       bool
		wantLocked bool
	}{
		{0, true, false},
		{10 * time.Second, true, false},
		{55 * time.Second, true, false}, // the first failure left the window
		{time.Second, true, true},       // three within the window
		{4 * time.Minute, false, true},
		{2 * time.Minute, false, false}, // lock over
		{0, true, false},                // counting starts afresh
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		var locked bool
		if s.fail {
			locked = l.fail("ao")
		} else {
			locked = l.locked("ao")
		}
		if locked != s.wantLocked {
			t.Fatalf("step %d: locked %t, want %t", i, locked, s.wantLocked)
		}
	}
	l.succeed("ao")
	if l.locked("ao") || len(l.entries) != 0 {
		t.Fatal("succeed did not clear the entry")
	}
}

func FuzzParseLoginForm(f *testing.F) {
	f.Add("id=abc&username=ao&password=secret%20pw")
	f.Add("id=abc&code=123456")
	f.Add("id=&username=a")
	f.Add("id=a&id=b")
	f.Add("%zz")
	f.Add(strings.Repeat("a", 20000))
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, loginPath, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := parseLoginForm(httptest.NewRecorder(), r)
		if err != nil {
			return
		}
		if form.id == "" || len(form.id) > maxRequestIDLen || len(form.username) > maxFormUsername || len(form.password) > maxFormPassword || len(form.code) > maxFormTOTPInput {
			t.Fatalf("accepted an out-of-bounds form %q", body)
		}
		if values, _ := url.ParseQuery(body); len(values["id"]) > 1 {
			t.Fatalf("accepted a repeated id in %q", body)
		}
	})
}

func FuzzParseTOTPCode(f *testing.F) {
	f.Add("123456")
	f.Add(" 123456 ")
	f.Add("12345a")
	f.Add("")
	f.Add("１２３４５６")
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := parseTOTPCode(s)
		if !ok {
			return
		}
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("parseTOTPCode(%q) = %q", s, code)
		}
	})
}
