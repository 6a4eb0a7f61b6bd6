#!/bin/sh
# Instructions per alloc+free pair (loop included) of the ObjectPool core and
# its peers, counted by callgrind inside each run_* loop (1M pairs, after a
# warm-up call). Usage: bench/native/callgrind-pool.sh [pairs]
set -e
cd "$(dirname "$0")/../.."
N=${1:-1000000}
OUT=build/bench-native
mkdir -p "$OUT"
SRC="bench/native/pool_churn.cc native/core/object_pool.cc native/core/pool_depot.cc native/core/share_registry.cc native/core/page_source.cc native/core/region.cc"
# Two binaries: Debian's libmimalloc.so replaces malloc itself once linked.
g++ -std=c++20 -O2 -DNDEBUG -o "$OUT/pool_churn" $SRC -pthread
g++ -std=c++20 -O2 -DNDEBUG -DWITH_MIMALLOC -o "$OUT/pool_churn_mi" $SRC -lmimalloc -pthread
for what in pool depot batch mimalloc glibc; do
  case $what in
    pool) fn=run_pool ;; depot) fn=run_depot ;; batch) fn=run_batch ;; mimalloc) fn=run_mimalloc ;; glibc) fn=run_glibc ;;
  esac
  bin="$OUT/pool_churn"; [ "$what" = mimalloc ] && bin="$OUT/pool_churn_mi"
  valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$what" --toggle-collect="$fn" \
    "$bin" "$what" "$N" >/dev/null 2>&1
  ir=$(callgrind_annotate "$OUT/cg.$what" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  # The warm-up call is collected too: subtract it in proportion.
  warm=1000; [ "$what" = batch ] && warm=1024
  per=$(awk -v ir="$ir" -v n="$N" -v w="$warm" 'BEGIN { printf "%.1f", ir / (n + w) }')
  printf '%-9s %6s instructions per pair\n' "$what" "$per"
  eval "per_$what=$per"
done
awk -v p="$per_pool" -v m="$per_mimalloc" -v g="$per_glibc" \
  'BEGIN { printf "pool / mimalloc = %.2f, pool / glibc = %.2f\n", p / m, p / g }'
