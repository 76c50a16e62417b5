package contract

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLength bounds a contract name and a function name.
const MaxNameLength = 128

// Function is one chaincode function. args are the invocation's arguments
// as the client sent them; the returned bytes are the response payload.
// A returned error aborts the transaction and its text reaches the client
// verbatim.
type Function func(stub Stub, args [][]byte) ([]byte, error)

// Contract is a named set of functions, addressed as "Name:Function".
type Contract struct {
	Name      string
	Functions map[string]Function
}

// Chaincode is what a runtime invokes: function is the full
// "contract:Function" name.
type Chaincode interface {
	Invoke(stub Stub, function string, args [][]byte) ([]byte, error)
}

// New returns a Chaincode that routes "contract:Function" to the functions
// of contracts. Contract and function names are 1 to MaxNameLength
// characters from [A-Za-z0-9_.-]. New panics on an invalid or duplicate
// name or a nil function: the contracts are fixed in the chaincode's code,
// so such a mistake is a programming error caught by the first test.
func New(contracts ...Contract) Chaincode {
	r := &router{functions: make(map[string]Function)}
	seen := make(map[string]bool, len(contracts))
	for _, c := range contracts {
		if err := validateName("contract", c.Name); err != nil {
			panic("contract.New: " + err.Error())
		}
		if seen[c.Name] {
			panic(fmt.Sprintf("contract.New: contract %q defined twice", c.Name))
		}
		seen[c.Name] = true
		for name, fn := range c.Functions {
			if err := validateName("function", name); err != nil {
				panic(fmt.Sprintf("contract.New: contract %q: %v", c.Name, err))
			}
			if fn == nil {
				panic(fmt.Sprintf("contract.New: function %s:%s is nil", c.Name, name))
			}
			r.functions[c.Name+":"+name] = fn
		}
	}
	return r
}

type router struct {
	functions map[string]Function // by "contract:Function"
}

// Invoke implements Chaincode: a malformed name or one that names no
// function is an error ("unknown function <name>" for the latter).
func (r *router) Invoke(stub Stub, function string, args [][]byte) ([]byte, error) {
	if _, _, err := ParseFunctionName(function); err != nil {
		return nil, err
	}
	fn, ok := r.functions[function]
	if !ok {
		return nil, fmt.Errorf("unknown function %s", function)
	}
	return fn(stub, args)
}

// ParseFunctionName splits "contract:Function" into its two names, each 1
// to MaxNameLength characters from [A-Za-z0-9_.-].
func ParseFunctionName(name string) (contractName, function string, err error) {
	c, f, ok := strings.Cut(name, ":")
	if !ok {
		return "", "", fmt.Errorf("malformed function name %s: want \"contract:Function\"", QuoteKey(name))
	}
	if validateName("contract", c) != nil || validateName("function", f) != nil {
		return "", "", fmt.Errorf("malformed function name %s: want \"contract:Function\", names of 1 to %d characters from [A-Za-z0-9_.-]", QuoteKey(name), MaxNameLength)
	}
	return c, f, nil
}

func validateName(what, name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("%s name must be 1 to %d characters", what, MaxNameLength)
	}
	if !isName(name) {
		return fmt.Errorf("%s name %s has a character outside [A-Za-z0-9_.-]", what, QuoteKey(name))
	}
	return nil
}

// ErrArgs is wrapped by ExpectArgs's errors.
var ErrArgs = errors.New("wrong number of arguments")

// ExpectArgs returns an error unless args has exactly n elements:
// "wrong number of arguments: want n, got m".
func ExpectArgs(args [][]byte, n int) error {
	if len(args) != n {
		return fmt.Errorf("%w: want %d, got %d", ErrArgs, n, len(args))
	}
	return nil
}
