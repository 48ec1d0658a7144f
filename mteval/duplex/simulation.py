"""Any chat model as a duplex agent, by time slicing (BENCHMARKS 6.9).

The user's speech is revealed on a simulated clock in slices (default 2 s; or every
`slice_words` words). After each slice the model gets the whole exchange so far, one
(user slice, its own reply) pair per slice, and answers with what it says next, or
`<idle>` to stay silent. A spoken piece is placed on the model channel at the slice end
(or, if the model is still talking, right after its current speech) and lasts
words / speaking rate. `<idle>` while the user talks over the model's speech stops it
there (`interrupted_at`). Every slice is one `ModelClient.generate` call, so the cache,
retries and replay work as for any task, and a deterministic model gives the same
timeline every time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mteval.conversation import Conversation, Message
from mteval.duplex.options import DuplexOptions
from mteval.duplex.sample import conversation_timeline, simulated_model, summary_record
from mteval.duplex.timeline import TIME_EPS, Segment, Word
from mteval.models.base import GenerationParams, RequestContext
from mteval.models.errors import ConfigurationError, ModelError
from mteval.solver import request_record
from mteval.transcript import TurnRecord

if TYPE_CHECKING:
    from mteval.client import ModelClient
    from mteval.task import Task

SYSTEM_PROMPT = (
    "You are a voice assistant in a live spoken conversation. You hear the user in slices of about "
    "{slice_s:g} seconds; after each slice you reply with what you say next. "
    "Reply exactly {idle} to stay silent: while the user is still speaking, when they only pause in the middle "
    "of a thought, or to stop talking when they interrupt you. "
    "A short backchannel such as \"mm-hmm\" shows you are listening without taking the turn. "
    "When it is your turn, reply with the next few words you say (at most about {words} words per slice); "
    "you can continue over several slices. A slice in which the user said nothing is shown as {silence}."
)


@dataclass(frozen=True)
class Slice:
    t0: float
    t1: float
    words: tuple[str, ...]


def _boundaries(user: tuple[Segment, ...], stream_end: float, options: DuplexOptions) -> list[float]:
    if options.slice_by == "time":
        count = 1
        out = []
        while count * options.slice_s < stream_end - TIME_EPS:
            out.append(count * options.slice_s)
            count += 1
        return out
    marks: set[float] = set()
    for segment in user:
        words = segment.timed_words()
        marks.update(words[i].end for i in range(options.slice_words - 1, len(words), options.slice_words))
        if words:
            marks.add(words[-1].end)
    out, previous = [], 0.0
    for mark in sorted(m for m in marks if m < stream_end) + [stream_end]:
        while mark - previous > options.slice_s + TIME_EPS:  # silence: keep the clock ticking
            previous += options.slice_s
            out.append(previous)
        if mark < stream_end:
            out.append(mark)
            previous = mark
    return out


def plan_slices(user: tuple[Segment, ...], stream_end: float, options: DuplexOptions) -> list[Slice]:
    """The decision points before the stream ends and the user words heard in each
    (a word is heard in the slice in which it ends)."""
    words: list[Word] = sorted((w for s in user for w in s.timed_words()), key=lambda w: w.end)
    slices, t0 = [], 0.0
    for t1 in _boundaries(user, stream_end, options):
        slices.append(Slice(t0=t0, t1=t1, words=tuple(w.text for w in words if t0 < w.end <= t1)))
        t0 = t1
    if len(slices) > options.max_slices:
        raise ConfigurationError(
            f"{len(slices)} slices exceed max_slices={options.max_slices}; raise it or use a longer slice_s"
        )
    return slices


class Voice:
    """The model's mouth: when its speech ends, given what it said and when it stopped."""

    def __init__(self, words_per_minute: float):
        self.word_s = 60.0 / words_per_minute
        self.busy_until = 0.0

    def speaking_at(self, t: float) -> bool:
        return self.busy_until > t + TIME_EPS

    def say(self, n_words: int, t: float) -> tuple[float, float]:
        start = max(t, self.busy_until)
        self.busy_until = start + n_words * self.word_s
        return start, self.busy_until

    def stop(self, t: float) -> None:
        self.busy_until = t


