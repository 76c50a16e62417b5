package asset

import (
	"testing"
	"time"
)

func TestFormatInstant(t *testing.T) {
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 9, 7, 16, 32, 36, 0, time.UTC), "2024-09-07T16:32:36Z"},
		{time.Date(2024, 9, 7, 16, 32, 36, 123456789, time.UTC), "2024-09-07T16:32:36.123Z"},
		{time.Date(2024, 9, 7, 16, 32, 36, 100000000, time.UTC), "2024-09-07T16:32:36.100Z"},
		{time.Date(2024, 9, 7, 16, 32, 36, 999999, time.UTC), "2024-09-07T16:32:36Z"}, // below a millisecond
		{time.Date(2024, 9, 7, 18, 32, 36, 0, time.FixedZone("CEST", 2*3600)), "2024-09-07T16:32:36Z"},
	} {
		if got := formatInstant(c.in); got != c.want {
			t.Errorf("formatInstant(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestAddYears(t *testing.T) {
	for _, c := range []struct {
		from  string
		years int
		want  string
	}{
		{"2024-02-29 12:00:00", 1, "2025-02-28 12:00:00"}, // clamped like Java's plusYears
		{"2024-02-29 12:00:00", 4, "2028-02-29 12:00:00"},
		{"2024-02-29 12:00:00", 100, "2124-02-29 12:00:00"},
		{"2100-02-28 00:00:00", 4, "2104-02-28 00:00:00"},
		{"2023-03-01 00:00:00", 1, "2024-03-01 00:00:00"},
		{"2025-12-31 23:59:59", 2, "2027-12-31 23:59:59"},
	} {
		from, err := time.Parse(DateLayout, c.from)
		must(t, err)
		got, err := addYears(from, c.years)
		must(t, err)
		if formatDate(got) != c.want {
			t.Errorf("%s + %d years = %s, want %s", c.from, c.years, formatDate(got), c.want)
		}
	}
	if _, err := addYears(time.Date(9990, 1, 1, 0, 0, 0, 0, time.UTC), 10); err == nil {
		t.Error("an expiration after 9999 was accepted")
	}
}

func TestParseDates(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // DateLayout, "" = error
	}{
		{"2030-01-01 00:00:00", "2030-01-01 00:00:00"},
		{"2030-01-01T00:00:00Z", "2030-01-01 00:00:00"},      // renewed expirations of the reference
		{"2030-01-01T00:00:00.123Z", "2030-01-01 00:00:00"},  // fraction dropped by the layout
		{"2030-01-01T02:00:00+02:00", "2030-01-01 00:00:00"}, // normalised to UTC
		{"2030-01-01", ""}, {"2030-02-30 00:00:00", ""}, {"", ""}, // the README's format is refused
	} {
		got, err := parseStoredDate(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("parseStoredDate(%q) accepted", c.in)
		case c.want != "" && (err != nil || formatDate(got) != c.want):
			t.Errorf("parseStoredDate(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := parseInputDate("endDate", "2030-01-01T00:00:00Z"); err == nil {
		t.Error("an instant was accepted as an input date")
	}
}
