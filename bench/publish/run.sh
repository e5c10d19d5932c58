#!/usr/bin/env bash
# Publish benchmarks (design note `content-library`). Data lives in /tmp, never in the repo.
#
#   bench/publish/run.sh [RUNS]        (default 5 runs each, medians reported)
#
# 1. One 1 GiB package: `p2pd publish --all` (fresh data dir each run) against
#    `openssl dgst -sha256` of the same file, alternating, warm page cache.
#    Target: publish <= 1.15x openssl.
# 2. 2,000 packages of 64 KiB: first `publish --all`, then re-runs with
#    nothing changed. Target: re-run < 1 s.
set -euo pipefail
RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${P2PD_BENCH_DIR:-/tmp/p2pd-bench-publish}
cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
BIN=${P2PD_BIN:-$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/p2pd}

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

fresh() { # fresh data dir $1 on storage $2
    rm -rf "$1"
    "$BIN" install --data-dir "$1" --file-storage "$2" >/dev/null 2>&1
}

mkdir -p "$WORK"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, sha_ni: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
echo "p2pd: $BIN; openssl: $(openssl version)"

# --- 1 GiB ---------------------------------------------------------------
BIG=$WORK/big/storage/bigpkg/1.0/big.bin
if [ ! -f "$BIG" ] || [ "$(stat -c %s "$BIG")" != 1073741824 ]; then
    mkdir -p "$(dirname "$BIG")"
    head -c 1G /dev/urandom > "$BIG"
fi
cat "$BIG" > /dev/null   # warm the page cache
P=(); O=()
for i in $(seq "$RUNS"); do
    t0=$(now); openssl dgst -sha256 "$BIG" > /dev/null; t1=$(now)
    O+=("$(elapsed "$t0" "$t1")")
    fresh "$WORK/big/d" "$WORK/big/storage"
    t0=$(now); "$BIN" --data-dir "$WORK/big/d" publish --all > /dev/null; t1=$(now)
    P+=("$(elapsed "$t0" "$t1")")
done
po=$(echo "${O[*]}" | median); pp=$(echo "${P[*]}" | median)
echo "1 GiB openssl dgst -sha256: runs ${O[*]} s; median $po s"
echo "1 GiB p2pd publish --all:   runs ${P[*]} s; median $pp s"
echo "ratio publish/openssl: $(python3 -c "print(f'{$pp/$po:.2f}')")"

# --- 2,000 x 64 KiB ------------------------------------------------------
SMALL=$WORK/small/storage
if [ "$(ls "$SMALL" 2>/dev/null | wc -l)" != 2000 ]; then
    rm -rf "$SMALL"; mkdir -p "$SMALL"
    head -c $((2000 * 65536)) /dev/urandom | (cd "$SMALL" && split -b 65536 -a 4 -d - pkg-)
fi
cat "$SMALL"/* > /dev/null
F=(); R=()
for i in $(seq "$RUNS"); do
    fresh "$WORK/small/d" "$SMALL"
    t0=$(now); "$BIN" --data-dir "$WORK/small/d" publish --all > /dev/null; t1=$(now)
    F+=("$(elapsed "$t0" "$t1")")
    t0=$(now); "$BIN" --data-dir "$WORK/small/d" publish --all > /dev/null; t1=$(now)
    R+=("$(elapsed "$t0" "$t1")")
done
echo "2000x64KiB first publish --all: runs ${F[*]} s; median $(echo "${F[*]}" | median) s"
echo "2000x64KiB re-run (unchanged):  runs ${R[*]} s; median $(echo "${R[*]}" | median) s"
