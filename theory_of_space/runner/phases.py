"""The benchmark as one pipeline: explore → probe → evaluate → false belief → rescore, per episode.

An episode is one (agent, scene, world, setting). Episodes run concurrently; inside one, exploration
turns are sequential, and the question (and probe) requests of a finished exploration fan out to a
shared request pool, under the model's own in-flight limit. Every request's result is stored by
:class:`~theory_of_space.runner.store.EpisodeStore` the moment it arrives, so ``tos run``,
``tos evaluate`` and ``tos probe`` are this one code path with different phase lists, and a rerun
computes only what is missing (stored exploration turns are replayed through the env without a
model call, which rebuilds the same conversation and pictures).

Phases are functions of an :class:`EpisodeState`; :data:`PHASE_FUNCTIONS` maps names to them. The
``probe`` and ``false_belief`` phases come from :mod:`theory_of_space.runner.plugins` and are
available when the packages they build on are installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from theory_of_space.agents.base import Agent, AgentReply, CallRecord, Message
from theory_of_space.agents.factory import make_agent
from theory_of_space.env.false_belief import DEFAULT_MAX_FALSE_BELIEF_STEPS
from theory_of_space.probes.modes import mode_messages, scored_reply
from theory_of_space.runner.batch import BatchPending
from theory_of_space.runner.episode import EpisodeResult, TurnRecord, run_episode
from theory_of_space.runner.evaluate import (
    EVALUATION_FILE,
    MAP_MODES,
    PUBLISHED_PROXIES,
    AnswerRecord,
    EvaluationSettings,
    SceneEvaluation,
    cogmap_for_mode,
    exploration_env,
    passive_conversation,
    unasked_answer,
)
from theory_of_space.runner.experiment import Experiment, SceneRef, safe_name, scene_folder
from theory_of_space.runner.roles import AgentRoles
from theory_of_space.runner.store import CorruptEntry, EpisodeStore, write_json, write_png
from theory_of_space.tasks import Question, QuestionSet, Score, generate_questions, question_messages, score_question
from theory_of_space.world.scene import Scene

SCENE_FILE = "scene.json"
METRICS_FILE = "metrics.json"
MESSAGES_FILE = "messages.json"
EXPLORATION_FILE = "exploration_turn_logs.json"
TURN_METRICS = ("node_coverage", "edge_coverage", "information_gain", "steps", "action_cost", "invalid_steps")


@dataclass
class RunCounters:
    """What a run did beyond its results: failures retried, corrupt data found (shared by episodes)."""

    retried: int = 0
    corrupt: list[CorruptEntry] = field(default_factory=list)


@dataclass
class EpisodeState:
    """One episode's inputs, its store, and what its phases have produced so far."""

    agent: str
    ref: SceneRef
    scene: Scene
    settings: EvaluationSettings
    roles: AgentRoles
    store: EpisodeStore
    retry_failed: bool = True
    request_pool: ThreadPoolExecutor | None = None
    counters: RunCounters = field(default_factory=RunCounters)
    max_false_belief_steps: int = DEFAULT_MAX_FALSE_BELIEF_STEPS
    _questions: QuestionSet | None = None
    _answerer: Agent | None = None
    _explored: EpisodeResult | None = None
    _conversation: list[Message] | None = None

    @property
    def parts(self) -> tuple[str, ...]:
        return episode_parts(self.agent, self.ref, self.scene, self.settings)

    @property
    def questions(self) -> QuestionSet:
        if self._questions is None:
            self._questions = generate_questions(
                self.scene, n_per_task=self.settings.n_per_task, tasks=self.settings.tasks
            )
        return self._questions

    def answerer(self) -> Agent:
        """The agent that answers questions and writes maps, built once per episode (a scripted one plans)."""
        if self._answerer is None:
            self._answerer = self.roles.answerer(self.scene, self.questions.questions)
        return self._answerer

    def explored(self) -> EpisodeResult:
        """The exploration, run (or replayed from the store) on first use."""
        if self._explored is None:
            explore_phase(self)
        assert self._explored is not None
        return self._explored

    def conversation(self) -> list[Message]:
        """The request prefix of every question: the whole episode (active) or the history prompt (passive)."""
        if self._conversation is None:
            result = self.explored()
            if self.settings.setting == "active":
                self._conversation = list(result.messages)
            else:
                self._conversation = passive_conversation(self.scene, result, self.settings)
        return self._conversation

    def needs_retry(self, record: dict[str, Any] | None) -> bool:
        """Whether a stored result must be requested again (missing, or failed with retries on); a
        failure to retry is counted."""
        if record is not None and wants_request(record, retry_failed=self.retry_failed):
            self.counters.retried += 1
        return wants_request(record, retry_failed=self.retry_failed)

    def fan_out(self, items: Sequence[Any], ask: Callable[[Any], None]) -> None:
        """Run ``ask`` on every item: through the request pool for a model, in this thread otherwise."""
        if self.request_pool is None or not self.roles.is_model or len(items) < 2:
            for item in items:
                ask(item)
            return
        futures: list[Future[None]] = [self.request_pool.submit(ask, item) for item in items]
        error: BaseException | None = None
        for future in futures:
            try:
                future.result()
            except BaseException as caught:  # wait for every request, then raise the first failure
                error = error or caught
        if error is not None:
            raise error


