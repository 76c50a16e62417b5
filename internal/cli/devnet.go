package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/blossom-ledger/blossom/internal/fsutil"
)

// DevnetFile is the name of the description `blossom up` writes in its
// directory.
const DevnetFile = "devnet.json"

// Devnet is devnet.json (DESIGN §10): a development consortium's
// endpoints, CA bundle and demo users. Paths are absolute.
type Devnet struct {
	Ready    bool           `json:"ready"`
	Channel  string         `json:"channel"`
	CABundle string         `json:"caBundle"`
	Orderers []string       `json:"orderers"`
	Members  []DevnetMember `json:"members"`
}

// DevnetMember is one member of a devnet.
type DevnetMember struct {
	Name       string       `json:"name"`
	MSPID      string       `json:"mspId"`
	Admin      bool         `json:"admin"`
	Gateway    string       `json:"gateway"`
	Dashboard  string       `json:"dashboard"`
	OIDCIssuer string       `json:"oidcIssuer"`
	CAURL      string       `json:"caUrl"`
	Peers      []string     `json:"peers"`
	Users      []DevnetUser `json:"users"`
}

// DevnetUser is a demo user: its blossom.role ("" for admin), password
// (for the member's OIDC provider) and certificate and key files.
type DevnetUser struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
}

// ReadDevnet reads DIR/devnet.json (bounded to 4 MiB, unknown fields
// refused) and checks that the paths it names are absolute.
func ReadDevnet(dir string) (*Devnet, error) {
	path := filepath.Join(dir, DevnetFile)
	data, err := fsutil.ReadFileBounded(path, maxDevnetFile)
	if err != nil {
		return nil, err
	}
	d, err := ParseDevnet(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Bounds on devnet.json's contents.
const (
	maxDevnetMembers = 64
	maxDevnetUsers   = 256
	maxDevnetPeers   = 16
)

// ParseDevnet decodes and checks a devnet.json document. Errors never
// include a password.
func ParseDevnet(data []byte) (*Devnet, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Devnet
	if err := dec.Decode(&d); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("malformed JSON at byte %d", syn.Offset)
		}
		return nil, errors.New("not a devnet description (unknown field or wrong type)")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	if d.CABundle != "" && !filepath.IsAbs(d.CABundle) {
		return nil, errors.New("caBundle is not an absolute path")
	}
	if len(d.Members) > maxDevnetMembers {
		return nil, fmt.Errorf("more than %d members", maxDevnetMembers)
	}
	names := map[string]bool{}
	for _, m := range d.Members {
		if m.Name == "" || m.MSPID == "" {
			return nil, errors.New("a member has no name or MSP ID")
		}
		if names[m.Name] {
			return nil, fmt.Errorf("member %q listed twice", m.Name)
		}
		names[m.Name] = true
		if len(m.Users) > maxDevnetUsers || len(m.Peers) > maxDevnetPeers {
			return nil, fmt.Errorf("member %q has too many users or peers", m.Name)
		}
		users := map[string]bool{}
		for _, u := range m.Users {
			if u.Name == "" || users[u.Name] {
				return nil, fmt.Errorf("member %q: a user has no name or is listed twice", m.Name)
			}
			users[u.Name] = true
			if (u.Cert != "" && !filepath.IsAbs(u.Cert)) || (u.Key != "" && !filepath.IsAbs(u.Key)) {
				return nil, fmt.Errorf("member %q user %q: cert and key must be absolute paths", m.Name, u.Name)
			}
		}
	}
	return &d, nil
}

// User finds member and user by name.
func (d *Devnet) User(member, user string) (*DevnetMember, *DevnetUser, error) {
	for i := range d.Members {
		m := &d.Members[i]
		if m.Name != member {
			continue
		}
		for j := range m.Users {
			if m.Users[j].Name == user {
				return m, &m.Users[j], nil
			}
		}
		return nil, nil, fmt.Errorf("member %q has no user %q", member, user)
	}
	return nil, nil, fmt.Errorf("no member %q in the devnet", member)
}
