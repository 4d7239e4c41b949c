"""The exploration environment: ``gym.make("TheoryOfSpace/Explore-v0")``."""

from __future__ import annotations

import string
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from theory_of_space.env import prompts
from theory_of_space.env.actions import Action
from theory_of_space.env.ascii_map import ascii_map
from theory_of_space.env.false_belief import (
    DEFAULT_MAX_FALSE_BELIEF_STEPS,
    FalseBeliefPhase,
    false_belief_target,
    phase_prompt,
)
from theory_of_space.env.false_belief import invalid_feedback as false_belief_invalid_feedback
from theory_of_space.env.knowledge import INITIAL_POS
from theory_of_space.env.session import ExplorationSession, TurnOutcome
from theory_of_space.env.text import IMAGE_OBSERVATION
from theory_of_space.env.text_space import Text
from theory_of_space.env.tools import ToolCalls, tool_specs
from theory_of_space.world.generate import OBJECT_SAMPLERS, TOPOLOGIES, generate_scene
from theory_of_space.world.perturb import DEFAULT_N_CHANGES, SceneChange
from theory_of_space.world.published import published_scene_root
from theory_of_space.world.scene import Pose, Scene
from theory_of_space.world.tos_format import load_tos_scene

TEXT_CHARSET = string.printable + "•°"
"""Every character our prompts and observations use (the bullet and the degree sign included)."""
MAX_TEXT_LENGTH = 65_536
REWARDS = ("info_gain", "coverage", "none")
SCENE_SOURCES = ("procedural", "dataset")
OBS_MODES = ("text", "vision")
IMAGE_SOURCES = ("render", "dataset")
DEFAULT_IMAGE_SIZE = 384
MIN_IMAGE_SIZE = 32
NORMALISERS = ("box", "published")
ACTION_FORMATS = ("text", "tools")
RESET_OPTIONS = ("scene",)
"""The keys ``reset(options=...)`` understands; any other key is an error, not silently ignored."""
_SEED_SPACE = 2**31 - 1

if TYPE_CHECKING:
    from theory_of_space.env.dataset_images import DatasetImages


