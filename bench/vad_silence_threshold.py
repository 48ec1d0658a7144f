"""Which word-silence threshold makes word-based speech segments track the Silero VAD?

Full-Duplex-Bench's backchannel scores scan the speech segments the Silero VAD finds in
the model's audio. Without audio mteval groups the model's ASR words into segments,
split at silences of at least `bc_min_silence_s`. This script measures, for a grid of
thresholds, how far the word-based backchannel results are from the detector's on the
same samples:

- `--fdb ROOT`: FDB sample folders with `output.wav` and `output.json` (real model speech
  and its ASR). Only the span covered by words is compared (the ASR may be cropped).
- `--synthetic N`: N backchannel-like timelines (short acknowledgements at random times,
  some longer phrases with short and long pauses) spoken word by word by espeak-ng; the
  ASR words are the acoustic spans, widened as aligners do (`--stretch`, seconds at the
  end, `--lead` at the start; 0 = exact).

Per threshold: segment-count difference, takeover (TO) disagreements, mean |frequency
difference| (backchannels/s) and the mean JS distance between the two backchannel-timing
histograms (0.2 s windows), as in eval_backchannel.py.

Usage: python bench/vad_silence_threshold.py [--fdb ROOT] [--synthetic 40] [--stretch 0.07] [--lead 0.06]
Needs the `audio` extra; `--synthetic` needs espeak-ng on PATH.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.distance import jensenshannon

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mteval.duplex.timeline import Segment, Word, words_to_segments  # noqa: E402
from mteval_tasks.full_duplex import vad  # noqa: E402
from mteval_tasks.full_duplex.backchannel import scan_segments, window_histogram  # noqa: E402
from mteval_tasks.full_duplex.fdb import read_words  # noqa: E402
from mteval_tasks.full_duplex.options import FullDuplexOptions  # noqa: E402

THRESHOLDS = (0.0, 0.05, 0.1, 0.12, 0.15, 0.17, 0.2, 0.25, 0.3, 0.4, 0.5)
BACKCHANNELS = ["yeah", "mm-hmm", "uh-huh", "right", "okay", "I see", "oh wow", "sure", "really", "that's true", "oh no"]
PHRASES = [
    "one, to kill a mockingbird",
    "that makes sense, tell me more",
    "oh, I did not know that",
    "right, and then what happened",
    "well, I think you are right about that",
]


@dataclass
class Sample:
    name: str
    words: list[Word]
    vad: list[tuple[float, float]]
    duration: float


def outcome(segments: list[Segment], words: list[Word], duration: float) -> tuple[int, float, np.ndarray]:
    to, listed = scan_segments(segments, words, FullDuplexOptions())
    return to, len(listed) / duration, window_histogram(listed, duration)


def measure(samples: list[Sample]) -> list[dict]:
    rows = []
    for threshold in THRESHOLDS:
        n_diff, to_diff, freq_diff, jsd = [], 0, [], []
        for s in samples:
            lo, hi = s.words[0].start - 0.3, max(w.end for w in s.words) + 0.3
            detected = [Segment(start=a, end=b) for a, b in s.vad if a < hi and b > lo]
            by_words = words_to_segments(s.words, threshold)
            to_v, f_v, h_v = outcome(detected, s.words, s.duration)
            to_w, f_w, h_w = outcome(by_words, s.words, s.duration)
            n_diff.append(abs(len(detected) - len(by_words)))
            to_diff += int(to_v != to_w)
            freq_diff.append(abs(f_v - f_w))
            value = float(jensenshannon(h_v, h_w))
            jsd.append(0.0 if np.isnan(value) else value)
        rows.append(
            {
                "threshold": threshold,
                "mean_abs_segments": float(np.mean(n_diff)),
                "to_disagree": to_diff,
                "mean_abs_freq": float(np.mean(freq_diff)),
                "mean_jsd": float(np.mean(jsd)),
            }
        )
    return rows


def boundary_offsets(samples: list[Sample]) -> tuple[list[float], list[float]]:
    """ASR word start - detector segment start, and ASR word end - detector segment end,
    for detector segments whose first/last word is within 0.3 s: how the ASR's timing
    sits against the detector's (which pads speech by 30 ms and rounds to 0.1 s)."""
    starts, ends = [], []
    for s in samples:
        for a, b in s.vad:
            first = min(s.words, key=lambda w: abs(w.start - a))
            last = min(s.words, key=lambda w: abs(w.end - b))
            if abs(first.start - a) <= 0.3:
                starts.append(first.start - a)
            if abs(last.end - b) <= 0.3:
                ends.append(last.end - b)
    return starts, ends


