//go:build cgosqlite || !((darwin && amd64) || (darwin && arm64) || (linux && 386) || (linux && amd64) || (linux && arm) || (linux && arm64) || (windows && amd64))

package sqlstore

// reserveSQLiteMemory has nothing to do where SQLite is not the pure-Go
// build (see sqlite_alloc.go).
func reserveSQLiteMemory() {}
