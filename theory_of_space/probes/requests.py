"""Probe requests of an episode, answering them concurrently, and the record that re-scores offline.

When probes are asked (after the episode, from the stored conversation; never fed back):

- active episode with T valid turns: for each turn t the context is the conversation up to the env
  message that followed turn t, with its budget line and footer removed, then the probe prompt. Turns
  t < T get ``local`` (if something was in view), ``global`` and ``fog`` (if there are candidates); the
  final turn after a valid ``Term()`` gets ``global`` only; a truncated episode's last turn gets the
  full set;
- passive episode: one ``global`` probe appended to the history prompt.

Each probe is its own request. :func:`build_probe_requests` is pure, :func:`answer_probes` asks any
agent (or a plain function of a :class:`ProbeRequest`) under an in-flight limit, and
:func:`assemble_probe_record` joins requests and answers into a :class:`ProbeRecord` that holds
everything :func:`~theory_of_space.probes.metrics.probe_metrics` needs: no model and no env later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from theory_of_space.agents.base import Agent, AgentReply, Message
from theory_of_space.probes.cogmap import cogmap_scale, map_prompt
from theory_of_space.probes.fog import fog_prompt
from theory_of_space.probes.replay import EpisodeReplay, TurnSnapshot, replay_episode, strip_budget_and_footer
from theory_of_space.world.scene import Scene

PROBE_RECORD_VERSION = 1
ProbeKind = Literal["global", "local", "fog", "global_fb"]
PROBE_KINDS: tuple[str, ...] = ("global", "local", "fog")
"""The exploration probes; ``global_fb`` belongs to the false-belief phase."""


@dataclass(frozen=True)
class ProbeRequest:
    """One probe to ask: a stable key, its kind and turn, the messages, and non-secret context.

    ``context`` holds what the prompt already shows, for scripted answerers that do not read prose:
    the fog probe's letters and their grid cells.
    """

    key: str
    kind: str
    turn: int
    phase: str
    messages: tuple[Message, ...]
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeAnswer:
    """The reply to one probe request; a failed request has ``error`` set and an empty reply."""

    key: str
    kind: str
    turn: int
    reply: str
    error: str | None = None
    call: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "turn": self.turn,
            "reply": self.reply,
            "error": self.error,
            "call": self.call,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeAnswer:
        return cls(
            key=str(data["key"]),
            kind=str(data["kind"]),
            turn=int(data["turn"]),
            reply=str(data.get("reply", "")),
            error=data.get("error"),
            call=dict(data.get("call", {})),
        )


def probe_key(kind: str, turn: int, phase: str = "explore") -> str:
    """``probe/t03/global`` (exploration) or ``fb_probe/t03/global_fb`` (false-belief phase)."""
    prefix = "probe" if phase == "explore" else "fb_probe"
    return f"{prefix}/t{turn:02d}/{kind}"


def probe_request(
    context: Sequence[Message],
    kind: str,
    turn: int,
    *,
    phase: str = "explore",
    prompt: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ProbeRequest:
    """One map probe after ``context``: the kind's prompt (or ``prompt``) as a new user message, keyed by turn.

    The false-belief phase asks its ``global_fb`` maps through this with ``phase="false_belief"``.
    """
    text = map_prompt(kind) if prompt is None else prompt  # type: ignore[arg-type]
    messages = (*context, Message("user", text))
    return ProbeRequest(probe_key(kind, turn, phase), kind, turn, phase, messages, dict(extra or {}))


Episode = EpisodeReplay | Any
"""An :class:`EpisodeReplay`, an ``EpisodeResult`` of the runner, or its stored ``to_dict()`` form."""


def as_replay(episode: Episode, *, query_enabled: bool | None = None) -> EpisodeReplay:
    """The replay of an episode given in any of its forms (a replay is returned as is)."""
    if isinstance(episode, EpisodeReplay):
        return episode
    if isinstance(episode, Mapping):
        scene = Scene.from_dict(episode["scene"])
        messages = [Message(m["role"], m["content"]) for m in episode["messages"]]
        enabled = bool(episode.get("query_enabled", True)) if query_enabled is None else query_enabled
        return replay_episode(scene, messages, agent=str(episode.get("agent", "")), query_enabled=enabled)
    session = getattr(episode, "session", None)
    enabled = getattr(session, "query_enabled", True) if query_enabled is None else query_enabled
    return replay_episode(episode.scene, episode.messages, agent=str(episode.agent), query_enabled=enabled)


def turn_kinds(replay: EpisodeReplay, snapshot: TurnSnapshot, kinds: Iterable[str]) -> list[str]:
    """The probes asked at one turn, in the order global, local, fog (restricted to ``kinds``)."""
    wanted = set(kinds)
    last = snapshot.turn == len(replay.turns)
    if replay.passive:
        return ["global"] if last and "global" in wanted else []
    if snapshot.final:
        return ["global"] if "global" in wanted else []
    asked = ["global"]
    if snapshot.visible:
        asked.append("local")
    if snapshot.fog is not None:
        asked.append("fog")
    return [kind for kind in asked if kind in wanted]


def build_probe_requests(episode: Episode, kinds: Iterable[str] = PROBE_KINDS) -> list[ProbeRequest]:
    """Every probe request of an episode, in turn order (pure: no model is called).

    Args:
        episode: the episode (see :data:`Episode`).
        kinds: which probes to ask, among ``global``, ``local`` and ``fog``.
    """
    replay = as_replay(episode)
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in PROBE_KINDS]
    if unknown:
        raise ValueError(f"expected probe kinds from {', '.join(PROBE_KINDS)}, got {unknown}")
    requests = []
    for snapshot in replay.turns:
        asked = turn_kinds(replay, snapshot, kinds)
        if not asked:
            continue
        context = _turn_context(replay, snapshot)
        for kind in asked:
            if kind == "fog":
                assert snapshot.fog is not None
                prompt = fog_prompt(replay.scene, snapshot.fog, snapshot.pose.cell)
                letters = {k: list(v) for k, v in snapshot.fog.letters.items()}
                requests.append(probe_request(context, kind, snapshot.turn, prompt=prompt, extra={"letters": letters}))
            else:
                requests.append(probe_request(context, kind, snapshot.turn))
    return requests


def _turn_context(replay: EpisodeReplay, snapshot: TurnSnapshot) -> tuple[Message, ...]:
    """The conversation up to the env message after the turn, that message without budget and footer."""
    messages = list(replay.messages[: snapshot.message_index + 1])
    last = messages[-1]
    if last.role == "user" and not replay.passive:
        messages[-1] = replace(last, content=strip_budget_and_footer(last.content))
    return tuple(messages)


ProbeAnswerer = Agent | Callable[[ProbeRequest], "str | AgentReply"]
"""Anything that answers a probe: an agent (reads ``request.messages``) or a function of the request."""


def answer_probe(request: ProbeRequest, answerer: ProbeAnswerer) -> ProbeAnswer:
    """Ask one probe; an exception or a failed call is recorded in the answer, never raised."""
    try:
        act = getattr(answerer, "act", None)
        result = act(list(request.messages)) if callable(act) else answerer(request)  # type: ignore[operator]
    except Exception as error:  # a failing answerer must not end the run
        return ProbeAnswer(request.key, request.kind, request.turn, "", f"{type(error).__name__}: {error}")
    if isinstance(result, AgentReply):
        record = result.record.to_dict()
        return ProbeAnswer(request.key, request.kind, request.turn, result.text, result.record.error, record)
    if not isinstance(result, str):
        error = f"expected reply text from the answerer, got {type(result).__name__}"
        return ProbeAnswer(request.key, request.kind, request.turn, "", error)
    return ProbeAnswer(request.key, request.kind, request.turn, result)


def answer_probes(
    requests: Sequence[ProbeRequest],
    answerer: ProbeAnswerer | Callable[[ProbeRequest], ProbeAnswerer],
    *,
    in_flight: int = 8,
    per_request: bool = False,
) -> list[ProbeAnswer]:
    """Answer every request, ``in_flight`` at a time, one request each; answers come back in request order.

    Args:
        requests: the probes (of one episode or of many).
        answerer: the answerer, or with ``per_request`` a function giving each request's answerer (scripted
            writers differ per scene).
        in_flight: requests in flight at once (a model agent also keeps its own limit).
        per_request: whether ``answerer`` picks the answerer per request.
    """
    if in_flight < 1:
        raise ValueError(f"expected a positive `in_flight`, got {in_flight}")

    def ask(request: ProbeRequest) -> ProbeAnswer:
        chosen = answerer(request) if per_request else answerer  # type: ignore[operator]
        return answer_probe(request, chosen)

    if in_flight == 1 or len(requests) <= 1:
        return [ask(r) for r in requests]
    with ThreadPoolExecutor(max_workers=min(in_flight, len(requests))) as pool:
        return list(pool.map(ask, requests))


@dataclass
class ProbeRecord:
    """One episode's probes: the per-turn snapshots and every answer, enough to re-score offline."""

    scene: Scene
    agent: str
    turns: list[TurnSnapshot]
    requests: list[dict[str, Any]]
    """Per request: ``key``, ``kind``, ``turn`` (the messages are not stored: the transcript has them)."""
    answers: dict[str, ProbeAnswer]
    """Answers by request key."""
    passive: bool = False
    scale: float = 1.0
    """L of the scene (:func:`~theory_of_space.probes.cogmap.cogmap_scale`)."""
    answerer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PROBE_RECORD_VERSION,
            "scene_id": self.scene.scene_id,
            "scene": self.scene.to_dict(),
            "agent": self.agent,
            "answerer": self.answerer,
            "passive": self.passive,
            "scale": self.scale,
            "turns": [t.to_dict() for t in self.turns],
            "requests": list(self.requests),
            "answers": {key: a.to_dict() for key, a in self.answers.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeRecord:
        version = data.get("version")
        if version != PROBE_RECORD_VERSION:
            raise ValueError(f"expected probe record version {PROBE_RECORD_VERSION} for `version`, got {version!r}")
        for key in ("scene", "turns", "requests", "answers"):
            if key not in data:
                raise ValueError(f"probe record is missing the field `{key}`")
        scene = Scene.from_dict(data["scene"])
        return cls(
            scene=scene,
            agent=str(data.get("agent", "")),
            turns=[TurnSnapshot.from_dict(t) for t in data["turns"]],
            requests=[dict(r) for r in data["requests"]],
            answers={str(k): ProbeAnswer.from_dict(v) for k, v in data["answers"].items()},
            passive=bool(data.get("passive", False)),
            scale=float(data.get("scale", cogmap_scale(scene))),
            answerer=str(data.get("answerer", "")),
        )

    def answer(self, kind: str, turn: int, phase: str = "explore") -> ProbeAnswer | None:
        """The answer of the probe of this kind at this turn, if it was asked."""
        return self.answers.get(probe_key(kind, turn, phase))


def assemble_probe_record(
    episode: Episode, requests: Sequence[ProbeRequest], answers: Iterable[ProbeAnswer], *, answerer: str = ""
) -> ProbeRecord:
    """Join an episode's requests and the answers stored by key into a :class:`ProbeRecord` (pure)."""
    replay = as_replay(episode)
    by_key = {a.key: a for a in answers}
    return ProbeRecord(
        scene=replay.scene,
        agent=replay.agent,
        turns=list(replay.turns),
        requests=[{"key": r.key, "kind": r.kind, "turn": r.turn} for r in requests],
        answers={r.key: by_key[r.key] for r in requests if r.key in by_key},
        passive=replay.passive,
        scale=cogmap_scale(replay.scene),
        answerer=answerer,
    )


def run_probes(
    episode: Episode, answerer: ProbeAnswerer, kinds: Iterable[str] = PROBE_KINDS, *, in_flight: int = 8
) -> ProbeRecord:
    """Build an episode's probe requests, answer them and assemble the record.

    Example:
        >>> record = run_probes(result, make_agent("oracle", scene=result.scene))  # doctest: +SKIP
        >>> probe_metrics(record)["self_tracking"]["pos"]  # doctest: +SKIP
        1.0
    """
    replay = as_replay(episode)
    requests = build_probe_requests(replay, kinds)
    answers = answer_probes(requests, answerer, in_flight=in_flight)
    return assemble_probe_record(replay, requests, answers, answerer=str(getattr(answerer, "name", "")))