def fdb_samples(root: Path) -> list[Sample]:
    out = []
    for wav in sorted(root.rglob("output.wav")):
        asr = wav.with_name("output.json")
        if not asr.is_file():
            continue
        words, _ = read_words(asr, json.loads(asr.read_text(encoding="utf-8"))["chunks"])
        if not words:
            continue
        segments, _ = vad.speech_segments(wav)
        samples, rate = vad.read_wav(wav)
        out.append(Sample(str(wav.parent.relative_to(root)), words, segments, len(samples) / rate))
    return out


def _spoken(word: str, cache: dict[str, np.ndarray], tmp: Path) -> np.ndarray:
    if word not in cache:
        path = tmp / "w.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", str(path), word], check=True)
        x, rate = vad.read_wav(path)
        x = vad.to_vad_rate(x, rate)
        idx = np.nonzero(np.abs(x) > 0.005)[0]
        cache[word] = x[idx[0] : idx[-1] + 1]
    return cache[word]


def synthetic_samples(n: int, stretch: float, lead: float = 0.0, seed: int = 0) -> list[Sample]:
    """Backchannel-task-like model streams of 20 s: 2-6 utterances 1.5-5 s apart, 75 %
    acknowledgements, 25 % phrases (no pause between most words, 0.02-0.12 s between
    some, 0.15-0.45 s at commas)."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("--synthetic needs espeak-ng on PATH (apt-get install espeak-ng)")
    rng = np.random.default_rng(seed)
    cache: dict[str, np.ndarray] = {}
    rate, total = vad.VAD_RATE, 20.0
    out = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for k in range(n):
            audio = np.zeros(int(total * rate), dtype=np.float32)
            spans: list[tuple[str, float, float]] = []
            t = float(rng.uniform(0.5, 3.0))
            for _ in range(int(rng.integers(2, 7))):
                utterance = str(rng.choice(PHRASES)) if rng.random() < 0.25 else str(rng.choice(BACKCHANNELS))
                tokens = utterance.split()
                for i, token in enumerate(tokens):
                    clip = _spoken(token.strip(","), cache, tmp)
                    if t + len(clip) / rate >= total - 0.5:
                        break
                    start = int(t * rate)
                    audio[start : start + len(clip)] += clip
                    spans.append((token, t, t + len(clip) / rate))
                    t += len(clip) / rate
                    if i < len(tokens) - 1:
                        if token.endswith(","):
                            t += float(rng.uniform(0.15, 0.45))
                        elif rng.random() < 0.4:
                            t += float(rng.uniform(0.02, 0.12))
                t += float(rng.uniform(1.5, 5.0))
                if t >= total - 1.0:
                    break
            path = tmp / f"s{k}.wav"
            with wave.open(str(path), "wb") as handle:
                handle.setnchannels(1)
                handle.setsampwidth(2)
                handle.setframerate(rate)
                handle.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
            segments, _ = vad.speech_segments(path)
            words = []
            for i, (token, s, e) in enumerate(spans):
                nxt = spans[i + 1][1] if i + 1 < len(spans) else total
                prev = words[-1].end if words else 0.0
                words.append(Word(text=token, timestamp=(round(max(s - lead, prev), 3), round(min(e + stretch, nxt - lead), 3))))
            out.append(Sample(f"synthetic/{k}", words, segments, total))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fdb", type=Path, help="FDB sample tree with output.wav + output.json")
    parser.add_argument("--synthetic", type=int, default=0, help="number of espeak-ng timelines")
    parser.add_argument("--stretch", type=float, default=0.0, help="synthetic ASR word end = acoustic end + this")
    parser.add_argument("--lead", type=float, default=0.0, help="synthetic ASR word start = acoustic start - this")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    samples = fdb_samples(args.fdb) if args.fdb else []
    if args.synthetic:
        samples += synthetic_samples(args.synthetic, args.stretch, args.lead, args.seed)
    if not samples:
        raise SystemExit("nothing to measure: give --fdb ROOT and/or --synthetic N")
    print(f"{len(samples)} samples")
    starts, ends = boundary_offsets(samples)
    if starts and ends:
        print(
            f"ASR vs detector boundaries: word start - segment start median {np.median(starts):+.3f} s (n={len(starts)}), "
            f"word end - segment end median {np.median(ends):+.3f} s (n={len(ends)})"
        )
    print("threshold  |Δsegments|  TO disagree  |Δfreq| (1/s)  JSD(words, VAD)")
    for row in measure(samples):
        print(
            f"{row['threshold']:9.2f}  {row['mean_abs_segments']:11.2f}  {row['to_disagree']:11d}  "
            f"{row['mean_abs_freq']:13.4f}  {row['mean_jsd']:15.4f}"
        )


if __name__ == "__main__":
    main()