def wants_request(record: dict[str, Any] | None, *, retry_failed: bool) -> bool:
    """Whether a stored result is requested again: it is missing, or it failed and failures are retried."""
    return record is None or bool(record.get("error") and retry_failed)


def episode_parts(agent: str, ref: SceneRef, scene: Scene, settings: EvaluationSettings) -> tuple[str, ...]:
    """``agent/scene/world/setting/think[/proxy]``, the episode folder relative to the run folder."""
    parts = (
        safe_name(agent),
        scene_folder(ref, scene),
        settings.world,
        settings.setting,
        "think" if settings.think else "nothink",
    )
    return (*parts, settings.proxy) if settings.setting == "passive" else parts


def episode_settings(experiment: Experiment, world: str, setting: str) -> EvaluationSettings:
    """The per-episode settings of an experiment for one world and setting."""
    return EvaluationSettings(
        setting=setting,  # type: ignore[arg-type]
        world=world,  # type: ignore[arg-type]
        proxy=experiment.proxy or PUBLISHED_PROXIES[world],
        image_size=experiment.image_size,
        think=experiment.think,
        query_enabled=experiment.query_enabled,
        max_exp_steps=experiment.max_exp_steps,
        n_per_task=experiment.n_per_task,
        tasks=experiment.tasks,
        mode=experiment.mode,
    )


# ==== explore ====


class ReplayAgent:
    """Gives the stored replies for the first turns, then asks the agent.

    A scripted agent plans as it goes, so it is also asked during the replay (free) to stay in step;
    a model keeps no state and is not asked again for a stored turn. A stored reply comes back with the
    tool calls its call record kept (``call["extra"]["tool_calls"]``): in tools mode they are the action.
    The tools a phase offers (:meth:`set_tools`) are this episode's: they go with its requests and leave
    those of the model, which every episode of a run shares, unchanged.
    """

    def __init__(self, agent: Agent, stored: Sequence[dict[str, Any]], *, advance: bool) -> None:
        self.agent = agent
        self.name = agent.name
        self.stored = list(stored)
        self.advance = advance
        self.turn = 0
        self.tools: list[dict[str, Any]] | None = None

    @property
    def action_format(self) -> str:
        """The wrapped agent's: ``"tools"`` for a tool-calling model, else ``"text"``."""
        return agent_action_format(self.agent)

    def set_tools(self, specs: Sequence[Mapping[str, Any]]) -> None:
        """Offer these tools in this episode's next requests (the env's, at reset and when a phase opens)."""
        self.tools = [dict(spec) for spec in specs]

    def act(self, messages: Sequence[Message]) -> AgentReply:
        self.turn += 1
        if self.turn <= len(self.stored):
            record = self.stored[self.turn - 1]
            if self.advance:
                self.agent.act(messages)
            call = {k: v for k, v in record["call"].items() if k in CallRecord.__dataclass_fields__}
            calls = (call.get("extra") or {}).get("tool_calls") or ()
            return AgentReply(text=record["reply"], record=CallRecord(**call), tool_calls=tuple(calls))
        if self.tools is None:
            return self.agent.act(messages)
        return self.agent.act(messages, tools=self.tools)  # type: ignore[call-arg]


def agent_action_format(agent: Agent) -> str:
    """How ``agent`` acts: ``"tools"`` (a model configured to act through tool calls) or ``"text"``."""
    return str(getattr(agent, "action_format", "text"))


def explore_turn_key(index: int) -> str:
    """``explore/t03``: the key of the third exploration turn."""
    return f"explore/t{index:02d}"


