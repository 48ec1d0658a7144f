"""The runner reads a lazy task lazily: a generator `load` is consumed as workers free
up (not up front), its counts still reach the manifest, and the checks that must fail
before any request (duplicate ids, missing gold) still do."""

from __future__ import annotations

from typing import Iterator, Sequence

import pytest

from mteval.conversation import Conversation, Message, Turn
from mteval.models.base import GenerationParams, ModelAdapter, ModelOutput, RequestContext
from mteval.models.errors import ConfigurationError
from mteval.registry import register_task
from mteval.runner import RunConfig, Runner
from mteval.scoring import rule
from mteval.task import Task

N = 40
STATE = {"yielded": 0, "ids": None, "loads": 0}


@rule("lazy_nonempty")
def _nonempty(reply: str, turn) -> float:
    return float(bool(reply))


@register_task
class LazyTask(Task):
    name = "lazyfam/stream"

    def load(self) -> Iterator[Conversation]:
        STATE["yielded"] = 0
        STATE["loads"] += 1
        for i in STATE["ids"] or range(N):
            STATE["yielded"] += 1
            turns = (Turn(id="t0", user=f"hello {i}", gold="g0"), Turn(id="t1", user="again", gold="g1"))
            yield Conversation(id=f"c{i}", turns=turns)

    def scorers(self):
        return [_nonempty]


class Probe(ModelAdapter):
    """Records how many conversations the task had yielded when each request went out."""

    provider = "probe"
    cacheable = False

    def __init__(self) -> None:
        super().__init__("m", {})
        self.seen: list[int] = []

    async def generate(self, messages: Sequence[Message], params: GenerationParams, context: RequestContext) -> ModelOutput:
        self.seen.append(STATE["yielded"])
        return ModelOutput(text="ok " + messages[-1].content)


def run(tmp_path, **config) -> tuple[Probe, dict]:
    probe = Probe()
    cfg = RunConfig(tasks="lazyfam/stream", model="probe/m", output_dir=tmp_path, use_cache=False, progress=False, max_concurrency=2, command=["t"], **config)
    outcome = Runner(cfg, model=probe).run()
    return probe, outcome.manifest


@pytest.fixture(autouse=True)
def _reset():
    STATE.update(yielded=0, ids=None, loads=0)
    yield
    STATE.update(yielded=0, ids=None, loads=0)


def test_a_generator_task_is_read_as_workers_free_up(tmp_path):
    probe, manifest = run(tmp_path)
    assert len(probe.seen) == 2 * N
    # two workers: at the first request at most the two conversations in flight were read
    assert probe.seen[0] <= 3
    assert max(probe.seen[: N // 2]) < N  # not loaded up front
    info = manifest["tasks"]["lazyfam/stream"]
    assert info["conversations"] == N and info["scored_turns"] == 2 * N
    assert manifest["totals"]["conversations"] == N and manifest["totals"]["turns"] == 2 * N


def test_limit_reads_only_what_it_runs(tmp_path):
    probe, manifest = run(tmp_path, limit=5)
    assert len(probe.seen) == 10 and max(probe.seen) <= 5
    assert manifest["tasks"]["lazyfam/stream"]["conversations"] == 5


def test_duplicate_ids_in_a_stream_fail_before_any_request(tmp_path):
    STATE["ids"] = [1, 2, 3, 2]
    probe = Probe()
    cfg = RunConfig(tasks="lazyfam/stream", model="probe/m", output_dir=tmp_path, use_cache=False, progress=False, command=["t"])
    with pytest.raises(ConfigurationError, match=r"duplicate conversation ids \['c2'\]"):
        Runner(cfg, model=probe).run()
    assert probe.seen == []


def test_a_resumed_stream_skips_finished_conversations(tmp_path):
    probe, _ = run(tmp_path, run_id="r", limit=4)
    assert len(probe.seen) == 8
    again, manifest = run(tmp_path, run_id="r", limit=4)
    assert again.seen == []  # everything was finished
    assert manifest["totals"]["conversations"] == 4


def test_the_data_check_hash_and_scan_share_one_pass(tmp_path):
    """A generator task is read twice per run (the checks before any request, then the run),
    not once per check; the data hash is the one the task's own `data_info` gives."""
    _, manifest = run(tmp_path)
    assert STATE["loads"] == 2
    expected = LazyTask().data_info()
    data = manifest["tasks"]["lazyfam/stream"]["data"]
    assert (data["sha256"], data["source"]) == (expected.sha256, expected.source) and data["source"].startswith(f"{N} conversations")


def test_a_selection_still_scans_what_it_runs(tmp_path):
    STATE["ids"] = [1, 2, 3, 2]
    _, manifest = run(tmp_path, ids=["c1", "c3"])  # the duplicate is not selected: the scan covers what runs
    assert manifest["tasks"]["lazyfam/stream"]["conversations"] == 2
