package sq

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

func jsonNested(t *testing.T, db *sql.DB, batchNodes int) {
	ctx := context.Background()
	tx, _ := db.BeginTx(ctx, nil)
	st, err := tx.Prepare(`INSERT INTO target_cells (version_id, org_unit_id, product_line_id, measure_id, period, amount)
	SELECT ?1, j.value->>0, j.value->>1, ?2, m.key + 1, m.value FROM json_each(?3) AS j, json_each(j.value, '$[2]') AS m`)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	n := 0
	flush := func() {
		b = append(b, ']')
		if _, err := st.Exec(1, 1, string(b)); err != nil {
			t.Fatal(err)
		}
		b, n = b[:0], 0
	}
	for u := 1; u <= units; u++ {
		for l := 1; l <= lines; l++ {
			if n == 0 {
				b = append(b, '[')
			} else {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `[%d,%d,[`, u, l)
			for p := 1; p <= 12; p++ {
				if p > 1 {
					b = append(b, ',')
				}
				b = fmt.Appendf(b, `"%d.%02d"`, u*1000+l*7+p, p)
			}
			b = append(b, "]]"...)
			n++
			if n == batchNodes {
				flush()
			}
		}
	}
	if n > 0 {
		flush()
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var c int
	db.QueryRow("SELECT count(*) FROM target_cells").Scan(&c)
	if c != units*lines*12 {
		t.Fatalf("count %d", c)
	}
}

func TestNested(t *testing.T) {
	for _, bn := range []int{500, 2000} {
		t.Run(fmt.Sprint(bn), func(t *testing.T) {
			db := open(t, "")
			defer db.Close()
			t0 := now()
			jsonNested(t, db, bn)
			t.Logf("nested %d: %v", bn, since(t0))
		})
	}
	for _, bs := range []int{20, 50} {
		t.Run(fmt.Sprint("multi", bs), func(t *testing.T) {
			db := open(t, "")
			defer db.Close()
			t0 := now()
			multi(t, db, "pk", bs)
			t.Logf("multi %d: %v", bs, since(t0))
		})
	}
	t.Run("json5000", func(t *testing.T) {
		db := open(t, "")
		defer db.Close()
		t0 := now()
		jsonEach(t, db, "pk", 5000)
		t.Logf("json5000: %v", since(t0))
	})
}
