"""Exploration followed by the task suite, over scenes; stored answers can be re-scored offline.

For each scene: explore (active: the agent itself; passive: a scripted proxy whose log becomes the
history prompt), then ask every question as its own request and score the
reply. Each scene's record is written as JSON after the exploration and after every answer, so an
interrupted run resumes where it stopped, and :func:`rescore` marks stored replies again without
calling a model.

The world is text or vision. In the vision world the questions are the text questions;
only the conversation they are appended to carries pictures: the calibration image and the object
reference sheet of the first prompt, then one view per ``Observe()`` (in the passive setting all of
them in the history prompt, in the order of its ``<image>`` placeholders). The pictures are stored
as PNG files under the record's ``images/`` folder, so a resumed run rebuilds the same requests
without exploring again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from theory_of_space.agents.answerers import BeliefAnswerer, OracleAnswerer
from theory_of_space.agents.base import Agent, AgentReply, CallRecord, Message
from theory_of_space.agents.factory import make_agent
from theory_of_space.agents.scripted import PROXY_MAX_EXP_STEPS
from theory_of_space.env.exploration import DEFAULT_IMAGE_SIZE, MIN_IMAGE_SIZE
from theory_of_space.env.prompts import PromptOptions, initial_message, system_message
from theory_of_space.probes.cogmap import map_prompt
from theory_of_space.probes.modes import (
    check_mode,
    gt_cogmap_json,
    mode_messages,
    model_cogmap_json,
    scored_reply,
)
from theory_of_space.probes.replay import replay_episode
from theory_of_space.probes.requests import build_probe_requests
from theory_of_space.runner.episode import EpisodeResult, exploration_history, run_episode
from theory_of_space.runner.record_checks import (
    EvaluationRecordError,
    relative_file,
    score_value,
    stored_field,
    string_map,
)
from theory_of_space.runner.store import write_json, write_png
from theory_of_space.tasks import (
    TASK_IDS,
    TASKS,
    Question,
    Score,
    aggregate,
    generate_questions,
    question_messages,
    score_question,
)
from theory_of_space.world.scene import Scene

EVALUATION_FORMAT_VERSION = 2
"""Version 2 added the world, the image size and the image files of the conversation; version 1
records (text world only) still load."""
EVALUATION_FILE = "evaluation_turn_logs.json"
IMAGES_FOLDER = "images"
"""Beside the record: the pictures of the conversation, as PNG files."""
Setting = Literal["active", "passive"]
SETTINGS: tuple[str, ...] = ("active", "passive")
World = Literal["text", "vision"]
WORLDS: tuple[str, ...] = ("text", "vision")
PROXIES: tuple[str, ...] = ("strategist", "scout")
PUBLISHED_PROXIES: dict[str, str] = {"text": "strategist", "vision": "scout"}
"""The passive explorer of the published tables per world; any pairing may be run."""
ENV_IDS: dict[str, str] = {"text": "TheoryOfSpace/Explore-v0", "vision": "TheoryOfSpace/Explore-Vision-v0"}
MAP_MODES: tuple[str, ...] = ("use_gt_cogmap", "use_model_cogmap")
"""The evaluation modes that place a map before every question."""
MAP_FAILED = "the cognitive-map request failed: {error}"
"""The reason recorded for each question of ``use_model_cogmap`` whose map request failed."""

AgentFactory = Callable[[Scene, Sequence[Question]], Agent]
"""Builds the agent for one scene, given the questions it will be asked."""


@dataclass(frozen=True)
class EvaluationSettings:
    """How a scene is explored and questioned."""

    setting: Setting = "active"
    """``active``: the agent explores; ``passive``: the proxy explores and its log is the prompt."""
    world: World = "text"
    """``text``: observations are sentences; ``vision``: an ``Observe()`` returns a picture."""
    proxy: str = "strategist"
    """The passive setting's explorer: ``strategist`` or ``scout`` (see :data:`PUBLISHED_PROXIES`)."""
    image_size: int = DEFAULT_IMAGE_SIZE
    """The side of the egocentric views in pixels (vision world)."""
    think: bool = True
    query_enabled: bool = True
    max_exp_steps: int = 20
    """The active exploration budget; the passive proxy uses the proxy budget."""
    n_per_task: int = 3
    tasks: tuple[str, ...] = TASK_IDS
    mode: str = "default"
    """The cognitive-map mode of :mod:`theory_of_space.probes.modes`."""

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if self.setting not in SETTINGS:
            raise ValueError(f"expected active or passive for `setting`, got {self.setting!r}")
        if self.world not in WORLDS:
            raise ValueError(f"expected text or vision for `world`, got {self.world!r}")
        if self.proxy not in PROXIES:
            raise ValueError(f"expected strategist or scout for `proxy`, got {self.proxy!r}")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"expected task ids from {', '.join(TASK_IDS)} for `tasks`, got {unknown}")
        if self.n_per_task < 1 or self.max_exp_steps < 1:
            raise ValueError(
                f"expected positive `n_per_task` and `max_exp_steps`, got {self.n_per_task}, {self.max_exp_steps}"
            )
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < MIN_IMAGE_SIZE:
            raise ValueError(f"expected an integer of at least {MIN_IMAGE_SIZE} for `image_size`, got {size!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "world": self.world,
            "proxy": self.proxy,
            "image_size": self.image_size,
            "think": self.think,
            "query_enabled": self.query_enabled,
            "max_exp_steps": self.max_exp_steps,
            "n_per_task": self.n_per_task,
            "tasks": list(self.tasks),
            "mode": self.mode,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "settings") -> EvaluationSettings:
        """The settings of :meth:`to_dict`; missing keys (``world`` in version 1 records) take their defaults.

        Raises:
            EvaluationRecordError: An unknown key, or a value of the wrong type or out of range.
        """
        kinds = {"setting": str, "world": str, "proxy": str, "image_size": int, "think": bool}
        kinds.update({"query_enabled": bool, "max_exp_steps": int, "n_per_task": int, "tasks": list, "mode": str})
        values = {key: stored_field(data, key, kind, where, optional=True) for key, kind in kinds.items()}
        unknown = sorted(set(data) - set(kinds))
        if unknown:
            raise EvaluationRecordError(f"unknown setting `{where}.{unknown[0]}`; expected some of {sorted(kinds)}")
        if values["tasks"] is not None:
            values["tasks"] = tuple(values["tasks"])
        try:
            return cls(**{key: value for key, value in values.items() if value is not None})
        except (TypeError, ValueError) as error:
            raise EvaluationRecordError(f"`{where}`: {error}") from None

    @property
    def prompt_options(self) -> PromptOptions:
        return PromptOptions(
            think=self.think,
            query_enabled=self.query_enabled,
            max_exp_steps=self.max_exp_steps,
            vision=self.world == "vision",
            active=self.setting == "active",
        )


