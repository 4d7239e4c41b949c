"""Importing the package, the steering namespace and its CLI must not import torch."""

from __future__ import annotations

import subprocess
import sys


def test_steering_imports_are_lazy():
    code = (
        "import sys, theory_of_space.steering, theory_of_space.steering.cli, theory_of_space.steering.rendering\n"
        "import theory_of_space.steering.inertia\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "from theory_of_space.steering import ODESteer\n"
        "assert 'torch' in sys.modules and ODESteer.__name__ == 'ODESteer'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_resolve():
    import theory_of_space.steering as steering

    for name in steering.__all__:
        assert getattr(steering, name) is not None, name
