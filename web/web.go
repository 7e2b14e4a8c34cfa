// Package web holds the console's built assets, embedded in the binary. The
// sources are in src/; `go run ./web/build` rebuilds dist/ from them, and CI
// fails when the committed dist/ is stale.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Assets returns the built console: index.html and assets/.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time
	}
	return sub
}
