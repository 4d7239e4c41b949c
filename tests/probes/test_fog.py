"""The fog probe: candidates, the symbolic map, parsing and F1."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory_of_space.probes.fog import (
    FogCandidates,
    ObserveRecord,
    fog_candidates,
    fog_map_text,
    fog_prompt,
    is_explored,
    parse_fog,
    read_fog_map,
    score_fog,
)
from theory_of_space.world.geometry import Facing


@pytest.fixture
def first_look(example_scene):
    start = example_scene.start
    return [ObserveRecord(start.cell, start.facing, (1,))]


def test_candidates_split_explored_and_unexplored_cells(example_scene, first_look):
    fog = fog_candidates(example_scene, first_look, (1, 3), seed=0, turn=1)
    assert len(fog.letters) == 6 and list(fog.letters) == list("ABCDEF")
    assert len(fog.unexplored) == 3
    for letter, cell in fog.letters.items():
        assert example_scene.rooms_at(cell) == (1,) and cell != (1, 3)
        assert (letter in fog.unexplored) == (not is_explored(example_scene, first_look, cell))
    # deterministic per (seed, turn); another turn draws again
    assert fog_candidates(example_scene, first_look, (1, 3), seed=0, turn=1) == fog
    assert FogCandidates.from_dict(fog.to_dict()) == fog


def test_rooms_never_observed_in_give_no_candidates(example_scene):
    # standing on the blue door facing north: only room 2 lies ahead, but the door visits rooms 1 and 2
    look = [ObserveRecord((6, 8), Facing.NORTH, (1, 2))]
    fog = fog_candidates(example_scene, look, (6, 8), seed=0, turn=1)
    rooms = {example_scene.rooms_at(c)[0] for c in fog.letters.values()}
    assert rooms <= {1, 2} and 2 in rooms


def test_map_text_and_reading_it_back(example_scene, first_look):
    fog = fog_candidates(example_scene, first_look, (1, 3), seed=0, turn=1)
    text = fog_map_text(example_scene, fog, (1, 3))
    rows = text.split("\n")
    assert len(rows) == 16 and {len(r) for r in rows} == {15}
    assert rows[-1 - 3][1] == "*"  # (1, 3): row from the top = max y - 3
    assert rows[-1 - 6][7] == "+"  # the green door at (7, 6)
    assert read_fog_map(fog_prompt(example_scene, fog, (1, 3))) == fog.letters


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('FINAL ANSWER: {"unexplored": ["a", " C ", "ZZ", 3]}', frozenset({"A", "C"})),
        ('{"Unexplored": []}', frozenset()),
        ("none", None),
        ('{"explored": ["A"]}', None),
        (None, None),
    ],
)
def test_parse_fog(reply, expected):
    assert parse_fog(reply) == expected


@given(st.text())
def test_parse_fog_never_raises(text):
    parse_fog(text)


def test_f1():
    letters = {"A": (1, 1), "B": (2, 2), "C": (3, 3), "D": (4, 4)}
    assert score_fog('{"unexplored": ["A", "B"]}', letters, {"A", "B"}) == 1.0
    assert score_fog('{"unexplored": ["A", "C", "Q"]}', letters, {"A", "B"}) == pytest.approx(0.5)
    assert score_fog('{"unexplored": []}', letters, {"A"}) == 0.0
    assert score_fog("no idea", letters, {"A"}) == 0.0
    assert score_fog({"C"}, letters, {"A"}) == 0.0
