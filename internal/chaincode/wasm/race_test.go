//go:build race

package wasm

// raceEnabled is whether the tests run under the race detector, which
// makes instantiating a Go-built module about 25 times slower: tests
// that repeat instantiations to hit a timing window do fewer rounds then
// (the detector watches every round instead).
const raceEnabled = true
