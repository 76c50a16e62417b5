package devnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"time"
	"unicode"

	"github.com/blossom-ledger/blossom/internal/caserver"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// userNamePattern bounds demo user names: they name a directory.
var userNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// maxRoleLength bounds a blossom.role value.
const maxRoleLength = 256

// AddUser enrolls one more user of member with any blossom.role ("" makes
// a member admin) through the member's CA, records it with a fresh
// password and returns it (development only). The CA is reached on its
// port while `blossom up` runs; otherwise it is opened here for the call.
func AddUser(dir, member, name, role string, logger *slog.Logger) (*User, error) {
	if !userNamePattern.MatchString(name) {
		return nil, fmt.Errorf("user name %q: use 1 to 32 lower-case letters, digits and '-', starting with a letter", name)
	}
	if len(role) > maxRoleLength {
		return nil, fmt.Errorf("role is longer than %d bytes", maxRoleLength)
	}
	for _, r := range role {
		if !unicode.IsPrint(r) {
			return nil, errors.New("role contains a non-printable character")
		}
	}
	c, err := Load(dir)
	if err != nil {
		return nil, err
	}
	m, ok := c.Member(member)
	if !ok {
		return nil, fmt.Errorf("no member %q in %s", member, c.Dir())
	}
	for _, u := range m.Users {
		if u.Name == name {
			return nil, fmt.Errorf("member %s already has a user %q", member, name)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	url, release, err := c.reachCA(m, logger)
	if err != nil {
		return nil, err
	}
	defer release()
	e, err := newEnroller(c.CADir(m), url)
	if err != nil {
		return nil, err
	}
	defer e.close()
	if err := e.actAs(filepath.Join(c.MemberDir(m), "registrar")); err != nil {
		return nil, err
	}
	pw, err := newPassword()
	if err != nil {
		return nil, err
	}
	u := User{Name: name, Role: role, Password: pw}
	req := caserver.RegisterRequest{EnrollmentID: m.Name + "-" + name, Type: string(pki.RoleClient)}
	if role == "" {
		req.Type = string(pki.RoleAdmin)
	} else {
		req.Attributes = map[string]string{pki.RoleAttribute: role}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.registerAndEnroll(ctx, req, c.UserDir(m, name)); err != nil {
		return nil, err
	}
	m.Users = append(m.Users, u)
	if err := c.Save(); err != nil {
		return nil, err
	}
	return &u, nil
}

// reachCA returns the URL of member m's CA: its port if a server answers
// there, else a server opened here on a free port until release.
func (c *Consortium) reachCA(m *Member, logger *slog.Logger) (url string, release func(), err error) {
	addr := Loopback(m.Ports.CA)
	if conn, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		conn.Close()
		return "https://" + addr, func() {}, nil
	}
	return c.openCA(m, logger)
}

// openCA serves member m's CA from its directory on a free loopback port
// until release.
func (c *Consortium) openCA(m *Member, logger *slog.Logger) (url string, release func(), err error) {
	srv, err := caserver.Open(caserver.Config{Dir: c.CADir(m), Logger: logger})
	if err != nil {
		return "", nil, fmt.Errorf("the CA of %s is neither running nor openable: %w", m.Name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	return "https://" + ln.Addr().String(), func() { cancel(); <-served; srv.Close() }, nil
}
