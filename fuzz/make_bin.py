"""Writes pytorch_model.bin (torch.save of a state dict) from a safetensors file, for the fuzzer's
seed corpus: python3 make_bin.py model.safetensors pytorch_model.bin. Needs only torch."""
import json
import struct
import sys
from collections import OrderedDict

import torch

source, target = sys.argv[1], sys.argv[2]
raw = open(source, 'rb').read()
(length,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + length])
data = raw[8 + length:]
state = OrderedDict()
for name, info in header.items():
    if name == '__metadata__':
        continue
    begin, end = info['data_offsets']
    assert info['dtype'] == 'F32'
    state[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(info['shape']).clone()
# A tied view, as checkpoints with shared weights have: two names, one storage.
state['bert.embeddings.word_embeddings.weight'] = state['bert.embeddings.word_embeddings.weight'].clone()
torch.save(state, target)
