"""Any chat model as a duplex agent, by time slicing ("Beyond the Turn-Based Game", arXiv 2406.15718).

The user's speech is revealed on a simulated clock in slices (default 2 s; or every
`slice_words` words), and the stream's end is a decision point too, so every user word
is heard. After each slice the model gets the whole exchange so far, one (user slice,
what it actually said) pair per slice, and answers with what it says next, or `<idle>`
to stay silent. A spoken piece starts at the decision point and must fit before the
next one (words / speaking rate): the words that do not fit are not said (`unsaid` in
the record) and the model's history shows only what was said, so it can go on from
there. Speech therefore never queues up: whatever the model says after hearing
something was decided after hearing it, and each spoken piece records `heard_until`,
the point up to which the model had heard the user (the sample timeline's
`meta.spoken` lists them). A reply at the stream's end has no time left to be heard.
Every slice is one `ModelClient.generate` call, so the cache, retries and replay work
as for any task, and a deterministic model gives the same timeline every time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mteval.conversation import Message
from mteval.duplex.options import SimulationOptions
from mteval.duplex.sample import conversation_timeline, simulated_model, summary_record
from mteval.duplex.timeline import TIME_EPS, Segment, Word
from mteval.errors import ConfigurationError, ModelError
from mteval.models.base import RequestContext
from mteval.solver import SolveContext, request_record
from mteval.transcript import TurnRecord

SYSTEM_PROMPT = (
    "You are a voice assistant in a live spoken conversation. You hear the user in slices of about "
    "{slice_s:g} seconds; after each slice you reply with what you say next. "
    "Reply exactly {idle} to stay silent: while the user is still speaking, when they only pause in the middle "
    "of a thought, or to stop talking when they interrupt you. "
    "A short backchannel such as \"mm-hmm\" shows you are listening without taking the turn. "
    "When it is your turn, reply with the next few words you say (at most {words} words per slice: words "
    "beyond that are not said); you can continue over several slices. A slice in which the user said "
    "nothing is shown as {silence}."
)


@dataclass(frozen=True)
class Slice:
    t0: float
    t1: float
    words: tuple[str, ...]


def _boundaries(user: tuple[Segment, ...], stream_end: float, options: SimulationOptions) -> list[float]:
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


def plan_slices(user: tuple[Segment, ...], stream_end: float, options: SimulationOptions) -> list[Slice]:
    """The decision points up to and including the stream's end and the user words heard
    in each (a word is heard in the slice in which it ends)."""
    words: list[Word] = sorted((w for s in user for w in s.timed_words()), key=lambda w: w.end)
    slices, t0 = [], 0.0
    boundaries = _boundaries(user, stream_end, options)
    if stream_end > TIME_EPS and (not boundaries or boundaries[-1] < stream_end - TIME_EPS):
        boundaries.append(stream_end)  # the last words are heard, and the model may answer them
    for t1 in boundaries:
        slices.append(Slice(t0=t0, t1=t1, words=tuple(w.text for w in words if t0 < w.end <= t1)))
        t0 = t1
    if len(slices) > options.max_slices:
        raise ConfigurationError(
            f"{len(slices)} slices exceed max_slices={options.max_slices}; raise it or use a longer slice_s"
        )
    return slices


class Voice:
    """The model's mouth: how many words fit before the next decision point, and when they end."""

    def __init__(self, words_per_minute: float):
        self.word_s = 60.0 / words_per_minute

    def fits(self, seconds: float) -> int:
        """Whole words spoken in `seconds`."""
        return max(0, int((seconds + TIME_EPS) / self.word_s))

    def say(self, n_words: int, t: float) -> tuple[float, float]:
        return t, t + n_words * self.word_s


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

    def __init__(self, options: SimulationOptions):
        self.options = options

    def system_prompt(self) -> str:
        o = self.options
        words = max(1, Voice(o.speaking_rate_wpm).fits(o.slice_s))
        return SYSTEM_PROMPT.format(slice_s=o.slice_s, idle=o.idle_token, words=words, silence=o.silence_token)

    async def solve(self, ctx: SolveContext) -> tuple[list[TurnRecord], str | None]:
        task, conversation, client, params = ctx.task, ctx.conversation, ctx.client, ctx.params
        o = self.options
        timeline = conversation_timeline(conversation)
        stream_end = timeline.end_time()
        system = Message(role="system", content=self.system_prompt())
        exchanges: list[tuple[Message, Message]] = []
        previous: list[Message] = []
        voice = Voice(o.speaking_rate_wpm)
        records: list[TurnRecord] = []
        slices = plan_slices(timeline.user, stream_end, o)
        for index, piece_slice in enumerate(slices, start=1):
            next_point = slices[index].t1 if index < len(slices) else stream_end
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
            meta.update(self._act(completion.text, piece_slice, voice, next_point))
            reply = completion.text if completion.text.strip() else o.idle_token
            record = request_record(index, turn_id, previous, sent, completion, scored=False, metadata=meta)
            records.append(record.model_copy(update={"reply": reply}))
            # the model's history holds what it said, not what it meant to say
            assistant = Message(role="assistant", content=meta.get("piece") or o.idle_token)
            previous = sent + [Message(role="assistant", content=reply)]  # what the record decoder assumes
            exchanges.append((user_message, assistant))
        model = simulated_model(records, stream_end, o.ipu_min_silence_s)
        text = " ".join(s.text for s in model)
        summary = summary_record(
            text, records, {"duplex": "summary", "stream_end": stream_end, "slices": len(records)}
        )
        return [summary, *records], None

    def _act(self, reply: str, piece_slice: Slice, voice: Voice, next_point: float) -> dict[str, Any]:
        """Place the reply on the model channel, up to the next decision point; the
        returned facts go into the record."""
        piece = parse_piece(reply, self.options.idle_token, self.options.silence_token)
        t = piece_slice.t1
        if piece is None:
            return {"action": "idle"}
        words = piece.split()
        room = voice.fits(next_point - t)
        said, unsaid = words[:room], words[room:]
        facts: dict[str, Any] = {"action": "speak" if said else "idle", "heard_until": t}
        if said:
            start, end = voice.say(len(said), t)
            facts.update(piece=" ".join(said), start=start, end=end)
        if unsaid:
            facts["unsaid"] = " ".join(unsaid)
        return facts
