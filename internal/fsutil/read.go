package fsutil

import (
	"fmt"
	"io"
	"os"
)

// ReadFileBounded reads the file at path, refusing one larger than limit
// bytes without reading more than limit+1 of it (configuration, keys,
// certificates and packages come from files an operator names, so none is
// trusted to be small).
func ReadFileBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}
