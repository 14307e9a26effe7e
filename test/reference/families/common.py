"""What the family references share: a config object with transformers' defaults, strict
checkpoint loading, config.json / model.safetensors writing as `save_pretrained` does, the
seeded test init of generate_models.py, and HF's `post_init` traversal order.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from typing import Any, Callable, Dict, Mapping, Optional

import torch
from torch import nn

from bert_model import (ACT2FN, CONFIG_FILE, SAFETENSORS_FILE, TRANSFORMERS_VERSION,  # noqa: F401
                        CheckpointError, ConfigError, _labels_from, read_checkpoint)
from safetensors_io import write_safetensors


class FamilyConfig:
    """A transformers config of one model class: every field of `DEFAULTS` (the config class's
    __init__ defaults, plus the PretrainedConfig fields save_pretrained writes for it), read with
    attribute access. Unknown config.json fields are kept (and written back), as HF keeps them.

    Subclasses set MODEL_TYPE(S), ARCHITECTURE, DEFAULTS, and validate in `_validate`.
    """

    MODEL_TYPES: tuple = ()
    ARCHITECTURE = ""
    DEFAULTS: Dict[str, Any] = {}
    POSITIVE_INTS: tuple = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                            "intermediate_size", "max_position_embeddings")

    def __init__(self, values: Dict[str, Any], id2label: Dict[int, str], model_type: str,
                 extra: Optional[Dict[str, Any]] = None):
        self.__dict__["_values"] = dict(values)
        self.__dict__["id2label"] = dict(id2label)
        self.__dict__["model_type"] = model_type
        self.__dict__["_extra"] = dict(extra or {})

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._values:
            self._values[name] = value
        else:
            self.__dict__[name] = value

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def replace(self, **changes: Any) -> "FamilyConfig":
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown} for {self.model_type}")
        return type(self)({**self._values, **changes}, self.id2label, self.model_type, self._extra)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "config") -> "FamilyConfig":
        def fail(problem: str):
            raise ConfigError(f"{source}: {problem}")

        if not isinstance(raw, Mapping):
            fail("must be a JSON object")
        model_type = raw.get("model_type", cls.MODEL_TYPES[0])
        if model_type not in cls.MODEL_TYPES:
            fail(f"model_type is {model_type!r}, expected one of {list(cls.MODEL_TYPES)}")
        values = {k: raw.get(k, v) for k, v in cls.DEFAULTS.items()}
        skip = set(cls.DEFAULTS) | {"id2label", "label2id", "num_labels", "model_type",
                                    "architectures", "torch_dtype", "transformers_version"}
        extra = {k: v for k, v in raw.items() if k not in skip}
        config = cls(values, _labels_from(raw, fail), model_type, extra)
        for name in cls.POSITIVE_INTS:
            value = getattr(config, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                fail(f"{name} must be a positive integer, got {value!r}")
        if config.hidden_size % config.num_attention_heads:
            fail(f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads "
                 f"{config.num_attention_heads}")
        config._validate(fail)
        return config

    def _validate(self, fail: Callable[[str], None]) -> None:
        pass

    def to_hf_dict(self, torch_dtype: str = "float32") -> Dict[str, Any]:
        """The complete config.json that `save_pretrained` writes for this config."""
        d = {**self._extra, **self._values}
        d["id2label"] = {str(i): label for i, label in sorted(self.id2label.items())}
        d["label2id"] = {label: i for i, label in sorted(self.id2label.items())}
        d.update(architectures=[self.ARCHITECTURE], model_type=self.model_type,
                 torch_dtype=torch_dtype, transformers_version=TRANSFORMERS_VERSION)
        return d


def check_activation(config: FamilyConfig, name: str, fail) -> None:
    value = getattr(config, name)
    if not isinstance(value, str) or value not in ACT2FN:
        fail(f"{name} {value!r} is not one of {sorted(ACT2FN)}")


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm with an optional bias, as torch >= 2.1's `nn.LayerNorm(bias=False)` (torch
    1.13 has no such argument). Still an nn.LayerNorm: HF's weight-decay rule and the eps
    mutation find it by type."""

    def __init__(self, hidden_size: int, eps: float, bias: bool = True):
        super().__init__(hidden_size, eps=eps)
        if not bias:
            self.register_parameter("bias", None)


