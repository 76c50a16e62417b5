package auth

import (
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"time"
)

// Session is a signed-in browser's server-side state. The browser holds
// only the random session ID; stores key sessions by Handle, a SHA-256 of
// that ID, so that a store's contents (or a log of its keys) cannot be
// replayed as cookies.
type Session struct {
	Handle       string
	CSRFToken    string
	Issuer       string
	Subject      string
	EnrollmentID string
	Role         string
	Email        string
	ACR          string
	AMR          []string
	// IDToken is the last ID token, sent as id_token_hint at logout.
	IDToken string
	// RefreshToken and TokenExpiry drive refresh at the provider.
	RefreshToken string
	TokenExpiry  time.Time
	CreatedAt    time.Time
	LastSeen     time.Time
}

func (s *Session) clone() *Session {
	c := *s
	c.AMR = slices.Clone(s.AMR)
	return &c
}

// ErrSessionNotFound: no session under that handle (never created, expired,
// logged out or evicted).
var ErrSessionNotFound = errors.New("auth: session not found")

// SessionStore keeps sessions. MemorySessionStore is the built-in one; a
// persistent implementation must encrypt RefreshToken and IDToken at rest.
// Implementations are safe for concurrent use and return copies.
type SessionStore interface {
	Create(ctx context.Context, s *Session) error
	Get(ctx context.Context, handle string) (*Session, error)
	Update(ctx context.Context, s *Session) error
	Delete(ctx context.Context, handle string) error
	// DeleteSubject removes every session of a sign-in identity.
	DeleteSubject(ctx context.Context, issuer, subject string) error
}

// sessionIDBytes is the entropy of a session ID (256 bits).
const sessionIDBytes = 32

// newSessionID returns a random session ID (base64url, 43 characters) and
// its handle.
func newSessionID() (id, handle string, err error) {
	b := make([]byte, sessionIDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	id = base64.RawURLEncoding.EncodeToString(b)
	return id, sessionHandle(id), nil
}

// sessionHandle is the store key of a session ID.
func sessionHandle(id string) string {
	sum := sha256.Sum256([]byte("blossom session v1\x00" + id))
	return hex.EncodeToString(sum[:])
}

// parseSessionID checks a cookie value's shape: exactly a base64url
// encoding of 32 bytes.
func parseSessionID(v string) (string, bool) {
	if len(v) != base64.RawURLEncoding.EncodedLen(sessionIDBytes) {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) != sessionIDBytes {
		return "", false
	}
	// Reject non-canonical encodings (different strings, same bytes).
	if base64.RawURLEncoding.EncodeToString(b) != v {
		return "", false
	}
	return v, true
}

// DefaultMaxSessions bounds a MemorySessionStore.
const DefaultMaxSessions = 10000

// MemorySessionStore keeps at most a fixed number of sessions in memory;
// when full, creating a session evicts the least recently used one.
type MemorySessionStore struct {
	max int

	mu    sync.Mutex
	order *list.List // front: most recently used; values are handles
	items map[string]*memoryEntry
}

type memoryEntry struct {
	s    *Session
	elem *list.Element
}

// NewMemorySessionStore returns a store of at most max sessions (<= 0:
// DefaultMaxSessions).
func NewMemorySessionStore(max int) *MemorySessionStore {
	if max <= 0 {
		max = DefaultMaxSessions
	}
	return &MemorySessionStore{max: max, order: list.New(), items: make(map[string]*memoryEntry)}
}

// Create stores a new session.
func (m *MemorySessionStore) Create(_ context.Context, s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.items[s.Handle]; dup {
		return errors.New("auth: session handle collision")
	}
	for len(m.items) >= m.max {
		oldest := m.order.Back()
		m.order.Remove(oldest)
		delete(m.items, oldest.Value.(string))
	}
	m.items[s.Handle] = &memoryEntry{s: s.clone(), elem: m.order.PushFront(s.Handle)}
	return nil
}

// Get returns a copy of a session.
func (m *MemorySessionStore) Get(_ context.Context, handle string) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[handle]
	if !ok {
		return nil, ErrSessionNotFound
	}
	m.order.MoveToFront(e.elem)
	return e.s.clone(), nil
}

// Update replaces a stored session.
func (m *MemorySessionStore) Update(_ context.Context, s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[s.Handle]
	if !ok {
		return ErrSessionNotFound
	}
	e.s = s.clone()
	m.order.MoveToFront(e.elem)
	return nil
}

// Delete removes a session; removing an absent one is not an error.
func (m *MemorySessionStore) Delete(_ context.Context, handle string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.items[handle]; ok {
		m.order.Remove(e.elem)
		delete(m.items, handle)
	}
	return nil
}

// DeleteSubject removes every session of (issuer, subject).
func (m *MemorySessionStore) DeleteSubject(_ context.Context, issuer, subject string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, e := range m.items {
		if e.s.Issuer == issuer && e.s.Subject == subject {
			m.order.Remove(e.elem)
			delete(m.items, h)
		}
	}
	return nil
}

// Len returns the number of sessions held.
func (m *MemorySessionStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}
