package gateway

import (
	"context"
	"errors"
	"net/http"
	"regexp"

	"github.com/blossom-ledger/blossom/internal/gateway/auth"
	"github.com/blossom-ledger/blossom/internal/gateway/binding"
	"github.com/blossom-ledger/blossom/internal/pki"
)

// ApprovalRequest is the body of POST /api/v1/admin/approvals: let one
// identity of a provider enroll at its first sign-in with a role.
type ApprovalRequest struct {
	Issuer  string `json:"issuer"`
	Subject string `json:"subject,omitempty"`
	Email   string `json:"email,omitempty"`
	Role    string `json:"role"`
	// Admin approves a member administrator (certificate type admin)
	// instead of a client.
	Admin bool `json:"admin,omitempty"`
}

// DisableRequest is the body of POST /api/v1/admin/users/{enrollmentId}/disable.
type DisableRequest struct {
	// Reason is the CRL reason (RFC 5280 name, e.g. keyCompromise;
	// default cessationOfOperation).
	Reason string `json:"reason,omitempty"`
}

// DisableResponse says what a disable did.
type DisableResponse struct {
	EnrollmentID string   `json:"enrollmentId"`
	Revoked      []string `json:"revoked"` // certificate serials revoked now
	// CRL is the member CA's new CRL (PEM), "" if nothing was revoked now.
	CRL string `json:"crl,omitempty"`
	// CRLTxID is the config update that published the CRL through
	// _governance (when the gateway publishes CRLs); otherwise a member
	// admin publishes CRL with `blossom governance propose update-crl`.
	CRLTxID string `json:"crlTxId,omitempty"`
}

// enrollmentIDPattern bounds an enrollment ID in a path.
var enrollmentIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,127}$`)

// admin checks that the caller is a member administrator.
func (g *Gateway) admin(w http.ResponseWriter, r *http.Request, a *audit) (*auth.Principal, bool) {
	p, _ := auth.PrincipalFrom(r.Context())
	if p.Type != pki.RoleAdmin {
		g.fail(w, r, a, &apiError{http.StatusForbidden, "ADMIN_ONLY", "only the member's administrators may do this"})
		return nil, false
	}
	return p, true
}

func (g *Gateway) approve(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "admin/approve"}
	p, ok := g.admin(w, r, a)
	if !ok {
		return
	}
	var body ApprovalRequest
	if e := decodeJSON(r, &body); e != nil {
		g.fail(w, r, a, e)
		return
	}
	ap := binding.Approval{Issuer: body.Issuer, Subject: body.Subject, Email: body.Email, Role: body.Role,
		Type: pki.RoleClient, ApprovedBy: p.MSPID + "/" + p.EnrollmentID}
	if body.Admin {
		ap.Type = pki.RoleAdmin
	}
	if err := g.cfg.Binder.Approve(ap); err != nil {
		g.fail(w, r, a, badRequest("%v", err))
		return
	}
	g.logAudit(r, a, http.StatusOK, "APPROVED")
	writeJSON(w, http.StatusOK, map[string]string{"status": "approved"})
}

// disableUser disables a bound user at once, has the member CA revoke its
// certificate and, when the gateway publishes CRLs (Config.PublishCRL),
// publishes the CA's new CRL through _governance.
func (g *Gateway) disableUser(w http.ResponseWriter, r *http.Request) {
	a := &audit{route: "admin/disable"}
	if _, ok := g.admin(w, r, a); !ok {
		return
	}
	id := r.PathValue("enrollmentId")
	if !enrollmentIDPattern.MatchString(id) {
		g.fail(w, r, a, badRequest("invalid enrollment ID"))
		return
	}
	a.function = "disable " + id
	var body DisableRequest
	if e := decodeJSON(r, &body); e != nil {
		g.fail(w, r, a, e)
		return
	}
	if len(body.Reason) > 64 {
		g.fail(w, r, a, badRequest("reason longer than 64 bytes"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	res, err := g.cfg.Binder.Disable(ctx, id, body.Reason)
	switch {
	case errors.Is(err, binding.ErrNotFound):
		g.fail(w, r, a, &apiError{http.StatusNotFound, "NOT_FOUND", "no user with this enrollment ID"})
		return
	case err != nil && res == nil:
		g.log.Warn("gateway: disable failed", "enrollmentId", id, "err", err.Error())
		g.fail(w, r, a, &apiError{http.StatusInternalServerError, "INTERNAL", "the user could not be disabled"})
		return
	case err != nil:
		// Disabled at the gateway, but the revocation failed: retrying
		// the call retries it.
		g.log.Warn("gateway: user disabled, revocation failed", "enrollmentId", id, "err", err.Error())
		g.fail(w, r, a, &apiError{http.StatusBadGateway, "REVOCATION_FAILED",
			"the user is disabled at the gateway, but the member CA did not revoke its certificate; retry"})
		return
	}
	out := DisableResponse{EnrollmentID: id, Revoked: res.Revoked, CRL: string(res.CRL)}
	if out.Revoked == nil {
		out.Revoked = []string{}
	}
	if len(res.CRL) > 0 && g.cfg.PublishCRL != nil {
		txID, err := g.cfg.PublishCRL(ctx, res.CRL)
		if err != nil {
			g.log.Warn("gateway: CRL publication failed", "enrollmentId", id, "err", err.Error())
			g.fail(w, r, a, &apiError{http.StatusBadGateway, "CRL_NOT_PUBLISHED",
				"the user is disabled and its certificate revoked, but publishing the CRL through governance failed; publish it with blossom governance propose update-crl"})
			return
		}
		out.CRLTxID = txID
		a.txID = txID
	}
	g.logAudit(r, a, http.StatusOK, "DISABLED")
	writeJSON(w, http.StatusOK, out)
}