class ExploreEnv(gym.Env[dict[str, Any], str]):
    """Active exploration of a partially observable multi-room scene, in text or in pictures.

    ## Description

    The agent stands in room 1 of a scene of rooms joined by coloured doors, facing north. It sees a
    90° cone inside the room it is in (both rooms while it stands on a door) and must build a map of
    every object and door in a few steps. Each step is one reply of the model, in the format
    ``THINK: ... FINAL ANSWER: Actions: [ ... ]``.

    ## Action Space

    ``Text``: the model's raw reply. The answer part must hold ``Actions: [<M>* <F>]`` with motions
    ``JumpTo(name)``, ``Rotate(degrees)`` and one final action ``Observe()`` (cost 1), ``Query(name)``
    (cost 2, when ``query_enabled``) or ``Term()``. A list of action objects from
    :mod:`theory_of_space.env.actions` is accepted too. An unparseable reply is an invalid step: it uses
    one unit of budget, executes nothing and gets feedback that names the problem.

    With ``action_format="tools"`` the action is the model's list of tool calls instead (OpenAI or
    Anthropic shapes, or their JSON text; see :mod:`theory_of_space.env.tools`), with the same rules,
    costs, failures and invalid-step codes; the prompts then ask for tool calls, and
    ``info["tools"]`` after ``reset`` holds the tool schemas.

    ## Observation Space

    ``Dict(text=Text)``: the first observation is the task prompt; later ones are the action results,
    the number of steps left and the reply-format footer, separated by blank lines. The system prompt
    is in ``info["system_prompt"]`` after ``reset``.

    With ``obs_mode="vision"`` (id ``TheoryOfSpace/Explore-Vision-v0``) the space is
    ``Dict(text=Text, image=Box(0, 255, (image_size, image_size, 3), uint8))``. An ``Observe()`` answers
    ``You observe: <image>.`` and ``obs["image"]`` is the egocentric view; on every other step (and
    after ``reset``) ``obs["image"]`` is an all-black frame and ``info["image_attached"]`` is False.
    The pictures that belong in the message are ``info["images"]``, one per ``<image>`` placeholder
    of ``obs["text"]`` in order: after ``reset`` the calibration image and the object reference
    sheet of the first message (their sizes differ from the view's), after an ``Observe()`` the view.

    ## Rewards

    ``reward="info_gain"`` (default): the step's increase of information gain (the knowledge solver's
    positional certainty, in [0, 1] over an episode); ``"coverage"``: the increase of node coverage;
    ``"none"``: 0. Invalid steps get 0.

    ## Episode End

    ``terminated`` after a valid ``Term()``; ``truncated`` on the step that uses the last unit of the
    ``max_exp_steps`` budget. The env counts the budget itself: do not add a ``TimeLimit``.

    With ``false_belief=True`` (ids ``TheoryOfSpace/Explore-FalseBelief-v0`` and
    ``TheoryOfSpace/Explore-Vision-FalseBelief-v0``) the end of exploration does not end the episode:
    that step's observation adds the false-belief phase prompt, ``n_changes`` objects are moved or
    rotated, and the agent stands on its start cell facing north again, remembering the items it
    observed. The phase has its own budget (``max_false_belief_steps``) and ends with
    ``Term(changes="obj: type, ...")`` (``terminated``) or when its budget is spent (``truncated``); a
    plain ``Term()`` is then an invalid step. With ``action_format="tools"`` the step that opens the phase carries the
    phase's tools (Term with `changes`) in ``info["tools"]``. Rewards are 0 during this phase: it is scored by the
    identification figures in ``info``. Views of this phase show the changed scene.

    ## Information

    Every step: ``phase``, ``phase_end`` (``"term"``/``"budget"``/None), ``valid``, ``invalid_reason``
    and ``invalid_detail``, ``actions`` (parsed), ``action_results`` (per action: ok, message, reason),
    ``step_cost``, ``action_cost`` (total), ``budget_left``, ``steps``, ``steps_excluding_term``,
    ``invalid_steps``, ``budget_used``, ``action_failures``, ``action_counts``, ``agent`` (cell,
    allocentric cell, facing, rooms, anchor), ``visible``, ``newly_observed``, ``observed``,
    ``node_coverage``, ``edge_coverage``, ``action_format`` and ``message_parts`` (``result``, ``budget``,
    ``footer``).
    In the vision world also ``image_attached`` and ``images`` (see Observation Space).
    ``information_gain`` is in every step's info when ``reward="info_gain"``; with other rewards the
    solver runs only once, at the end of the episode, and the value appears on the final step. On the
    final step ``metrics`` holds the exploration metrics: ``node_coverage`` (observed items / all items),
    ``edge_coverage`` (observed same-room item pairs and start-room (start, item) pairs / all of them),
    ``information_gain``, ``steps``, ``steps_excluding_term``, ``invalid_steps``, ``budget_used``,
    ``action_failures``, ``action_counts`` and ``action_cost`` (defined in ``docs/environment.md``).

    False belief: ``phase`` is ``"exploration"`` or ``"false_belief"``; the step that ends exploration
    has ``phase_end`` set and the phase prompt as ``message_parts["phase_prompt"]``. Every step of the
    second phase has ``changes`` (what changed: name, kind ``move``/``rotate``, cells and facings before
    and after), ``first_seen_changed`` and ``first_seen_unchanged`` (the objects an Observe of this step
    showed for the first time in the phase) and the phase's own counters; its last step has
    ``false_belief`` (identification F1 for moves, rotations and overall, steps, redundancy, the parsed
    report) and ``metrics`` (the exploration metrics with the same ``false_belief`` entry).

    ## Arguments

    - ``scene_source``: ``"procedural"`` (default) or ``"dataset"`` (published ``runNN`` folders in
      ``data_dir``, by default the five example scenes shipped with the package; ``reset(seed=k)`` opens
      ``run{k:02d}``).
    - ``n_rooms``, ``room_size``, ``n_objects``, ``topology``, ``object_sampler``: generator settings.
    - ``obs_mode``: ``"text"`` (default) or ``"vision"``.
    - ``image_source``: ``"render"`` (default; our renderer) or ``"dataset"`` (the published pictures next
      to each scene's ``meta_data.json``; needs ``scene_source="dataset"``; a missing file is an error).
    - ``image_size``: side of the square egocentric views in pixels (default 384).
    - ``think``: whether prompts ask for a ``THINK:`` section (default True).
    - ``max_exp_steps``: the turn budget (default 20). ``query_enabled``: allow ``Query`` (default True).
    - ``reward``: ``"info_gain"``, ``"coverage"`` or ``"none"``.
    - ``false_belief``: add the false-belief phase (default False); ``n_changes``: objects changed (4);
      ``max_false_belief_steps``: that phase's budget (15). Published scenes take the changes from
      their folder's ``falsebelief_exp.json``.
    - ``action_format``: ``"text"`` (default; the ``Actions: [ ... ]`` grammar) or ``"tools"`` (tool calls).
    - ``info_gain_normaliser``: ``"box"`` (default, never negative) or ``"published"``.
    - ``render_mode``: ``"ansi"`` (a top-down ASCII map with the agent), ``"rgb_array"`` (a top-down
      picture of the whole scene with the agent and the cells it sees) or None.

    ``reset(options={"scene": scene})`` plays a given :class:`Scene` (or its ``to_dict()``); ``"scene"`` is
    the only option, and any other key raises ``ValueError``.

    Vector envs: ``Text`` observations cannot live in shared memory (Gymnasium would return the text the
    buffer held when the vector env was made), so ``AsyncVectorEnv`` needs ``shared_memory=False``
    (``gym.make_vec(..., vectorization_mode="async", vector_kwargs={"shared_memory": False})``); with
    shared memory on it raises ``TypeError`` saying so. ``SyncVectorEnv`` needs nothing.

    ## Version History

    - v0: initial release; the vision world (``obs_mode="vision"``), ``render_mode="rgb_array"`` and
      ``action_format="tools"`` were added without changing the text world.
      The false-belief phase (``false_belief=True`` and its two ids) was added the same way: with the
      option off, episodes are unchanged. Before any release, object names that a published file spells
      with underscores (``fire_extinguisher``) became the published display form with spaces; generated
      scenes are unchanged.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        *,
        scene_source: str = "procedural",
        data_dir: str | None = None,
        n_rooms: int = 3,
        room_size: Sequence[int] = (6, 6),
        n_objects: int = 4,
        topology: str | None = None,
        object_sampler: str = "strict",
        obs_mode: str = "text",
        image_source: str = "render",
        image_size: int = DEFAULT_IMAGE_SIZE,
        think: bool = True,
        max_exp_steps: int = 20,
        query_enabled: bool = True,
        reward: str = "info_gain",
        info_gain_normaliser: str = "box",
        false_belief: bool = False,
        n_changes: int = DEFAULT_N_CHANGES,
        max_false_belief_steps: int = DEFAULT_MAX_FALSE_BELIEF_STEPS,
        action_format: str = "text",
        render_mode: str | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(
                f"unknown option(s) {', '.join(f'`{k}`' for k in sorted(unknown))} for ExploreEnv; "
                "see the class docstring's Arguments section for the known ones"
            )
        _choice("scene_source", scene_source, SCENE_SOURCES)
        _choice("obs_mode", obs_mode, OBS_MODES)
        _choice("image_source", image_source, IMAGE_SOURCES)
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < MIN_IMAGE_SIZE:
            raise ValueError(f"expected an integer of at least {MIN_IMAGE_SIZE} for `image_size`, got {image_size!r}")
        if image_source == "dataset" and scene_source != "dataset":
            raise ValueError(
                "image_source='dataset' needs scene_source='dataset' (the pictures live in the scene folders)"
            )
        _choice("reward", reward, REWARDS)
        _choice("info_gain_normaliser", info_gain_normaliser, NORMALISERS)
        _choice("action_format", action_format, ACTION_FORMATS)
        if render_mode is not None:
            _choice("render_mode", render_mode, tuple(self.metadata["render_modes"]))
        if topology is not None:
            _choice("topology", topology, TOPOLOGIES)
        _choice("object_sampler", object_sampler, OBJECT_SAMPLERS)
        if not isinstance(max_exp_steps, int) or max_exp_steps < 1:
            raise ValueError(f"expected a positive integer for `max_exp_steps`, got {max_exp_steps!r}")
        _check_false_belief_options(false_belief, n_changes, max_false_belief_steps)
        if scene_source == "dataset":
            if data_dir is None:
                data_dir = str(published_scene_root())
            if not Path(data_dir).is_dir():
                raise ValueError(f"expected an existing folder for `data_dir`, got {data_dir!r}")
        generator_settings = {
            "n_rooms": n_rooms,
            "room_size": room_size,
            "n_objects": n_objects,
            "topology": topology,
            "object_sampler": object_sampler,
        }
        if scene_source == "procedural":
            _check_generator_settings(generator_settings)
        self.scene_source = scene_source
        self.data_dir = data_dir
        self.generator_settings = {**generator_settings, "room_size": tuple(room_size)}
        self.obs_mode = obs_mode
        self.image_source = image_source
        self.image_size = image_size
        self.reward_kind = reward
        self.info_gain_normaliser = info_gain_normaliser
        self.render_mode = render_mode
        self.false_belief = false_belief
        self.n_changes = n_changes
        self.max_false_belief_steps = max_false_belief_steps
        self.prompt_options = prompts.PromptOptions(
            think=think,
            query_enabled=query_enabled,
            max_exp_steps=max_exp_steps,
            vision=obs_mode == "vision",
            action_format=action_format,
        )
        text_space = Text(MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
        observation: dict[str, spaces.Space[Any]] = {"text": text_space}
        if obs_mode == "vision":
            observation["image"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(observation)
        self.action_space = Text(MAX_TEXT_LENGTH, min_length=0, charset=TEXT_CHARSET)
        self.scene: Scene | None = None
        self.session: ExplorationSession | None = None
        self._scene_folder: Path | None = None
        self._published: DatasetImages | None = None
        self.false_belief_scene: Scene | None = None
        self.false_belief_changes: tuple[SceneChange, ...] = ()
        self.false_belief_phase: FalseBeliefPhase | None = None
        self._exploration_metrics: dict[str, Any] = {}

    # ---- gymnasium API -----------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.scene = self._choose_scene(seed, _checked_options(options))
        self.session = ExplorationSession(
            self.scene,
            max_steps=self.prompt_options.max_exp_steps,
            query_enabled=self.prompt_options.query_enabled,
            info_gain_normaliser=self.info_gain_normaliser,  # type: ignore[arg-type]
        )
        self._last_gain = 0.0
        self._last_coverage = 0.0
        self.false_belief_phase = None
        if self.false_belief:
            self.false_belief_scene, self.false_belief_changes = false_belief_target(
                self.scene, n_changes=self.n_changes, folder=self._scene_folder
            )
        text = prompts.initial_message(self.scene, self.prompt_options)
        info = {
            "system_prompt": prompts.system_message(self.prompt_options),
            "scene_id": self.scene.scene_id,
            "scene_source": dict(self.scene.source),
            **self._common_info(),
        }
        if self.prompt_options.tools:
            info["tools"] = tool_specs(query_enabled=self.prompt_options.query_enabled)
        obs: dict[str, Any] = {"text": text}
        if self.obs_mode == "vision":
            obs["image"] = self._blank_image()
            info["image_attached"] = False
            info["images"] = self._prompt_images()
        return obs, info

    def step(self, action: str | Sequence[Action] | Sequence[dict[str, Any]]):
        if self.session is None:
            raise RuntimeError("call reset() before step()")
        if not isinstance(action, (str, list, tuple, ToolCalls)):
            raise TypeError(
                "expected the reply text (str), a list of action objects (theory_of_space.env.actions) or of "
                f"tool calls for `action`, got {type(action).__name__}: {action!r}"
            )
        if self.prompt_options.tools and not _is_action_objects(action):
            action = ToolCalls(action)
        if self.false_belief_phase is not None:
            return self._false_belief_step(action)
        if self.session.done:
            raise RuntimeError("the episode has ended; call reset()")
        outcome = self.session.play(action)
        view = self._attach_view(outcome, self.session, self.scene) if self.obs_mode == "vision" else None
        final = outcome.phase_end is not None
        reward = self._reward(outcome, final)
        parts = self._message_parts(outcome)
        text = "\n\n".join(part for part in parts.values() if part)
        info = self._step_info(outcome, parts, final)
        obs: dict[str, Any] = {"text": text}
        self._show_view(obs, info, view)
        if final and self.false_belief:
            return self._start_false_belief(obs, reward, info)
        terminated = outcome.phase_end == "term"
        truncated = outcome.phase_end == "budget"
        return obs, reward, terminated, truncated, info

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None or self.scene is None or self.session is None:
            return None
        phase = self.false_belief_phase
        session, scene = (self.session, self.scene) if phase is None else (phase.session, phase.scene)
        pose = Pose(session.cell, session.facing)
        if self.render_mode == "rgb_array":
            from theory_of_space.env.topdown import render_topdown

            return render_topdown(scene, pose, rooms=session.rooms).image
        return ascii_map(scene, pose)

    # ---- helpers -----------------------------------------------------------------------------

    def _choose_scene(self, seed: int | None, options: dict[str, Any]) -> Scene:
        given = options.get("scene")
        if given is not None:
            if isinstance(given, Scene):
                scene = given
            elif isinstance(given, dict):
                scene = Scene.from_dict(given)
            else:
                raise TypeError(f"expected a Scene or a scene dict for options['scene'], got {type(given).__name__}")
            folder = scene.source.get("folder")
            self._scene_folder = Path(self.data_dir) / folder if self.data_dir and folder else None
            return scene
        if self.scene_source == "dataset":
            return self._dataset_scene(seed)
        scene_seed = seed if seed is not None else int(self.np_random.integers(_SEED_SPACE))
        return generate_scene(scene_seed, **self.generator_settings)  # type: ignore[arg-type]

    def _dataset_scene(self, seed: int | None) -> Scene:
        root = Path(self.data_dir or "")
        if seed is None:
            folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("run"))
            if not folders:
                raise FileNotFoundError(f"no runNN scene folders in data_dir {root}")
            self._scene_folder = folders[int(self.np_random.integers(len(folders)))]
            return load_tos_scene(self._scene_folder)
        folder = root / f"run{seed:02d}"
        if not folder.is_dir():
            raise FileNotFoundError(f"reset(seed={seed}) opens {folder}, which does not exist")
        self._scene_folder = folder
        return load_tos_scene(folder)

    # ---- vision ------------------------------------------------------------------------------

    def _blank_image(self) -> np.ndarray:
        return np.zeros((self.image_size, self.image_size, 3), dtype=np.uint8)

    def _open_published(self) -> DatasetImages:
        # imported here so that the text world never loads Pillow
        from theory_of_space.env.dataset_images import DatasetImages

        if self._scene_folder is None:
            raise ValueError(
                "image_source='dataset' needs a published scene folder; this scene has none "
                "(pass reset(seed=k) to open run{k:02d}, or a scene loaded from data_dir)"
            )
        published = DatasetImages.open(self._scene_folder, size=self.image_size)
        published.check()
        return published

    def _prompt_images(self) -> list[np.ndarray]:
        """The calibration image and the object reference sheet of the first message ."""
        from theory_of_space.env.sheets import calibration_image, reference_sheet

        assert self.scene is not None
        calibration, sheet = None, None
        self._published = self._open_published() if self.image_source == "dataset" else None
        if self._published is not None:
            calibration, sheet = self._published.calibration(), self._published.reference_sheet()
        if calibration is None:
            calibration = calibration_image(self.image_size)
        if sheet is None:
            sheet = reference_sheet(self.scene)
        return [calibration, sheet]

    def _attach_view(
        self, outcome: TurnOutcome, session: ExplorationSession | None, scene: Scene | None
    ) -> np.ndarray | None:
        """Replace an Observe's text with the image placeholder and return the picture it stands for."""
        observed = [result for result in outcome.results if result.action == "Observe()" and result.ok]
        if not observed:
            return None
        assert session is not None and scene is not None
        result = observed[-1]
        outcome.message = outcome.message.replace(result.message, IMAGE_OBSERVATION, 1)
        result.message = IMAGE_OBSERVATION
        if self._published is not None:
            anchor = None if session.anchor == INITIAL_POS else session.anchor
            return self._published.view(anchor, session.facing, changed=session.false_belief)
        from theory_of_space.env.image import render_view

        pose = Pose(session.cell, session.facing)
        return render_view(scene, pose, rooms=session.rooms, size=self.image_size).image

    def _reward(self, outcome: TurnOutcome, final: bool) -> float:
        assert self.session is not None
        if self.reward_kind == "info_gain" or final:
            gain = self.session.information_gain()
            delta, self._last_gain = gain - self._last_gain, gain
            if self.reward_kind == "info_gain" and outcome.valid:
                return float(delta)
        if self.reward_kind == "coverage":
            coverage = self.session.coverage.node_coverage
            delta, self._last_coverage = coverage - self._last_coverage, coverage
            return float(delta) if outcome.valid else 0.0
        return 0.0

    def _message_parts(self, outcome: TurnOutcome, session: ExplorationSession | None = None) -> dict[str, str]:
        session = self.session if session is None else session
        assert session is not None
        result = (
            outcome.message
            if outcome.valid
            else prompts.invalid_feedback(outcome.invalid_detail or "", self.prompt_options)
        )
        if outcome.phase_end == "term":
            return {"result": result, "budget": "", "footer": ""}
        budget = prompts.budget_line(session.budget_left)
        footer = "" if outcome.phase_end else prompts.format_footer(self.prompt_options)
        return {"result": result, "budget": budget, "footer": footer}

    # ---- false belief ------------------------------------------------------------------------

    def _start_false_belief(self, obs: dict[str, Any], reward: float, info: dict[str, Any]):
        """End exploration and open the false-belief phase: its prompt joins this step's observation."""
        assert self.session is not None and self.false_belief_scene is not None
        self._exploration_metrics = dict(info["metrics"])
        self.false_belief_phase = FalseBeliefPhase(
            self.false_belief_scene,
            self.false_belief_changes,
            remembered=self.session.coverage.observed,
            max_steps=self.max_false_belief_steps,
            query_enabled=self.prompt_options.query_enabled,
            info_gain_normaliser=self.info_gain_normaliser,  # type: ignore[arg-type]
        )
        parts = info["message_parts"]
        parts["phase_prompt"] = phase_prompt(
            len(self.false_belief_changes), self.max_false_belief_steps, self.prompt_options
        )
        parts["footer"] = prompts.format_footer(self.prompt_options)
        obs["text"] = "\n\n".join(parts[key] for key in ("result", "budget", "phase_prompt", "footer") if parts[key])
        if self.prompt_options.tools:
            info["tools"] = tool_specs(query_enabled=self.prompt_options.query_enabled, false_belief=True)
        return obs, reward, False, False, info

    def _false_belief_step(self, action: str | Sequence[Action] | ToolCalls):
        phase = self.false_belief_phase
        assert phase is not None
        if phase.session.done:
            raise RuntimeError("the episode has ended; call reset()")
        outcome, phase_info = phase.play(action)
        view = self._attach_view(outcome, phase.session, phase.scene) if self.obs_mode == "vision" else None
        parts = self._message_parts(outcome, phase.session)
        if not outcome.valid:
            parts["result"] = false_belief_invalid_feedback(outcome.invalid_detail or "", self.prompt_options)
        info = {**self._turn_info(outcome, parts, phase.session), "phase": "false_belief", **phase_info}
        if "false_belief" in phase_info:
            info["metrics"] = {**self._exploration_metrics, "false_belief": phase_info["false_belief"]}
        obs: dict[str, Any] = {"text": "\n\n".join(part for part in parts.values() if part)}
        self._show_view(obs, info, view)
        return obs, 0.0, outcome.phase_end == "term", outcome.phase_end == "budget", info

    def _common_info(self, session: ExplorationSession | None = None) -> dict[str, Any]:
        session = self.session if session is None else session
        assert session is not None
        return {
            "phase": "exploration",
            "budget_left": session.budget_left,
            "steps": session.steps,
            "steps_excluding_term": session.steps_excluding_term,
            "invalid_steps": session.invalid_steps,
            "budget_used": session.steps + session.invalid_steps,
            "action_failures": session.action_failures,
            "action_counts": dict(session.action_counts),
            "action_cost": session.action_cost,
            "agent": session.pose_info(),
            "observed": list(session.coverage.observed),
            "node_coverage": session.coverage.node_coverage,
            "edge_coverage": session.coverage.edge_coverage,
            "action_format": self.prompt_options.action_format,
        }

    def _turn_info(
        self, outcome: TurnOutcome, parts: dict[str, str], session: ExplorationSession
    ) -> dict[str, Any]:
        """What every turn's ``info`` says of the turn itself, in either phase."""
        return {
            **self._common_info(session),
            "phase_end": outcome.phase_end,
            "valid": outcome.valid,
            "invalid_reason": outcome.invalid_reason,
            "invalid_detail": outcome.invalid_detail,
            "actions": [str(a) for a in outcome.actions],
            "action_results": [r.to_dict() for r in outcome.results],
            "step_cost": outcome.cost,
            "visible": [] if outcome.view is None else list(outcome.view.names),
            "newly_observed": list(outcome.newly_observed),
            "message_parts": parts,
        }

    def _show_view(self, obs: dict[str, Any], info: dict[str, Any], view: np.ndarray | None) -> None:
        """Vision world: the turn's picture (a blank frame when it has none) in ``obs`` and ``info``."""
        if self.obs_mode != "vision":
            return
        obs["image"] = self._blank_image() if view is None else view
        info["image_attached"] = view is not None
        info["images"] = [] if view is None else [view]

    def _step_info(self, outcome: TurnOutcome, parts: dict[str, str], final: bool) -> dict[str, Any]:
        assert self.session is not None
        info = self._turn_info(outcome, parts, self.session)
        if self.reward_kind == "info_gain" or final:
            info["information_gain"] = self._last_gain
        if final:
            info["metrics"] = self.session.metrics()
        return info


