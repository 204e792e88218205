# Configuration of LLaMA-MoE (v1) models for Hugging Face transformers, written by moekit and shipped beside
# Converters/llama-moe.json; `moekit split|upcycle --target llama-moe`, `moekit convert` and `moekit train` copy it
# into every llama-moe directory they write, next to modeling_llama_moe.py, and point config.json's `auto_map` at
# both, so `AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True)` loads the model.
#
# The fields are those of LLaMA-MoE's released checkpoints (Zhu et al., "LLaMA-MoE: Building Mixture-of-Experts from
# LLaMA with Continual Pre-training", arXiv:2406.16554; pjlab-sys4nlp/llama-moe, smoe/models/llama_moe/), plus
# `rope_theta`, `head_dim` and `rope_scaling` / `rope_parameters` (default, linear and llama3 RoPE), which moekit's
# runtime honours for every LLaMA-family model. Works with transformers 4.4x and 5.x.
"""LLaMA-MoE configuration (moekit)."""

from transformers import PretrainedConfig

# RoPE types this implementation (and moekit's runtime) computes, with the parameters each one reads.
ROPE_TYPES = {
    "default": (),
    "linear": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}
# llama3 parameters a config may leave out, with the values moekit's runtime assumes.
LLAMA3_DEFAULTS = {"low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}


def rope_settings(rope_theta, rope_scaling, rope_parameters):
    """One RoPE description {"rope_type", "rope_theta", ...} from a config's transformers-4 fields (`rope_theta`,
    `rope_scaling`) or transformers-5 field (`rope_parameters`), with moekit's runtime priorities: `rope_theta` over
    `rope_parameters["rope_theta"]` over 10000; `rope_scaling` when set, else `rope_parameters`."""
    parameters = dict(rope_parameters or {})
    scaling = dict(rope_scaling or {})
    theta = rope_theta if rope_theta is not None else parameters.get("rope_theta", scaling.get("rope_theta", 10000.0))
    source = scaling or parameters
    rope_type = source.get("rope_type", source.get("type", "default"))
    if rope_type not in ROPE_TYPES:
        field = "rope_scaling" if scaling else "rope_parameters"
        raise ValueError(f"config.json {field}.rope_type: expected one of {sorted(ROPE_TYPES)}, found {rope_type!r}")
    if float(theta) <= 0:
        raise ValueError(f"config.json rope_theta: expected a positive number, found {theta!r}")
    settings = {"rope_type": rope_type, "rope_theta": float(theta)}
    for key in ROPE_TYPES[rope_type]:
        if key in source:
            settings[key] = source[key]
        elif rope_type == "llama3" and key in LLAMA3_DEFAULTS:
            settings[key] = LLAMA3_DEFAULTS[key]
        else:
            field = "rope_scaling" if scaling else "rope_parameters"
            raise ValueError(f"config.json {field}.{key}: required for rope_type {rope_type!r}")
    return settings


class LlamaMoEConfig(PretrainedConfig):
    """A LLaMA decoder whose every MLP is a LLaMA-MoE layer: a `TopKBalancedNoisyGate` router (`gate_network` "mlp" =
    Linear, tanh, Linear, or "linear") choosing `num_selects` of `num_experts` SwiGLU experts, whose widths
    (`size_experts`, one list per layer) may differ; the selected experts' outputs are weighted by the softmax of
    their logits (`gate_use_softmax`) times `score_scale_factor` (a number, or one per layer) when
    `multiply_gate_scores`, else summed with weight 1 (`UniversalCalculator`)."""

    model_type = "llama_moe"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size=32000,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=None,
        head_dim=None,
        hidden_act="silu",
        max_position_embeddings=2048,
        initializer_range=0.02,
        rms_norm_eps=1e-6,
        use_cache=True,
        pad_token_id=None,
        bos_token_id=1,
        eos_token_id=2,
        pretraining_tp=1,
        tie_word_embeddings=False,
        rope_theta=None,
        rope_scaling=None,
        rope_parameters=None,
        attention_bias=False,
        # experts
        num_experts=16,
        num_selects=4,
        size_experts=None,
        # gate
        gate_type="TopKBalancedNoisyGate",
        gate_network="mlp",
        gate_use_softmax=True,
        gate_use_balance=True,
        gate_balance_loss_weight=1e-2,
        gate_add_noise=True,
        gate_noise_epsilon=1e-2,
        # calculator
        calculator_type="UniversalCalculator",
        multiply_gate_scores=True,
        score_scale_factor=1.0,
        add_weight_norm=False,
        drop_tokens=True,
        dropped_padding="zero",
        capacity_factor=1.25,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.head_dim = hidden_size // num_attention_heads if head_dim is None else head_dim
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.pretraining_tp = pretraining_tp
        self.attention_bias = attention_bias
        rope = rope_settings(rope_theta, rope_scaling, rope_parameters)
        self.rope_theta = rope["rope_theta"]
        # transformers 5 keeps RoPE in `rope_parameters` (and standardises it in PretrainedConfig.__init__); 4.x
        # treats it as a plain attribute. Either way it round-trips through config.json.
        self.rope_parameters = rope

        self.num_experts = num_experts
        self.num_selects = num_selects
        self.size_experts = size_experts
        self.gate_type = gate_type
        self.gate_network = gate_network
        self.gate_use_softmax = gate_use_softmax
        self.gate_use_balance = gate_use_balance
        self.gate_balance_loss_weight = gate_balance_loss_weight
        self.gate_add_noise = gate_add_noise
        self.gate_noise_epsilon = gate_noise_epsilon
        self.calculator_type = calculator_type
        self.multiply_gate_scores = multiply_gate_scores
        self.score_scale_factor = score_scale_factor
        self.add_weight_norm = add_weight_norm
        self.drop_tokens = drop_tokens
        self.dropped_padding = dropped_padding
        self.capacity_factor = capacity_factor
        self._validate_moe()

        super().__init__(
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            tie_word_embeddings=tie_word_embeddings,
            **kwargs,
        )

    def _validate_moe(self):
        """Refuses MoE fields this implementation cannot compute as written, naming the field."""
        if not 1 <= self.num_selects <= self.num_experts:
            raise ValueError(f"config.json num_selects: expected 1...{self.num_experts} (num_experts), found {self.num_selects}")
        if self.gate_network not in ("mlp", "linear"):
            raise ValueError(f'config.json gate_network: expected "mlp" or "linear", found {self.gate_network!r}')
        if self.size_experts is not None:
            rows = self.size_experts
            if not isinstance(rows, (list, tuple)) or len(rows) != self.num_hidden_layers:
                raise ValueError(
                    f"config.json size_experts: expected {self.num_hidden_layers} lists (num_hidden_layers), found {rows!r}")
            for layer, row in enumerate(rows):
                if (not isinstance(row, (list, tuple)) or len(row) != self.num_experts
                        or not all(isinstance(size, int) and size > 0 for size in row)):
                    raise ValueError(
                        f"config.json size_experts[{layer}]: expected {self.num_experts} positive integers, found {row!r}")
        scale = self.score_scale_factor
        if isinstance(scale, (list, tuple)):
            if len(scale) != self.num_hidden_layers or not all(isinstance(s, (int, float)) for s in scale):
                raise ValueError(
                    f"config.json score_scale_factor: expected a number or {self.num_hidden_layers} numbers, found {scale!r}")
        elif not isinstance(scale, (int, float)):
            raise ValueError(f"config.json score_scale_factor: expected a number or a list, found {scale!r}")

    def experts_of_layer(self, layer):
        """The widths of layer `layer`'s experts: `size_experts[layer]`, or LLaMA-MoE's default of
        intermediate_size // num_experts each."""
        if self.size_experts is not None:
            return list(self.size_experts[layer])
        return [self.intermediate_size // self.num_experts] * self.num_experts

    def score_scale_of_layer(self, layer):
        """Layer `layer`'s routed-output factor (`score_scale_factor`, a number or one per layer)."""
        scale = self.score_scale_factor
        return float(scale[layer]) if isinstance(scale, (list, tuple)) else float(scale)
