package ngac

import (
	"errors"
	"fmt"
)

// Error classes. Every error returned by this package wraps exactly one of
// them; the message names the offending element.
var (
	// ErrNotFound: a named node, right, association or prohibition does not exist.
	ErrNotFound = errors.New("ngac: not found")
	// ErrExists: the node, assignment, association, prohibition or right already exists.
	ErrExists = errors.New("ngac: already exists")
	// ErrCycle: the assignment would make the assignment graph cyclic.
	ErrCycle = errors.New("ngac: assignment cycle")
	// ErrInvalid: a malformed name, a wrong node kind for the relation, an
	// empty right set, a malformed or non-canonical encoding, and the like.
	ErrInvalid = errors.New("ngac: invalid")
	// ErrInUse: the element is still referenced (a node with children,
	// associations or prohibitions; a node's last assignment).
	ErrInUse = errors.New("ngac: in use")
	// ErrLimit: the operation would exceed one of the package's size bounds.
	ErrLimit = errors.New("ngac: limit exceeded")
)

// graphError carries a readable message and the error class it belongs to.
type graphError struct {
	class error
	msg   string
}

func (e *graphError) Error() string { return "ngac: " + e.msg }
func (e *graphError) Unwrap() error { return e.class }

func errorf(class error, format string, args ...any) error {
	return &graphError{class: class, msg: fmt.Sprintf(format, args...)}
}