_FEASIBLE_SETTINGS: set[str] = set()


def _check_generator_settings(settings: dict[str, Any]) -> None:
    """Fail at construction, not at the first reset, on impossible generator settings.

    Generating a scene is the only complete check; it is done once per process for each set of settings,
    so a pool making one env per thread does not pay it again.
    """
    key = repr(sorted(settings.items()))
    if key not in _FEASIBLE_SETTINGS:
        generate_scene(0, **settings)
        _FEASIBLE_SETTINGS.add(key)


def _check_false_belief_options(false_belief: Any, n_changes: Any, max_steps: Any) -> None:
    if not isinstance(false_belief, bool):
        raise ValueError(f"expected True or False for `false_belief`, got {false_belief!r}")
    for field, value in (("n_changes", n_changes), ("max_false_belief_steps", max_steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected a positive integer for `{field}`, got {value!r}")


def _is_action_objects(action: Any) -> bool:
    """Whether a step's action is a non-empty list of action objects (accepted in every action format)."""
    return isinstance(action, (list, tuple)) and bool(action) and all(isinstance(a, Action) for a in action)


def _choice(field: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError(f"expected one of {', '.join(map(repr, allowed))} for `{field}`, got {value!r}")


def _checked_options(options: dict[str, Any] | None) -> dict[str, Any]:
    """``reset``'s options, refusing keys the env does not know (a typo would otherwise change nothing)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"expected a dict or None for reset `options`, got {type(options).__name__}")
    unknown = sorted(set(options) - set(RESET_OPTIONS))
    if unknown:
        raise ValueError(f"unknown reset option(s) {unknown}; expected only {list(RESET_OPTIONS)}")
    return options