def turn_record(turn: TurnRecord) -> dict[str, Any]:
    """The stored form of a turn: reply, validity and reason, the env's answer, metrics, the call record."""
    info = {k: v for k, v in turn.info.items() if k not in ("message_parts", "images")}
    info["n_images"] = len(turn.info.get("images", ()))
    return {
        "phase": "explore",
        "turn": turn.index,
        "reply": turn.reply,
        "valid": turn.valid,
        "invalid_reason": turn.info.get("invalid_reason"),
        "actions": turn.actions,
        "message": turn.message,
        "result_text": turn.info.get("message_parts", {}).get("result", ""),
        "metrics": {k: turn.info[k] for k in TURN_METRICS if k in turn.info},
        "info": info,
        "call": turn.record.to_dict(),
        "error": turn.record.error,
    }


def _stored_turns(state: EpisodeState) -> list[dict[str, Any]]:
    """The stored turns to replay: consecutive from turn 1, up to the first one to request again."""
    stored = state.store.results("explore")
    turns = []
    for index in range(1, len(stored) + 1):
        record = stored.get(explore_turn_key(index))
        bad = record is not None and not (isinstance(record.get("reply"), str) and isinstance(record.get("call"), dict))
        if bad:
            problem = f"{explore_turn_key(index)}: expected `reply` and `call`"
            state.counters.corrupt.append(CorruptEntry(state.store.path("explore"), None, problem))
        if bad or state.needs_retry(record):
            break
        turns.append(record)
    return turns


def explore_phase(state: EpisodeState) -> None:
    """Explore (or replay the stored turns, then go on): store each new turn as soon as the env answers it."""
    settings, scene = state.settings, state.scene
    replay = _stored_turns(state)
    if settings.setting == "active":
        agent = state.roles.explorer(scene, state.questions.questions)
        advance = not state.roles.is_model
    else:
        agent = make_agent(settings.proxy, scene=scene, query_enabled=settings.query_enabled)
        advance = True

    changed = False

    def on_turn(turn: TurnRecord) -> None:
        nonlocal changed
        if turn.index > len(replay):
            changed = True
            state.store.put("explore", explore_turn_key(turn.index), turn_record(turn))

    wrapped = ReplayAgent(agent, replay, advance=advance)
    with exploration_env(settings, reward="info_gain", action_format=agent_action_format(agent)) as env:
        state._explored = run_episode(env, wrapped, options={"scene": scene}, on_turn=on_turn)
    # an earlier attempt that went on longer (before a failed turn was retried) left turns past the end
    turns = {explore_turn_key(t.index) for t in state._explored.turns}
    stale = [key for key in state.store.results("explore") if key not in turns]
    if stale:
        state.store.drop("explore", stale)
    if changed:
        # a resumed exploration went on differently: answers stored for the old conversation are void
        for phase in state.store.iter_phases():
            if phase != "explore" and state.store.results(phase):
                state.store.drop(phase, list(state.store.results(phase)))


# ==== evaluate ====


def question_key(question: Question) -> str:
    """``evaluate/dir/q1``: the key of a question's stored answer."""
    return f"evaluate/{question.task}/{question.qid}"


COGMAP_KEY = "evaluate/cogmap"
"""The key of the map a map evaluation mode places before every question (its request, in ``use_model_cogmap``)."""


def _valid_answer(record: dict[str, Any]) -> str | None:
    """What is wrong with a stored answer record, or ``None``."""
    if not (record.get("reply") is None or isinstance(record.get("reply"), str)):
        return "`reply` is not a string or null"
    if not isinstance(record.get("call"), dict):
        return "missing field `call`"
    score = record.get("score")
    if not isinstance(score, dict) or not isinstance(score.get("value"), (int, float)):
        return "missing field `score.value`"
    return None


def _valid_cogmap(record: dict[str, Any]) -> str | None:
    """What is wrong with a stored map record, or ``None`` (a failed request keeps no map, only its error)."""
    if not (isinstance(record.get("cogmap"), str) or (record.get("cogmap") is None and record.get("error"))):
        return "expected a string `cogmap`, or an `error` for a failed request"
    if not (record.get("call") is None or isinstance(record.get("call"), dict)):
        return "`call` is not an object"
    return None


def _stored(
    state: EpisodeState, records: dict[str, dict[str, Any]], key: str, check: Callable[[dict[str, Any]], str | None]
) -> dict[str, Any] | None:
    """The stored evaluate record under ``key``, or ``None`` when there is none or it is corrupt (reported)."""
    record = records.get(key)
    problem = None if record is None else check(record)
    if problem is not None:
        state.counters.corrupt.append(CorruptEntry(state.store.path("evaluate"), None, f"{key}: {problem}"))
        return None
    return record


