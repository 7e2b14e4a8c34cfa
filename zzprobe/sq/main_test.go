package sq

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"
)

const ddl = `CREATE TABLE target_cells (
    version_id bigint NOT NULL, org_unit_id bigint NOT NULL, product_line_id bigint NOT NULL,
    measure_id bigint NOT NULL, period smallint NOT NULL, amount text NOT NULL,
    PRIMARY KEY (version_id, org_unit_id, product_line_id, measure_id, period)) WITHOUT ROWID;
CREATE INDEX target_cells_org_unit ON target_cells (org_unit_id);
CREATE INDEX target_cells_product_line ON target_cells (product_line_id);`

func open(t *testing.T, extra string) *sql.DB {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := sql.Open(sqliteshim.ShimName, "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"+extra)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, s := range strings.Split(ddl, ";") {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

var units = 500
var lines = 40

func rows(order string, emit func(u, l int64, p int, a string)) {
	if order == "pk" {
		for u := 1; u <= units; u++ {
			for l := 1; l <= lines; l++ {
				for p := 1; p <= 12; p++ {
					emit(int64(u), int64(l), p, fmt.Sprintf("%d.%02d", u*1000+l*7+p, p))
				}
			}
		}
		return
	}
	for l := 1; l <= lines; l++ {
		for u := 1; u <= units; u++ {
			for p := 1; p <= 12; p++ {
				emit(int64(u), int64(l), p, fmt.Sprintf("%d.%02d", u*1000+l*7+p, p))
			}
		}
	}
}

func multi(t *testing.T, db *sql.DB, order string, batch int) {
	ctx := context.Background()
	tx, _ := db.BeginTx(ctx, nil)
	stmtFor := func(n int) string {
		var b strings.Builder
		b.WriteString("INSERT INTO target_cells (version_id, org_unit_id, product_line_id, measure_id, period, amount) VALUES ")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?)")
		}
		return b.String()
	}
	st, err := tx.Prepare(stmtFor(batch))
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, 0, batch*6)
	rows(order, func(u, l int64, p int, a string) {
		args = append(args, 1, u, l, 1, p, a)
		if len(args) == cap(args) {
			if _, err := st.Exec(args...); err != nil {
				t.Fatal(err)
			}
			args = args[:0]
		}
	})
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func jsonEach(t *testing.T, db *sql.DB, order string, batch int) {
	ctx := context.Background()
	tx, _ := db.BeginTx(ctx, nil)
	st, err := tx.Prepare(`INSERT INTO target_cells (version_id, org_unit_id, product_line_id, measure_id, period, amount)
	SELECT 1, value->>0, value->>1, 1, value->>2, value->>3 FROM json_each(?)`)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	n := 0
	flush := func() {
		b = append(b, ']')
		if _, err := st.Exec(string(b)); err != nil {
			t.Fatal(err)
		}
		b, n = b[:0], 0
	}
	rows(order, func(u, l int64, p int, a string) {
		if n == 0 {
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `[%d,%d,%d,"%s"]`, u, l, p, a)
		n++
		if n == batch {
			flush()
		}
	})
	if n > 0 {
		flush()
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestVariants(t *testing.T) {
	if os.Getenv("PROBE") == "" {
		t.Skip()
	}
	for _, v := range []struct {
		name  string
		extra string
		fn    func(*testing.T, *sql.DB)
	}{
		{"multi200-line", "", func(t *testing.T, db *sql.DB) { multi(t, db, "line", 200) }},
		{"multi200-pk", "", func(t *testing.T, db *sql.DB) { multi(t, db, "pk", 200) }},
		{"multi200-pk-cache64M", "&_pragma=cache_size(-65536)", func(t *testing.T, db *sql.DB) { multi(t, db, "pk", 200) }},
		{"json5000-pk", "", func(t *testing.T, db *sql.DB) { jsonEach(t, db, "pk", 5000) }},
		{"json5000-pk-cache64M", "&_pragma=cache_size(-65536)", func(t *testing.T, db *sql.DB) { jsonEach(t, db, "pk", 5000) }},
	} {
		t.Run(v.name, func(t *testing.T) {
			db := open(t, v.extra)
			defer db.Close()
			t0 := time.Now()
			v.fn(t, db)
			t.Logf("%s: %v", v.name, time.Since(t0))
		})
	}
}
