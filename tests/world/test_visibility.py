from hypothesis import given, settings
from hypothesis import strategies as st

from theory_of_space.world.generate import generate_scene
from theory_of_space.world.geometry import Facing, in_field_of_view
from theory_of_space.world.view import describe_view
from theory_of_space.world.visibility import visible_items


def test_verified_example_view(example_scene):
    names = [i.name for i in visible_items(example_scene, (1, 3), Facing.EAST)]
    assert names == ["television", "cap", "green door", "blue door"]


def test_a_door_shows_both_rooms(example_scene):
    # on the blue door (rooms 1 and 2): west sees along the wall into both rooms; the door itself is never seen
    west = [i.name for i in visible_items(example_scene, (6, 8), Facing.WEST)]
    assert west == ["chair", "bike", "backpack", "lamp"]  # chair, backpack in room 2; bike, lamp in room 1
    assert [i.name for i in visible_items(example_scene, (6, 8), Facing.SOUTH)] == ["television", "cap", "green door"]
    assert [i.name for i in visible_items(example_scene, (6, 8), Facing.NORTH)] == ["vase", "rubberduck"]


@st.composite
def poses(draw):
    scene = generate_scene(draw(st.integers(0, 500)), n_rooms=draw(st.integers(1, 4)))
    cells = [item.cell for item in scene.items] + [scene.start.cell]
    return scene, draw(st.sampled_from(cells)), draw(st.sampled_from(list(Facing)))


@settings(max_examples=80, deadline=None)
@given(poses())
def test_visible_means_same_room_in_cone_and_not_here(pose):
    scene, cell, facing = pose
    rooms = set(scene.rooms_at(cell))
    visible = visible_items(scene, cell, facing)
    for item in scene.items:
        expected = item.cell != cell and bool(rooms & set(item.rooms)) and in_field_of_view(cell, facing, item.cell)
        assert (item in visible) == expected
    order = [scene.items.index(item) for item in visible]
    assert order == sorted(order)
    view = describe_view(scene, cell, facing)
    assert view.names == tuple(item.name for item in visible)
    for pair in view.proximity:
        assert pair.a in view.names and pair.b in view.names
        assert view.names.index(pair.a) < view.names.index(pair.b)
