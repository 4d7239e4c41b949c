import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory_of_space.world.geometry import (
    CARDINAL_LABELS,
    Facing,
    bearing,
    cardinal_label,
    distance_label,
    ego_direction_label,
    from_local,
    in_field_of_view,
    nearest_facing,
    relative_facing_label,
    rotation_between,
    to_local,
    wall_label,
)

offsets = st.tuples(st.integers(-40, 40), st.integers(-40, 40))
facings = st.sampled_from(list(Facing))


def test_bearing_is_clockwise_positive():
    assert bearing((0, 0), Facing.NORTH, (1, 0)) == pytest.approx(90)
    assert bearing((0, 0), Facing.NORTH, (-1, 0)) == pytest.approx(-90)
    assert bearing((0, 0), Facing.EAST, (0, -3)) == pytest.approx(90)
    assert abs(bearing((0, 0), Facing.NORTH, (0, -2))) == pytest.approx(180)


def test_rotate_90_turns_north_into_east_and_wraps():
    assert Facing.NORTH.rotated(90) is Facing.EAST
    assert Facing.NORTH.rotated(-90) is Facing.WEST
    assert Facing.WEST.rotated(270) is Facing.SOUTH
    with pytest.raises(ValueError, match="multiple of 90"):
        Facing.NORTH.rotated(45)


@given(offsets, facings)
def test_local_frame_round_trips_and_puts_the_facing_forward(offset, facing):
    assert from_local(to_local(offset, facing), facing) == offset
    assert to_local(facing.vector, facing) == (0, 1)


def test_local_frame_of_an_east_facing_agent():
    # facing east, a world offset (dx, dy) becomes (-dy, dx)
    assert to_local((3, 5), Facing.EAST) == (-5, 3)


@pytest.mark.parametrize(
    ("theta", "label"),
    [
        (0.0, "front"),
        (0.0009, "front"),
        (10.0, "front-slight-right"),
        (22.5, "front-slight-right"),
        (22.6, "front-right"),
        (45.0, "front-right"),
        (45.0009, "front-right"),
        (45.1, "beyond-fov"),
        (-22.5, "front-slight-left"),
        (-30.0, "front-left"),
        (-45.0, "front-left"),
        (170.0, "beyond-fov"),
    ],
)
def test_ego_direction_bins(theta, label):
    assert ego_direction_label(theta) == label


@pytest.mark.parametrize(
    ("theta", "label"),
    [
        (-22.5, "north"),
        (22.4, "north"),
        (22.5, "north east"),
        (90, "east"),
        (180, "south"),
        (-90, "west"),
        (-30, "north west"),
    ],
)
def test_cardinal_bins_are_lower_inclusive(theta, label):
    assert cardinal_label(theta) == label


@given(st.floats(-720, 720, allow_nan=False))
def test_cardinal_label_is_periodic(theta):
    assert cardinal_label(theta) == cardinal_label(theta + 360)
    assert cardinal_label(theta) in CARDINAL_LABELS


@pytest.mark.parametrize(
    ("d", "label"),
    [
        (0, "same distance"),
        (1, "near"),
        (2, "near"),
        (2 + 5e-7, "near"),
        (2.01, "mid distance"),
        (4, "mid distance"),
        (math.sqrt(20), "slightly far"),
        (8, "slightly far"),
        (16, "far"),
        (32, "very far"),
        (32.5, "extremely far"),
    ],
)
def test_distance_bins(d, label):
    assert distance_label(d) == label


def test_field_of_view_boundary_is_included():
    assert in_field_of_view((0, 0), Facing.NORTH, (3, 3))
    assert in_field_of_view((0, 0), Facing.NORTH, (-3, 3))
    assert not in_field_of_view((0, 0), Facing.NORTH, (4, 3))
    assert not in_field_of_view((0, 0), Facing.NORTH, (0, 0))


@given(offsets.filter(lambda o: o != (0, 0)), facings)
def test_field_of_view_agrees_with_the_ego_bins(offset, facing):
    visible = in_field_of_view((0, 0), facing, offset)
    label = ego_direction_label(bearing((0, 0), facing, offset))
    assert visible == (label != "beyond-fov")


def test_relative_facing_and_wall_labels():
    assert relative_facing_label(Facing.EAST, Facing.EAST) == "forward"
    assert relative_facing_label(Facing.SOUTH, Facing.EAST) == "right"
    assert relative_facing_label(Facing.NORTH, Facing.SOUTH) == "backward"
    assert relative_facing_label(Facing.WEST, Facing.NORTH) == "left"
    # published example: facing east, a door whose vector into the room points west is ahead
    assert wall_label((-1, 0), Facing.EAST) == "front"
    assert wall_label((0, -1), Facing.EAST) == "left"
    assert wall_label((1, 0), Facing.EAST) == "back"
    assert wall_label((0, 1), Facing.EAST) == "right"


@given(facings, facings)
def test_rotation_between_is_the_short_turn(current, wanted):
    degrees = rotation_between(current, wanted)
    assert -180 < degrees <= 180
    assert current.rotated(degrees) is wanted


@given(offsets.filter(lambda o: o != (0, 0)), facings)
def test_nearest_facing_puts_the_target_in_view(offset, current):
    facing = nearest_facing((0, 0), offset, current)
    assert in_field_of_view((0, 0), facing, offset)


@pytest.mark.parametrize("facing", list(Facing))
def test_array_bins_agree_with_the_scalar_bins_on_every_offset(facing):
    from theory_of_space.world.geometry import (
        DISTANCE_LABELS,
        EGO_LABELS,
        cardinal_codes,
        distance_codes,
        ego_direction_codes,
        offset_bearing,
        offset_bearings,
    )

    dx, dy = np.meshgrid(np.arange(-40, 41), np.arange(-40, 41), indexing="ij")
    theta = offset_bearings(dx, dy, facing)
    ego, card, dist = ego_direction_codes(theta), cardinal_codes(theta), distance_codes(np.hypot(dx, dy))
    for i, j in np.ndindex(dx.shape):
        scalar = offset_bearing((int(dx[i, j]), int(dy[i, j])), facing)
        assert EGO_LABELS[ego[i, j]] == ego_direction_label(scalar)
        assert CARDINAL_LABELS[card[i, j]] == cardinal_label(scalar)
        assert DISTANCE_LABELS[dist[i, j]] == distance_label(math.hypot(dx[i, j], dy[i, j]))
