package contract

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCreateCompositeKey(t *testing.T) {
	tests := []struct {
		name       string
		objectType string
		attrs      []string
		want       string
		wantErr    string
	}{
		{name: "no attributes", objectType: "order", want: "\x00order\x00"},
		{name: "attributes", objectType: "order", attrs: []string{"Agency1MSP", "tx1"}, want: "\x00order\x00Agency1MSP\x00tx1\x00"},
		{name: "empty attribute", objectType: "o", attrs: []string{""}, want: "\x00o\x00\x00"},
		{name: "unicode", objectType: "ä", attrs: []string{"日本"}, want: "\x00ä\x00日本\x00"},
		{name: "empty object type", objectType: "", wantErr: "empty object type"},
		{name: "separator in type", objectType: "a\x00b", wantErr: "U+0000"},
		{name: "separator in attribute", objectType: "a", attrs: []string{"x\x00"}, wantErr: "attribute 0"},
		{name: "max rune in attribute", objectType: "a", attrs: []string{"ok", "\U0010FFFF"}, wantErr: "attribute 1: contains U+10FFFF"},
		{name: "invalid UTF-8", objectType: "a", attrs: []string{"\xff"}, wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CreateCompositeKey(tt.objectType, tt.attrs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("CreateCompositeKey error = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CreateCompositeKey = %q, %v; want %q", got, err, tt.want)
			}
			objectType, attrs, err := SplitCompositeKey(got)
			if err != nil || objectType != tt.objectType || !slices.Equal(attrs, nonNil(tt.attrs)) {
				t.Fatalf("SplitCompositeKey(%q) = %q, %q, %v", got, objectType, attrs, err)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestSplitCompositeKeyRefuses(t *testing.T) {
	for _, key := range []string{
		"", "\x00", "\x00\x00", "\x00\x00\x00", // too short or empty type
		"plain", "\x00order", "order\x00", // not delimited
		"\x00a\x00\xff\x00",        // invalid UTF-8
		"\x00a\x00\U0010FFFF\x00",  // the range bound
		"\x00\xf4\x8f\xbf\xbf\x00", // U+10FFFF as type
	} {
		if typ, attrs, err := SplitCompositeKey(key); err == nil {
			t.Errorf("SplitCompositeKey(%q) = %q, %q; want an error", key, typ, attrs)
		}
	}
}

func TestValidateKey(t *testing.T) {
	composite, _ := CreateCompositeKey("t", []string{"a"})
	tests := []struct {
		key     string
		wantErr string
	}{
		{key: "account:Agency1MSP"},
		{key: composite},
		{key: strings.Repeat("k", MaxKeyLength)},
		{key: "", wantErr: "empty key"},
		{key: strings.Repeat("k", MaxKeyLength+1), wantErr: "at most 1024"},
		{key: "a\xffb", wantErr: "not valid UTF-8"},
		{key: "\x00notcomposite", wantErr: "not a valid composite key"},
	}
	for _, tt := range tests {
		err := ValidateKey(tt.key)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ValidateKey(%s) = %v, want %q", QuoteKey(tt.key), err, tt.wantErr)
		}
	}
	// Error messages never carry a whole long key.
	err := ValidateKey(strings.Repeat("secret", 1000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("long-key error is %d bytes: %v", len(err.Error()), err)
	}
}

func TestValidateValueCollectionEvent(t *testing.T) {
	if err := ValidateValue(make([]byte, MaxValueSize)); err != nil {
		t.Errorf("ValidateValue(max) = %v", err)
	}
	if err := ValidateValue(make([]byte, MaxValueSize+1)); err == nil {
		t.Error("ValidateValue(max+1) = nil")
	}
	for name, ok := range map[string]bool{
		"_implicit_org_Agency1MSP": true, "coll.v2-x": true,
		"": false, "a b": false, "a/b": false, strings.Repeat("c", MaxCollectionNameLength+1): false,
	} {
		if err := ValidateCollection(name); (err == nil) != ok {
			t.Errorf("ValidateCollection(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	events := []struct {
		name    string
		payload []byte
		ok      bool
	}{
		{"SignMOU", []byte(`{}`), true},
		{"", nil, false},
		{strings.Repeat("e", MaxEventNameLength+1), nil, false},
		{"\xff", nil, false},
		{"big", make([]byte, MaxEventPayloadSize+1), false},
	}
	for _, e := range events {
		if err := ValidateEvent(e.name, e.payload); (err == nil) != e.ok {
			t.Errorf("ValidateEvent(%.10q, %d bytes) = %v, want ok=%v", e.name, len(e.payload), err, e.ok)
		}
	}
}

func TestSimpleKeyRange(t *testing.T) {
	tests := []struct {
		start, end         string
		wantStart, wantEnd string
		wantErr            bool
	}{
		{start: "", end: "", wantStart: "\x01", wantEnd: ""},
		{start: "a", end: "b", wantStart: "a", wantEnd: "b"},
		{start: "\x00a", end: "", wantErr: true},
		{start: "", end: "\x00", wantErr: true},
		{start: "\xff", end: "", wantErr: true},
		{start: strings.Repeat("a", MaxKeyLength+1), wantErr: true},
	}
	for _, tt := range tests {
		s, e, err := SimpleKeyRange(tt.start, tt.end)
		if tt.wantErr {
			if err == nil {
				t.Errorf("SimpleKeyRange(%q, %q) = nil error", tt.start, tt.end)
			}
			continue
		}
		if err != nil || s != tt.wantStart || e != tt.wantEnd {
			t.Errorf("SimpleKeyRange(%q, %q) = %q, %q, %v", tt.start, tt.end, s, e, err)
		}
	}
}

// TestPartialCompositeKeyRange checks on a sorted key space that the range
// holds exactly the composite keys with the given leading attributes.
func TestPartialCompositeKeyRange(t *testing.T) {
	mk := func(typ string, attrs ...string) string {
		k, err := CreateCompositeKey(typ, attrs)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keys := []string{
		"plain", "\x01", "zzz",
		mk("order", "A", "1"), mk("order", "A", "2"), mk("order", "A"), mk("order", "AB", "1"),
		mk("order", "B", "1"), mk("order", "A\U0010FFFE"), mk("orders", "A", "1"), mk("orde", "A"),
	}
	sort.Strings(keys)
	tests := []struct {
		attrs []string
		want  []string
	}{
		{attrs: nil, want: []string{mk("order", "A"), mk("order", "A", "1"), mk("order", "A", "2"), mk("order", "AB", "1"), mk("order", "A\U0010FFFE"), mk("order", "B", "1")}},
		{attrs: []string{"A"}, want: []string{mk("order", "A"), mk("order", "A", "1"), mk("order", "A", "2")}},
		{attrs: []string{"A", "1"}, want: []string{mk("order", "A", "1")}},
		{attrs: []string{"C"}, want: nil},
	}
	for _, tt := range tests {
		start, end, err := PartialCompositeKeyRange("order", tt.attrs)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range keys {
			if k >= start && k < end {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("attrs %q: range holds %q, want %q", tt.attrs, got, tt.want)
		}
	}
	if _, _, err := PartialCompositeKeyRange("order", []string{strings.Repeat("a", MaxKeyLength)}); err == nil {
		t.Error("over-long partial key accepted")
	}
	// Simple-key ranges never reach composite keys.
	start, _, _ := SimpleKeyRange("", "")
	for _, k := range keys {
		if k[0] == 0 && k >= start {
			t.Errorf("composite key %q inside the default simple range", k)
		}
	}
}

func FuzzCompositeKeyRoundTrip(f *testing.F) {
	f.Add("order", "Agency1MSP", "tx1", uint8(2))
	f.Add("a", "", "", uint8(1))
	f.Add("ä", "\U0010FFFE", "x\x01", uint8(2))
	f.Add("t", "\x00", "", uint8(1))
	f.Add("", "a", "b", uint8(0))
	f.Fuzz(func(t *testing.T, objectType, a1, a2 string, n uint8) {
		attrs := []string{a1, a2}[:n%3]
		key, err := CreateCompositeKey(objectType, attrs)
		if err != nil {
			return
		}
		if !utf8.ValidString(key) {
			t.Fatalf("key %q is not valid UTF-8", key)
		}
		typ, got, err := SplitCompositeKey(key)
		if err != nil {
			t.Fatalf("SplitCompositeKey(%q): %v", key, err)
		}
		if typ != objectType || !slices.Equal(got, attrs) {
			t.Fatalf("round trip %q %q -> %q %q", objectType, attrs, typ, got)
		}
		if len(key) <= MaxKeyLength {
			if err := ValidateKey(key); err != nil {
				t.Fatalf("ValidateKey(%q): %v", key, err)
			}
		}
	})
}

func FuzzSplitCompositeKey(f *testing.F) {
	f.Add("\x00order\x00A\x00tx1\x00")
	f.Add("\x00o\x00\x00")
	f.Add("\x00\x00")
	f.Add("plain")
	f.Add("\x00a\x00\xf4\x8f\xbf\xbf\x00")
	f.Fuzz(func(t *testing.T, key string) {
		typ, attrs, err := SplitCompositeKey(key)
		if err != nil {
			if len(key) > 0 && key[0] == 0 && ValidateKey(key) == nil {
				t.Fatalf("ValidateKey accepts %q that SplitCompositeKey refuses", key)
			}
			return
		}
		again, err := CreateCompositeKey(typ, attrs)
		if err != nil || again != key {
			t.Fatalf("CreateCompositeKey(Split(%q)) = %q, %v", key, again, err)
		}
	})
}

func TestExpectArgs(t *testing.T) {
	if err := ExpectArgs([][]byte{nil, nil}, 2); err != nil {
		t.Fatal(err)
	}
	err := ExpectArgs([][]byte{nil}, 2)
	if !errors.Is(err, ErrArgs) || err.Error() != "wrong number of arguments: want 2, got 1" {
		t.Fatalf("ExpectArgs = %v", err)
	}
}
