// Package profiles embeds the simulator's built-in BMC profiles
// (<name>.yaml). Package model decodes them; see model.Profile for the
// schema.
package profiles

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml
var files embed.FS

// Files returns the embedded profile files, one <name>.yaml per profile.
func Files() fs.FS { return files }
