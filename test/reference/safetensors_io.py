"""Reads and writes the safetensors format, by hand, as the `safetensors` package does.

Layout: an 8-byte little-endian header length N, N bytes of JSON (an object mapping each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
str -> str), then the raw little-endian tensor bytes; offsets are relative to the end of the header.
The reader checks what the Rust `safetensors` crate checks, so that a file it accepts is one the
real library accepts too.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from typing import Dict, Mapping, Optional

import torch

# safetensors dtype name -> (torch dtype, bytes per element). Unsigned types other than U8 and the
# F8 types have no torch 1.13 equivalent and are rejected by name.
DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
NAME_OF_DTYPE = {dtype: name for name, (dtype, _) in DTYPES.items()}

# The Rust crate refuses headers above 100 MB; so do we, before allocating anything.
MAX_HEADER_BYTES = 100_000_000


class SafetensorsError(ValueError):
    """A file that is not valid safetensors; the message names the file and the problem."""


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Returns every tensor of the file, in header order, each an owned CPU tensor."""
    with open(path, "rb") as f:
        data = f.read()
    header, data_start = _parse_header(path, data)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, _ = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        # A fresh bytearray per tensor: aligned, writable, and not tied to the file buffer.
        raw = bytearray(data[data_start + begin : data_start + end])
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors


def read_safetensors_metadata(path: str) -> Dict[str, str]:
    """Returns the `__metadata__` object of the file ({} when absent)."""
    with open(path, "rb") as f:
        data = f.read()
    header, _ = _parse_header(path, data)
    return dict(header.get("__metadata__") or {})


def _parse_header(path: str, data: bytes):
    def fail(problem: str):
        raise SafetensorsError(f"{path}: {problem}")

    if len(data) < 8:
        fail(f"file is {len(data)} bytes, shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES:
        fail(f"header length {n} exceeds {MAX_HEADER_BYTES}")
    if 8 + n > len(data):
        fail(f"header length {n} runs past the end of the {len(data)}-byte file")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        fail(f"header is not valid UTF-8 JSON ({e})")
    if not isinstance(header, dict):
        fail("header is not a JSON object")

    metadata = header.get("__metadata__")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        fail("__metadata__ must be an object of string values")

    data_len = len(data) - 8 - n
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"tensor {name!r}: entry must have exactly dtype, shape and data_offsets")
        if info["dtype"] not in DTYPES:
            fail(f"tensor {name!r}: unsupported dtype {info['dtype']!r}")
        shape, offsets = info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(_is_uint(d) for d in shape)):
            fail(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_uint, offsets))):
            fail(f"tensor {name!r}: data_offsets {offsets!r} is not [begin, end]")
        begin, end = offsets
        if begin > end or end > data_len:
            fail(f"tensor {name!r}: data_offsets [{begin}, {end}] outside the {data_len}-byte data")
        numel = 1
        for d in shape:
            numel *= d
        expected = numel * DTYPES[info["dtype"]][1]
        if end - begin != expected:
            fail(f"tensor {name!r}: {end - begin} bytes for shape {shape} of {info['dtype']} "
                 f"(needs {expected})")
        spans.append((begin, end, name))

    # Like the Rust crate: the tensors must tile the data section exactly, without gaps or overlap.
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            fail(f"tensor {name!r}: starts at byte {begin}, expected {position} (gap or overlap)")
        position = end
    if position != data_len:
        fail(f"tensors end at byte {position} but the data section has {data_len} bytes")
    return header, 8 + n


def _is_uint(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def write_safetensors(
    path: str, tensors: Mapping[str, torch.Tensor], metadata: Optional[Mapping[str, str]] = None
) -> None:
    """Writes `tensors` (any dtype in DTYPES) atomically: a temp file in the same folder, then rename.

    Order is that of the Rust writer (larger element size first, then by name), so the bytes are
    a deterministic function of the input.
    """
    entries = []
    for name, tensor in tensors.items():
        if tensor.dtype not in NAME_OF_DTYPE:
            raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype {tensor.dtype}")
        entries.append((name, tensor.detach().to("cpu").contiguous()))
    entries.sort(key=lambda e: (-e[1].element_size(), e[0]))

    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, tensor in entries:
        blob = _tensor_bytes(tensor)
        header[name] = {
            "dtype": NAME_OF_DTYPE[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)

    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)  # pad so the data starts 8-byte aligned
    _write_atomically(path, [struct.pack("<Q", len(header_bytes)), header_bytes, *blobs])


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    # numpy has no bfloat16: reinterpret its bits as int16 (same size, same byte order).
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    return tensor.numpy().tobytes()


def _write_atomically(path: str, chunks) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
