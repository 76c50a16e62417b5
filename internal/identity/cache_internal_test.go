package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/blossom-ledger/blossom/internal/pki"
)

func keyN(n int) cacheKey {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return cacheKey{certHash: sha256.Sum256(b[:]), mspID: "Org1MSP"}
}

func TestCacheBounded(t *testing.T) {
	c := newIdentityCache(64)
	for i := 0; i < 1000; i++ {
		c.put(keyN(i), &cacheEntry{})
	}
	if n := c.len(); n > 64 {
		t.Fatalf("cache holds %d entries; limit 64", n)
	}
	// The most recent entry survives.
	if c.get(keyN(999)) == nil {
		t.Fatal("latest entry evicted")
	}
}

func TestCacheSecondChance(t *testing.T) {
	c := newIdentityCache(cacheShards * 4) // 4 slots per shard
	hot := keyN(0)
	c.put(hot, &cacheEntry{})
	for i := 1; i < 2000; i++ {
		c.get(hot) // keep it referenced
		c.put(keyN(i), &cacheEntry{})
	}
	if c.get(hot) == nil {
		t.Fatal("frequently used entry was evicted")
	}
}

func TestCacheReplaceAndKeyFields(t *testing.T) {
	c := newIdentityCache(16)
	k := keyN(1)
	a, b := &cacheEntry{}, &cacheEntry{}
	c.put(k, a)
	c.put(k, b)
	if c.get(k) != b || c.len() != 1 {
		t.Fatal("replace")
	}
	other := k
	other.usage = UsageTLSServer
	if c.get(other) != nil {
		t.Fatal("usage is not part of the key")
	}
	other = k
	other.mspID = ""
	if c.get(other) != nil {
		t.Fatal("MSP ID is not part of the key")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := newIdentityCache(128)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := keyN(g*10000 + i%300)
				if c.get(k) == nil {
					c.put(k, &cacheEntry{})
				}
			}
		}(g)
	}
	wg.Wait()
	if n := c.len(); n > 128 {
		t.Fatalf("cache holds %d entries; limit 128", n)
	}
}

func TestEntryWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &cacheEntry{windows: []window{{t0, t0.Add(time.Hour)}, {t0.Add(2 * time.Hour), t0.Add(3 * time.Hour)}}}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{{-time.Second, false}, {0, true}, {time.Hour, true}, {90 * time.Minute, false}, {150 * time.Minute, true}, {4 * time.Hour, false}} {
		if got := e.validAt(t0.Add(tc.at)); got != tc.want {
			t.Errorf("validAt(+%v) = %v; want %v", tc.at, got, tc.want)
		}
	}
}

// TestManagerCachesSuccessesOnly: successes are cached per (certificate,
// MSP, usage); failures are not; a new Manager starts empty.
func TestManagerCachesSuccessesOnly(t *testing.T) {
	root, err := pki.NewRootCA(pki.RootRequest{CommonName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	key, csr, err := pki.NewIntermediateCSR("Org1MSP", pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	interCert, err := root.SignIntermediate(csr, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	inter := &pki.CA{Cert: interCert, Signer: key}
	leafKey, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(pki.IssueRequest{PublicKey: leafKey.Public(), EnrollmentID: "peer0", Role: pki.RolePeer})
	if err != nil {
		t.Fatal(err)
	}
	cfg := MSPConfig{ID: "Org1MSP", RootCerts: []*x509.Certificate{root.Cert}, IntermediateCerts: []*x509.Certificate{interCert}}
	m, err := newManager([]MSPConfig{cfg}, 64)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := 0; i < 3; i++ {
		if _, err := m.Validate("Org1MSP", leaf.Raw, AnyRole, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Identify(leaf.Raw, now); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Check(Request{Cert: leaf.Raw, Roles: AnyRole, Usage: UsageTLSClient, At: now}); err != nil {
		t.Fatal(err)
	}
	if n := m.cache.len(); n != 3 {
		t.Fatalf("cache holds %d entries; want 3 (validate, identify, TLS client)", n)
	}
	// Failures (expired, role) leave the cache as it was.
	if _, err := m.Validate("Org1MSP", leaf.Raw, Roles(pki.RoleAdmin), now); err == nil {
		t.Fatal("role mismatch accepted")
	}
	if _, err := m.Validate("Org1MSP", interCert.Raw, AnyRole, now); err == nil {
		t.Fatal("CA certificate accepted")
	}
	if n := m.cache.len(); n != 3 {
		t.Fatalf("cache holds %d entries after failures; want 3", n)
	}
	m2, err := newManager([]MSPConfig{cfg}, 64)
	if err != nil {
		t.Fatal(err)
	}
	if n := m2.cache.len(); n != 0 {
		t.Fatalf("new manager's cache holds %d entries", n)
	}
}
