"""The scored-turn rows a run's summary needs, stored compactly while samples.jsonl streams.

One row per scored turn, but only what metrics read: task, conversation id, turn index and
each scorer's `score_<name>` / `status_<name>`. Strings are int32 codes into small tables
(conversation ids: one entry per sample), numbers sit in `array` buffers: ~20 bytes per
scored turn plus one id per conversation, instead of a Python dict or a pandas row. Totals
(token counts, score statuses) are summed as the rows arrive and not stored at all.

Tasks that keep the default metrics are summarised straight from these arrays (numpy, no
pandas); a task that overrides `metrics`, or a family aggregate, gets a pandas frame of its
own rows, built from the arrays when it is asked for.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from mteval.id_set import MAX_WIDTH

if TYPE_CHECKING:
    import pandas as pd

FIXED = ("task", "conversation_id", "turn_index")
"""Columns every row has; the others are `score_<name>` and `status_<name>` per scorer."""

_ABSENT: dict[str, Any] = {"status": None}
"""The score of a scorer a turn has none of: no value and no status, the columns' fill."""


class TextColumn:
    """Strings (or None) as codes into a table of distinct values (code 0 = None): one byte
    per row while the table has fewer than 256 values (task names, score statuses), four
    after."""

    def __init__(self, count: int = 0):
        self.values: list[str | None] = [None]
        self._codes: dict[str | None, int] = {None: 0}
        self.codes = array("B", bytes(count))

    def append(self, value: str | None) -> None:
        code = self._codes.get(value)
        if code is None:
            code = self._codes[value] = len(self.values)
            self.values.append(value)
            if code == 256 and self.codes.typecode == "B":
                self.codes = array("i", self.codes)
        self.codes.append(code)

    def fill(self) -> None:
        self.codes.append(0)

    def extend(self, values: list[str | None]) -> None:
        """`append` of each value, in order (codes are given in order of first appearance)."""
        known = self._codes
        try:
            codes = [known[value] for value in values]
        except KeyError:  # a value not seen before: one by one, so codes keep their order
            for value in values:
                self.append(value)
            return
        self.codes.extend(codes)

    def extend_same(self, value: str | None, count: int) -> None:
        """`append(value)` `count` times."""
        code = self._codes.get(value)
        if code is None:
            self.append(value)
            code, count = self.codes[-1], count - 1
        self.codes.extend([code] * count)

    def code_array(self) -> np.ndarray:
        dtype = np.uint8 if self.codes.typecode == "B" else np.int32
        return np.frombuffer(self.codes, dtype=dtype) if self.codes else np.zeros(0, dtype=dtype)

    def column(self, rows: np.ndarray | None) -> np.ndarray:
        """Object array of the (shared) strings of `rows` (all rows if None)."""
        table = np.empty(len(self.values), dtype=object)
        table[:] = self.values
        codes = self.code_array()
        return table[codes if rows is None else codes[rows]]


