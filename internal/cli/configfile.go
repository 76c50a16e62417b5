package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Bounds on node configuration files.
const (
	maxConfigFileBytes = 1 << 20
	maxConfigLines     = 10_000
	maxConfigDepth     = 32
)

// decodeConfigFile reads a node configuration file into v, a struct with
// json tags, refusing unknown fields. A file named *.json, or whose first
// non-blank character is '{', is JSON; any other is read as YAML (the
// subset parseYAML accepts). The file is bounded to 1 MiB.
func decodeConfigFile(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFileBytes+1))
	if err != nil {
		return err
	}
	if len(data) > maxConfigFileBytes {
		return fmt.Errorf("%s: larger than %d bytes", path, maxConfigFileBytes)
	}
	if err := decodeConfig(data, strings.EqualFold(filepath.Ext(path), ".json"), v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func decodeConfig(data []byte, isJSON bool, v any) error {
	if !isJSON && !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		doc, err := parseYAML(data)
		if err != nil {
			return err
		}
		if data, err = json.Marshal(doc); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the configuration object")
	}
	return nil
}

// parseYAML parses the YAML subset that node configuration files need into
// JSON-compatible values (map[string]any, []any, string, bool, nil,
// json.Number): block mappings and block sequences nested by indentation
// (spaces), sequences of mappings ("- key: value"), plain, 'single' and
// "double" quoted scalars, flow sequences of scalars ("[a, b]"), comments
// and a leading "---". Anchors, aliases, tags, block scalars (| >), flow
// mappings and multiple documents are refused with an error naming the
// line, never guessed at. Plain scalars true/false, null/~ and numbers
// become booleans, null and numbers; quote a string that looks like one.
func parseYAML(data []byte) (any, error) {
	lines, err := yamlLines(data)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return map[string]any{}, nil
	}
	p := &yamlParser{lines: lines}
	v, err := p.block(lines[0].indent, 0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(lines) {
		return nil, p.errorf("unexpected indentation")
	}
	return v, nil
}

type yamlLine struct {
	num    int // 1-based line number
	indent int
	text   string // without indentation, comment and trailing space
}

func yamlLines(data []byte) ([]yamlLine, error) {
	var out []yamlLine
	raw := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if len(raw) > maxConfigLines {
		return nil, fmt.Errorf("more than %d lines", maxConfigLines)
	}
	for i, l := range raw {
		body := strings.TrimLeft(l, " ")
		indent := len(l) - len(body)
		if strings.HasPrefix(body, "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation (use spaces)", i+1)
		}
		text := strings.TrimRight(stripComment(body), " \t")
		if text == "" {
			continue
		}
		if text == "---" && len(out) == 0 {
			continue
		}
		if text == "---" || text == "..." {
			return nil, fmt.Errorf("line %d: only one YAML document is supported", i+1)
		}
		out = append(out, yamlLine{num: i + 1, indent: indent, text: text})
	}
	return out, nil
}

// stripComment removes a '#' comment that starts the text or follows a
// space, outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			switch {
			case c == '\\' && quote == '"':
				i++
			case c == '\'' && quote == '\'' && i+1 < len(s) && s[i+1] == '\'':
				i++
			case c == quote:
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '[' || s[i-1] == ',' || s[i-1] == ':' || s[i-1] == '-' {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i]
		}
	}
	return s
}

type yamlParser struct {
	lines []yamlLine
	pos   int
}

