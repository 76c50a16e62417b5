package asset

import (
	"fmt"
	"time"
)

// DateLayout is the layout of asset end dates and lease expirations
// (spec §1.5, R-08): Java's yyyy-MM-dd HH:mm:ss, always UTC.
const DateLayout = "2006-01-02 15:04:05"

// maxYear bounds computed expirations so that they keep DateLayout's
// four-digit year.
const maxYear = 9999

// formatInstant renders a transaction timestamp like Java's
// Instant.toString with millisecond precision (DESIGN §11): UTC, a "Z"
// suffix, and a three-digit fraction only when the milliseconds are not
// zero, e.g. 2026-01-02T03:04:05Z or 2026-01-02T03:04:05.120Z.
func formatInstant(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if ms := t.Nanosecond() / int(time.Millisecond); ms != 0 {
		s += fmt.Sprintf(".%03d", ms)
	}
	return s + "Z"
}

// formatDate renders t in DateLayout (UTC; fractional seconds dropped).
func formatDate(t time.Time) string { return t.UTC().Format(DateLayout) }

// parseInputDate parses a date given by a client: DateLayout only.
func parseInputDate(field, s string) (time.Time, error) {
	t, err := time.ParseInLocation(DateLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %s is not a date of the form yyyy-MM-dd HH:mm:ss", field, short(s))
	}
	return t, nil
}

// parseStoredDate parses a stored end date or expiration: DateLayout, or
// an ISO-8601 instant as the reference wrote renewed expirations (R-02,
// accept both when reading).
func parseStoredDate(s string) (time.Time, error) {
	if t, err := time.ParseInLocation(DateLayout, s, time.UTC); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%s is neither yyyy-MM-dd HH:mm:ss nor an ISO-8601 instant", short(s))
}

// addYears adds n years to t as Java's plusYears does: 29 February
// becomes 28 February in a year that is not a leap year (DESIGN §11).
func addYears(t time.Time, n int) (time.Time, error) {
	t = t.UTC()
	y, m, d := t.Date()
	y += n
	if y > maxYear {
		return time.Time{}, fmt.Errorf("the expiration would be after the year %d", maxYear)
	}
	if m == time.February && d == 29 && !isLeap(y) {
		d = 28
	}
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), nil
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
