package contract

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// echo returns its arguments joined by "|", prefixed with its own name, so
// a test sees which function ran with which arguments.
func echo(name string) Function {
	return func(stub Stub, args [][]byte) ([]byte, error) {
		parts := []string{name}
		for _, a := range args {
			parts = append(parts, string(a))
		}
		return []byte(strings.Join(parts, "|")), nil
	}
}

func TestRouterInvoke(t *testing.T) {
	cc := New(
		Contract{Name: "account", Functions: map[string]Function{
			"GetAccount": echo("account.GetAccount"),
			"Fail":       func(Stub, [][]byte) ([]byte, error) { return nil, errors.New("an account with id X does not exist") },
		}},
		Contract{Name: "mou", Functions: map[string]Function{"GetAccount": echo("mou.GetAccount")}},
	)
	tests := []struct {
		function string
		args     [][]byte
		want     string
		wantErr  string
	}{
		{function: "account:GetAccount", args: [][]byte{[]byte("Agency1MSP"), nil, []byte("x")}, want: "account.GetAccount|Agency1MSP||x"},
		{function: "mou:GetAccount", want: "mou.GetAccount"},
		{function: "account:Fail", wantErr: "an account with id X does not exist"},
		{function: "account:Missing", wantErr: "unknown function account:Missing"},
		{function: "nosuch:GetAccount", wantErr: "unknown function nosuch:GetAccount"},
		{function: "account:getaccount", wantErr: "unknown function account:getaccount"},
		{function: "GetAccount", wantErr: `malformed function name "GetAccount"`},
		{function: "", wantErr: "malformed function name"},
		{function: ":GetAccount", wantErr: "malformed function name"},
		{function: "account:", wantErr: "malformed function name"},
		{function: "account:Get:Account", wantErr: "malformed function name"},
		{function: "acc ount:GetAccount", wantErr: "malformed function name"},
		{function: strings.Repeat("a", 5000) + ":F", wantErr: "malformed function name"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.40s", tt.function), func(t *testing.T) {
			got, err := cc.Invoke(nil, tt.function, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Invoke error = %v, want prefix %q", err, tt.wantErr)
				}
				if len(err.Error()) > 512 {
					t.Fatalf("error is %d bytes long", len(err.Error()))
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Invoke = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRouterErrorVerbatim(t *testing.T) {
	msg := "signing MOU version 2, expected version 3 — ünïcode <&>"
	cc := New(Contract{Name: "mou", Functions: map[string]Function{
		"SignMOU": func(Stub, [][]byte) ([]byte, error) { return nil, errors.New(msg) },
	}})
	_, err := cc.Invoke(nil, "mou:SignMOU", nil)
	if err == nil || err.Error() != msg {
		t.Fatalf("error = %v, want %q verbatim", err, msg)
	}
}

func TestNewPanicsOnBadDefinitions(t *testing.T) {
	fn := echo("f")
	tests := []struct {
		name      string
		contracts []Contract
		want      string
	}{
		{"duplicate contract", []Contract{{Name: "a", Functions: map[string]Function{"F": fn}}, {Name: "a"}}, "defined twice"},
		{"empty contract name", []Contract{{Name: ""}}, "contract name"},
		{"colon in contract name", []Contract{{Name: "a:b"}}, "outside"},
		{"bad function name", []Contract{{Name: "a", Functions: map[string]Function{"F G": fn}}}, "function name"},
		{"nil function", []Contract{{Name: "a", Functions: map[string]Function{"F": nil}}}, "is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Fatalf("panic = %v, want containing %q", r, tt.want)
				}
			}()
			New(tt.contracts...)
		})
	}
}

func FuzzParseFunctionName(f *testing.F) {
	for _, s := range []string{"account:GetAccount", "a:b", ":", "a::b", "noColon", "a b:c", "ä:b", "a:" + strings.Repeat("x", MaxNameLength+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		c, fn, err := ParseFunctionName(name)
		if err != nil {
			if len(err.Error()) > 512 {
				t.Fatalf("error is %d bytes long", len(err.Error()))
			}
			return
		}
		if c+":"+fn != name {
			t.Fatalf("ParseFunctionName(%q) = %q, %q", name, c, fn)
		}
		if validateName("contract", c) != nil || validateName("function", fn) != nil {
			t.Fatalf("ParseFunctionName(%q) accepted invalid names %q, %q", name, c, fn)
		}
	})
}
