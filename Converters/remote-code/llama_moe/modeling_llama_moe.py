# LLaMA-MoE (v1) for Hugging Face transformers, written by moekit and shipped beside Converters/llama-moe.json.
# moekit copies it into every llama-moe directory it writes, with configuration_llama_moe.py, and points config.json's
# `auto_map` at both, so `AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True)` loads the model.
#
# The eval-mode forward is exactly the one moekit's runtime computes for llama-moe (docs/runtime.md): a LLaMA
# decoder (RMSNorm, rotate-half RoPE with rope_theta and default / linear / llama3 scaling, grouped-query attention
# with head_dim, SwiGLU) whose MLPs are LLaMA-MoE layers (Zhu et al., arXiv:2406.16554; pjlab-sys4nlp/llama-moe,
# smoe/modules/moe/moe_gates.py `TopKBalancedNoisyGate`, moe_calculators.py `UniversalCalculator`, moe_experts.py
# `LinearGLUExperts`):
#   z = gate_network(x)                      "mlp": W2·tanh(W1·x) (gate_network.0, .2); "linear": W·x
#   S = the num_selects largest z            ties go to the lower expert index, as in moekit's runtime
#   w = softmax(z_S)                         raw z_S when gate_use_softmax is false
#   y = Σ_{e∈S} w_e · s · E_e(x)             s = score_scale_factor (number or per layer); with
#                                            multiply_gate_scores false, y = Σ_{e∈S} E_e(x)
#   E_e(x) = W_down,e · (silu(W_gate,e·x) ⊙ W_up,e·x)   widths size_experts[layer][e]
# Tensor names follow LLaMA-MoE's checkpoints: mlp.gate.gate_network.{0,2}.weight (or gate_network.weight),
# mlp.gate.weight_noise.weight, mlp.calculator.experts.weight_{gate,up,down}.{e}.
#
# In training mode the gate adds LLaMA-MoE's learned noise (z + N(0,1)·(softplus(W_noise·x) + gate_noise_epsilon),
# when gate_add_noise) and every layer computes LLaMA-MoE's balance loss, gate_balance_loss_weight ·
# (CV²(importance) + CV²(load)), importance = Σ_tokens of the selected weights, load = Shazeer et al.'s smooth
# estimate of how often each expert is selected under the noise (a count without noise); CV²(v) = var(v)/(mean(v)²
# + 1e-10), unbiased variance. The layers' sum is returned as `balance_loss` and, in training mode, added to the
# language-modelling loss. Uses only torch and transformers' public API; works with transformers 4.4x and 5.x.
"""LLaMA-MoE model (moekit)."""

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
import transformers
from torch import nn
from transformers import DynamicCache, GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from .configuration_llama_moe import LlamaMoEConfig

_TRANSFORMERS_MAJOR = int(transformers.__version__.split(".")[0])
# The KV cache's name in model inputs and outputs: `past_key_values` up to transformers 5.2x, `cache` after.
_CACHE_FIELD = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


@dataclass
class LlamaMoEModelOutput(BaseModelOutputWithPast):
    """`BaseModelOutputWithPast` plus the layers' summed balance loss (None without `gate_use_balance`)."""

    balance_loss: Optional[torch.FloatTensor] = None


@dataclass
class LlamaMoECausalLMOutput(CausalLMOutputWithPast):
    """`CausalLMOutputWithPast` plus the layers' summed balance loss (None without `gate_use_balance`)."""

    balance_loss: Optional[torch.FloatTensor] = None


