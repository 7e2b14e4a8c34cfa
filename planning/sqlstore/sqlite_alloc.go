//go:build !cgosqlite && ((darwin && amd64) || (darwin && arm64) || (linux && 386) || (linux && amd64) || (linux && arm) || (linux && arm64) || (windows && amd64))

package sqlstore

import (
	"sync"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

var pinOnce sync.Once

// pinSQLiteAllocator works around a cost of the pure-Go SQLite build
// (modernc.org/sqlite, which sqliteshim picks on these platforms). Its C
// allocator (modernc.org/memory) hands out blocks of up to 16 KiB from
// shared 64 KiB pages that it maps from the OS, and unmaps a page again as
// soon as its last block is freed. Every B-tree page split allocates and
// frees a scratch block of 4-16 KiB; with nothing else of that size alive,
// each split maps and unmaps a page, and a million-cell insert spends most
// of its time in mmap and munmap (and their TLB shootdowns). Keeping one
// block of each of those size classes allocated for the life of the process
// keeps their pages mapped, for the price of three 64 KiB pages.
func pinSQLiteAllocator() {
	pinOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		for _, size := range []int32{3 << 10, 6 << 10, 12 << 10} {
			sqlite3.Xsqlite3_malloc(tls, size)
		}
	})
}
