"""Full-duplex evaluation: time-stamped timelines where user and model speech overlap.

- `timeline`: the schema (`mteval.fullduplex.timeline/1`) and IPU segmentation
- `events`, `scenarios`: the plain event log and text-only scenario scripts
- `simulation`, `sample`: any chat model as a duplex agent through the common runner
- `options`: the simulation's and segmentation's options (`SimulationOptions`), the base
  a family's option set extends

The benchmark's own code lives in its family, `mteval_tasks.full_duplex`: `metrics` and
`backchannel` (Full-Duplex-Bench v1 takeover, latency, frequency and JSD), `turntaking` and
`naturalness` (Heldner & Edlund statistics and SyncLLM correlation), `fdb` and `vad` (the
benchmark's sample folders and the model's audio), `sources` (one loader for every format),
`options` (`FullDuplexOptions`: the benchmark's thresholds and rule variants).
"""

from mteval.duplex.options import DuplexOptions, SimulationOptions
from mteval.duplex.timeline import TIMELINE_SCHEMA, Event, Segment, Timeline, Word

__all__ = ["TIMELINE_SCHEMA", "DuplexOptions", "Event", "Segment", "SimulationOptions", "Timeline", "Word"]
