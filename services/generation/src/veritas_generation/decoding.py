"""Incremental detokenization with stop strings: which text of a growing completion is safe to
send to the caller now, and where a stop string cuts it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

# What a byte-level tokenizer decodes an incomplete UTF-8 sequence to, until its last byte comes.
_REPLACEMENT = "\ufffd"


class TextAssembler:
    """Turns the generated token ids, one step at a time, into text deltas.

    Text is held back while it may still change: an incomplete UTF-8 character, or an ending
    that could be the start of a stop string. Every delta is final, so the deltas always
    concatenate to the finished text, and a stop string never reaches the caller.
    """

    def __init__(self, decode: Callable[[Sequence[int]], str], stop: Sequence[str] = ()) -> None:
        self._decode = decode
        self._stop = [s for s in stop if s]
        self._text = ""  # the whole decoded completion so far
        self._emitted = 0  # characters of _text already handed out
        self.stopped = False  # a stop string was produced; the text ends before it

    @property
    def text(self) -> str:
        """The text handed out so far."""
        return self._text[: self._emitted]

    def push(self, token_ids: Sequence[int]) -> str:
        """Decodes the completion's tokens so far and returns the text that became safe to send."""
        if self.stopped:
            return ""
        self._text = self._decode(token_ids)
        stable = len(self._text.rstrip(_REPLACEMENT))
        # A stop string cannot start before _emitted: that text was checked when it went out.
        cut = self._find_stop(stable)
        if cut is not None:
            self.stopped = True
            return self._advance(cut)
        return self._advance(stable - self._pending_stop_prefix(stable))

    def flush(self) -> str:
        """At the end of generation: whatever was held back, unless a stop string cut it."""
        if self.stopped:
            return ""
        return self._advance(len(self._text))

    def _advance(self, upto: int) -> str:
        upto = max(upto, self._emitted)
        delta = self._text[self._emitted : upto]
        self._emitted = upto
        return delta

    def _find_stop(self, stable: int) -> int | None:
        window = self._text[:stable]
        hits = [i for s in self._stop if (i := window.find(s, self._emitted)) >= 0]
        return min(hits) if hits else None

    def _pending_stop_prefix(self, stable: int) -> int:
        """Length of the longest ending of the stable text that begins some stop string."""
        longest = 0
        for stop in self._stop:
            for size in range(min(len(stop) - 1, stable - self._emitted), longest, -1):
                if self._text[stable - size : stable] == stop[:size]:
                    longest = size
                    break
        return longest
