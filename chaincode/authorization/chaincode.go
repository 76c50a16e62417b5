package authorization

import (
	"errors"
	"fmt"

	"github.com/blossom-ledger/blossom/ngac/blossompolicy"
	"github.com/blossom-ledger/blossom/sdk/contract"
)

// ChaincodeName is the name the chaincode is deployed under; the asset
// chaincode calls "authorization" / "account:GetAccountStatus".
const ChaincodeName = "authorization"

// AdminMSPParam is the definition parameter naming the admin member.
const AdminMSPParam = "adminMSP"

// New returns the authorization chaincode. It holds no state of its own and is
// safe for concurrent use. Its Warmup prepares the JSON encoders and
// decoders of its records (see contract.Warmer), so that a wasm instance
// starts each transaction with them ready.
func New() contract.Chaincode {
	return contract.WithWarmup(router(), warmup)
}

// warmup encodes and decodes each record type once.
func warmup() {
	contract.WarmJSON([]Account{{}}, []AccountHistorySnapshot{{}}, MOU{}, ATO{}, []Feedback{{}}, Vote{}, atoInput{}, feedbackInput{})
}

func router() contract.Chaincode {
	return contract.New(
		contract.Contract{Name: "bootstrap", Functions: map[string]contract.Function{
			"Bootstrap": bootstrap,
			"Test":      test,
		}},
		contract.Contract{Name: "account", Functions: map[string]contract.Function{
			"Join":              join,
			"GetAccounts":       getAccounts,
			"GetAccount":        getAccountFn,
			"GetAccountStatus":  getAccountStatus,
			"GetAccountHistory": getAccountHistory,
		}},
		contract.Contract{Name: "mou", Functions: map[string]contract.Function{
			"UpdateMOU":     updateMOU,
			"GetMOU":        getMOUFn,
			"GetMOUHistory": getMOUHistory,
			"SignMOU":       signMOU,
		}},
		contract.Contract{Name: "ato", Functions: map[string]contract.Function{
			"CreateATO":      createATO,
			"UpdateATO":      updateATO,
			"GetATO":         getATOFn,
			"SubmitFeedback": submitFeedback,
		}},
		contract.Contract{Name: "vote", Functions: map[string]contract.Function{
			"InitiateVote":       initiateVote,
			"Vote":               vote,
			"CertifyOngoingVote": certifyOngoingVote,
			"AbortOngoingVote":   abortOngoingVote,
			"GetOngoingVote":     getOngoingVote,
			"GetVoteHistory":     getVoteHistory,
		}},
		contract.Contract{Name: "ngac", Functions: map[string]contract.Function{
			"GetAllRoles":      getAllRoles,
			"GetAllPrivileges": getAllPrivileges,
		}},
	)
}

// Keys (spec §1.4).
const (
	mouKey         = "mou"
	ongoingVoteKey = "ongoing_vote"
	accountPrefix  = "account:"
	votePrefix     = "vote:"
	atoPrefix      = "ato:"
)

func accountKey(m string) string { return accountPrefix + m }
func voteKey(m string) string    { return votePrefix + m }
func atoKey(m string) string     { return atoPrefix + m }

// ImplicitCollection is the name of member m's implicit private data
// collection, where its ATO is kept.
func ImplicitCollection(m string) string { return "_implicit_org_" + m }

// errNoOngoingVote is the reference's refusal when no vote is ongoing.
var errNoOngoingVote = errors.New("there is no ongoing vote")

// adminMSP returns the admin member named by the chaincode definition.
func adminMSP(stub contract.Stub) (string, error) {
	v, ok := stub.GetDefinitionParam(AdminMSPParam)
	if !ok || v == "" {
		return "", fmt.Errorf("the chaincode definition has no %q parameter naming the BloSS@M admin member", AdminMSPParam)
	}
	if err := blossompolicy.ValidateMemberID(v); err != nil {
		return "", fmt.Errorf("the chaincode definition parameter %q is invalid: %v", AdminMSPParam, err)
	}
	return v, nil
}

// creator is the transaction creator as the policy sees it, plus whether
// the certificate carries a role at all.
type creator struct {
	blossompolicy.Caller
	hasRole bool
}

// getCreator reads the creator's MSP ID and blossom.role attribute.
func getCreator(stub contract.Stub) (creator, error) {
	role, found, err := stub.GetAttribute(contract.RoleAttribute)
	if err != nil {
		return creator{}, fmt.Errorf("reading the caller's %s attribute: %w", contract.RoleAttribute, err)
	}
	return creator{Caller: blossompolicy.Caller{MSPID: stub.GetMSPID(), Role: role}, hasRole: found}, nil
}

// loadPolicy returns the stored NGAC policy: "ngac policy has not been
// initialized" before Bootstrap.
func loadPolicy(stub contract.Stub) (*blossompolicy.AuthorizationPolicy, error) {
	admin, err := adminMSP(stub)
	if err != nil {
		return nil, err
	}
	data, err := stub.GetState(blossompolicy.PolicyKey)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, errors.New("ngac policy has not been initialized")
	}
	pol, err := blossompolicy.LoadAuthorizationPolicy(admin, data)
	if err != nil {
		return nil, fmt.Errorf("stored ngac policy: %w", err)
	}
	return pol, nil
}

func savePolicy(stub contract.Stub, pol *blossompolicy.AuthorizationPolicy) error {
	data, err := pol.Encode()
	if err != nil {
		return fmt.Errorf("encoding the ngac policy: %w", err)
	}
	if len(data) > contract.MaxValueSize {
		return fmt.Errorf("the ngac policy would be %d bytes long, more than %d", len(data), contract.MaxValueSize)
	}
	return stub.PutState(blossompolicy.PolicyKey, data)
}

// authorize runs the access check of spec §2.1 steps 2 to 4 for the
// creator: the role, the creator's account (except for sign_mou), then
// the decision, refused with denied.
func authorize(pol *blossompolicy.AuthorizationPolicy, c creator, right, object, denied string) error {
	ok, err := pol.Decide(c.Caller, right, object)
	if err != nil {
		if errors.Is(err, blossompolicy.ErrUnknownRole) && !c.hasRole {
			return errors.New("unknown user role: (missing blossom.role attribute)")
		}
		return err
	}
	if !ok {
		return errors.New(denied)
	}
	return nil
}

// getAccount returns member m's account, or nil if it has none.
func getAccount(stub contract.Stub, m string) (*Account, error) {
	data, err := stub.GetState(accountKey(m))
	if err != nil || data == nil {
		return nil, err
	}
	return decodeAccount(accountKey(m), data)
}

func putJSON(stub contract.Stub, key, what string, v any) error {
	b, err := encode(what, v)
	if err != nil {
		return err
	}
	return stub.PutState(key, b)
}

func setEventJSON(stub contract.Stub, name string, v any) error {
	b, err := contract.CanonicalJSON(v)
	if err != nil {
		return fmt.Errorf("encoding the %s event: %w", name, err)
	}
	return stub.SetEvent(name, b)
}

// marshalResponse encodes a function's JSON result.
func marshalResponse(v any) ([]byte, error) {
	b, err := contract.CanonicalJSON(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the response: %w", err)
	}
	return b, nil
}
