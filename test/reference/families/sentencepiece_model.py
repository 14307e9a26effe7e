"""Reads a sentencepiece ModelProto (`*.model`) by hand: the pieces and the normalizer spec, all
that transformers' SpmConverter takes from it (sentencepiece_model.proto: ModelProto.pieces = 1,
normalizer_spec = 3; SentencePiece.piece = 1, score = 2, type = 3; NormalizerSpec.name = 1,
precompiled_charsmap = 2, add_dummy_prefix = 3, remove_extra_whitespaces = 4,
escape_whitespaces = 5). No sentencepiece or protobuf package needed.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Dict, Iterator, List, Tuple

# SentencePiece.Type
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


@dataclasses.dataclass
class Piece:
    piece: str
    score: float
    type: int = NORMAL


@dataclasses.dataclass
class SentencePieceModel:
    pieces: List[Piece]
    normalizer_name: str
    precompiled_charsmap: bytes
    add_dummy_prefix: bool
    remove_extra_whitespaces: bool
    escape_whitespaces: bool


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[Tuple[int, int, object]]:
    """(field number, wire type, value): int for varint, bytes for length-delimited, raw bytes
    for fixed32 / fixed64."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def read_sentencepiece_model(path: str) -> SentencePieceModel:
    with open(path, "rb") as f:
        data = f.read()
    pieces: List[Piece] = []
    normalizer: Dict[int, object] = {}
    for number, _, value in _fields(data):
        if number == 1:
            fields = {n: v for n, _, v in _fields(value)}
            pieces.append(Piece(fields[1].decode("utf-8"), struct.unpack("<f", fields.get(2, b"\0\0\0\0"))[0],
                                fields.get(3, NORMAL)))
        elif number == 3:
            normalizer = {n: v for n, _, v in _fields(value)}
    return SentencePieceModel(
        pieces=pieces,
        normalizer_name=normalizer.get(1, b"").decode("utf-8"),
        precompiled_charsmap=normalizer.get(2, b""),
        add_dummy_prefix=bool(normalizer.get(3, 1)),
        remove_extra_whitespaces=bool(normalizer.get(4, 1)),
        escape_whitespaces=bool(normalizer.get(5, 1)),
    )
