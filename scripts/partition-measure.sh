#!/usr/bin/env bash
# Measures what PostgreSQL declarative partitioning of the cell table by
# round would buy: the same cells in a plain table (the schema's), a table
# LIST-partitioned by round_id (one partition per round) and one
# HASH-partitioned by round_id (8 partitions), compared on dropping a
# version's cells, dropping a round's, the VACUUM after each, a version
# copy (INSERT … SELECT), an allocation write (COPY) and a branch's grid
# read. Prints a Markdown table; the times are psql's \timing of each
# statement (no client start-up), the grid read pgbench's mean latency.
#
#   scripts/partition-measure.sh [DSN]     (default $CASCADE_TEST_PG_DSN)
#
# ROUNDS (10) rounds × VERSIONS (2) versions × CELLS (500000) cells per
# version are loaded into each table: 10^7 cells by default. It creates
# the database cascade_partition_<random> on the server and drops it at
# the end (KEEP=1 keeps it); it needs about 3 × 1.3 GB per 10^7 cells.
set -euo pipefail

DSN=${1:-${CASCADE_TEST_PG_DSN:?give a postgres:// DSN or set CASCADE_TEST_PG_DSN}}
ROUNDS=${ROUNDS:-10}
VERSIONS=${VERSIONS:-2}
CELLS=${CELLS:-500000}
GRID_SECONDS=${GRID_SECONDS:-10}
HASH_PARTS=8
VARIANTS=(plain list hash)

log() { echo "partition-measure: $*" >&2; }

db="cascade_partition_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
base=${DSN%%\?*}
query=""
[[ $DSN == *\?* ]] && query="?${DSN#*\?}"
server=${base%/*}
target="$server/$db$query"
admin="$DSN"
psql -X -q -v ON_ERROR_STOP=1 -d "$admin" -c "CREATE DATABASE $db" >/dev/null
cleanup() {
	if [[ ${KEEP:-} == 1 ]]; then
		log "kept database $db"
	else
		psql -X -q -d "$admin" -c "DROP DATABASE IF EXISTS $db" >/dev/null || true
	fi
	rm -f "$tmp"/*.csv "$tmp"/*.sql
	rmdir "$tmp" 2>/dev/null || true
}
tmp=$(mktemp -d)
trap cleanup EXIT

sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$target" "$@"; }

# ms STATEMENT… runs the statements in one session and prints the sum of
# their server round trips in milliseconds (psql's \timing).
ms() {
	local args=(-c '\timing on')
	for s in "$@"; do args+=(-c "$s"); done
	sql "${args[@]}" | awk '/^Time: /{t += $2} END {printf "%.0f", t}'
}

cols="round_id bigint NOT NULL, version_id bigint NOT NULL, org_unit_id bigint NOT NULL, product_line_id bigint NOT NULL,
	measure_id bigint NOT NULL, period smallint NOT NULL, amount numeric,
	PRIMARY KEY (round_id, version_id, org_unit_id, product_line_id, measure_id, period)"
# gen ROUND VERSION: CELLS cells of 40 product lines × 12 months per unit.
gen() {
	echo "SELECT $1::bigint, $2::bigint, 1000000 + i / 480, 1000 + (i / 12) % 40, 1::bigint, (1 + i % 12)::smallint,
		CAST(CAST(i % 100000 AS text) || '.25' AS numeric) FROM generate_series(0, $CELLS - 1) AS s(i)"
}

log "database $db: $ROUNDS rounds × $VERSIONS versions × $CELLS cells = $((ROUNDS * VERSIONS * CELLS)) cells per table"
sql -c "CREATE TABLE cells_plain ($cols)"
sql -c "CREATE TABLE cells_list ($cols) PARTITION BY LIST (round_id)"
for r in $(seq 1 "$ROUNDS"); do
	sql -c "CREATE TABLE cells_list_r$r PARTITION OF cells_list FOR VALUES IN ($r)"
done
sql -c "CREATE TABLE cells_hash ($cols) PARTITION BY HASH (round_id)"
for p in $(seq 0 $((HASH_PARTS - 1))); do
	sql -c "CREATE TABLE cells_hash_p$p PARTITION OF cells_hash FOR VALUES WITH (MODULUS $HASH_PARTS, REMAINDER $p)"
done
start=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
	for v in $(seq 1 "$VERSIONS"); do
		sql -c "INSERT INTO cells_plain $(gen "$r" "$v")"
	done
done
log "plain table loaded in $(($(date +%s) - start)) s"
for t in list hash; do
	start=$(date +%s)
	sql -c "INSERT INTO cells_$t SELECT * FROM cells_plain ORDER BY round_id, version_id, org_unit_id, product_line_id, measure_id, period"
	log "$t loaded in $(($(date +%s) - start)) s"
done
for t in "${VARIANTS[@]}"; do sql -c "VACUUM ANALYZE cells_$t"; done
# The allocation's rows, written once as the file COPY reads.
sql -c "\\copy ($(gen 1 98)) TO '$tmp/alloc.csv' WITH (FORMAT csv)"

declare -A result
size() { sql -Atc "SELECT pg_total_relation_size(c.oid) FROM pg_class AS c WHERE relname = 'cells_$1'" 2>/dev/null; }
total_size() {
	sql -Atc "SELECT pg_size_pretty(SUM(pg_total_relation_size(c.oid))) FROM pg_class AS c
		WHERE c.relkind = 'r' AND (c.relname = 'cells_$1' OR c.relname LIKE 'cells\_$1\_%')"
}
# The partition that holds a round (the table itself when plain).
part() {
	sql -Atc "SELECT tableoid::regclass FROM cells_$1 WHERE round_id = $2 LIMIT 1"
}
for t in "${VARIANTS[@]}"; do result[size_before,$t]=$(total_size "$t"); done

uptime_before=$(uptime | sed 's/.*load average: //')
# Each step runs on the three tables in turn, so load from elsewhere on
# the machine falls on all of them alike.
log "a version copy: INSERT … SELECT of round 1's version 1 as version 99"
for t in "${VARIANTS[@]}"; do
	result[copy,$t]=$(ms "INSERT INTO cells_$t SELECT round_id, 99, org_unit_id, product_line_id, measure_id, period, amount FROM cells_$t WHERE round_id = 1 AND version_id = 1")
done
log "an allocation write: COPY of $CELLS cells into round 1's version 98"
for t in "${VARIANTS[@]}"; do
	result[alloc,$t]=$(ms "\\copy cells_$t FROM '$tmp/alloc.csv' WITH (FORMAT csv)")
done
for t in "${VARIANTS[@]}"; do sql -c "ANALYZE cells_$t"; done
log "grid reads: a branch's 5 units × 40 lines × 12 months, $GRID_SECONDS s each"
units=$((CELLS / 480))
for t in "${VARIANTS[@]}"; do
	cat >"$tmp/grid_$t.sql" <<EOF
\\set u random(0, $((units - 5)))
SELECT org_unit_id, product_line_id, period, amount FROM cells_$t
 WHERE round_id = 1 AND version_id = 1 AND org_unit_id BETWEEN 1000000 + :u AND 1000000 + :u + 4 AND measure_id = 1
 ORDER BY org_unit_id, product_line_id, period;
EOF
	result[grid,$t]=$(pgbench -n -M prepared -f "$tmp/grid_$t.sql" -T "$GRID_SECONDS" -c 1 "$target" 2>/dev/null |
		awk '/latency average/{printf "%.2f", $4}')
done
log "dropping a version: DELETE of round 1's version 99, then VACUUM of the table or the round's partition"
for t in "${VARIANTS[@]}"; do
	p=$(part "$t" 1)
	result[delv,$t]=$(ms "DELETE FROM cells_$t WHERE round_id = 1 AND version_id = 99")
	result[vacv,$t]=$(ms "VACUUM $p")
done
log "dropping round $ROUNDS: DELETE and VACUUM, or DROP of its partition"
for t in plain hash; do
	p=$(part "$t" "$ROUNDS")
	result[delr,$t]=$(ms "DELETE FROM cells_$t WHERE round_id = $ROUNDS")
	result[vacr,$t]=$(ms "VACUUM $p")
done
result[delr,list]=$(ms "ALTER TABLE cells_list DETACH PARTITION cells_list_r$ROUNDS" "DROP TABLE cells_list_r$ROUNDS")
result[vacr,list]=0
for t in "${VARIANTS[@]}"; do result[size_after,$t]=$(total_size "$t"); done
uptime_after=$(uptime | sed 's/.*load average: //')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "—" }'; }
row() { # name rows key unit
	local p=${result[$3,plain]} l=${result[$3,list]} h=${result[$3,hash]}
	echo "| $1 | $2 | $p $4 | $l $4 | $h $4 | $(ratio "$l" "$p") | $(ratio "$h" "$p") |"
}
per_round=$((VERSIONS * CELLS))
pgv=$(sql -Atc "SHOW server_version")
echo
echo "PostgreSQL $pgv, $(nproc) CPUs, $ROUNDS rounds × $VERSIONS versions × $CELLS cells = $((ROUNDS * VERSIONS * CELLS)) cells per table;" \
	"load average $uptime_before before, $uptime_after after; $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| operation | rows | plain table | LIST by round_id | HASH by round_id ($HASH_PARTS) | LIST / plain | HASH / plain |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row "copy a version (INSERT … SELECT)" "$CELLS" copy ms
row "allocation write (COPY from a file)" "$CELLS" alloc ms
row "branch grid read (pgbench mean latency)" 2400 grid ms
row "drop a version's cells (DELETE)" "$CELLS" delv ms
row "… VACUUM after it (the table, or the round's partition)" "" vacv ms
row "drop a round's cells (DELETE; LIST: DETACH + DROP partition)" "$per_round" delr ms
row "… VACUUM after it" "" vacr ms
echo "| size before / after (heap + indexes) | | ${result[size_before,plain]} / ${result[size_after,plain]} | ${result[size_before,list]} / ${result[size_after,list]} | ${result[size_before,hash]} / ${result[size_after,hash]} | | |"
