package wasm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The runtime's own wasi_snapshot_preview1: exactly the functions Go's
// wasip1 port may import, each answered deterministically from the
// invocation's session, so that every endorser computes the same result.
//
//   - clock_time_get: a virtual clock. The realtime clock starts at the
//     transaction's timestamp and the monotonic clocks where the warm-up
//     left them; every reading advances both by clockStep.
//   - random_get: SHA-256 in counter mode, seeded by the transaction ID and
//     the chaincode name.
//   - poll_oneoff: clock subscriptions advance the virtual clock to the
//     earliest deadline and fire; fd subscriptions fail with EBADF.
//   - fd_write to stdout and stderr is captured (at most maxOutput bytes
//     per invocation, the rest counted and dropped) and logged by the
//     runtime; fd_read of stdin reads end of file.
//   - No arguments, no environment, no preopened directories, so every
//     path operation fails with EBADF; no sockets (sock_accept and
//     sock_shutdown fail with EBADF); other file operations fail with
//     EBADF.
//   - proc_exit ends the invocation (the instance is discarded).

// WASI errno values.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoFault   = 21
	errnoInval   = 28
)

const (
	// clockStep is how far the virtual clock advances per reading.
	clockStep = 1000 // ns
	// maxOutput bounds the captured stdout and stderr of one invocation.
	maxOutput = 64 << 10
	// maxSubscriptions bounds a poll_oneoff call.
	maxSubscriptions = 1024
	// Fuel charged by host functions: a base per call, about what the
	// guest computes in the time a host call takes (a microsecond, see
	// docs/performance.md), so that fuel stays proportional to time even
	// for a chaincode that spins on cheap host calls; and one unit per
	// bytesPerFuel bytes moved.
	hostCallFuel = 1000
	bytesPerFuel = 64
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// wasiFunc is one WASI function: its signature and implementation.
type wasiFunc struct {
	params, results []api.ValueType
	fn              func(s *session, stack []uint64)
}

// wasiFunctions is the WASI allow-list.
var wasiFunctions = map[string]wasiFunc{
	"args_get":                {[]api.ValueType{i32, i32}, []api.ValueType{i32}, ok},
	"args_sizes_get":          {[]api.ValueType{i32, i32}, []api.ValueType{i32}, zeroSizes},
	"environ_get":             {[]api.ValueType{i32, i32}, []api.ValueType{i32}, ok},
	"environ_sizes_get":       {[]api.ValueType{i32, i32}, []api.ValueType{i32}, zeroSizes},
	"clock_time_get":          {[]api.ValueType{i32, i64, i32}, []api.ValueType{i32}, clockTimeGet},
	"fd_close":                {[]api.ValueType{i32}, []api.ValueType{i32}, fdClose},
	"fd_fdstat_get":           {[]api.ValueType{i32, i32}, []api.ValueType{i32}, fdFdstatGet},
	"fd_fdstat_set_flags":     {[]api.ValueType{i32, i32}, []api.ValueType{i32}, fdNoop},
	"fd_fdstat_set_rights":    {[]api.ValueType{i32, i64, i64}, []api.ValueType{i32}, badf},
	"fd_filestat_get":         {[]api.ValueType{i32, i32}, []api.ValueType{i32}, fdFilestatGet},
	"fd_filestat_set_size":    {[]api.ValueType{i32, i64}, []api.ValueType{i32}, badf},
	"fd_pread":                {[]api.ValueType{i32, i32, i32, i64, i32}, []api.ValueType{i32}, badf},
	"fd_prestat_dir_name":     {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, badf},
	"fd_prestat_get":          {[]api.ValueType{i32, i32}, []api.ValueType{i32}, badf},
	"fd_pwrite":               {[]api.ValueType{i32, i32, i32, i64, i32}, []api.ValueType{i32}, badf},
	"fd_read":                 {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, fdRead},
	"fd_readdir":              {[]api.ValueType{i32, i32, i32, i64, i32}, []api.ValueType{i32}, badf},
	"fd_seek":                 {[]api.ValueType{i32, i64, i32, i32}, []api.ValueType{i32}, badf},
	"fd_sync":                 {[]api.ValueType{i32}, []api.ValueType{i32}, badf},
	"fd_write":                {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, fdWrite},
	"path_create_directory":   {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, badf},
	"path_filestat_get":       {[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, badf},
	"path_filestat_set_times": {[]api.ValueType{i32, i32, i32, i32, i64, i64, i32}, []api.ValueType{i32}, badf},
	"path_link":               {[]api.ValueType{i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, badf},
	"path_open":               {[]api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, []api.ValueType{i32}, badf},
	"path_readlink":           {[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, badf},
	"path_remove_directory":   {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, badf},
	"path_rename":             {[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}, badf},
	"path_symlink":            {[]api.ValueType{i32, i32, i32, i32, i32}, []api.ValueType{i32}, badf},
	"path_unlink_file":        {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, badf},
	"poll_oneoff":             {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, pollOneoff},
	"proc_exit":               {[]api.ValueType{i32}, nil, procExit},
	"random_get":              {[]api.ValueType{i32, i32}, []api.ValueType{i32}, randomGet},
	"sched_yield":             {nil, []api.ValueType{i32}, ok},
	"sock_accept":             {[]api.ValueType{i32, i32, i32}, []api.ValueType{i32}, badf},
	"sock_shutdown":           {[]api.ValueType{i32, i32}, []api.ValueType{i32}, badf},
}

func wasiFunctionNames() map[string]bool {
	out := make(map[string]bool, len(wasiFunctions))
	for name := range wasiFunctions {
		out[name] = true
	}
	return out
}

// instantiateWASI adds the WASI host module to rt.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(wasiModule)
	for name, f := range wasiFunctions {
		fn := f.fn
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(ctx context.Context, _ api.Module, stack []uint64) {
				s := sessionFrom(ctx)
				s.charge(hostCallFuel)
				fn(s, stack)
			}), f.params, f.results).
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func ok(_ *session, stack []uint64)   { stack[0] = errnoSuccess }
func badf(_ *session, stack []uint64) { stack[0] = errnoBadf }

func setErrno(stack []uint64, ok bool) {
	if ok {
		stack[0] = errnoSuccess
	} else {
		stack[0] = errnoFault
	}
}

// zeroSizes answers args_sizes_get and environ_sizes_get: nothing.
func zeroSizes(s *session, stack []uint64) {
	mem := s.mem
	setErrno(stack, mem.putU32(uint32(stack[0]), 0) && mem.putU32(uint32(stack[1]), 0))
}

func isStdio(fd uint32) bool { return fd <= 2 }

func fdClose(_ *session, stack []uint64) {
	if isStdio(uint32(stack[0])) {
		stack[0] = errnoSuccess
		return
	}
	stack[0] = errnoBadf
}

func fdNoop(_ *session, stack []uint64) { fdClose(nil, stack) }

// fdFdstatGet describes stdin, stdout and stderr as character devices.
func fdFdstatGet(s *session, stack []uint64) {
	fd, ptr := uint32(stack[0]), uint32(stack[1])
	if !isStdio(fd) {
		stack[0] = errnoBadf
		return
	}
	b, ok := s.mem.slice(ptr, 24)
	if !ok {
		stack[0] = errnoFault
		return
	}
	clear(b)
	b[0] = 2                 // character device
	rights := uint64(1 << 6) // fd_write
	if fd == 0 {
		rights = 1 << 1 // fd_read
	}
	binary.LittleEndian.PutUint64(b[8:], rights)
	stack[0] = errnoSuccess
}

func fdFilestatGet(s *session, stack []uint64) {
	fd, ptr := uint32(stack[0]), uint32(stack[1])
	if !isStdio(fd) {
		stack[0] = errnoBadf
		return
	}
	b, ok := s.mem.slice(ptr, 64)
	if !ok {
		stack[0] = errnoFault
		return
	}
	clear(b)
	b[16] = 2 // character device
	stack[0] = errnoSuccess
}

// iovecs sums and visits the buffers of an iovec array.
func (s *session) iovecs(iovs, n uint32, visit func([]byte)) (int, bool) {
	if n > 1024 {
		return 0, false
	}
	total := 0
	for i := uint32(0); i < n; i++ {
		ptr, ok1 := s.mem.u32(iovs + 8*i)
		l, ok2 := s.mem.u32(iovs + 8*i + 4)
		if !ok1 || !ok2 {
			return 0, false
		}
		b, ok := s.mem.slice(ptr, l)
		if !ok {
			return 0, false
		}
		if visit != nil {
			visit(b)
		}
		total += len(b)
	}
	return total, true
}

// fdWrite captures stdout and stderr.
func fdWrite(s *session, stack []uint64) {
	fd, iovs, n, nwritten := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if fd != 1 && fd != 2 {
		stack[0] = errnoBadf
		return
	}
	total, ok := s.iovecs(iovs, n, s.capture)
	if !ok {
		stack[0] = errnoFault
		return
	}
	s.charge(uint64(total) / bytesPerFuel)
	setErrno(stack, s.mem.putU32(nwritten, uint32(total)))
}

// capture appends guest output, within maxOutput.
func (s *session) capture(b []byte) {
	room := maxOutput - len(s.output)
	if room < len(b) {
		s.outputDropped += len(b) - max(room, 0)
		b = b[:max(room, 0)]
	}
	s.output = append(s.output, b...)
}

// fdRead reads end of file from stdin.
func fdRead(s *session, stack []uint64) {
	fd, nread := uint32(stack[0]), uint32(stack[3])
	if fd != 0 {
		stack[0] = errnoBadf
		return
	}
	setErrno(stack, s.mem.putU32(nread, 0))
}

// Clock IDs.
const (
	clockRealtime = 0
	clockMax      = 3 // monotonic, process and thread CPU time read the monotonic clock
)

// now reads the virtual clock id without advancing it.
func (s *session) now(id uint32) int64 {
	if id == clockRealtime {
		return s.realBase + s.elapsed
	}
	return s.monoBase + s.elapsed
}

func clockTimeGet(s *session, stack []uint64) {
	id, ptr := uint32(stack[0]), uint32(stack[2])
	if id > clockMax {
		stack[0] = errnoInval
		return
	}
	s.elapsed += clockStep
	setErrno(stack, s.mem.putU64(ptr, uint64(s.now(id))))
}

// pollOneoff answers subscriptions deterministically: fd subscriptions
// fail at once with EBADF; otherwise the clock advances to the earliest
// clock deadline and every due clock subscription fires.
func pollOneoff(s *session, stack []uint64) {
	in, out, n, neventsPtr := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if n == 0 || n > maxSubscriptions {
		stack[0] = errnoInval
		return
	}
	subs, ok1 := s.mem.slice(in, 48*n)
	events, ok2 := s.mem.slice(out, 32*n)
	if !ok1 || !ok2 {
		stack[0] = errnoFault
		return
	}
	type sub struct {
		userdata uint64
		tag      byte
		id       uint32
		deadline int64
	}
	parsed := make([]sub, n)
	anyFD := false
	for i := range parsed {
		b := subs[48*i:]
		p := sub{userdata: binary.LittleEndian.Uint64(b), tag: b[8], id: binary.LittleEndian.Uint32(b[16:])}
		if p.tag == 0 && p.id <= clockMax {
			timeout := int64(binary.LittleEndian.Uint64(b[24:]))
			if binary.LittleEndian.Uint16(b[40:])&1 != 0 { // absolute
				p.deadline = timeout
			} else {
				p.deadline = s.now(p.id) + max(timeout, 0)
			}
		} else if p.tag != 0 {
			anyFD = true
		}
		parsed[i] = p
	}
	var count uint32
	emit := func(p sub, errno uint16) {
		e := events[32*count : 32*count+32]
		clear(e)
		binary.LittleEndian.PutUint64(e, p.userdata)
		binary.LittleEndian.PutUint16(e[8:], errno)
		e[10] = p.tag
		count++
	}
	if anyFD {
		for _, p := range parsed {
			if p.tag != 0 {
				emit(p, errnoBadf)
			}
		}
	} else {
		// Advance to the earliest deadline.
		var wait int64 = -1
		for _, p := range parsed {
			if p.id > clockMax {
				continue
			}
			if d := p.deadline - s.now(p.id); wait < 0 || d < wait {
				wait = max(d, 0)
			}
		}
		if wait > 0 {
			s.elapsed += wait
		}
		for _, p := range parsed {
			switch {
			case p.id > clockMax:
				emit(p, errnoInval)
			case p.deadline <= s.now(p.id):
				emit(p, errnoSuccess)
			}
		}
	}
	setErrno(stack, s.mem.putU32(neventsPtr, count))
}

// exitError ends an invocation that called proc_exit.
type exitError struct{ code uint32 }

func (e *exitError) Error() string { return "proc_exit" }

func procExit(_ *session, stack []uint64) {
	panic(&exitError{code: uint32(stack[0])})
}

func randomGet(s *session, stack []uint64) {
	b, ok := s.mem.slice(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errnoFault
		return
	}
	s.charge(uint64(len(b)) / bytesPerFuel)
	s.random.read(b)
	stack[0] = errnoSuccess
}

// randomStream is SHA-256 in counter mode: block i is
// SHA-256(seed ‖ uint64be(i)).
type randomStream struct {
	seed    [32]byte
	counter uint64
	block   [32]byte
	used    int
}

func newRandomStream(parts ...string) randomStream {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var r randomStream
	h.Sum(r.seed[:0])
	r.used = len(r.block)
	return r
}

func (r *randomStream) read(b []byte) {
	for len(b) > 0 {
		if r.used == len(r.block) {
			var in [40]byte
			copy(in[:], r.seed[:])
			binary.BigEndian.PutUint64(in[32:], r.counter)
			r.counter++
			r.block = sha256.Sum256(in[:])
			r.used = 0
		}
		n := copy(b, r.block[r.used:])
		r.used += n
		b = b[n:]
	}
}
