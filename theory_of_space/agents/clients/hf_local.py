"""Local HuggingFace ``transformers`` models: text-only causal LMs and image-text-to-text models.

A :class:`LocalModel` holds the weights, the tokenizer or processor and a batching thread: requests from
concurrent episodes that arrive within ``batch_wait_s`` of each other, and share their sampling settings,
are generated together (left-padded). :class:`HFLocalClient` is the per-agent view on a shared
:class:`LocalModel` that the agent protocol talks to.

Steering wraps generation: a :data:`GenerationWrapper` receives a :class:`GenerationCall` (model and batch
inputs) and returns a context manager entered around ``model.generate``, e.g. one that registers and
removes forward hooks. A wrapper set on the :class:`LocalModel` (:meth:`LocalModel.wrapped`) acts on every
request; one given to an :class:`HFLocalClient` acts on that client's requests only, which are then never
batched with another client's, so steered and unsteered agents can share one copy of the weights.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theory_of_space.agents.base import IMAGE_PLACEHOLDER, Message
from theory_of_space.agents.clients import Completion, require
from theory_of_space.agents.clients.images import image_digest, interleave
from theory_of_space.agents.config import ModelConfig
from theory_of_space.agents.history import OMITTED_IMAGE

__all__ = [
    "PLAIN_CHAT_TEMPLATE",
    "GenerationCall",
    "GenerationWrapper",
    "HFLocalClient",
    "LocalModel",
    "shared_local_model",
]

_DTYPES = ("auto", "float32", "bfloat16", "float16")

PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] | capitalize }}: {{ message['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
"""The ``chat_template = "plain"`` template for text-only models that ship none (base models): each message
as a paragraph ``System: ...``, ``User: ...``, ``Assistant: ...``, and ``Assistant:`` to reply after."""


@dataclass(frozen=True)
class GenerationCall:
    """What a generation wrapper sees: the model and the batch about to be generated.

    Attributes:
        model: The ``transformers`` model.
        inputs: The batch's tensors (``input_ids``, ``attention_mask``, ``pixel_values``...), left-padded.
        settings: Sampling settings shared by the batch.
    """

    model: Any
    inputs: dict[str, Any]
    settings: dict[str, Any]


GenerationWrapper = Callable[[GenerationCall], AbstractContextManager[Any]]
"""Returns a context manager entered around each ``model.generate`` call (steering hooks live there)."""


@dataclass
class _Job:
    conversation: list[dict[str, Any]]
    settings: dict[str, Any]
    future: Future[Completion]
    wrapper: GenerationWrapper | None = None


class LocalModel:
    """A loaded local model with batched generation across concurrent callers.

    Args:
        model: A ``transformers`` causal LM or image-text-to-text model, on its device.
        processor: Its tokenizer (text-only models) or processor (image-text-to-text models).
        multimodal: Whether ``processor`` takes images.
        chat_template: ``"model"``: the processor's own chat template, which must exist; ``"plain"``:
            :data:`PLAIN_CHAT_TEMPLATE` (text-only models).
        name: How error messages name the model.
        batch_size: Most requests generated together.
        batch_wait_s: How long the first request of a batch waits for others.
        wrap_generation: See :data:`GenerationWrapper`.

    Raises:
        ValueError: ``chat_template="model"`` and the processor has no chat template (every request would
            fail), or ``"plain"`` for an image-text-to-text model.

    Example:
        >>> local = LocalModel(model, tokenizer, multimodal=False)  # doctest: +SKIP
        >>> with local.wrapped(lambda call: steering_vector.apply(call.model)):  # doctest: +SKIP
        ...     reply = agent.act(messages)
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        multimodal: bool,
        batch_size: int = 8,
        batch_wait_s: float = 0.01,
        wrap_generation: GenerationWrapper | None = None,
        chat_template: str = "model",
        name: str = "the local model",
    ) -> None:
        _set_chat_template(processor, chat_template, multimodal=multimodal, name=name)
        self.model = model.eval()
        self.processor = processor
        self.multimodal = multimodal
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.wrap_generation = wrap_generation
        self.tokenizer = processor.tokenizer if multimodal else processor
        # Decoder-only models continue the last position of every row: padding goes on the left.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._eos_ids = self._stop_token_ids()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._serve, name="tos-local-generation", daemon=True)
        self._worker.start()
        self._closed = False

    @classmethod
    def load(cls, config: ModelConfig) -> LocalModel:
        """Load ``config.model`` (a local folder or hub id) with the configured device and dtype.

        Raises:
            MissingDependencyError: ``torch`` or ``transformers`` is not installed.
            FileNotFoundError: ``config.model`` is a path (it starts with ``/``, ``.`` or ``~``) to nothing.
            ValueError: An unknown ``dtype``, a model ``transformers`` cannot load, or no chat template.
        """
        torch = require("torch", extra="local")
        transformers = require("transformers", extra="local")
        if config.dtype not in _DTYPES:
            raise ValueError(f"model config {config.name!r}: expected `dtype` in {_DTYPES}, got {config.dtype!r}")
        if config.seed is not None:
            # generate() samples from torch's global generator and takes no generator argument.
            torch.manual_seed(config.seed)
        device = config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = config.dtype if config.dtype == "auto" else getattr(torch, config.dtype)
        model_config = _model_config(transformers, config)
        multimodal = type(model_config) in transformers.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING
        if multimodal:
            processor = transformers.AutoProcessor.from_pretrained(config.model)
            model = transformers.AutoModelForImageTextToText.from_pretrained(config.model, dtype=dtype)
        else:
            processor = transformers.AutoTokenizer.from_pretrained(config.model)
            model = transformers.AutoModelForCausalLM.from_pretrained(config.model, dtype=dtype)
        return cls(
            model.to(device),
            processor,
            multimodal=multimodal,
            batch_size=config.batch_size,
            batch_wait_s=config.batch_wait_s,
            chat_template=config.chat_template,
            name=f"model config {config.name!r} ({config.model})",
        )

    def _stop_token_ids(self) -> frozenset[int]:
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        if configured is None:
            configured = self.tokenizer.eos_token_id
        if configured is None:
            return frozenset()
        return frozenset([configured] if isinstance(configured, int) else configured)

    @contextlib.contextmanager
    def wrapped(self, wrapper: GenerationWrapper) -> Iterator[LocalModel]:
        """Use ``wrapper`` around generation inside the ``with`` block, then restore the previous one."""
        previous = self.wrap_generation
        self.wrap_generation = wrapper
        try:
            yield self
        finally:
            self.wrap_generation = previous

    def generate(
        self,
        conversation: list[dict[str, Any]],
        settings: dict[str, Any],
        wrapper: GenerationWrapper | None = None,
    ) -> Completion:
        """Reply to one chat-template conversation; blocks until its batch is done.

        Args:
            conversation: Messages in the chat-template form (content parts with PIL images when multimodal).
            settings: ``max_new_tokens``, ``temperature``, ``top_p``, ``top_k``.
            wrapper: A :data:`GenerationWrapper` for this request alone (a steerer): it is batched only with
                requests that carry the same wrapper object, and entered inside the model-wide one.

        Raises:
            RuntimeError: The model was closed.
            Exception: Whatever generation raised (out of memory, a prompt too long for the model).
        """
        if self._closed:
            raise RuntimeError("the local model was closed")
        job = _Job(conversation, settings, Future(), wrapper)
        self._jobs.put(job)
        return job.future.result()

    def _serve(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.batch_size:
                try:
                    job = self._jobs.get(timeout=self.batch_wait_s)
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)  # finish this batch, then stop
                    break
                batch.append(job)
            groups: dict[tuple[str, int], list[_Job]] = {}
            for job in batch:
                # a batch shares its sampling settings and its wrapper (steered and plain rows never mix)
                groups.setdefault((repr(sorted(job.settings.items())), id(job.wrapper)), []).append(job)
            for jobs in groups.values():
                self._run(jobs)

    def _run(self, jobs: list[_Job]) -> None:
        try:
            completions = self._generate_batch([job.conversation for job in jobs], jobs[0].settings, jobs[0].wrapper)
        except Exception as error:
            for job in jobs:
                job.future.set_exception(error)
            return
        for job, completion in zip(jobs, completions, strict=True):
            job.future.set_result(completion)

    def _generate_batch(
        self,
        conversations: list[list[dict[str, Any]]],
        settings: dict[str, Any],
        request_wrapper: GenerationWrapper | None = None,
    ) -> list[Completion]:
        torch = require("torch", extra="local")
        if self.multimodal:
            inputs = self.processor.apply_chat_template(
                conversations,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
                processor_kwargs={"padding": True},
            )
        else:
            prompts = self.tokenizer.apply_chat_template(conversations, add_generation_prompt=True, tokenize=False)
            # The template already holds any BOS token it wants.
            inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        inputs = {name: tensor.to(self.model.device) for name, tensor in inputs.items()}
        temperature = settings.get("temperature")
        sample = temperature is not None and temperature > 0
        generate_kwargs: dict[str, Any] = {
            "max_new_tokens": settings["max_new_tokens"],
            "do_sample": sample,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if sample:
            generate_kwargs["temperature"] = temperature
            for name in ("top_p", "top_k"):
                if settings.get(name) is not None:
                    generate_kwargs[name] = settings[name]
        call = GenerationCall(self.model, inputs, settings)
        with torch.inference_mode(), contextlib.ExitStack() as stack:
            for wrapper in (self.wrap_generation, request_wrapper):
                if wrapper is not None:
                    stack.enter_context(wrapper(call))
            output = self.model.generate(**inputs, **generate_kwargs)
        prompt_length = inputs["input_ids"].shape[1]
        new_tokens = output[:, prompt_length:].tolist()  # (B, T_new)
        input_counts = inputs["attention_mask"].sum(dim=-1).tolist()  # (B,)
        completions = []
        for row, input_count in zip(new_tokens, input_counts):
            # Rows that finish early are filled up with padding after their stop token.
            stop = next((i for i, token in enumerate(row) if token in self._eos_ids), None)
            generated = row if stop is None else row[: stop + 1]
            text = self.tokenizer.decode(generated, skip_special_tokens=True)
            completions.append(Completion(text, input_tokens=int(input_count), output_tokens=len(generated)))
        return completions

    def close(self) -> None:
        """Stop the batching thread after the requests already queued; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._worker.join()


def _model_config(transformers: Any, config: ModelConfig) -> Any:
    """The model's ``transformers`` config, with the reason in plain words when it cannot be read."""
    path = Path(config.model).expanduser()
    if config.model.startswith(("/", ".", "~")) and not path.exists():
        raise FileNotFoundError(f"model config {config.name!r}: no local model folder at {path}")
    try:
        return transformers.AutoConfig.from_pretrained(config.model)
    except (OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise ValueError(
            f"model config {config.name!r}: cannot load {config.model!r} as a transformers model "
            f"(a local folder or a hub id): {reason}"
        ) from None


def _set_chat_template(processor: Any, choice: str, *, multimodal: bool, name: str) -> None:
    """Install the plain template, or check that the model has its own (without one every call fails)."""
    if choice == "plain":
        if multimodal:
            raise ValueError(f"{name}: chat_template = 'plain' is for text-only models; this one takes images")
        processor.chat_template = PLAIN_CHAT_TEMPLATE
    elif choice != "model":
        raise ValueError(f"{name}: expected 'model' or 'plain' for `chat_template`, got {choice!r}")
    elif not getattr(processor, "chat_template", None):
        raise ValueError(
            f"{name}: its tokenizer has no chat template, so no request could be built; set "
            '`chat_template = "plain"` (command line: --set chat_template=plain) for role-labelled plain text'
        )


# ==== Shared models ====

_shared: dict[tuple[Any, ...], LocalModel] = {}
_shared_lock = threading.Lock()


def shared_local_model(config: ModelConfig) -> LocalModel:
    """The process-wide :class:`LocalModel` for a configuration, loaded on first use.

    Agents whose configurations name the same model, device, dtype, batching and seed share one copy of
    the weights (and one batching thread), whatever their sampling settings.
    """
    key = (
        config.model,
        config.device,
        config.dtype,
        config.batch_size,
        config.batch_wait_s,
        config.seed,
        config.chat_template,
    )
    with _shared_lock:
        local = _shared.get(key)
        if local is None:
            local = _shared[key] = LocalModel.load(config)
        return local


class HFLocalClient:
    """An agent's client for a local model: its own sampling settings over a shared :class:`LocalModel`.

    Args:
        config: Token limit and sampling settings (``temperature`` 0 or ``None`` is greedy).
        local: The loaded model.
        wrapper: Entered around the generation of every request of this client (a steerer; see
            :meth:`LocalModel.generate`); other clients of the same model are not affected.
    """

    def __init__(self, config: ModelConfig, local: LocalModel, wrapper: GenerationWrapper | None = None) -> None:
        self.config = config
        self.model = config.model
        self.local = local
        self.wrapper = wrapper

    def build_request(self, messages: Sequence[Message]) -> dict[str, Any]:
        """The request in JSON form: the messages with image digests in place of pixels, and the settings."""
        parts: list[dict[str, Any]] = []
        for message in messages:
            content: list[dict[str, str]] = []
            for piece in interleave(message.content, message.images):
                if isinstance(piece, str):
                    content.append({"type": "text", "text": piece})
                else:
                    content.append({"type": "image", "digest": image_digest(piece)})
            parts.append({"role": message.role, "content": content})
        settings = {
            "max_new_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
            "top_p": self.config.top_p,
            "top_k": self.config.top_k,
        }
        return {"model": self.config.model, "messages": parts, "settings": settings}

    def complete(self, request: dict[str, Any], messages: Sequence[Message] = ()) -> Completion:
        """Generate a reply for ``messages`` (the images come from there) with the request's settings."""
        return self.local.generate(self._conversation(messages), request["settings"], self.wrapper)

    def _conversation(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        if not self.local.multimodal:
            # A text-only model cannot see images; the marker keeps the prompt honest about them.
            return [{"role": m.role, "content": m.content.replace(IMAGE_PLACEHOLDER, OMITTED_IMAGE)} for m in messages]
        from PIL import Image

        conversation = []
        for message in messages:
            content: list[dict[str, Any]] = []
            for piece in interleave(message.content, message.images):
                if isinstance(piece, str):
                    content.append({"type": "text", "text": piece})
                else:
                    content.append({"type": "image", "image": Image.fromarray(piece).convert("RGB")})
            conversation.append({"role": message.role, "content": content})
        return conversation

    def is_retryable(self, error: Exception) -> bool:
        """Never: a local failure (out of memory, prompt too long) repeats on a second try."""
        return False

    def retry_after(self, error: Exception) -> float | None:
        """Local models never ask for a wait."""
        return None

    def describe_error(self, error: Exception) -> str:
        """Type and message of a failure."""
        return f"{type(error).__name__}: {' '.join(str(error).split())}"

    def close(self) -> None:
        """Nothing to release: the :class:`LocalModel` is shared and outlives its clients."""
