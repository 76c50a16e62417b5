package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMemorySessionStoreBoundedLRU(t *testing.T) {
	ctx := context.Background()
	m := NewMemorySessionStore(3)
	for i := 0; i < 3; i++ {
		if err := m.Create(ctx, &Session{Handle: fmt.Sprint(i), Issuer: "i", Subject: fmt.Sprint("s", i%2)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Create(ctx, &Session{Handle: "1"}); err == nil {
		t.Fatal("duplicate handle accepted")
	}
	// Touch 0, so 1 is the least recently used when a fourth arrives.
	if _, err := m.Get(ctx, "0"); err != nil {
		t.Fatal(err)
	}
	if err := m.Create(ctx, &Session{Handle: "3", Issuer: "i", Subject: "s1"}); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3 {
		t.Fatalf("Len %d, want 3", m.Len())
	}
	if _, err := m.Get(ctx, "1"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("least recently used session survived: %v", err)
	}
	// Returned sessions are copies.
	s, _ := m.Get(ctx, "0")
	s.Subject = "changed"
	if again, _ := m.Get(ctx, "0"); again.Subject == "changed" {
		t.Fatal("Get returned the stored session itself")
	}
	if err := m.Update(ctx, &Session{Handle: "nope"}); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("Update of an absent session: %v", err)
	}
	if err := m.DeleteSubject(ctx, "i", "s1"); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 2 {
		t.Fatalf("DeleteSubject left %d sessions, want 2", m.Len())
	}
}

func TestSessionIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id, handle, err := newSessionID()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parseSessionID(id); !ok || seen[id] || handle == id || handle != sessionHandle(id) {
			t.Fatalf("session ID %d: ok %t dup %t", i, ok, seen[id])
		}
		seen[id] = true
	}
	p := &Principal{session: &Session{CSRFToken: `a"b<c`}}
	if got := string(CSRFInput(p)); !strings.Contains(got, `value="a&#34;b&lt;c"`) || !strings.Contains(got, `name="csrf_token"`) {
		t.Fatalf("CSRFInput = %s", got)
	}
	if CSRFInput(&Principal{}) != "" {
		t.Fatal("CSRFInput without a session")
	}
}