class SampleIds:
    """The conversation id of each sample, UTF-8 in one buffer (a str object per
    conversation was ~55 bytes), and per row the sample it belongs to."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._ends = array("q")
        self.codes = array("i")

    def start_sample(self, value: str) -> None:
        self._buffer += value.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._buffer))

    def append_current(self) -> None:
        self.codes.append(len(self._ends) - 1)

    def extend_current(self, count: int) -> None:
        self.codes.extend([len(self._ends) - 1] * count)

    def code_array(self) -> np.ndarray:
        return np.frombuffer(self.codes, dtype=np.int32) if self.codes else np.zeros(0, dtype=np.int32)

    def strings(self) -> list[str]:
        starts = [0, *self._ends[:-1]]
        return [self._buffer[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts, self._ends)]

    def column(self, rows: np.ndarray | None) -> np.ndarray:
        table = np.empty(len(self._ends), dtype=object)
        table[:] = self.strings()
        codes = self.code_array()
        return table[codes if rows is None else codes[rows]]

    def ranks(self) -> np.ndarray:
        """Per sample, the rank of its id among all ids in string order (equal ids, equal
        ranks). UTF-8 bytes sort as the strings do, so the ids are ranked as fixed-width
        bytes, never as str objects; ids a fixed width cannot hold (long, NUL-ended) as str."""
        ends = np.frombuffer(self._ends, dtype=np.int64) if self._ends else np.zeros(0, dtype=np.int64)
        starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
        lengths = ends - starts
        width = int(lengths.max()) if lengths.size else 0
        data = np.frombuffer(bytes(self._buffer), dtype=np.uint8)
        if width == 0 or width > MAX_WIDTH or bool((data[ends[lengths > 0] - 1] == 0).any()):
            table = np.empty(len(self._ends), dtype=object)
            table[:] = self.strings()
            return np.unique(table, return_inverse=True)[1].astype(np.int32)
        matrix = np.zeros((len(ends), width), dtype=np.uint8)
        for j in range(width):
            present = lengths > j
            matrix[present, j] = data[starts[present] + j]
        fixed = matrix.view(f"S{width}").ravel()
        return np.unique(fixed, return_inverse=True)[1].astype(np.int32)


class NumberColumn:
    """Floats in a double buffer, None as NaN; a column that never held a number stays a
    column of None when it becomes a frame (as pandas would have made it)."""

    def __init__(self, count: int = 0):
        self.data = array("d", [float("nan")]) * count
        self.any_value = False

    def append(self, value: Any) -> None:
        if value is None:
            self.data.append(float("nan"))
        else:
            self.data.append(float(value))
            self.any_value = True

    def fill(self) -> None:
        self.data.append(float("nan"))

    def extend(self, values: list[Any]) -> None:
        """`append` of each value."""
        nan = float("nan")
        self.data.extend([nan if value is None else float(value) for value in values])
        if not self.any_value and values.count(None) != len(values):
            self.any_value = True

    def values(self) -> np.ndarray:
        return np.frombuffer(self.data, dtype=np.float64) if self.data else np.zeros(0)

    def column(self, rows: np.ndarray | None) -> np.ndarray:
        data = self.values() if rows is None else self.values()[rows]
        if not self.any_value:
            return np.full(len(data), None, dtype=object)
        return data.copy()


class ScoreRows:
    """Scored-turn rows, column by column (see the module docstring)."""

    def __init__(self) -> None:
        self.task = TextColumn()
        self.conversation = SampleIds()
        self.turn_index = array("H")  # widened to "q" outside 0..65,535
        self.scores: dict[str, NumberColumn | TextColumn] = {}
        self._pairs: dict[str, tuple[Any, Any]] = {}
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def add_sample(self, rows: list[dict[str, Any]]) -> None:
        """The rows of one sample (dicts from `mteval.results.sample_rows`: they share one
        conversation id)."""
        if rows:
            self.conversation.start_sample(rows[0]["conversation_id"])
        for row in rows:
            self._add(row)

    def start_sample(self, conversation_id: str) -> None:
        """Rows added next (`add_turn`) belong to this conversation."""
        self.conversation.start_sample(conversation_id)

    def add_turn(self, task: str, turn_index: int, scores: dict[str, dict[str, Any]]) -> None:
        """One scored turn from its sample record's `scores` (as `sample_rows` reads them)."""
        self.task.append(task)
        self.conversation.append_current()
        self._append_turn_index(turn_index)
        for name, score in scores.items():
            columns = self._pairs.get(name)
            if columns is None:
                columns = self._pairs[name] = (self._column(f"score_{name}"), self._column(f"status_{name}"))
            status = score.get("status", "ok")
            columns[0].append(score.get("value") if status == "ok" else None)
            columns[1].append(status)
        self.count += 1
        if 2 * len(scores) != len(self.scores):
            self._fill()

    def add_turns(self, task: str, conversation_id: str, turn_indexes: list[int], scores: list[dict[str, dict[str, Any]]]) -> None:
        """The scored turns of one sample, as `start_sample` then `add_turn` per turn would add
        them. When no turn brings a scorer not seen before (the usual case), each column
        grows by one extend instead of one append per turn and scorer (a scorer a turn has
        no score of gets the fill an `add_turn` would give it: no value, no status)."""
        self.conversation.start_sample(conversation_id)
        pairs, count = self._pairs, len(scores)
        names = pairs.keys()
        extend = count > 0 and len(self.scores) == 2 * len(pairs)
        if extend:
            for turn in scores:  # a loop, not all() over a generator: this runs per sample
                if not turn.keys() <= names:
                    extend = False
                    break
        if not extend:
            for turn_index, turn in zip(turn_indexes, scores):
                self.add_turn(task, turn_index, turn)
            return
        self.task.extend_same(task, count)
        self.conversation.extend_current(count)
        self._fit_turn_indexes(min(turn_indexes), max(turn_indexes))
        self.turn_index.extend(turn_indexes)
        for name, (number, text) in pairs.items():
            values, statuses = [], []
            for turn in scores:
                score = turn.get(name, _ABSENT)
                status = score.get("status", "ok")
                values.append(score.get("value") if status == "ok" else None)
                statuses.append(status)
            number.extend(values)
            text.extend(statuses)
        self.count += count

    def _append_turn_index(self, turn_index: int) -> None:
        self._fit_turn_indexes(turn_index, turn_index)
        self.turn_index.append(turn_index)

    def _fit_turn_indexes(self, low: int, high: int) -> None:
        """Widen the turn indexes (2 bytes per row) to 8 bytes when one in [low, high] does not fit."""
        if self.turn_index.typecode == "H" and not 0 <= low <= high < 65536:
            self.turn_index = array("q", self.turn_index)

    def _fill(self) -> None:
        for column in self.scores.values():
            if len(column.data if isinstance(column, NumberColumn) else column.codes) < self.count:
                column.fill()

    def _add(self, row: dict[str, Any]) -> None:
        self.task.append(row["task"])
        self.conversation.append_current()
        self._append_turn_index(int(row["turn_index"]))
        added = 0
        for key, value in row.items():
            if key.startswith(("score_", "status_")):
                self._column(key).append(value)
                added += 1
        self.count += 1
        if added != len(self.scores):  # a scorer this row has no score of (another task's)
            self._fill()

    def _column(self, key: str) -> NumberColumn | TextColumn:
        column = self.scores.get(key)
        if column is None:
            column = self.scores[key] = NumberColumn(self.count) if key.startswith("score_") else TextColumn(self.count)
        return column

    # --- selections ------------------------------------------------------------------------
    def rows_of(self, tasks: Iterable[str]) -> np.ndarray | None:
        """Row positions of these tasks, in file order (None: every row)."""
        wanted = {code for code, name in enumerate(self.task.values) if name in set(tasks)}
        if wanted >= set(range(1, len(self.task.values))):
            return None
        return np.flatnonzero(np.isin(self.task.code_array(), sorted(wanted)))

    def task_names(self) -> list[str]:
        return [name for name in self.task.values if name is not None]

    def score_values(self, name: str, rows: np.ndarray | None) -> np.ndarray | None:
        """`score_<name>` of the rows as floats (NaN: no score), None if no row has the column."""
        column = self.scores.get(f"score_{name}")
        if not isinstance(column, NumberColumn):
            return None
        return column.values() if rows is None else column.values()[rows]

    def status_counts(self, name: str, rows: np.ndarray | None) -> dict[Any, int]:
        """The rows per `status_<name>` (no status: not counted), in the order the statuses
        first appear among the rows."""
        column = self.scores.get(f"status_{name}")
        if not isinstance(column, TextColumn) or not self.count:
            return {}
        codes = column.code_array() if rows is None else column.code_array()[rows]
        found, first, counts = np.unique(codes, return_index=True, return_counts=True)
        return {column.values[int(found[k])]: int(counts[k]) for k in np.argsort(first, kind="stable") if found[k]}

    def cluster_ranks(self, rows: np.ndarray | None) -> np.ndarray:
        """Per row, the rank of its conversation id among the run's ids in string order (so
        numbers sort as the ids do: the bootstrap resamples them in the same order)."""
        rank = self.conversation.ranks()
        codes = self.conversation.code_array()
        return rank[codes if rows is None else codes[rows]]

    def turn_indexes(self, rows: np.ndarray | None) -> np.ndarray:
        dtype = np.uint16 if self.turn_index.typecode == "H" else np.int64
        data = np.frombuffer(self.turn_index, dtype=dtype) if self.turn_index else np.zeros(0, dtype=dtype)
        return data if rows is None else data[rows]

    def frame(self, rows: np.ndarray | None) -> "pd.DataFrame":
        """A pandas frame of the rows (no columns at all when the run has no row, as before)."""
        import pandas as pd

        if not self.count:
            return pd.DataFrame()
        data: dict[str, Any] = {
            "task": self.task.column(rows),
            "conversation_id": self.conversation.column(rows),
            "turn_index": self.turn_indexes(rows).astype(np.int64),
        }
        for key, column in self.scores.items():
            data[key] = column.column(rows)
        index = pd.RangeIndex(self.count) if rows is None else pd.Index(rows)
        return pd.DataFrame(data, index=index, copy=False)
