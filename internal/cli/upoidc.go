package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"

	"github.com/blossom-ledger/blossom/internal/devnet"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/gateway/oidcprovider"
)

// startProviders starts every member's built-in OpenID provider on its
// OIDC port (TLS with the member gateway's certificate), with the
// member's users as devnet.json lists them: their passwords (hashed by
// the provider at once) and their blossom.role as the role claim. Users
// `blossom devnet add-user` adds while the consortium runs reach the
// provider at the next start.
func (r *upRunner) startProviders(c *devnet.Consortium, log *slog.Logger) ([]*oidcprovider.Provider, error) {
	providers := make([]*oidcprovider.Provider, len(c.Members))
	var g group
	for i := range c.Members {
		m := &c.Members[i]
		g.Go(func() error {
			p, err := newMemberProvider(c, m, log)
			if err != nil {
				return fmt.Errorf("OIDC provider of %s: %w", m.Name, err)
			}
			providers[i] = p
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i := range c.Members {
		m := &c.Members[i]
		gd := c.NodeDir(m, devnet.NodeGateway)
		cert, _, err := loadTLSCredential(filepath.Join(gd, devnet.CertFile), filepath.Join(gd, devnet.KeyFile))
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", devnet.Loopback(m.Ports.OIDC))
		if err != nil {
			return nil, fmt.Errorf("OIDC provider of %s: %w", m.Name, err)
		}
		r.goNode(m.Name+" OIDC provider", func() error { return providers[i].Serve(r.ctx, ln, cert) })
	}
	return providers, nil
}

// newMemberProvider builds m's provider: its gateway is the one client
// (browser sign-in, and access tokens for the gateway's API).
func newMemberProvider(c *devnet.Consortium, m *devnet.Member, log *slog.Logger) (*oidcprovider.Provider, error) {
	secret, err := readSecretFile(c.SignInSecretFile(m))
	if err != nil {
		return nil, err
	}
	gw := "https://" + m.Address(devnet.NodeGateway)
	p, err := oidcprovider.New(oidcprovider.Config{
		Issuer: c.OIDCIssuer(m), RoleClaim: devnet.OIDCRoleClaim, Logger: log.With("node", m.Name+" OIDC provider"),
		LoginBanner: "blossom development consortium: member " + m.Name,
		Clients: []oidcprovider.ClientConfig{{
			ID: devnet.SignInClientID, Secret: secret, RedirectURIs: []string{c.SignInRedirectURL(m)},
			PostLogoutRedirectURIs: []string{gw + "/"}, Audiences: []string{devnet.OIDCAudience},
		}},
	})
	if err != nil {
		return nil, err
	}
	for _, u := range m.Users {
		if err := p.AddUser(oidcprovider.User{Username: u.Name, Password: u.Password, Role: u.Role}); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// approveUsers has each member's admin approve, at its gateway, the
// first sign-in of every user of the member's provider with its role
// (the admin as a member administrator). An approval is consumed by the
// first sign-in; approving an identity again is harmless.
func approveUsers(ctx context.Context, c *devnet.Consortium, providers []*oidcprovider.Provider) error {
	var g group
	for i := range c.Members {
		m := &c.Members[i]
		g.Go(func() error {
			admin, err := userRemote(c, m, "admin")
			if err != nil {
				return err
			}
			for _, u := range m.Users {
				sub, err := providers[i].Subject(u.Name)
				if err != nil {
					return err
				}
				req := gateway.ApprovalRequest{Issuer: providers[i].Issuer(), Subject: sub, Role: u.Role, Admin: u.Role == ""}
				if err := postJSON(ctx, admin.HTTP, admin.URL+"/api/v1/admin/approvals", req); err != nil {
					return fmt.Errorf("approve the sign-in of %s/%s: %w", m.Name, u.Name, err)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// postJSON posts v and expects 200.
func postJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