class LlamaMoERMSNorm(nn.Module):
    """RMSNorm computed in float32: w · x / sqrt(mean(x²) + eps)."""

    def __init__(self, hidden_size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        dtype = hidden_states.dtype
        x = hidden_states.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(dtype)


def rope_inverse_frequencies(config, device):
    """RoPE inverse frequencies [head_dim/2] in float32 for the config's rope_parameters (default, linear, llama3),
    as transformers' rope init functions and moekit's runtime compute them."""
    rope = config.rope_parameters
    dim = config.head_dim
    inv = 1.0 / (rope["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64, device=device).float() / dim))
    if rope["rope_type"] == "linear":
        inv = inv / rope["factor"]
    elif rope["rope_type"] == "llama3":
        factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
        original = rope["original_max_position_embeddings"]
        low_wavelength, high_wavelength = original / low, original / high
        wavelength = 2 * math.pi / inv
        scaled = torch.where(wavelength > low_wavelength, inv / factor, inv)
        smooth = (original / wavelength - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelength >= high_wavelength) & (wavelength <= low_wavelength)
        inv = torch.where(medium, smoothed, scaled)
    return inv


def rotary_tables(config, position_ids, dtype):
    """cos, sin [batch, seq, head_dim] for `position_ids` [batch, seq], rotate-half layout."""
    inv = rope_inverse_frequencies(config, position_ids.device)
    freqs = position_ids[..., None].float() * inv
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaMoEAttention(nn.Module):
    """Causal grouped-query self-attention with rotate-half RoPE (LLaMA)."""

    def __init__(self, config, layer_idx):
        super().__init__()
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        if self.num_heads % self.num_kv_heads != 0:
            raise ValueError(
                f"config.json num_key_value_heads: expected a divisor of num_attention_heads ({self.num_heads}), "
                f"found {self.num_kv_heads}")
        bias = bool(config.attention_bias)
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(config.hidden_size, self.num_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size, bias=bias)

    def forward(self, hidden_states, cos, sin, attention_bias, past_key_values):
        batch, length, _ = hidden_states.shape
        q = self.q_proj(hidden_states).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(hidden_states).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(hidden_states).view(batch, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        cos, sin = cos[:, None], sin[:, None]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_key_values is not None:
            k, v = past_key_values.update(k, v, self.layer_idx)
        groups = self.num_heads // self.num_kv_heads
        if groups > 1:
            k = k.repeat_interleave(groups, dim=1)
            v = v.repeat_interleave(groups, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + attention_bias
        probabilities = F.softmax(scores.float(), dim=-1).to(q.dtype)
        out = torch.matmul(probabilities, v).transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim)
        return self.o_proj(out)


class LlamaMoENoiseProjection(nn.Linear):
    """`weight_noise` of the gate: the noise scale's projection, zero-initialised as in LLaMA-MoE."""


class LlamaMoEGate(nn.Module):
    """LLaMA-MoE's `TopKBalancedNoisyGate`: logits, top-k selection, weights, balance loss."""

    def __init__(self, config):
        super().__init__()
        E, D = config.num_experts, config.hidden_size
        self.num_experts = E
        self.num_selects = config.num_selects
        if config.gate_network == "mlp":
            self.gate_network = nn.Sequential(nn.Linear(D, E, bias=False), nn.Tanh(), nn.Linear(E, E, bias=False))
        else:
            self.gate_network = nn.Linear(D, E, bias=False)
        self.weight_noise = LlamaMoENoiseProjection(D, E, bias=False)
        self.use_softmax = bool(config.gate_use_softmax)
        self.use_balance = bool(config.gate_use_balance)
        self.balance_loss_weight = float(config.gate_balance_loss_weight)
        self.add_noise = bool(config.gate_add_noise)
        self.noise_epsilon = float(config.gate_noise_epsilon)

    @staticmethod
    def cv_squared(values):
        """Squared coefficient of variation var/(mean² + 1e-10), unbiased variance; 0 for one expert."""
        if values.shape[0] == 1:
            return values.new_zeros(())
        values = values.float()
        return values.var() / (values.mean() ** 2 + 1e-10)

    def forward(self, x):
        """x [N, D] → (selected [N, K] expert ids, weights [N, K] before the score scale, balance loss or None)."""
        clean = self.gate_network(x)
        noisy = self.training and self.add_noise
        if noisy:
            noise_scale = F.softplus(self.weight_noise(x)) + self.noise_epsilon
            logits = clean + torch.randn_like(clean) * noise_scale
        else:
            logits = clean
        K = self.num_selects
        # A stable descending sort: equal logits keep the lower expert first (moekit's runtime; torch.topk leaves
        # the order of ties unspecified).
        order = torch.sort(logits, dim=-1, descending=True, stable=True)
        top_logits = order.values[:, : min(K + 1, self.num_experts)]
        selected = order.indices[:, :K]
        chosen = top_logits[:, :K]
        weights = F.softmax(chosen.float(), dim=-1).to(chosen.dtype) if self.use_softmax else chosen
        balance = None
        if self.use_balance:
            importance = torch.zeros_like(logits).scatter(1, selected, weights).sum(0)
            if noisy and K < self.num_experts:
                # Probability that each expert stays in the top k under fresh noise (Shazeer et al. 2017).
                threshold_in = top_logits[:, K : K + 1]
                threshold_out = top_logits[:, K - 1 : K]
                normal = torch.distributions.Normal(0.0, 1.0)
                p_in = normal.cdf((clean - threshold_in) / noise_scale)
                p_out = normal.cdf((clean - threshold_out) / noise_scale)
                load = torch.where(logits > threshold_in, p_in, p_out).sum(0)
            else:
                load = torch.zeros_like(logits).scatter(1, selected, 1.0).sum(0)
            balance = self.balance_loss_weight * (self.cv_squared(importance) + self.cv_squared(load))
        return selected, weights, balance


class LlamaMoEExperts(nn.Module):
    """LLaMA-MoE's `LinearGLUExperts`: per-expert SwiGLU matrices `weight_{gate,up,down}.{e}` whose widths may
    differ."""

    def __init__(self, config, sizes):
        super().__init__()
        D = config.hidden_size
        self.weight_gate = nn.ParameterList([nn.Parameter(torch.empty(size, D)) for size in sizes])
        self.weight_up = nn.ParameterList([nn.Parameter(torch.empty(size, D)) for size in sizes])
        self.weight_down = nn.ParameterList([nn.Parameter(torch.empty(D, size)) for size in sizes])

    def forward(self, x, expert):
        hidden = F.silu(F.linear(x, self.weight_gate[expert])) * F.linear(x, self.weight_up[expert])
        return F.linear(hidden, self.weight_down[expert])


class LlamaMoECalculator(nn.Module):
    """LLaMA-MoE's `UniversalCalculator`: each expert runs on its tokens; outputs weighted (× score scale) and
    summed, or summed with weight 1 without `multiply_gate_scores`."""

    def __init__(self, config, layer_idx):
        super().__init__()
        self.experts = LlamaMoEExperts(config, config.experts_of_layer(layer_idx))
        self.num_experts = config.num_experts
        self.multiply_gate_scores = bool(config.multiply_gate_scores)
        self.score_scale_factor = config.score_scale_of_layer(layer_idx)

    def forward(self, x, selected, weights):
        y = torch.zeros_like(x)
        for expert in range(self.num_experts):
            rows, slots = torch.nonzero(selected == expert, as_tuple=True)
            if rows.numel() == 0:
                continue
            out = self.experts(x[rows], expert)
            if self.multiply_gate_scores:
                out = out * (weights[rows, slots, None] * self.score_scale_factor)
            y.index_add_(0, rows, out)
        return y


class LlamaMoELayer(nn.Module):
    """The MoE MLP: `gate` (router) and `calculator` (experts)."""

    def __init__(self, config, layer_idx):
        super().__init__()
        self.gate = LlamaMoEGate(config)
        self.calculator = LlamaMoECalculator(config, layer_idx)

    def forward(self, hidden_states):
        shape = hidden_states.shape
        x = hidden_states.reshape(-1, shape[-1])
        selected, weights, balance = self.gate(x)
        return self.calculator(x, selected, weights).reshape(shape), balance


class LlamaMoEDecoderLayer(nn.Module):
    """Pre-norm block: x + attention(norm(x)), then + MoE(norm(x))."""

    def __init__(self, config, layer_idx):
        super().__init__()
        self.self_attn = LlamaMoEAttention(config, layer_idx)
        self.mlp = LlamaMoELayer(config, layer_idx)
        self.input_layernorm = LlamaMoERMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_attention_layernorm = LlamaMoERMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, hidden_states, cos, sin, attention_bias, past_key_values):
        hidden_states = hidden_states + self.self_attn(
            self.input_layernorm(hidden_states), cos, sin, attention_bias, past_key_values)
        moe, balance = self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states + moe, balance


class LlamaMoEPreTrainedModel(PreTrainedModel):
    """Weight initialisation and class attributes shared by the LLaMA-MoE models."""

    config_class = LlamaMoEConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = False
    _no_split_modules = ["LlamaMoEDecoderLayer"]
    _supports_cache_class = True
    _supports_static_cache = False
    if _TRANSFORMERS_MAJOR < 5:
        # transformers 4.x reports checkpoint keys containing "weight_g" under weight-norm names
        # ("weight_gate.0" → "parametrizations.weight.original0ate.0") while loading them under their own names, so
        # LLaMA-MoE's expert gates would be listed as both unused and newly initialised although they load.
        _keys_to_ignore_on_load_unexpected = [r"\.calculator\.experts\.parametrizations\.weight\.original0ate\.\d+$"]
        _keys_to_ignore_on_load_missing = [r"\.calculator\.experts\.weight_gate\.\d+$"]

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, LlamaMoENoiseProjection):
            nn.init.zeros_(module.weight)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, LlamaMoERMSNorm):
            nn.init.ones_(module.weight)
        elif isinstance(module, LlamaMoEExperts):
            for weight in [*module.weight_gate, *module.weight_up, *module.weight_down]:
                nn.init.normal_(weight, mean=0.0, std=std)


def attention_bias(attention_mask, batch, length, past, dtype, device):
    """Additive attention bias [batch or 1, 1, length, past + length]: causal (query i sees keys ≤ past + i) and,
    given a 2-D padding mask [batch, ≥ past + length] of 1/0, hiding padded keys. A 4-D mask is used as given
    (boolean: True = visible; else additive)."""
    total = past + length
    if attention_mask is not None and attention_mask.dim() == 4:
        if attention_mask.dtype == torch.bool:
            return torch.zeros(attention_mask.shape, dtype=dtype, device=device).masked_fill(
                ~attention_mask, torch.finfo(dtype).min)
        return attention_mask.to(dtype)
    visible = torch.ones(length, total, dtype=torch.bool, device=device).tril(diagonal=past)[None, None]
    if attention_mask is not None:
        visible = visible & attention_mask[:, None, None, :total].to(device=device, dtype=torch.bool)
    return torch.zeros(visible.shape, dtype=dtype, device=device).masked_fill(~visible, torch.finfo(dtype).min)


class LlamaMoEModel(LlamaMoEPreTrainedModel):
    """Embeddings, the decoder layers and the final norm; returns the last hidden states."""

    def __init__(self, config):
        super().__init__(config)
        if config.hidden_act != "silu":
            raise ValueError(f'config.json hidden_act: expected "silu" (SwiGLU experts), found {config.hidden_act!r}')
        if config.gate_type != "TopKBalancedNoisyGate":
            raise ValueError(f'config.json gate_type: expected "TopKBalancedNoisyGate", found {config.gate_type!r}')
        if config.calculator_type != "UniversalCalculator":
            raise ValueError(
                f'config.json calculator_type: expected "UniversalCalculator" (no token dropping), '
                f"found {config.calculator_type!r}")
        if config.add_weight_norm:
            raise ValueError("config.json add_weight_norm: expected false (a learned output norm is not implemented)")
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([LlamaMoEDecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = LlamaMoERMSNorm(config.hidden_size, config.rms_norm_eps)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        use_cache=None,
        output_hidden_states=None,
        return_dict=None,
        cache=None,
        **kwargs,
    ):
        """Last hidden states [batch, seq, hidden]; the KV cache (`past_key_values`, or `cache` in newer
        transformers) is updated in place and returned."""
        if cache is not None:
            past_key_values = cache
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        use_cache = self.config.use_cache if use_cache is None else use_cache
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache()
        elif isinstance(past_key_values, (tuple, list)):
            past_key_values = DynamicCache.from_legacy_cache(past_key_values)
        if not use_cache:
            past_key_values = None
        batch, length, _ = inputs_embeds.shape
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + length, device=inputs_embeds.device)[None].expand(batch, -1)
        cos, sin = rotary_tables(self.config, position_ids, inputs_embeds.dtype)
        bias = attention_bias(attention_mask, batch, length, past, inputs_embeds.dtype, inputs_embeds.device)

        hidden_states = inputs_embeds
        all_hidden_states = () if output_hidden_states else None
        balance_loss = None
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            hidden_states, balance = layer(hidden_states, cos, sin, bias, past_key_values)
            if balance is not None:
                balance_loss = balance if balance_loss is None else balance_loss + balance
        hidden_states = self.norm(hidden_states)
        if output_hidden_states:
            all_hidden_states += (hidden_states,)
        return LlamaMoEModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, balance_loss=balance_loss,
            **{_CACHE_FIELD: past_key_values})


