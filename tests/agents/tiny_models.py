"""Tiny randomly initialised transformers models, built from configs (nothing is downloaded).

A word-level tokenizer over a few words of the reply format, wrapped in ``PreTrainedTokenizerFast`` with
a chat template; a 2-layer Llama as the causal LM; a Llava (CLIP vision tower + Llama) as the
image-text-to-text model. Both are saved with ``save_pretrained`` so tests load them like real models.
"""

from __future__ import annotations

from pathlib import Path

WORDS = ["THINK:", "FINAL", "ANSWER:", "Actions:", "[Observe()]", "[Rotate(90),", "Observe()]", "Term()]", "look"]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: "
    "{% if m['content'] is string %}{{ m['content'] }}"
    "{% else %}{% for p in m['content'] %}{% if p['type'] == 'image' %} <image> {% else %}{{ p['text'] }}"
    "{% endif %}{% endfor %}{% endif %} </s> {% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


def _tokenizer(image_token: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    extra = {"extra_special_tokens": {"image_token": "<image>"}} if image_token else {}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>", **extra
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _llama_config(vocab_size: int):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )


def build_tiny_causal_lm(folder: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Llama and its tokenizer under ``folder``; returns the folder."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = _tokenizer(image_token=False)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_llama_config(len(tokenizer)))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_vlm(folder: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Llava (28x28 images, 4 image tokens) and its processor under ``folder``."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = _tokenizer(image_token=True)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
    )
    vision = CLIPVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
        projection_dim=16,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_llama_config(len(tokenizer)),
        image_token_index=SPECIALS.index("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