def evaluate_phase(state: EpisodeState) -> None:
    """Ask every question not stored yet (one request each, fanned out) and store each scored answer.

    In ``use_model_cogmap`` the model's map is asked first (:func:`_mode_cogmap`); when that request
    failed, no question is sent and each is stored as failed with the map's reason (see
    :func:`~theory_of_space.runner.evaluate.unasked_answer`), so a rerun asks the map, then them, again.
    """
    conversation = state.conversation()
    stored = state.store.results("evaluate")
    todo = [q for q in state.questions.questions
            if state.needs_retry(_stored(state, stored, question_key(q), _valid_answer))]
    if not todo:
        return
    answerer = state.answerer()
    think, mode = state.settings.think, state.settings.mode
    made = _mode_cogmap(state, conversation, answerer)
    if made is not None and made.get("error"):
        call = CallRecord(model=str((made.get("call") or {}).get("model", "")), error=str(made["error"]))
        for question in todo:
            _put_answer(state, unasked_answer(question, state.scene, call))
        return
    cogmap = None if made is None else made["cogmap"]

    def ask(question: Question) -> None:
        reply = answerer.act(mode_messages(question_messages(conversation, question, think=think), mode, cogmap=cogmap))
        score = score_question(question, scored_reply(reply.text, mode), state.scene)
        _put_answer(state, AnswerRecord(question, reply.text, score, reply.record.to_dict()))

    state.fan_out(todo, ask)


def _put_answer(state: EpisodeState, answer: AnswerRecord) -> None:
    question = answer.question
    state.store.put(
        "evaluate",
        question_key(question),
        {
            "phase": "evaluate",
            "task": question.task,
            "qid": question.qid,
            "question": question.to_dict(),
            "reply": answer.reply,
            "score": answer.score.to_dict(),
            "call": answer.call,
            "error": answer.call.get("error"),
        },
    )


def _mode_cogmap(state: EpisodeState, conversation: list[Message], answerer: Agent) -> dict[str, Any] | None:
    """The stored map record of a map mode (``None`` in the other modes), made once per episode.

    ``use_model_cogmap`` asks the model, and its request is stored like any other (``call``, ``error``): a
    stored failure is asked again when failures are retried. The record's ``cogmap`` is the map JSON, or
    ``None`` for a failed request.
    """
    if state.settings.mode not in MAP_MODES:
        return None
    stored = _stored(state, state.store.results("evaluate"), COGMAP_KEY, _valid_cogmap)
    if stored is not None and not state.needs_retry(stored):
        return stored
    made = cogmap_for_mode(state.scene, conversation, answerer, state.settings)
    call = None if made.call is None else made.call.to_dict()
    return state.store.put("evaluate", COGMAP_KEY, {"phase": "evaluate", "cogmap": made.cogmap,
                                                    "reply": made.reply_text, "call": call, "error": made.error})


def evaluate_requests(
    questions: Sequence[Question], stored: Mapping[str, dict[str, Any]], mode: str, *, retry_failed: bool
) -> int:
    """The requests the evaluate phase would send, given its stored results (for the dry run).

    Each question whose answer is not stored, or failed when failures are retried; and in
    ``use_model_cogmap``, when a question is left, the map request unless its map is stored (a stored
    failed one counts when failures are retried). ``use_gt_cogmap`` sends no map request.
    """
    asked = sum(wants_request(stored.get(question_key(q)), retry_failed=retry_failed) for q in questions)
    if asked and mode == "use_model_cogmap" and wants_request(stored.get(COGMAP_KEY), retry_failed=retry_failed):
        asked += 1
    return asked


def stored_answers(state: EpisodeState) -> list[AnswerRecord]:
    """The stored answers of this episode's questions, in question order."""
    stored = state.store.results("evaluate")
    answers = []
    for question in state.questions.questions:
        record = stored.get(question_key(question))
        if record is None or _valid_answer(record) is not None:
            continue
        answers.append(AnswerRecord(question, record["reply"], Score.from_dict(record["score"]), dict(record["call"])))
    return answers


# ==== rescore ====


def rescore_phase(state: EpisodeState) -> None:
    """Score every stored reply again with the current scorers (no model call); store changed scores."""
    rescore_store(state.store, state.scene, state.settings.mode)