# ---------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------
def init_test_weights(model: nn.Module, seed: int) -> None:
    """The test models' seeded values, by module type, with generate_models.py's BERT rule (each
    tensor seeded from its name, so variants share every tensor they have in common):
    nn.LayerNorm weight 1 + N(0, 0.1), bias N(0, 0.1); nn.Embedding N(0, 0.02); nn.Linear weight
    N(0, 1) / sqrt(fan_in) (activations stay O(1): attention far from uniform, logits O(1)),
    bias N(0, 0.1). Not HF's init (`hf_init_weights`), whose 0.02 std makes a 32-wide model's
    attention nearly uniform and its LayerNorm weights exactly 1."""
    generator = torch.Generator()
    with torch.no_grad():
        for module_name, module in model.named_modules():
            for param_name, param in module.named_parameters(recurse=False):
                name = f"{module_name}.{param_name}" if module_name else param_name
                generator.manual_seed(zlib.crc32(f"{seed}/{name}".encode()))
                noise = torch.randn(param.shape, generator=generator)
                if isinstance(module, nn.LayerNorm):
                    param.copy_(1.0 + 0.1 * noise if param_name == "weight" else 0.1 * noise)
                elif isinstance(module, nn.Embedding):
                    param.copy_(0.02 * noise)
                elif isinstance(module, nn.Linear) and param_name == "weight":
                    param.copy_(noise / param.shape[1] ** 0.5)
                elif isinstance(module, nn.Linear):
                    param.copy_(0.1 * noise)
                else:
                    raise TypeError(f"no test init rule for {name} ({type(module).__name__})")


def apply_post_order(model: nn.Module, fn: Callable[[nn.Module], None]) -> None:
    """`nn.Module.apply(fn)`, which HF's post_init -> init_weights uses: children first (in
    registration order), then the module itself. The RNG draws follow this order."""
    model.apply(fn)


def bert_style_init(module: nn.Module, std: float) -> None:
    """BertPreTrainedModel._init_weights, which RobertaPreTrainedModel and ElectraPreTrainedModel
    copy: Linear weight N(0, std), bias 0; Embedding N(0, std) with the padding_idx row zeroed;
    LayerNorm weight 1, bias 0."""
    if isinstance(module, nn.Linear):
        module.weight.data.normal_(mean=0.0, std=std)
        if module.bias is not None:
            module.bias.data.zero_()
    elif isinstance(module, nn.Embedding):
        module.weight.data.normal_(mean=0.0, std=std)
        if module.padding_idx is not None:
            module.weight.data[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        if module.bias is not None:
            module.bias.data.zero_()
        module.weight.data.fill_(1.0)


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], source: str,
                 ignored: frozenset = frozenset(), dtype: torch.dtype = torch.float32) -> None:
    """Strict: every key present, none extra (but `ignored` buffers), shapes equal; floats cast."""
    state = {k: v for k, v in state.items() if k not in ignored}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{source}: missing keys {missing}, unexpected keys {unexpected}")
    converted = {}
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"{source}: {key} has shape {list(tensor.shape)}, the config "
                                  f"needs {list(expected[key].shape)}")
        if not tensor.is_floating_point():
            raise CheckpointError(f"{source}: {key} has non-float dtype {tensor.dtype}")
        converted[key] = tensor.to(dtype)
    model.load_state_dict(converted, strict=True)


def read_config_json(directory: str) -> Dict[str, Any]:
    path = os.path.join(directory, CONFIG_FILE)
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from None


def write_config(config: FamilyConfig, directory: str, torch_dtype: str = "float32") -> None:
    # HF's to_json_string: indent 2, sorted keys, trailing newline.
    text = json.dumps(config.to_hf_dict(torch_dtype), indent=2, sort_keys=True) + "\n"
    with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as f:
        f.write(text)


def save_model(model: nn.Module, directory: str, dtype: torch.dtype = torch.float32) -> None:
    """config.json and model.safetensors (state_dict order, weights cast to dtype)."""
    write_config(model.config, directory, str(dtype).replace("torch.", ""))
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(directory, SAFETENSORS_FILE), state, {"format": "pt"})


def finfo_min(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).min


def inverse_sqrt(x: int) -> float:
    return 1.0 / math.sqrt(x)