@dataclass
class AnswerRecord:
    """One question, the reply it got and its score."""

    question: Question
    reply: str | None
    """The model's reply; ``None`` where a record states that no reply exists (kept as null, never "None")."""
    score: Score
    call: dict[str, Any] = field(default_factory=dict)
    """The agent's call record (model, tokens, latency, error)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question.to_dict(),
            "published_task": TASKS[self.question.task].published,
            "reply": self.reply,
            "score": self.score.to_dict(),
            "call": self.call,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "answer") -> AnswerRecord:
        """The record of :meth:`to_dict`.

        Raises:
            EvaluationRecordError: Naming the field that is missing, of the wrong type or out of range.
        """
        question = stored_field(data, "question", dict, where)
        for key in ("task", "qid", "text", "answer"):
            stored_field(question, key, str, f"{where}.question")
        if "data" in question:
            stored_field(question, "data", dict, f"{where}.question")
        try:
            parsed = Question.from_dict(question)
        except ValueError as error:
            raise EvaluationRecordError(f"`{where}.question`: {error}") from None
        if parsed.task not in TASKS:
            raise EvaluationRecordError(f"unknown task {parsed.task!r} for `{where}.question.task`")
        score = stored_field(data, "score", dict, where)
        value = score_value(stored_field(score, "value", (int, float), f"{where}.score"), f"{where}.score.value")
        if "reply" not in data:
            raise EvaluationRecordError(f"missing field `{where}.reply` (null when there is no reply)")
        return cls(
            question=parsed,
            reply=stored_field(data, "reply", str, where, nullable=True),
            score=Score(
                value,
                stored_field(score, "answer", str, f"{where}.score"),
                stored_field(score, "explanation", str, f"{where}.score"),
            ),
            call=dict(stored_field(data, "call", dict, where, optional=True, default={})),
        )


@dataclass
class SceneEvaluation:
    """One scene's evaluation: the exploration that preceded the questions, and every answer."""

    scene: Scene
    agent: str
    settings: EvaluationSettings
    conversation: list[Message]
    """The request prefix every question is appended to, with its pictures in the vision world."""
    exploration: dict[str, Any]
    """The exploration metrics (the proxy's in the passive setting)."""
    unavailable: dict[str, str]
    """Tasks the scene could not produce, with the reason."""
    answers: list[AnswerRecord] = field(default_factory=list)
    image_files: list[list[str]] = field(default_factory=list)
    """Per conversation message, the PNG files of its pictures, relative to the record's folder; by
    default named after the message and picture indices."""
    cogmap: str | None = None
    """The map placed before every question (``use_gt_cogmap``, ``use_model_cogmap``); ``None`` when the
    map request failed."""
    cogmap_reply: str | None = None
    """The model's reply to the final global probe (``use_model_cogmap``)."""

    def __post_init__(self) -> None:
        if not self.image_files:
            self.image_files = [
                [f"{IMAGES_FOLDER}/message_{i:03d}_image_{j:02d}.png" for j in range(len(m.images))]
                for i, m in enumerate(self.conversation)
            ]
        if len(self.image_files) != len(self.conversation):
            raise ValueError(
                f"expected one image file list per message, got {len(self.image_files)} for "
                f"{len(self.conversation)} messages"
            )

    @property
    def has_images(self) -> bool:
        """Whether every picture the record names is attached (False after ``load_evaluation(images=False)``)."""
        return all(len(m.images) == len(files) for m, files in zip(self.conversation, self.image_files))

    def to_dict(self) -> dict[str, Any]:
        tasks: dict[str, dict[str, Any]] = {}
        for record in self.answers:
            tasks.setdefault(record.question.task, {})[record.question.qid] = record.to_dict()
        conversation = [
            {"role": m.role, "content": m.content, "images": list(files),
             **({"tool_calls": [dict(call) for call in m.tool_calls]} if m.tool_calls else {})}
            for m, files in zip(self.conversation, self.image_files)
        ]
        return {
            "version": EVALUATION_FORMAT_VERSION,
            "agent": self.agent,
            "scene_id": self.scene.scene_id,
            "scene": self.scene.to_dict(),
            "settings": self.settings.to_dict(),
            "conversation": conversation,
            "exploration": self.exploration,
            "unavailable": self.unavailable,
            "tasks": tasks,
            **({"cogmap": self.cogmap} if self.cogmap is not None else {}),
            **({"cogmap_reply": self.cogmap_reply} if self.cogmap_reply is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneEvaluation:
        """The record of :meth:`to_dict`, without pixels: :func:`load_evaluation` reads those from the files.

        Raises:
            EvaluationRecordError: Naming the field that is missing, of the wrong type or out of range.
        """
        version = stored_field(data, "version", int, "")
        if version not in (1, EVALUATION_FORMAT_VERSION):
            raise EvaluationRecordError(
                f"expected evaluation format version 1 or {EVALUATION_FORMAT_VERSION} for `version`, got {version}"
            )
        try:
            scene = Scene.from_dict(stored_field(data, "scene", dict, ""))
        except ValueError as error:
            raise EvaluationRecordError(f"`scene`: {error}") from None
        conversation: list[Message] = []
        image_files: list[list[str]] = []
        for index, entry in enumerate(stored_field(data, "conversation", list, "")):
            where = f"conversation[{index}]"
            role = stored_field(entry, "role", str, where)
            if role not in ("system", "user", "assistant"):
                raise EvaluationRecordError(f"expected system, user or assistant for `{where}.role`, got {role!r:.80}")
            calls = stored_field(entry, "tool_calls", list, where, optional=True, default=[])
            if not all(isinstance(call, dict) for call in calls):
                raise EvaluationRecordError(f"expected objects in `{where}.tool_calls`, got {calls!r:.80}")
            conversation.append(Message(role, stored_field(entry, "content", str, where), tool_calls=tuple(calls)))
            files = stored_field(entry, "images", list, where, optional=True, default=[])
            image_files.append([relative_file(name, f"{where}.images[{i}]") for i, name in enumerate(files)])
        answers = []
        for task in stored_field(data, "tasks", dict, ""):
            for qid, record in stored_field(data["tasks"], task, dict, "tasks").items():
                answers.append(AnswerRecord.from_dict(record, f"tasks.{task}.{qid}"))
                _check_scorable(answers[-1], scene, f"tasks.{task}.{qid}")
        return cls(
            scene=scene,
            agent=stored_field(data, "agent", str, ""),
            settings=EvaluationSettings.from_dict(stored_field(data, "settings", dict, "")),
            conversation=conversation,
            exploration=dict(stored_field(data, "exploration", dict, "")),
            unavailable=string_map(stored_field(data, "unavailable", dict, ""), "unavailable"),
            answers=answers,
            image_files=image_files,
            cogmap=stored_field(data, "cogmap", str, "", optional=True, nullable=True),
            cogmap_reply=stored_field(data, "cogmap_reply", str, "", optional=True, nullable=True),
        )

    def scores(self) -> list[tuple[str, float]]:
        return [(r.question.task, r.score.value) for r in self.answers]


def _check_scorable(record: AnswerRecord, scene: Scene, where: str) -> None:
    """Score the stored reply once, so that a question whose ground truth was damaged fails on load, naming
    it, rather than in the middle of re-scoring (scorers trust the data their generators wrote)."""
    try:
        score_question(record.question, record.reply or "", scene)
    except Exception as error:  # any failure of a scorer on stored data is a bad record
        raise EvaluationRecordError(
            f"`{where}.question.data` does not hold what the {record.question.task!r} scorer reads "
            f"({type(error).__name__}: {error})"
        ) from None


def agent_factory(
    spec: str,
    *,
    query_enabled: bool = True,
    seed: int = 0,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> AgentFactory:
    """The per-scene agent builder for a spec: ``oracle``, ``belief``, or anything :func:`make_agent` knows.

    Args:
        spec: ``oracle`` or ``belief`` (the non-model answerers), a scripted proxy name or a model spec.
        query_enabled: whether ``Query`` is part of the exploration grammar.
        seed: the random agent's seed.
        config_path: a model configuration file for model specs.
        overrides: model settings replacing those of the configuration entry (``{"temperature": "0"}``).
    """
    name = spec.strip().lower()
    if name == "oracle":
        return lambda scene, questions: OracleAnswerer(scene, questions)
    if name == "belief":
        return lambda scene, questions: BeliefAnswerer(scene, questions, query_enabled=query_enabled)
    return lambda scene, questions: make_agent(
        spec, scene=scene, seed=seed, query_enabled=query_enabled, config_path=config_path, overrides=overrides
    )


def explore(scene: Scene, agent: Agent, settings: EvaluationSettings) -> tuple[list[Message], dict[str, Any]]:
    """The conversation the questions are appended to, and the exploration metrics.

    Active: ``agent`` explores with the settings' budget; the conversation is the whole episode. Passive:
    the proxy explores with the proxy budget, and the conversation is the system message and the
    history prompt. In the vision world the history prompt carries the two reference pictures, then the
    proxy's views in the order of its ``You observe: <image>.`` lines.
    """
    if settings.setting == "active":
        with _exploration_env(settings, max_exp_steps=settings.max_exp_steps) as env:
            result = run_episode(env, agent, options={"scene": scene})
        return list(result.messages), dict(result.metrics)
    proxy = make_agent(settings.proxy, scene=scene, query_enabled=settings.query_enabled)
    with _exploration_env(settings, max_exp_steps=PROXY_MAX_EXP_STEPS) as env:
        result = run_episode(env, proxy, options={"scene": scene})
    return passive_conversation(scene, result, settings), dict(result.metrics)


def passive_conversation(scene: Scene, result: EpisodeResult, settings: EvaluationSettings) -> list[Message]:
    """The passive setting's request prefix: the system message and the history prompt of the proxy's log."""
    options = settings.prompt_options
    # The history keeps the valid turns only, and so do the pictures; invalid turns show none anyway.
    views = [image for turn in result.turns if turn.valid for image in turn.info.get("images", ())]
    images = (*result.reset_info.get("images", ()), *views)
    prompt = initial_message(scene, options, history=exploration_history(result))
    return [Message("system", system_message(options)), Message("user", prompt, images=images)]


def _exploration_env(
    settings: EvaluationSettings, *, max_exp_steps: int, reward: str = "none", action_format: str = "text"
) -> gym.Env:
    vision = {"image_size": settings.image_size} if settings.world == "vision" else {}
    return gym.make(
        ENV_IDS[settings.world],
        max_exp_steps=max_exp_steps,
        query_enabled=settings.query_enabled,
        think=settings.think,
        reward=reward,
        action_format=action_format,
        **vision,
    )


def exploration_env(settings: EvaluationSettings, *, reward: str = "none", action_format: str = "text") -> gym.Env:
    """The env of the settings' exploration: the agent's budget (active) or the proxy budget (passive).

    ``action_format`` is the explorer's: ``"tools"`` for a model that acts through tool calls.
    """
    budget = settings.max_exp_steps if settings.setting == "active" else PROXY_MAX_EXP_STEPS
    return _exploration_env(settings, max_exp_steps=budget, reward=reward, action_format=action_format)


def evaluate_scene(
    scene: Scene,
    make: AgentFactory,
    settings: EvaluationSettings,
    *,
    stored: SceneEvaluation | None = None,
    on_explored: Callable[[SceneEvaluation], None] | None = None,
    on_answer: Callable[[SceneEvaluation], None] | None = None,
) -> SceneEvaluation:
    """Explore ``scene`` and ask its questions, one request each.

    Args:
        scene: the scene.
        make: builds the agent from the scene and its questions.
        settings: the world, setting, proxy, prompts and question counts.
        stored: an earlier, possibly partial record of this scene, with its pictures: its exploration is
            reused and its answered questions are not asked again.
        on_explored: called once after a new exploration, before the first question (the runner saves
            the record and its pictures there); not called for a stored record.
        on_answer: called after every answer (the runner saves the record there).

    In ``use_model_cogmap`` the map is asked before the first unanswered question; when that request
    fails, no question is sent: each is recorded as failed with the reason (:func:`unasked_answer`).

    Raises:
        ValueError: ``stored`` names pictures that were not loaded.
    """
    suite = generate_questions(scene, n_per_task=settings.n_per_task, tasks=settings.tasks)
    agent = make(scene, suite.questions)
    if stored is not None:
        if not stored.has_images:
            raise ValueError("the stored record was loaded without its pictures; load it with images=True")
        evaluation = stored
    else:
        conversation, metrics = explore(scene, agent, settings)
        evaluation = SceneEvaluation(scene, agent.name, settings, conversation, metrics, dict(suite.unavailable))
        if on_explored is not None:
            on_explored(evaluation)
    answered = {r.question.qid for r in evaluation.answers}
    todo = [question for question in suite.questions if question.qid not in answered]
    failed: CallRecord | None = None
    if todo and settings.mode in MAP_MODES and evaluation.cogmap is None:
        made = cogmap_for_mode(scene, evaluation.conversation, agent, settings)
        evaluation.cogmap, evaluation.cogmap_reply = made.cogmap, made.reply_text
        failed = made.call if made.error else None
    for question in todo:
        if failed is not None:
            evaluation.answers.append(unasked_answer(question, scene, failed))
        else:
            request = question_messages(evaluation.conversation, question, think=settings.think)
            reply = agent.act(mode_messages(request, settings.mode, cogmap=evaluation.cogmap))
            score = score_question(question, scored_reply(reply.text, settings.mode), scene)
            evaluation.answers.append(AnswerRecord(question, reply.text, score, reply.record.to_dict()))
        if on_answer is not None:
            on_answer(evaluation)
    return evaluation


@dataclass(frozen=True)
class ModeCogmap:
    """The map a map mode places before every question, and the request it came from."""

    cogmap: str | None
    """The map JSON (``{}`` when the model wrote none); ``None`` when the map request failed."""
    reply: AgentReply | None = None
    """The model's reply to the final global map probe (``use_model_cogmap``); ``None`` for the true map."""

    @property
    def reply_text(self) -> str | None:
        """The model's reply text (empty for a failed request); ``None`` for the true map."""
        return None if self.reply is None else self.reply.text

    @property
    def call(self) -> CallRecord | None:
        """The map request's call record (``use_model_cogmap``)."""
        return None if self.reply is None else self.reply.record

    @property
    def error(self) -> str | None:
        """Why the map request failed after its retries, or ``None``."""
        return None if self.reply is None else self.reply.record.error


def cogmap_for_mode(
    scene: Scene, conversation: Sequence[Message], agent: Agent, settings: EvaluationSettings
) -> ModeCogmap:
    """The map placed before the questions, and the model's map request it came from (``use_model_cogmap``).

    ``use_gt_cogmap``: the true map with the agent at the exploration's final pose (no request).
    ``use_model_cogmap``: the agent is asked the final global map probe once and its map (``{}`` if it wrote
    none) is used; when that request failed there is no map (``cogmap`` is ``None``), and the reply's call
    record says why.
    """
    replay = replay_episode(scene, conversation, query_enabled=settings.query_enabled, solver=False)
    if settings.mode == "use_gt_cogmap":
        pose = replay.turns[-1].pose if replay.turns else scene.start
        return ModeCogmap(gt_cogmap_json(scene, pose))
    requests = build_probe_requests(replay, kinds=("global",))
    messages = requests[-1].messages if requests else (*conversation, Message("user", map_prompt("global")))
    reply = agent.act(list(messages))
    return ModeCogmap(None if reply.record.error else model_cogmap_json(scene, reply.text), reply)


def unasked_answer(question: Question, scene: Scene, map_call: CallRecord) -> AnswerRecord:
    """The answer recorded, with no request sent, for a question whose map request failed.

    No reply (``None``), the score of an empty answer (0), and a call record whose error is
    :data:`MAP_FAILED` with the map request's reason: the question counts as a failed call and a rerun
    that retries failures asks the map, then the question, again.
    """
    reason = MAP_FAILED.format(error=map_call.error)
    call = CallRecord(model=map_call.model, error=reason)
    return AnswerRecord(question, None, score_question(question, "", scene), call.to_dict())


def episode_dir(root: Path, agent: str, scene: Scene, settings: EvaluationSettings) -> Path:
    """``{root}/{agent}/{scene}/{text|vision}/{active|passive}/{think|nothink}[/{proxy}]``.

    ``{scene}`` is :func:`scene_folder_name`: the seed or the published run, then the scene id, so a person
    finds a scene's results by name and two different scenes never share a folder.
    """
    mode = "think" if settings.think else "nothink"
    path = root / _safe(agent) / scene_folder_name(scene) / settings.world / settings.setting / mode
    if settings.mode != "default":
        path = path / settings.mode
    return path / settings.proxy if settings.setting == "passive" else path


def scene_folder_name(scene: Scene) -> str:
    """``seed3-<scene id>`` for a generated scene, ``run00-<scene id>`` for a published one, else the id."""
    source = scene.source
    if isinstance(source.get("seed"), int):
        return f"seed{source['seed']}-{scene.scene_id}"
    if source.get("folder"):
        return f"{_safe(str(source['folder']))}-{scene.scene_id}"
    return scene.scene_id


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.," else "_" for ch in name)


def save_evaluation(evaluation: SceneEvaluation, path: Path, *, images: bool = True) -> None:
    """Write the record, and with ``images`` first its pictures, each atomically (a temporary file renamed).

    Args:
        evaluation: the record.
        path: the JSON file; the pictures go to the files :attr:`SceneEvaluation.image_files` names,
            relative to its folder.
        images: whether to write the pictures; the runner writes them once, after the exploration,
            and then only the JSON after every answer.

    Raises:
        ValueError: ``images`` is set but the record's pictures are not attached.
    """
    path = Path(path)
    if images:
        if not evaluation.has_images:
            raise ValueError("the record's pictures are not attached (loaded with images=False); pass images=False")
        for message, files in zip(evaluation.conversation, evaluation.image_files):
            for image, name in zip(message.images, files):
                _write_png(image, path.parent / name)
    write_json(path, evaluation.to_dict())


def load_evaluation(path: Path, *, images: bool = True) -> SceneEvaluation:
    """Read a stored record; with ``images``, attach its pictures from the PNG files beside it.

    Args:
        path: the JSON file.
        images: whether to read the pictures (needed to ask more questions, not to re-score).

    Raises:
        EvaluationRecordError: the file is not JSON or not a valid record; the message names the file and field.
        FileNotFoundError: a picture the record names is missing.
    """
    path = Path(path)
    try:
        evaluation = SceneEvaluation.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EvaluationRecordError(f"{path}: not valid JSON ({error})") from None
    except EvaluationRecordError as error:
        raise EvaluationRecordError(f"{path}: {error}") from None
    return _attach_images(evaluation, path.parent) if images else evaluation


def _attach_images(evaluation: SceneEvaluation, folder: Path) -> SceneEvaluation:
    conversation = [
        replace(message, images=tuple(_read_png(folder / name) for name in files))
        for message, files in zip(evaluation.conversation, evaluation.image_files)
    ]
    return replace(evaluation, conversation=conversation)


def _write_png(image: np.ndarray, path: Path) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 HxWx3 picture for {path.name}, got dtype {image.dtype} shape {image.shape}")
    write_png(path, image)


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise FileNotFoundError(
            f"the stored record names the picture {path}, which is missing; remove the record's folder to "
            "explore the scene again, or load it with images=False to re-score only"
        )
    with Image.open(path) as picture:
        return np.array(picture.convert("RGB"))


def evaluate(
    scenes: Iterable[Scene],
    make: AgentFactory,
    settings: EvaluationSettings,
    *,
    agent_name: str,
    out_dir: Path | None = None,
) -> list[SceneEvaluation]:
    """Evaluate an agent on several scenes; with ``out_dir``, store every answer and resume stored runs.

    Args:
        scenes: the scenes, in order.
        make: builds the agent for one scene.
        settings: how scenes are explored and questioned.
        agent_name: the folder name of the agent's results under ``out_dir``.
        out_dir: the output root; ``None`` keeps results in memory only.

    Example:
        >>> from theory_of_space.agents.answerers import OracleAnswerer
        >>> runs = evaluate([scene], OracleAnswerer, EvaluationSettings(), agent_name="oracle")  # doctest: +SKIP
        >>> aggregate(runs[0].scores())["overall"]  # doctest: +SKIP
        1.0
    """
    results = []
    for scene in scenes:
        if out_dir is None:
            results.append(evaluate_scene(scene, make, settings))
            continue
        path = episode_dir(out_dir, agent_name, scene, settings) / EVALUATION_FILE
        stored = None
        if path.is_file():
            # the settings are compared before the pictures are read
            stored = load_evaluation(path, images=False)
            if stored.settings != settings:
                raise ValueError(
                    f"{path} was produced with other settings {stored.settings}; use another output folder"
                )
            stored = _attach_images(stored, path.parent)
        evaluation = evaluate_scene(
            scene,
            make,
            settings,
            stored=stored,
            on_explored=lambda evaluation, target=path: save_evaluation(evaluation, target),
            on_answer=lambda evaluation, target=path: save_evaluation(evaluation, target, images=False),
        )
        save_evaluation(evaluation, path, images=False)
        results.append(evaluation)
    return results


def rescore(evaluation: SceneEvaluation) -> SceneEvaluation:
    """The same record with every stored reply scored again by the current scorers (no model call)."""
    # A reply stored as null is scored as no answer, and stays null.
    mode = evaluation.settings.mode
    answers = [
        replace(r, score=score_question(r.question, scored_reply(r.reply or "", mode), evaluation.scene))
        for r in evaluation.answers
    ]
    return replace(evaluation, answers=answers)


def find_evaluations(root: Path) -> list[Path]:
    """Every stored evaluation record under ``root``, sorted."""
    return sorted(Path(root).rglob(EVALUATION_FILE))


def summary(evaluations: Sequence[SceneEvaluation]) -> dict[str, float | None]:
    """Per-task accuracy, route, survey and overall means, and the average exploration step count."""
    result = aggregate(score for e in evaluations for score in e.scores())
    steps = [e.exploration["steps"] for e in evaluations if "steps" in e.exploration]
    result["avg_step"] = sum(steps) / len(steps) if steps else None
    return result


def format_table(rows: Sequence[tuple[str, dict[str, float | None]]], *, with_steps: bool) -> str:
    """A Markdown table in the published column order, then the route and survey means.

    Args:
        rows: (label, :func:`summary`) pairs.
        with_steps: whether to show the ``Avg step`` column (the active-setting tables have it).
    """
    header = ["Agent", *(["Avg step"] if with_steps else []), *(TASKS[t].column for t in TASK_IDS)]
    header += ["Avg", "Route", "Survey"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, values in rows:
        cells = [label]
        if with_steps:
            step = values.get("avg_step")
            cells.append("-" if step is None else f"{step:.1f}")
        cells += [_percent(values.get(key)) for key in (*TASK_IDS, "overall", "route", "survey")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"
