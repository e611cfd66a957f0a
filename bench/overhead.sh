#!/bin/sh
# Interpreter overhead against a baseline commit, in one command: the shortened default example
# (examples/mnist-bald.ts, 1 round, seed 0, no cache, 1 wasm thread) run alternately by the baseline
# (a git worktree) and by this checkout, 3 times each; prints the wall times and the ratio of medians.
# Usage: DBAL_DATA=../shared/data sh bench/overhead.sh [baseline-commit]   (default 5074d37: before the interpreter)
set -eu
base=${1:-5074d37}
here=$(cd "$(dirname "$0")/.." && pwd)
old=$(mktemp -d)
git -C "$here" worktree add -f -q "$old" "$base"
ln -s "$here/node_modules" "$old/node_modules"
cp -r "$here/.tools" "$old/.tools"
cli_of() { if [ -f "$1/pipeline/cli/cli.ts" ]; then echo pipeline/cli/cli.ts; else echo pipeline/cli.ts; fi; }
export DBAL_WASM_THREADS=1
times=$(mktemp)
for i in 1 2 3; do
  for which in baseline current; do
    dir=$old; [ $which = current ] && dir=$here
    out=$(mktemp -d)
    start=$(date +%s.%N)
    (cd "$dir" && ./dbal run -A "$(cli_of "$dir")" examples/mnist-bald.ts --rounds 1 --seeds 0 --no-cache --out "$out" 2>/dev/null)
    end=$(date +%s.%N)
    echo "$which $(echo "$end - $start" | bc)" | tee -a "$times"
    rm -rf "$out"
  done
done
median() { grep "^$1 " "$times" | cut -d' ' -f2 | sort -n | sed -n 2p; }
b=$(median baseline); c=$(median current)
echo "median wall time: baseline $b s, current $c s, current/baseline $(echo "scale=4; $c / $b" | bc)"
git -C "$here" worktree remove --force "$old"
