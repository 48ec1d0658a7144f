"""The model's speech segments from its audio, as Full-Duplex-Bench finds them.

FDB's backchannel evaluation runs the Silero voice-activity detector on `output.wav`:
`silero_vad.load_silero_vad()` (the packaged TorchScript model) and
`get_speech_timestamps(wav, model, return_seconds=True)` with the package's defaults
(listed in `FDB_VAD_PARAMS`; times rounded to 0.1 s). mteval does the same through the
optional extra `audio` (`pip install 'mteval-harness[audio]'`: silero-vad and torch; no
torchaudio: the WAV is read with the stdlib). Upstream reads the file with torchaudio
and never passes a sampling rate, so the detector assumes 16 kHz; mteval resamples other
rates to 16 kHz (upstream's times would be wrong there) and says so in the method.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
import wave
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from mteval.data import DataError

VAD_RATE = 16000
FDB_VAD_PARAMS: dict[str, Any] = {
    "threshold": 0.5,
    "min_speech_duration_ms": 250,
    "min_silence_duration_ms": 100,
    "speech_pad_ms": 30,
    "time_resolution": 1,
}
"""silero-vad's defaults, which FDB's eval_backchannel.py uses (it passes none)."""

Span = tuple[float, float]


class AudioExtraMissing(RuntimeError):
    """The `audio` extra (silero-vad, torch) is not installed."""


def vad_available() -> bool:
    """Whether silero-vad (and torch) can be imported, without importing them."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("silero_vad", "torch"))
    except (ImportError, ValueError):  # a broken or blocked install counts as absent
        return False


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono PCM WAV as float32 in [-1, 1) (torchaudio's scaling) and its rate."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            raw = handle.readframes(handle.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise DataError(f"{path}: not a readable PCM WAV file ({exc})") from exc
    if channels != 1:
        raise DataError(f"{path}: {channels} channels; the benchmark's detector reads one (mono) channel")
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        samples = (np.where(ints >= 1 << 23, ints - (1 << 24), ints)).astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:
        raise DataError(f"{path}: unsupported sample width of {width} bytes")
    return samples, rate


def to_vad_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample to 16 kHz (polyphase, scipy) when the file has another rate."""
    if rate == VAD_RATE:
        return samples
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, VAD_RATE)
    return resample_poly(samples, VAD_RATE // g, rate // g).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _model() -> Any:
    if not vad_available():
        raise AudioExtraMissing("speech segments from audio need the 'audio' extra: pip install 'mteval-harness[audio]'")
    from silero_vad import load_silero_vad

    with warnings.catch_warnings():  # the package's own deprecation notices (importlib, torch.jit)
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_silero_vad()


def method(rate: int | None = None) -> dict[str, Any]:
    """What produced the segments, for the timeline's meta and every score."""
    record: dict[str, Any] = {"method": "silero-vad", "silero_vad": version("silero-vad"), **FDB_VAD_PARAMS}
    if rate is not None and rate != VAD_RATE:
        record["resampled_from_hz"] = rate
    return record


def speech_segments(path: str | Path) -> tuple[list[Span], dict[str, Any]]:
    """The detector's speech segments of a WAV file in seconds, and the method record."""
    samples, rate = read_wav(path)
    model = _model()
    import torch
    from silero_vad import get_speech_timestamps

    found = get_speech_timestamps(
        torch.from_numpy(np.ascontiguousarray(to_vad_rate(samples, rate))),
        model,
        sampling_rate=VAD_RATE,
        return_seconds=True,
        **FDB_VAD_PARAMS,
    )
    return [(float(s["start"]), float(s["end"])) for s in found], method(rate)
