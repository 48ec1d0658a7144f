"""Full-duplex evaluation: time-stamped timelines where user and model speech overlap.

- `timeline`: the schema (`mteval.fullduplex.timeline/1`) and IPU segmentation
- `fdb`, `events`, `scenarios`, `sources`: importers (Full-Duplex-Bench folders, the
  plain event log, text-only scenario scripts) and one loader for all of them
- `simulation`, `sample`: any chat model as a duplex agent through the common runner
- `options`: every threshold, named and recorded in the manifest

The benchmark's own metrics live in its family, `mteval_tasks.full_duplex`: `metrics` and
`backchannel` (Full-Duplex-Bench v1 takeover, latency, frequency and JSD), `turntaking` and
`naturalness` (Heldner & Edlund statistics and SyncLLM correlation).
"""

from mteval.duplex.options import DuplexOptions
from mteval.duplex.timeline import TIMELINE_SCHEMA, Event, Segment, Timeline, Word

__all__ = ["TIMELINE_SCHEMA", "DuplexOptions", "Event", "Segment", "Timeline", "Word"]
