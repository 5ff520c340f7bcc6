#!/usr/bin/env python3
"""Writes tests/data/safetensors/reference.safetensors with the reference `safetensors` library.

The fixture pins evaclip's reader and writer to the reference layout: tests/unit/io/test_safetensors.cpp
reads it back (every supported dtype, a rank-0 and an empty tensor, metadata) and checks that
save_safetensors writes the same tensors to identical bytes. Values are exact in every dtype.
Regenerate (needs torch and `pip install safetensors`; written with safetensors 0.8.0, torch 1.13):
    python3 tools/make_safetensors_fixture.py
"""
import os

import torch
from safetensors.torch import save_file


def main():
    tensors = {
        "f64": (torch.arange(6, dtype=torch.float64) * 0.5 - 1.0).reshape(2, 3),
        "f32": torch.tensor([0.5, -2.25, 1024.0], dtype=torch.float32),
        "f16": torch.tensor([[1.0, -0.5], [65504.0, 2.0**-24]], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -2.0, 0.5, 256.0, -0.125], dtype=torch.bfloat16),
        "i64": torch.tensor(2**40 + 7, dtype=torch.int64),  # rank 0
        "i32": torch.tensor([-3, 0, 7, 2**31 - 1], dtype=torch.int32).reshape(2, 1, 2),
        "layer.0.empty": torch.zeros(0, 4, dtype=torch.float32),
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "safetensors",
                       "reference.safetensors")
    save_file(tensors, os.path.normpath(out), metadata={"format": "pt"})  # one key: the order is fixed
    print("wrote", os.path.normpath(out))


if __name__ == "__main__":
    main()
