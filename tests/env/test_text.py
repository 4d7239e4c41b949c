from theory_of_space.env.text import observation_text, query_message, rotate_message
from theory_of_space.world.geometry import Facing
from theory_of_space.world.view import describe_view

VERIFIED = (
    "You observe: \n"
    + """• television: front-right, mid distance, facing forward
• cap: front-slight-right, slightly far, facing forward
• green door: front-left, slightly far, on front wall
• blue door: front-left, slightly far, on left wall
Assume your current facing direction is called "north":
• television is south, near to cap."""
)


def test_verified_observation_of_the_example_scene(example_scene):
    assert observation_text(describe_view(example_scene, (1, 3), Facing.EAST)) == VERIFIED


def test_empty_view_has_one_period(example_scene):
    # facing west from the start: only the wall
    assert observation_text(describe_view(example_scene, (1, 3), Facing.WEST)) == (
        "You observe: No objects in field of view."
    )


def test_other_messages():
    assert rotate_message(90) == "You rotated clockwise 90°."
    assert rotate_message(-180) == "You rotated counterclockwise 180°."
    assert query_message("television", (2, -1), Facing.EAST) == "television: (2, -1), facing east."
    assert query_message("lamp", (0, 4), None) == "lamp: (0, 4)."