class LlamaMoEForCausalLM(LlamaMoEPreTrainedModel, GenerationMixin):
    """LlamaMoEModel with the language-modelling head (tied to the embeddings when `tie_word_embeddings`)."""

    if _TRANSFORMERS_MAJOR >= 5:
        _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}
    else:
        _tied_weights_keys = ["lm_head.weight"]

    def __init__(self, config):
        super().__init__(config)
        self.model = LlamaMoEModel(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    def get_decoder(self):
        return self.model

    def set_decoder(self, decoder):
        self.model = decoder

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        past_key_values=None,
        inputs_embeds=None,
        labels=None,
        use_cache=None,
        output_hidden_states=None,
        return_dict=None,
        logits_to_keep=0,
        cache=None,
        **kwargs,
    ):
        """Logits [batch, seq, vocab] (the last `logits_to_keep` positions when > 0); with `labels`, the mean
        next-token cross-entropy over labels ≠ -100, plus the balance loss in training mode."""
        outputs = self.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            past_key_values=cache if cache is not None else past_key_values, inputs_embeds=inputs_embeds, use_cache=use_cache,
            output_hidden_states=output_hidden_states)
        hidden_states = outputs.last_hidden_state
        if isinstance(logits_to_keep, int) and logits_to_keep > 0:
            hidden_states = hidden_states[:, -logits_to_keep:]
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            shifted = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
            targets = labels[:, 1:].reshape(-1).to(shifted.device)
            loss = F.cross_entropy(shifted, targets, ignore_index=-100)
            if self.training and outputs.balance_loss is not None:
                loss = loss + outputs.balance_loss
        return LlamaMoECausalLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, balance_loss=outputs.balance_loss,
            **{_CACHE_FIELD: getattr(outputs, _CACHE_FIELD)})
