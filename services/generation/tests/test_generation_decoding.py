"""TextAssembler: deltas are final, stop strings never leak, incomplete characters wait."""

from __future__ import annotations

from veritas_generation.decoding import TextAssembler


def byte_decoder(pieces: list[bytes]):
    """A fake byte-level tokenizer: token i is pieces[i]; bad UTF-8 decodes to U+FFFD."""

    def decode(ids):
        return b"".join(pieces[i] for i in ids).decode("utf-8", errors="replace")

    return decode


def run(pieces: list[bytes], stop=()) -> tuple[list[str], TextAssembler, int]:
    text = TextAssembler(byte_decoder(pieces), stop)
    deltas, ids = [], []
    for i in range(len(pieces)):
        ids.append(i)
        deltas.append(text.push(ids))
        if text.stopped:
            break
    deltas.append(text.flush())
    return deltas, text, len(ids)


def test_deltas_concatenate_to_the_decoded_text():
    deltas, text, _ = run([b"Hello", b",", b" world", b"!"])
    assert deltas == ["Hello", ",", " world", "!", ""]
    assert text.text == "Hello, world!"
    assert not text.stopped


def test_incomplete_utf8_character_is_held_back_until_complete():
    euro = "€".encode()
    deltas, text, _ = run([b"cost ", euro[:1], euro[1:2], euro[2:], b"5"])
    assert "\ufffd" not in "".join(deltas)
    assert deltas[1] == deltas[2] == ""
    assert deltas[3] == "€"
    assert text.text == "cost €5"


def test_stop_string_across_tokens_cuts_text_before_it():
    deltas, text, consumed = run([b"Answer: 4", b"2\n", b"##", b"#", b" more", b" text"], ["###"])
    assert text.stopped
    assert consumed == 4  # stopped as soon as the stop string was complete
    assert text.text == "Answer: 42\n"
    assert "".join(deltas) == "Answer: 42\n"
    assert all("#" not in d for d in deltas)


def test_possible_stop_prefix_is_released_when_it_does_not_complete():
    deltas, text, _ = run([b"a#", b"#b", b"c"], ["###"])
    assert not text.stopped
    assert deltas[0] == "a"  # "#" might start "###"
    assert "".join(deltas) == "a##bc"


def test_earliest_of_several_stop_strings_wins():
    _, text, _ = run([b"one two three four"], ["four", "two"])
    assert text.text == "one "


def test_flush_releases_held_back_text_at_the_end():
    deltas, text, _ = run([b"ends with #"], ["##"])
    assert deltas == ["ends with ", "#"]
    assert text.text == "ends with #"
