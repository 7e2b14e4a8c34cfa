//go:build !cgosqlite && ((darwin && amd64) || (darwin && arm64) || (linux && 386) || (linux && amd64) || (linux && arm) || (linux && arm64) || (windows && amd64))

package sqlstore

import (
	"sync"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

var reserveOnce sync.Once

// reserveSQLiteMemory works around a cost of the pure-Go SQLite build
// (modernc.org/sqlite, which sqliteshim picks on these platforms). Its C
// allocator (modernc.org/memory) carves blocks of up to 16 KiB out of
// 64 KiB pages that it maps from the OS, and unmaps a page as soon as its
// last block is freed. Every B-tree page split allocates and frees a
// scratch block of 4-16 KiB, and sorts and temporary tables allocate page
// buffers of such sizes by the dozen; with few other blocks of those sizes
// alive, pages are mapped and unmapped over and over, and a million-cell
// insert spent more time in mmap and munmap (with their TLB shootdowns)
// than in SQLite.
//
// This keeps eight pages of each size class from 1 to 16 KiB mapped for
// the life of the process: it allocates their blocks, keeps one block per
// page and frees the rest, so the freed blocks are reused and the pages,
// never empty, are never unmapped. It costs 2.5 MiB of address space, most
// of it never touched.
func reserveSQLiteMemory() {
	reserveOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		const page = 1 << 16 // modernc.org/memory's page size
		for log := 10; log <= 14; log++ {
			kept := map[uintptr]bool{}
			var spare []uintptr
			for range 8 * (page >> log) {
				// SQLite adds an 8-byte size header; staying 64 bytes short
				// of the power of two keeps the block in this class.
				p := sqlite3.Xsqlite3_malloc(tls, int32(1<<log-64))
				if p == 0 {
					break
				}
				if pg := p &^ (page - 1); !kept[pg] {
					kept[pg] = true
				} else {
					spare = append(spare, p)
				}
			}
			for _, p := range spare {
				sqlite3.Xsqlite3_free(tls, p)
			}
		}
	})
}
