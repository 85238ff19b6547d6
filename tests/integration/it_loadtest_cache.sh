#!/usr/bin/env bash
# timeout: 180
# it_loadtest_cache.sh - the shared, persistent answer cache. One worker asks a question
# set built so the proportions are exact: 4 distinct questions with SQL (live), 2 exact
# repeats after strip+lower-case (LRU hits), 2 rewordings with the same words in another
# order (semantic hits: identical embeddings, zero context), 1 repeat of a rewording (now
# an LRU hit: a semantic hit fills the exact layer) and 2 text-only answers (live, never
# cached). Hits never reach Genie: the emulator's question count equals the live count.
# A restart on the same database makes every SQL question a hit (LRU; and semantic with
# GENIE_LRU_CAPACITY=0); a cached SQL that fails to re-execute is dropped and asked live;
# two generators share one database.
. "$SLUICE_SRC/tests/lib/common.sh"
. "$SLUICE_SRC/tests/fixtures/emulator/lib.sh"
. "$SLUICE_SRC/tests/fixtures/loadtest/lib.sh"

emu_start emu --genie-latency 20ms --genie-rate 0 --statement-latency 10ms
lt_env
cat >"$T/questions.txt" <<'Q'
Show total sales by region
How many units per product
How many orders are there
Show the monthly sales trend
show total sales by region
   HOW MANY UNITS PER PRODUCT
By region, show total sales
Per product: how many units?
By region, show total sales
What is the weather like
What is the weather like
Q
CACHE_DB=$T/cache.db
ask() { # NAME [extra args]: the question set, one worker, the shared cache
  local name=$1; shift
  lt_reset
  lt_run "$name" genie --questions-file "$T/questions.txt" --workers 1 --cache semantic \
    --cache-db "$CACHE_DB" --poll-initial 10ms --poll-max 40ms --out "$T/$name" "$@"
}
types() { lt_rows "$1" | awk -F, '{print $(NF-10)}' | tr '\n' ' '; }

ask first
L=GENIE_LIVE; H=GENIE_LRU_HIT; S=GENIE_SEMANTIC_HIT
it_expect_eq "first run, per question" "$(types first)" "$L $L $L $L $H $H $S $S $H $L $L "
grep -qx "test_complete total_requests=11 lru_hits=3 lru_hit_rate=27.3% semantic_hits=2 semantic_hit_rate=18.2% misses=6 miss_rate=54.5%" \
  "$T/first.out" || it_fail "cache line: $(grep test_complete "$T/first.out")"
it_expect_eq "Genie saw only the misses" "$(lt_stat '.genie_questions | length')" 6
it_expect_eq "summary misses" "$(lt_sum first .cache.misses)" 6
it_expect_eq "summary by type" "$(lt_sum first '[.by_type | to_entries[] | "\(.key)=\(.value.count)"] | join(" ")')" \
  "GENIE_LIVE=6 GENIE_LRU_HIT=3 GENIE_SEMANTIC_HIT=2"
# hits were served by re-executing the stored SQL on the warehouse
it_expect_eq "hits re-executed as statements" \
  "$(lt_stat '[.statements[] | select(.statement | test("region|units"))] | length >= 5')" true
it_expect_eq "hit rows" "$(lt_rows first | awk -F, '$(NF-10) != "GENIE_LIVE" && $(NF-6) == "" ' | wc -l)" 0
grep -q "GENIE_LRU_HIT " "$T/first.out" || it_fail "per-type table"

# a restart: the repeated SQL questions are all hits now, only the text answers go live
ask second
it_expect_eq "second run" "$(types second)" "$H $H $H $H $H $H $H $H $H $L $L "
it_expect_eq "second run at Genie" "$(lt_stat '.genie_questions | length')" 2
# the semantic layer persisted too: with the exact layer off every SQL question is a
# semantic hit
GENIE_LRU_CAPACITY=0 ask third
it_expect_eq "third run" "$(types third)" "$S $S $S $S $S $S $S $S $S $L $L "
it_expect_eq "third run at Genie" "$(lt_stat '.genie_questions | length')" 2

# a stale entry: its SQL fails on re-execution -> deleted, asked live (a miss), stored again
# (sqlite3 damages the cache file on purpose here: no command writes a cache entry.)
sqlite3 "$CACHE_DB" "UPDATE genie_cache_lru SET sql_text='SELECT nope FROM samples.sales.product_sales' WHERE question='show total sales by region'"
echo "Show total sales by region" >"$T/one.txt"
lt_reset
lt_run stale genie --questions-file "$T/one.txt" --cache lru --cache-db "$CACHE_DB" \
  --poll-initial 10ms --out "$T/stale"
it_expect_eq "stale entry is a miss" "$(types stale)" "$L "
it_expect_eq "stale entry asked live" "$(lt_stat '.genie_questions | length')" 1
lt_reset
lt_run fresh genie --questions-file "$T/one.txt" --cache lru --cache-db "$CACHE_DB" \
  --poll-initial 10ms --out "$T/fresh"
it_expect_eq "then a hit again" "$(types fresh)" "$H "
# the SQL stored after the miss is Genie's fresh one: the hit re-executed exactly that
it_expect_eq "fresh SQL stored" \
  "$(lt_stat '[.statements[].statement] | length == 1 and (.[0] | test("GROUP BY region"))')" true

# two generators at once on one database share the cache
lt_reset
"$SLUICE_BIN" loadtest genie --questions-file "$T/questions.txt" --workers 1 --cache semantic \
  --cache-db "$CACHE_DB" --poll-initial 10ms --out "$T/a" >"$T/a.out" 2>&1 &
pa=$!
"$SLUICE_BIN" loadtest genie --questions-file "$T/questions.txt" --workers 1 --cache semantic \
  --cache-db "$CACHE_DB" --poll-initial 10ms --out "$T/b" >"$T/b.out" 2>&1 || it_fail "generator b"
wait $pa || it_fail "generator a"
it_expect_eq "both generators hit" "$(lt_sum a .cache.lru_hits)+$(lt_sum b .cache.lru_hits)" "9+9"
it_expect_eq "shared run at Genie" "$(lt_stat '.genie_questions | length')" 4

# the default database is the Sluice one (--db / SLUICE_DB) and its schema has the tables
lt_run dflt genie --questions-file "$T/one.txt" --cache lru --poll-initial 10ms
it_expect_eq "cache in SLUICE_DB" \
  "$("$SLUICE_BIN" loadtest cache --cache-db "$SLUICE_DB" -o json | jq .lru_entries)" 1
it_expect_fail 2 "--cache must be none, lru or semantic, not 'redis'" \
  "$SLUICE_BIN" loadtest genie --questions 1 --cache redis
emu_stop_all
