"""Architecture adapters: stable component names mapped onto real transformers modules.

Claims name components the same way on every architecture (``layers.2``, ``layers.2.attn``,
``layers.2.mlp``); an adapter says where those live in a given ``model_type``.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.registry import Registry

ARCHITECTURES: Registry = Registry("architecture (config.model_type)")


@dataclass(frozen=True)
class Adapter:
    """Where the decoder stack, its sublayers, the final norm and the unembedding live."""

    model_type: str
    layers_path: str = "model.layers"
    attention_name: str = "self_attn"
    mlp_name: str = "mlp"
    final_norm_path: str = "model.norm"
    out_proj_name: str = "o_proj"
    alt_operator_names: tuple[str, ...] = ()

    def layers(self, model):
        return _resolve(model, self.layers_path)

    def n_layers(self, config) -> int:
        return getattr(config, "text_config", config).num_hidden_layers

    def attention(self, layer):
        """The token-mixing operator: attention, or (hybrid models) whichever operator the layer has."""
        for name in (self.attention_name, *self.alt_operator_names):
            if hasattr(layer, name):
                return getattr(layer, name)
        raise AttributeError(f"{type(layer).__name__} has none of {self.attention_name}, {self.alt_operator_names}")

    def heads(self, layer) -> tuple[object, int, int] | None:
        """(output projection, number of heads, head dim) of an attention layer, or None (e.g. a conv layer)."""
        attn = getattr(layer, self.attention_name, None)
        if attn is None or not hasattr(attn, self.out_proj_name):
            return None
        n_heads = attn.config.num_attention_heads
        return getattr(attn, self.out_proj_name), n_heads, attn.head_dim

    def mlp(self, layer):
        return getattr(layer, self.mlp_name)

    def final_norm(self, model):
        return _resolve(model, self.final_norm_path)

    def unembed(self, model, hidden):
        """Logits from final-normed hidden states (architecture-specific soft-capping lives here)."""
        logits = model.get_output_embeddings()(hidden)
        cap = getattr(model.config, "final_logit_softcapping", None)
        if cap:
            import torch

            logits = torch.tanh(logits / cap) * cap
        return logits


def _resolve(root, dotted: str):
    obj = root
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


# LFM2 is hybrid: each layer has either attention or a short convolution ("operator") and a
# feed-forward block; whole-layer zeroing cascades there, so its operator and MLP are hooked apart.
for _adapter in (Adapter("llama"), Adapter("qwen2"), Adapter("gemma3_text"), Adapter("gemma3"),
                 Adapter("lfm2", mlp_name="feed_forward", final_norm_path="model.embedding_norm",
                         out_proj_name="out_proj", alt_operator_names=("conv",))):
    ARCHITECTURES.register(_adapter.model_type)(_adapter)


def adapter_for(model_or_config) -> Adapter:
    """The adapter for a model (or its config); a clear error for an unsupported architecture."""
    config = getattr(model_or_config, "config", model_or_config)
    model_type = getattr(config, "model_type", None)
    try:
        return ARCHITECTURES.get(model_type)
    except KeyError as exc:
        raise UnsupportedArchitecture(f"{exc.args[0]}; add an Adapter in interventions/architectures.py") from None


class UnsupportedArchitecture(Exception):
    pass
