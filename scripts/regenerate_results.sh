#!/usr/bin/env bash
# Regenerate the committed results/ with the current manifest schema.
#
# Every run under results/ is rebuilt from its source by the commands below, so a
# second regeneration is byte-identical (checked by `--check`). Add native runs here
# as `mteval run ... --output-dir "$REPO/results" --run-id NAME` lines.
#
# Usage: scripts/regenerate_results.sh [--check]
#   MTEVAL      the mteval executable (default: mteval on PATH)
#   SHARED_DIR  the shared data folder (default: ../shared next to the repository)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MTEVAL="${MTEVAL:-mteval}"
SHARED_DIR="${SHARED_DIR:-$(cd "$REPO/.." && pwd)/shared}"
CHECK="${1:-}"

# The manifests record the import command; run it from a scratch folder where
# ../shared is the shared data, so the recorded paths do not depend on where the
# repository is checked out.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
ln -s "$SHARED_DIR" "$SCRATCH/shared"
mkdir "$SCRATCH/cwd"

regenerate() {
  local out="$1"
  (
    cd "$SCRATCH/cwd"
    # RAD-Bench: published answers of 16 models judged by gpt-4o (Apache-2.0)
    "$MTEVAL" import rad-bench \
      --answers ../shared/data/rad_bench/rad_bench/data/model_answer \
      --judgments ../shared/data/rad_bench/rad_bench/data/model_judgment/gpt-4o.jsonl \
      --output-dir "$out" >/dev/null
  )
}

if [ "$CHECK" = "--check" ]; then
  regenerate "$SCRATCH/results"
  diff -r "$REPO/results" "$SCRATCH/results" && echo "results/ is byte-identical to a fresh regeneration"
else
  regenerate "$REPO/results"
  echo "regenerated $REPO/results"
fi
