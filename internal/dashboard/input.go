package dashboard

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// SWIDTagID returns the tagId of an uploaded SWID tag (ISO/IEC 19770-2),
// which the ledger takes as the tag's primary tag. It checks only what
// the form needs (UTF-8 XML whose root is a SoftwareIdentity element with a
// tagId, no DOCTYPE); the chaincode validates the tag fully.
func SWIDTagID(doc []byte) (string, error) {
	if len(doc) == 0 {
		return "", errors.New("the SWID tag file is empty")
	}
	if !utf8.Valid(doc) {
		return "", errors.New("the SWID tag file is not UTF-8 text")
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return "", errors.New("the file holds no SoftwareIdentity element")
		}
		if err != nil {
			return "", fmt.Errorf("the SWID tag file is not well-formed XML (%s)", xmlProblem(err))
		}
		switch t := tok.(type) {
		case xml.Directive:
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(string(t))), "DOCTYPE") {
				return "", errors.New("the SWID tag file must not have a DOCTYPE")
			}
		case xml.StartElement:
			if t.Name.Local != "SoftwareIdentity" {
				return "", fmt.Errorf("the root element is %q, not SoftwareIdentity", truncate(t.Name.Local, 64))
			}
			for _, a := range t.Attr {
				if a.Name.Local == "tagId" && a.Name.Space == "" {
					if id := strings.TrimSpace(a.Value); id != "" {
						return a.Value, nil
					}
				}
			}
			return "", errors.New("the SoftwareIdentity element has no tagId")
		}
	}
}

// xmlProblem describes a decoding error briefly, without the input.
func xmlProblem(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("line %d", se.Line)
	}
	return "unreadable"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// endOfDay turns a date field (yyyy-mm-dd, as an HTML date input sends
// it, or the ledger's own yyyy-MM-dd HH:mm:ss) into the ledger's format,
// at the end of that day UTC.
func endOfDay(v string) (string, error) {
	const ledger = "2006-01-02 15:04:05"
	if t, err := time.Parse(ledger, v); err == nil {
		return t.Format(ledger), nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return "", errors.New("the date must be of the form yyyy-mm-dd")
	}
	return t.Add(24*time.Hour - time.Second).Format(ledger), nil
}
