"""Who plays each part of a run for one agent spec: explorer, question answerer, map writer.

A model plays every part with one client shared by all episodes (it keeps no state between calls).
A scripted spec names its explorer; its questions are answered by the ``belief`` answerer (from what
its own exploration established), and its maps are written by the ``belief`` map writer when the
probes package provides one (or both by the ``oracle``, with ``scripted_answerer="oracle"``). The
``oracle`` spec answers from the true scene and ends exploration at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from theory_of_space.agents.answerers import BeliefAnswerer, OracleAnswerer
from theory_of_space.agents.base import Agent, AgentReply, Message
from theory_of_space.agents.factory import check_agent_spec, is_scripted, make_agent
from theory_of_space.agents.false_belief import FALSE_BELIEF_AGENTS
from theory_of_space.tasks import Question
from theory_of_space.world.scene import Scene

NON_MODEL_ANSWERERS: tuple[str, ...] = ("oracle", "belief")
DEFAULT_AGENTS: tuple[str, ...] = ("scout", "strategist", "updating", "inertial")
"""The built-in scripted agents of a run with no ``--agent``: the two explorers, and the two false-belief
agents (which explore with SCOUT's plan and play the false-belief phase)."""


def plays_false_belief(spec: str, *, is_model: bool) -> bool:
    """Whether this agent spec plays the false-belief phase: a model, ``updating`` or ``inertial``."""
    return is_model or spec.strip().lower() in FALSE_BELIEF_AGENTS


class BudgetReached(Exception):
    """The run's cost limit was reached; no further model request is sent (the run can be resumed)."""


@dataclass
class Meter:
    """Counts requests, tokens, failures and dollars of a run; refuses new model requests past ``max_cost``."""

    max_cost: float | None = None
    requests: int = 0
    in_flight: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    stopped: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        with self._lock:
            if self.max_cost is not None and self.cost_usd >= self.max_cost:
                self.stopped = True
                raise BudgetReached(f"the cost limit of ${self.max_cost:.2f} is reached (${self.cost_usd:.2f} spent)")
            self.in_flight += 1

    def finish(self, reply: AgentReply | None) -> None:
        with self._lock:
            self.in_flight -= 1
            if reply is None:
                return
            record = reply.record
            self.requests += 1
            self.failures += bool(record.error)
            self.input_tokens += record.input_tokens
            self.output_tokens += record.output_tokens
            self.cost_usd += record.cost_usd or 0.0


class MeteredAgent:
    """An agent whose every request is counted by a :class:`Meter` and refused past its cost limit."""

    def __init__(self, agent: Agent, meter: Meter) -> None:
        self.agent = agent
        self.name = agent.name
        self.meter = meter

    @property
    def action_format(self) -> str:
        """The wrapped agent's (a model may act through tool calls; the env must take the same)."""
        return str(getattr(self.agent, "action_format", "text"))

    def act(self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] | None = None) -> AgentReply:
        """The agent's reply; ``tools``: this request's tools, for a tools-mode model (see ``ModelAgent.act``)."""
        self.meter.start()
        reply = None
        try:
            options = {} if tools is None else {"tools": tools}  # scripted agents take no tools
            reply = self.agent.act(messages, **options)
            return reply
        finally:
            self.meter.finish(reply)

    def close(self) -> None:
        close = getattr(self.agent, "close", None)
        if callable(close):
            close()


@dataclass
class AgentRoles:
    """The parts one agent spec plays, built per scene (scripted) or shared (model)."""

    spec: str
    meter: Meter
    query_enabled: bool = True
    model: Agent | None = None
    """The shared model agent; ``None`` for scripted specs."""
    answers: Agent | None = None
    """Who answers questions and probes for a model when not the model itself (a provider batch)."""
    scripted_answerer: str = "belief"
    """Who answers the questions and writes the maps of a scripted explorer: ``belief`` or ``oracle``."""
    phase_player: Agent | None = None
    """Who plays a model's false-belief phase turns when not ``model`` (a steered copy of it)."""
    map_writer: Agent | None = None
    """Who writes a model's false-belief phase maps when not ``model`` (a steered copy of it)."""

    @property
    def is_model(self) -> bool:
        return self.model is not None

    def explorer(self, scene: Scene, questions: Sequence[Question]) -> Agent:
        """The agent of the active exploration."""
        if self.model is not None:
            return self.model
        name = self.spec.lower()
        if name == "oracle":
            agent: Agent = OracleAnswerer(scene, questions)
        elif name == "belief":
            agent = BeliefAnswerer(scene, questions, query_enabled=self.query_enabled)
        else:
            agent = make_agent(name, scene=scene, query_enabled=self.query_enabled)
        return MeteredAgent(agent, self.meter)

    def answerer(self, scene: Scene, questions: Sequence[Question]) -> Agent:
        """The agent that answers the evaluation questions and writes the probes' maps (``oracle`` and
        ``belief`` reply to a probe prompt as the map writers of the same name)."""
        if self.model is not None:
            return self.answers or self.model
        if self.answerer_name == "oracle":
            return MeteredAgent(OracleAnswerer(scene, questions), self.meter)
        return MeteredAgent(BeliefAnswerer(scene, questions, query_enabled=self.query_enabled), self.meter)

    @property
    def answerer_name(self) -> str:
        """Who answers and writes maps: the model spec, ``oracle`` for the oracle, else the scripted answerer."""
        if self.model is not None:
            return self.spec
        return "oracle" if self.spec.lower() == "oracle" else self.scripted_answerer

    def close(self) -> None:
        close = getattr(self.model, "close", None)
        if callable(close):
            close()


def build_roles(
    spec: str,
    *,
    meter: Meter,
    query_enabled: bool = True,
    config_path: str | None = None,
    make_model: Callable[..., Agent] | None = None,
    overrides: dict[str, Any] | None = None,
    scripted_answerer: str = "belief",
) -> AgentRoles:
    """The roles of ``spec``; a model agent is built once (its API key is read now, before any request).

    ``scripted_answerer`` (``belief`` or ``oracle``) answers the questions and writes the maps of a
    scripted explorer.
    """
    check_agent_spec(spec, config_path=config_path)
    name = spec.strip().lower()
    if is_scripted(name):
        return AgentRoles(spec=name, meter=meter, query_enabled=query_enabled, scripted_answerer=scripted_answerer)
    if make_model is None:
        from theory_of_space.agents.model_agent import make_model_agent as make_model
    model = make_model(spec, config_path=config_path, overrides=overrides)
    return AgentRoles(spec=spec, meter=meter, query_enabled=query_enabled, model=MeteredAgent(model, meter))