_WORDLIKE = re.compile(r"\w")


def parse_piece(reply: str, idle_token: str = "<idle>", silence_token: str = "<silence>") -> str | None:
    """What the model says in this slice, or None for silence: nothing left once the
    idle token (and the silence marker, which a model may echo) is removed, or only
    punctuation."""
    text = " ".join(reply.replace(idle_token, " ").replace(silence_token, " ").split())
    return text if _WORDLIKE.search(text) else None


class DuplexSolver:
    """The time-sliced solver: one model call per slice, the timeline in the records.
    `history` (own/gold/single) does not apply: the model always hears its own replies."""

    def __init__(self, options: DuplexOptions):
        self.options = options

    def system_prompt(self) -> str:
        o = self.options
        words = max(1, round(o.slice_s * o.speaking_rate_wpm / 60.0))
        return SYSTEM_PROMPT.format(slice_s=o.slice_s, idle=o.idle_token, words=words, silence=o.silence_token)

    async def solve(
        self,
        task: "Task",
        conversation: Conversation,
        history: str,
        client: "ModelClient",
        params: GenerationParams,
    ) -> tuple[list[TurnRecord], str | None]:
        o = self.options
        timeline = conversation_timeline(conversation)
        stream_end = timeline.end_time()
        system = Message(role="system", content=self.system_prompt())
        exchanges: list[tuple[Message, Message]] = []
        previous: list[Message] = []
        voice = Voice(o.speaking_rate_wpm)
        records: list[TurnRecord] = []
        for index, piece_slice in enumerate(plan_slices(timeline.user, stream_end, o), start=1):
            heard = " ".join(piece_slice.words)
            user_message = Message(role="user", content=heard or o.silence_token)
            window = exchanges if o.history_slices is None else exchanges[-o.history_slices :]
            sent = [system, *(m for pair in window for m in pair), user_message]
            turn_id = f"slice-{index:03d}"
            meta: dict[str, Any] = {"duplex": "slice", "t0": piece_slice.t0, "t1": piece_slice.t1, "heard": heard}
            context = RequestContext(task=task.name, conversation_id=conversation.id, turn_id=turn_id, turn_index=index)
            try:
                completion = await client.generate(sent, params, context)
            except ModelError as exc:
                records.append(request_record(index, turn_id, previous, sent, exc, scored=False, metadata=meta))
                return [summary_record(None, records), *records], f"{turn_id}: {type(exc).__name__}: {exc}"
            meta.update(self._act(completion.text, piece_slice, voice))
            reply = completion.text if completion.text.strip() else o.idle_token
            record = request_record(index, turn_id, previous, sent, completion, scored=False, metadata=meta)
            records.append(record.model_copy(update={"reply": reply}))
            assistant = Message(role="assistant", content=reply)
            previous = sent + [assistant]
            exchanges.append((user_message, assistant))
        model = simulated_model(records, stream_end, o.ipu_min_silence_s)
        text = " ".join(s.text for s in model)
        summary = summary_record(
            text, records, {"duplex": "summary", "stream_end": stream_end, "slices": len(records)}
        )
        return [summary, *records], None

    def _act(self, reply: str, piece_slice: Slice, voice: Voice) -> dict[str, Any]:
        """Place the reply on the model channel; the returned facts go into the record."""
        piece = parse_piece(reply, self.options.idle_token, self.options.silence_token)
        t = piece_slice.t1
        if piece is None:
            if piece_slice.words and voice.speaking_at(t):
                voice.stop(t)
                return {"action": "stop", "at": t}
            return {"action": "idle"}
        start, end = voice.say(len(piece.split()), t)
        return {"action": "speak", "piece": piece, "start": start, "end": end}
