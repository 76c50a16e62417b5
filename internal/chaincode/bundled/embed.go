//go:build bundledchaincodes

package bundled

import "embed"

//go:embed packages/*.tar.gz
var embedded embed.FS

func init() { files = embedded }
