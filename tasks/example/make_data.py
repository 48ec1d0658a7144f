"""Regenerate data/arithmetic.jsonl (seeded): python tasks/example/make_data.py tasks/example/data/arithmetic.jsonl"""
import json
import random
import sys

rng = random.Random(7)
OPS = {"add": "Add {n} to it.", "subtract": "Subtract {n} from it.", "multiply": "Multiply it by {n}."}
out = []
for cid in range(1, 41):
    start = rng.randint(1, 20)
    value = start
    turns = []
    for t in range(4 + cid % 3):
        op = rng.choice(sorted(OPS))
        n = rng.randint(2, 4) if op == "multiply" else rng.randint(2, 9)
        value = value + n if op == "add" else value - n if op == "subtract" else value * n
        text = OPS[op].format(n=n)
        if t == 0:
            text = f"Start with the number {start}. {text}"
        user = f"{text} What is the result? Reply with the number only."
        turns.append({"id": str(t + 1), "user": user, "gold": str(value), "references": {"answer": value, "op": op, "n": n}})
    out.append({"id": f"arith-{cid:02d}", "system": "You are a careful calculator.", "turns": turns, "metadata": {"start": start}})
with open(sys.argv[1], "w") as f:
    for c in out:
        f.write(json.dumps(c) + "\n")