def rescore_store(store: EpisodeStore, scene: Scene, mode: str = "default") -> int:
    """Re-score the stored answers of one episode folder; store and count the scores that changed."""
    changed = 0
    for key, record in store.results("evaluate").items():
        if _valid_answer(record) is not None or not isinstance(record.get("question"), dict):
            continue
        question = Question.from_dict(record["question"])
        reply = record["reply"]
        score = score_question(question, scored_reply("" if reply is None else reply, mode), scene).to_dict()
        if score != record["score"]:
            store.put("evaluate", key, {**record, "score": score})
            changed += 1
    return changed


# ==== the episode's files ====


def write_episode_files(state: EpisodeState) -> None:
    """Compact the phase files and write the readable per-episode files of the output layout.

    ``scene.json``, ``exploration_turn_logs.json`` (per turn: reply, actions, validity, failure
    reason, metrics), ``messages.json`` (the conversation, its pictures under ``images/``),
    ``evaluation_turn_logs.json`` (task → question id → question, reply, score) and ``metrics.json``
    (the exploration's metrics, the failed calls of every phase, the stored answers). It runs after
    the episode's last phase (:func:`run_phases`), so no phase's results are missing from it.
    """
    folder = state.store.folder
    for phase in state.store.iter_phases():
        state.store.compact(phase)
    write_json(folder / SCENE_FILE, {"scene_id": state.scene.scene_id, "scene": state.scene.to_dict(),
                                     "agent": state.agent, "settings": state.settings.to_dict()})
    result = state.explored()
    turns = [state.store.get("explore", explore_turn_key(t.index)) for t in result.turns]
    write_json(folder / EXPLORATION_FILE, {"turns": turns, "metrics": result.metrics})
    evaluation = SceneEvaluation(
        state.scene,
        state.agent,
        state.settings,
        state.conversation(),
        dict(result.metrics),
        dict(state.questions.unavailable),
        stored_answers(state),
        **_cogmap_fields(state),
    )
    for message, files in zip(evaluation.conversation, evaluation.image_files):
        for image, name in zip(message.images, files):
            if not (folder / name).is_file():  # pictures are deterministic: written once
                write_png(folder / name, image)
    record = evaluation.to_dict()
    write_json(folder / MESSAGES_FILE, record["conversation"])
    write_json(folder / EVALUATION_FILE, record)
    failed = failed_calls_by_phase(state.store)
    write_json(folder / METRICS_FILE, {"exploration": result.metrics, "failed_calls": sum(failed.values()),
                                       "failed_calls_by_phase": failed, "questions": len(evaluation.answers)})


def _cogmap_fields(state: EpisodeState) -> dict[str, Any]:
    """The evaluation record's ``cogmap`` and ``cogmap_reply``: the stored map of a map mode, if any."""
    record = state.store.results("evaluate").get(COGMAP_KEY)
    if record is None or _valid_cogmap(record) is not None:
        return {}
    return {"cogmap": record["cogmap"], "cogmap_reply": record.get("reply")}


def failed_calls_by_phase(store: EpisodeStore) -> dict[str, int]:
    """Per phase file of an episode, its stored results whose request failed (``error`` set).

    Every phase counts (the false-belief turns and map probes too), read from the same stored results
    the report counts, so ``metrics.json`` and the report agree.
    """
    return {phase: sum(1 for record in store.results(phase).values() if record.get("error"))
            for phase in store.iter_phases()}


PhaseFunction = Callable[[EpisodeState], None]
PHASE_FUNCTIONS: dict[str, PhaseFunction] = {
    "explore": explore_phase,
    "evaluate": evaluate_phase,
    "rescore": rescore_phase,
}
"""The built-in phases; :mod:`theory_of_space.runner.plugins` adds ``probe`` and ``false_belief``."""


def run_phases(state: EpisodeState, phases: Iterable[str], functions: dict[str, PhaseFunction]) -> None:
    """Run ``phases`` in pipeline order on one episode, then write its files.

    Re-scoring alone calls no model: it skips episodes that were never completed and keeps stored
    failures (retrying them would be a request).

    Raises:
        BatchPending: a phase's requests wait in a provider batch (``--batch``); the later phases ran,
            and the episode's files are written in the round that brings the results.
    """
    phases = list(phases)
    if phases == ["rescore"]:
        if not (state.store.folder / SCENE_FILE).is_file():
            return
        state.retry_failed = False
    pending = None
    for name in phases:
        try:
            functions[name](state)
        except BatchPending as waiting:  # probes and questions do not need each other's replies
            pending = waiting
    if pending is not None:
        raise pending
    write_episode_files(state)

