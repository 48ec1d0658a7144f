"""Typed plugin contracts: a task's own solver gets one `SolveContext`, `Task.solver`
and `Scorer.needs_judge` are declared with defaults (the runner reads them directly),
and `ModelError.attempts` is a declared field rather than a monkey-patched one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mteval.conversation import Conversation, Message, Turn
from mteval.errors import ConfigurationError, ModelError, ServerError
from mteval.registry import register_task
from mteval.results import load_samples
from mteval.runner import RunConfig, Runner
from mteval.scoring import ScoreContext, Scorer, TurnState, rule
from mteval.scoring.judge_scorer import JudgeScorer
from mteval.solver import ChatSolver, SolveContext, request_record
from mteval.task import Task
from mteval.transcript import Score, TurnRecord

SEEN: list[SolveContext] = []


class RecordingSolver:
    """Wraps the chat solver and keeps the context it was given."""

    async def solve(self, ctx: SolveContext) -> tuple[list[TurnRecord], str | None]:
        SEEN.append(ctx)
        return await ChatSolver().solve(ctx)


@rule("nonempty")
def _nonempty(reply: str, turn) -> float:
    return 1.0 if reply else 0.0


class _JudgeHungry(Scorer):
    name = "hungry"
    needs_judge = True

    async def score(self, state: TurnState, context: ScoreContext) -> Score:
        return Score(value=1.0)


@register_task
class OwnSolverTask(Task):
    name = "contractfam/own_solver"
    generation = {"max_tokens": 7}

    def load(self) -> list[Conversation]:
        return [Conversation(id="c1", turns=(Turn(id="t1", user="hi", gold="hello"), Turn(id="t2", user="bye", gold="ciao")))]

    @property
    def solver(self) -> RecordingSolver:
        return RecordingSolver()

    def scorers(self):
        return [_nonempty]


@register_task
class NeedsJudgeTask(OwnSolverTask):
    name = "contractfam/needs_judge"

    def scorers(self):
        return [_nonempty, _JudgeHungry()]


def _config(tmp_path: Path, tasks: str, **extra: Any) -> RunConfig:
    return RunConfig(
        tasks=tasks, model="scripted/echo", output_dir=tmp_path / "out", cache_dir=tmp_path / "cache",
        progress=False, command=["mteval", "run"], **extra,
    )


def test_task_solver_gets_one_context_object(tmp_path):
    SEEN.clear()
    outcome = Runner(_config(tmp_path, "contractfam/own_solver", history="gold")).run()
    assert outcome.manifest["status"] == "complete"
    assert len(SEEN) == 1
    ctx = SEEN[0]
    assert isinstance(ctx.task, OwnSolverTask)
    assert ctx.conversation.id == "c1" and ctx.history == "gold"
    assert ctx.params.max_tokens == 7  # the task's generation defaults reached the solver
    assert ctx.client.model_id == "scripted/echo"
    [sample] = load_samples(outcome.run_dir)
    assert [r.turn_id for r in sample.turns] == ["t1", "t2"] and all(r.reply for r in sample.turns)
    with pytest.raises(AttributeError):  # frozen: a solver cannot change the run's settings
        ctx.history = "own"  # type: ignore[misc]  # asserting the frozen dataclass refuses


def test_defaults_are_declared_on_the_bases():
    assert Task().solver is None
    assert _nonempty.needs_judge is False
    assert JudgeScorer("j", "pairwise").needs_judge is True
    assert ModelError("boom").attempts == 1


def test_a_scorer_declaring_needs_judge_stops_a_judgeless_run(tmp_path):
    with pytest.raises(ConfigurationError, match="contractfam/needs_judge need a judge"):
        Runner(_config(tmp_path, "contractfam/needs_judge")).run()


def test_attempts_reach_the_record_as_retries():
    error = ServerError("down", status=503)
    error.attempts = 3
    sent = [Message(role="user", content="hi")]
    record = request_record(0, "t1", [], sent, error, scored=True)
    assert record.retries == 2 and record.error == "ServerError: down"


def test_context_solver_switches_history_through_the_context():
    from mteval_tasks.multiturn_instruct.solver import ContextSolver

    seen: list[str] = []

    class Spy(ChatSolver):
        async def solve(self, ctx: SolveContext):
            seen.append(ctx.history)
            return [], None

    solver = ContextSolver(ground_truth_context=True)
    solver.chat = Spy()
    ctx = SolveContext(OwnSolverTask(), OwnSolverTask().load()[0], "own", None, None)  # type: ignore[arg-type]  # unused by the spy
    asyncio.run(solver.solve(ctx))
    assert seen == ["gold"] and ctx.history == "own"


def test_chat_solver_takes_one_context_object_only():
    """The five-argument form (task, conversation, history, client, params) is gone: the
    importers build a `SolveContext` like the runner does."""
    from mteval.client import ModelClient
    from mteval.models import create_model
    from mteval.models.base import GenerationParams

    task = OwnSolverTask()
    conversation = task.load()[0]
    client = ModelClient(create_model("scripted/echo", {}))
    params = GenerationParams(max_tokens=5)
    with pytest.raises(TypeError):
        asyncio.run(ChatSolver().solve(task, conversation, "own", client, params))  # type: ignore[call-arg]
    records, error = asyncio.run(ChatSolver().solve(SolveContext(task, conversation, "own", client, params)))
    assert error is None and [r.reply for r in records] == ["hi", "bye"]