func (p *yamlParser) errorf(format string, args ...any) error {
	line := 0
	if p.pos < len(p.lines) {
		line = p.lines[p.pos].num
	} else if len(p.lines) > 0 {
		line = p.lines[len(p.lines)-1].num
	}
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

// block parses the mapping or sequence whose lines start at indent.
func (p *yamlParser) block(indent, depth int) (any, error) {
	if depth > maxConfigDepth {
		return nil, p.errorf("nested more than %d levels", maxConfigDepth)
	}
	if isSeqItem(p.lines[p.pos].text) {
		return p.sequence(indent, depth)
	}
	return p.mapping(indent, depth)
}

func (p *yamlParser) mapping(indent, depth int) (map[string]any, error) {
	out := map[string]any{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent < indent {
			break
		}
		if l.indent > indent {
			return nil, p.errorf("unexpected indentation")
		}
		if isSeqItem(l.text) {
			return nil, p.errorf("a sequence item where a mapping key was expected")
		}
		key, rest, err := splitMappingKey(l.text)
		if err != nil {
			return nil, p.errorf("%v", err)
		}
		if _, dup := out[key]; dup {
			return nil, p.errorf("key %q appears twice", key)
		}
		p.pos++
		if rest != "" {
			if out[key], err = yamlScalar(rest); err != nil {
				return nil, p.errorf("%v", err)
			}
			continue
		}
		// A nested block: deeper lines, or a sequence at the same indent.
		if p.pos < len(p.lines) {
			next := p.lines[p.pos]
			if next.indent > indent || (next.indent == indent && isSeqItem(next.text)) {
				if out[key], err = p.block(next.indent, depth+1); err != nil {
					return nil, err
				}
				continue
			}
		}
		out[key] = nil
	}
	return out, nil
}

func (p *yamlParser) sequence(indent, depth int) ([]any, error) {
	out := []any{}
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if l.indent != indent || !isSeqItem(l.text) {
			if l.indent > indent {
				return nil, p.errorf("unexpected indentation")
			}
			break
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" {
			p.pos++
			if p.pos >= len(p.lines) || p.lines[p.pos].indent <= indent {
				out = append(out, nil)
				continue
			}
			v, err := p.block(p.lines[p.pos].indent, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		if _, _, err := splitMappingKey(rest); err == nil && !strings.HasPrefix(rest, "[") && !isQuotedScalar(rest) {
			// "- key: value": a mapping whose keys align with "key".
			inner := indent + len(l.text) - len(rest)
			p.lines[p.pos] = yamlLine{num: l.num, indent: inner, text: rest}
			v, err := p.mapping(inner, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := yamlScalar(rest)
		if err != nil {
			return nil, p.errorf("%v", err)
		}
		out = append(out, v)
		p.pos++
	}
	return out, nil
}

// isQuotedScalar reports whether s is one quoted scalar, colon or not.
func isQuotedScalar(s string) bool {
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') {
		return false
	}
	_, n, err := quotedPrefix(s)
	return err == nil && n == len(s)
}

// splitMappingKey splits "key: value" (or "key:") into key and value.
func splitMappingKey(text string) (key, rest string, err error) {
	if text[0] == '"' || text[0] == '\'' {
		k, n, err := quotedPrefix(text)
		if err != nil {
			return "", "", err
		}
		after := text[n:]
		if after != ":" && !strings.HasPrefix(after, ": ") {
			return "", "", errors.New("expected ':' after a quoted key")
		}
		return k, strings.TrimSpace(strings.TrimPrefix(after, ":")), nil
	}
	i := strings.Index(text, ": ")
	if i < 0 {
		if !strings.HasSuffix(text, ":") {
			return "", "", errors.New(`expected "key: value"`)
		}
		i = len(text) - 1
	}
	key = strings.TrimSpace(text[:i])
	if key == "" || strings.ContainsAny(key[:1], "[]{}&*!|>%@`#,?") {
		return "", "", fmt.Errorf("unsupported key %q", key)
	}
	return key, strings.TrimSpace(text[i+1:]), nil
}

// quotedPrefix reads the quoted string that starts s and returns its value
// and length.
func quotedPrefix(s string) (string, int, error) {
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch {
		case q == '"' && s[i] == '\\':
			i++
		case q == '\'' && s[i] == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++
		case s[i] == q:
			if q == '\'' {
				return strings.ReplaceAll(s[1:i], "''", "'"), i + 1, nil
			}
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", 0, fmt.Errorf("bad double-quoted string: %v", err)
			}
			return v, i + 1, nil
		}
	}
	return "", 0, errors.New("unterminated quoted string")
}

// yamlScalar converts a scalar or a flow sequence of scalars.
func yamlScalar(s string) (any, error) {
	switch s[0] {
	case '"', '\'':
		v, n, err := quotedPrefix(s)
		if err != nil {
			return nil, err
		}
		if n != len(s) {
			return nil, errors.New("text after a quoted string")
		}
		return v, nil
	case '[':
		return flowSequence(s)
	case '{', '&', '*', '!', '|', '>', '%', '@', '`':
		return nil, fmt.Errorf("unsupported YAML syntax %q (flow mappings, anchors, aliases, tags and block scalars are not supported)", s[:1])
	}
	switch s {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	case "null", "Null", "NULL", "~":
		return nil, nil
	}
	if json.Valid([]byte(s)) {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return json.Number(s), nil
		}
	}
	return s, nil
}

// flowSequence parses "[a, 'b', "c"]" (scalars only).
func flowSequence(s string) ([]any, error) {
	if !strings.HasSuffix(s, "]") {
		return nil, errors.New("unterminated flow sequence")
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	out := []any{}
	for body != "" {
		var item string
		if body[0] == '"' || body[0] == '\'' {
			_, n, err := quotedPrefix(body)
			if err != nil {
				return nil, err
			}
			item, body = body[:n], strings.TrimSpace(body[n:])
			if body != "" && !strings.HasPrefix(body, ",") {
				return nil, errors.New("expected ',' in flow sequence")
			}
		} else {
			i := strings.IndexByte(body, ',')
			if i < 0 {
				i = len(body)
			}
			item, body = strings.TrimSpace(body[:i]), body[i:]
		}
		body = strings.TrimSpace(strings.TrimPrefix(body, ","))
		if item == "" {
			return nil, errors.New("empty item in flow sequence")
		}
		if item[0] == '[' {
			return nil, errors.New("nested flow sequences are not supported")
		}
		v, err := yamlScalar(item)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
