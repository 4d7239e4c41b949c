"""The provider-neutral parts: history limits, images, the response cache, retries, request slots."""

from __future__ import annotations

import base64
import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from theory_of_space.agents.base import CallRecord, Message
from theory_of_space.agents.cache import ResponseCache, request_key
from theory_of_space.agents.clients.images import encode_image, interleave
from theory_of_space.agents.history import OMITTED_IMAGE, trim_history
from theory_of_space.agents.retry import RetryPolicy, call_with_retries, request_slots


def _image(value: int, shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.full((*shape, 3), value, dtype=np.uint8)


def _conversation(n_turns: int) -> list[Message]:
    messages = [Message("system", "rules"), Message("user", "u0 <image>", (_image(0),))]
    for i in range(1, n_turns):
        messages += [Message("assistant", f"a{i - 1}"), Message("user", f"u{i} <image>", (_image(i),))]
    return messages


# ==== History ====


def test_history_keeps_everything_by_default() -> None:
    conversation = _conversation(5)
    assert trim_history(conversation) == conversation


def test_history_keeps_system_first_exchange_and_last_turns() -> None:
    kept = trim_history(_conversation(6), turns=2)
    assert [m.content.split()[0] for m in kept] == ["rules", "u0", "a0", "u4", "a4", "u5"]
    roles = [m.role for m in kept[1:]]
    assert roles == ["user", "assistant"] * 2 + ["user"]  # still alternating


def test_history_keeps_the_last_images_and_marks_the_others() -> None:
    kept = trim_history(_conversation(4), images=2)
    assert [len(m.images) for m in kept if m.role == "user"] == [0, 0, 1, 1]
    assert kept[1].content == f"u0 {OMITTED_IMAGE}"
    assert kept[-1].images[0][0, 0, 0] == 3


def test_history_drops_the_oldest_images_of_a_message_first() -> None:
    message = Message("user", "<image> and <image>", (_image(1), _image(2)))
    (kept,) = trim_history([message], images=1)
    assert kept.content == f"{OMITTED_IMAGE} and <image>"
    assert kept.images[0][0, 0, 0] == 2


def test_history_rejects_zero_turns() -> None:
    with pytest.raises(ValueError, match="expected history turns >= 1"):
        trim_history(_conversation(2), turns=0)


# ==== Images ====


def test_images_are_jpeg_with_the_longest_side_capped() -> None:
    encoded = encode_image(np.zeros((2048, 1000, 3), dtype=np.uint8))
    picture = Image.open(io.BytesIO(base64.b64decode(encoded.base64_data)))
    assert (encoded.media_type, picture.format, picture.size) == ("image/jpeg", "JPEG", (500, 1024))
    assert encoded.data_url.startswith("data:image/jpeg;base64,")


def test_small_images_are_not_upscaled_and_keep_their_colours() -> None:
    encoded = encode_image(_image(200, (30, 40)))
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded.base64_data))))
    assert picture.shape == (30, 40, 3)
    assert abs(int(picture.mean()) - 200) <= 2


def test_images_must_be_uint8() -> None:
    with pytest.raises(ValueError, match=r"expected a uint8 HxW, HxWx3 or HxWx4 image, got dtype float64"):
        encode_image(np.zeros((4, 4, 3)))


def test_interleave_puts_images_where_announced() -> None:
    a, b = _image(1), _image(2)
    parts = interleave("see <image> then <image>.", [a, b])
    assert parts[0] == "see " and parts[1] is a and parts[2] == " then " and parts[3] is b and parts[4] == "."
    assert interleave("<image>", [a]) == [a]


# ==== Cache ====


def test_request_keys_are_canonical() -> None:
    assert request_key({"a": 1, "b": [1, 2]}) == request_key({"b": [1, 2], "a": 1})
    assert request_key({"a": 1}) != request_key({"a": 2})


def test_cache_round_trip(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = request_key({"model": "m"})
    assert cache.get(key) is None
    record = CallRecord("m", input_tokens=3, output_tokens=4, cost_usd=0.5, extra={"finish_reason": "stop"})
    cache.put(key, "reply", record)
    hit = cache.get(key)
    assert hit is not None and hit.text == "reply" and hit.record == record
    assert len(cache) == 1
    assert not list(tmp_path.rglob(".tmp-*"))  # the temporary file was renamed into place


def test_unreadable_cache_entries_are_misses(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = ResponseCache(tmp_path)
    key = request_key({"model": "m"})
    cache.put(key, "reply", CallRecord("m"))
    next(tmp_path.rglob("*.json")).write_text("{not json")
    assert cache.get(key) is None
    assert "unreadable response cache entry" in caplog.text


# ==== Retries ====


class _Transient(Exception):
    pass


class _Fatal(Exception):
    pass


def _flaky(failures: list[Exception]):
    calls = []

    def attempt() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "ok"

    return attempt, calls


def _retry(attempt, *, max_retries: int = 3, sleeps: list[float] | None = None):
    return call_with_retries(
        attempt,
        policy=RetryPolicy(max_retries=max_retries, initial_s=1.0, max_s=4.0),
        is_retryable=lambda error: isinstance(error, _Transient),
        retry_after=lambda error: None,
        describe=lambda error: f"{type(error).__name__}: {error}",
        rng=random.Random(0),
        sleep=(sleeps if sleeps is not None else []).append,
    )


def test_transient_failures_are_retried_with_growing_delays() -> None:
    attempt, calls = _flaky([_Transient("a"), _Transient("b")])
    sleeps: list[float] = []
    outcome = _retry(attempt, sleeps=sleeps)
    assert (outcome.value, outcome.error, outcome.retries, len(calls)) == ("ok", None, 2, 3)
    assert outcome.failures == ["_Transient: a", "_Transient: b"]
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_fatal_failures_are_not_retried() -> None:
    attempt, calls = _flaky([_Fatal("bad key")])
    outcome = _retry(attempt)
    assert (outcome.value, outcome.error, outcome.retries, len(calls)) == (None, "_Fatal: bad key", 0, 1)


def test_retries_give_up_and_say_so() -> None:
    attempt, calls = _flaky([_Transient(str(i)) for i in range(10)])
    outcome = _retry(attempt, max_retries=2)
    assert (outcome.value, outcome.retries, len(calls)) == (None, 2, 3)
    assert outcome.error == "_Transient: 2 (gave up after 2 retries)"


def test_delays_are_capped_and_honour_retry_after() -> None:
    policy = RetryPolicy(max_retries=10, initial_s=1.0, max_s=4.0)
    rng = random.Random(1)
    assert all(2.0 <= policy.delay(retry, rng) <= 4.0 for retry in range(2, 10))
    assert policy.delay(0, rng, retry_after=3.0) == 3.0
    assert policy.delay(0, rng, retry_after=100.0) == 4.0


def test_request_slots_are_shared_per_model_and_limit() -> None:
    assert request_slots("model-a", 2) is request_slots("model-a", 2)
    assert request_slots("model-a", 2) is not request_slots("model-b", 2)
    slots = request_slots("model-c", 2)
    assert slots.acquire(blocking=False) and slots.acquire(blocking=False)
    assert not slots.acquire(blocking=False)
    slots.release()
    slots.release()
    with pytest.raises(ValueError, match="expected a limit >= 1"):
        request_slots("model-d", 0)
