"""Mental rotation: how many objects are asked, and the answer format (published rules)."""

from collections import Counter

import numpy as np

from theory_of_space.tasks.rotation import object_count


def test_the_count_is_uniform_from_three_up_to_the_subset_size():
    rng = np.random.default_rng(0)
    four = Counter(object_count(rng, 4) for _ in range(2000))
    # min(uniform 3..5, 4) would give 4 twice as often as 3
    assert set(four) == {3, 4} and abs(four[3] - four[4]) < 200
    assert {object_count(rng, 3) for _ in range(50)} == {3}
    assert {object_count(rng, 9) for _ in range(500)} == {3, 4, 5}


def test_the_answer_format_names_objects(example_suite):
    for question in example_suite.by_task("ment_rot"):
        assert question.text.splitlines()[-1].startswith("Answer format: <object_name1>, <object_name2>, ...")
