#!/usr/bin/python3
"""Writes the image-preprocessing fixtures in tests/data/images/ (inputs, Pillow/torchvision references).

Run with the system Python that has Debian's python3-pil and python3-torchvision:
    /usr/bin/python3 tools/make_image_fixtures.py tests/data/images
Each input is opened as torchvision's ImageFolder loader does (Image.open(f).convert("RGB")), then
    eval:   Resize(S, BICUBIC) -> CenterCrop(S)
    crop:   torchvision.transforms.functional.resized_crop(img, top, left, h, w, S, BICUBIC)
    center: CenterCrop(S) alone (with its zero padding when S exceeds a side)
    decode: nothing (the RGB pixels themselves)
and the uint8 result is saved as a PNG. manifest.txt lists one case per line:
    <kind> <input> <op> <S> <reference> [top left height width]
where kind is "exact" (PNG/BMP inputs) or "jpeg" (the decoders differ). norm_ref.bin holds
ToTensor + Normalize(CLIP mean, std) of every level 0..255 in each channel: float32 (3, 1, 256).
"""
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def scene(w, h, seed, channels=3, noise=0.03, zoom=1.0):
    """Smooth gradients, stripes, hard-edged boxes and mild noise: content that exercises every lobe."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) / zoom
    out = []
    for c in range(channels):
        f = 0.5 + 0.35 * np.sin(x / (3 + 2 * c) + y / (5 + c)) * np.cos(y / (7 + 3 * c))
        f += 0.2 * (x / w - y / h)
        for _ in range(4):
            x0, y0 = rng.randint(0, w), rng.randint(0, h)
            f[y0:y0 + rng.randint(2, h // 2 + 3), x0:x0 + rng.randint(2, w // 2 + 3)] = rng.rand()
        f += rng.normal(0, noise, f.shape)
        out.append(f)
    return np.clip(np.stack(out, -1), 0, 1)


def u8(a):
    return (a * 255 + 0.5).astype(np.uint8)


def png16(path, w, h, color_type, samples):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit RGB)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + samples[r].astype(">u2").tobytes() for r in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def make_inputs(d):
    """(file name, kind, [(op, S, box)]) for every input written."""
    cases = []

    def add(name, kind, ops):
        cases.append((name, kind, ops))

    ev = lambda *sizes: [("eval", s, None) for s in sizes]
    Image.fromarray(u8(scene(64, 48, 1))).save(f"{d}/rgb_64x48.png")
    add("rgb_64x48.png", "exact", ev(32, 17) + [("decode", 0, None), ("crop", 32, (3, 5, 40, 37)),
                                                ("crop", 24, (0, 0, 48, 64))])
    Image.fromarray(u8(scene(20, 30, 2))).save(f"{d}/rgb_20x30.png")
    add("rgb_20x30.png", "exact", ev(32, 45) + [("crop", 40, (2, 1, 27, 18)), ("center", 40, None),
                                                ("center", 25, None), ("center", 7, None)])
    Image.fromarray(u8(scene(150, 41, 3))).save(f"{d}/rgb_150x41.png")
    add("rgb_150x41.png", "exact", ev(24, 7))
    Image.fromarray(u8(scene(32, 50, 4))).save(f"{d}/rgb_32x50.png")  # short side already S: vertical pass only
    add("rgb_32x50.png", "exact", ev(32))
    Image.fromarray(u8(scene(37, 37, 5))).save(f"{d}/rgb_37x37.png")  # no resampling at all
    add("rgb_37x37.png", "exact", ev(37, 19) + [("center", 20, None), ("center", 38, None)])
    Image.fromarray(u8(scene(256, 192, 6, noise=0.004, zoom=4))).save(f"{d}/rgb_256x192.png")
    add("rgb_256x192.png", "exact", ev(64))
    Image.fromarray(u8(scene(120, 90, 7, noise=0.004, zoom=2))).save(f"{d}/rgb_120x90.png")  # upscaled to the real tower size
    add("rgb_120x90.png", "exact", ev(224))
    Image.fromarray(u8(scene(50, 70, 8, 1)[..., 0]), "L").save(f"{d}/grey_50x70.png")
    add("grey_50x70.png", "exact", ev(28) + [("decode", 0, None)])
    a = u8(scene(30, 36, 9, 2))
    Image.fromarray(a, "LA").save(f"{d}/la_30x36.png")
    add("la_30x36.png", "exact", ev(16) + [("decode", 0, None)])
    rgba = u8(scene(40, 44, 10, 4))
    Image.fromarray(rgba, "RGBA").save(f"{d}/rgba_40x44.png")
    add("rgba_40x44.png", "exact", ev(32) + [("decode", 0, None)])
    p = Image.fromarray(u8(scene(45, 30, 11))).quantize(colors=48, method=Image.Quantize.MEDIANCUT)
    p.info["transparency"] = 3
    p.save(f"{d}/palette_45x30.png", transparency=3)
    add("palette_45x30.png", "exact", ev(24) + [("decode", 0, None)])
    g16 = (scene(33, 40, 12, 1)[..., 0] * 700).astype(np.uint16)  # straddles 255: Pillow clips
    png16(f"{d}/grey16_33x40.png", 33, 40, 0, g16)
    add("grey16_33x40.png", "exact", ev(20) + [("decode", 0, None)])
    c16 = (scene(36, 28, 13) * 65535).astype(np.uint16).reshape(28, 36 * 3)
    png16(f"{d}/rgb16_36x28.png", 36, 28, 2, c16)
    add("rgb16_36x28.png", "exact", ev(20) + [("decode", 0, None)])
    Image.fromarray(u8(scene(45, 60, 14))).save(f"{d}/rgb_45x60.bmp")
    add("rgb_45x60.bmp", "exact", ev(32) + [("decode", 0, None)])
    Image.fromarray(u8(scene(26, 21, 15, 4)), "RGBA").save(f"{d}/rgba_26x21.bmp")
    add("rgba_26x21.bmp", "exact", ev(16) + [("decode", 0, None)])
    Image.fromarray(u8(scene(31, 23, 16))).quantize(colors=16).save(f"{d}/palette_31x23.bmp")
    add("palette_31x23.bmp", "exact", ev(16) + [("decode", 0, None)])

    Image.fromarray(u8(scene(96, 72, 20))).save(f"{d}/rgb420_96x72.jpg", quality=90)
    add("rgb420_96x72.jpg", "jpeg", ev(64) + [("decode", 0, None)])
    Image.fromarray(u8(scene(80, 60, 21))).save(f"{d}/rgb444_80x60.jpg", quality=95, subsampling=0)
    add("rgb444_80x60.jpg", "jpeg", ev(48) + [("decode", 0, None)])
    Image.fromarray(u8(scene(64, 80, 22, 1)[..., 0]), "L").save(f"{d}/grey_64x80.jpg", quality=90)
    add("grey_64x80.jpg", "jpeg", ev(48) + [("decode", 0, None)])
    Image.fromarray(u8(scene(100, 75, 23))).save(f"{d}/progressive_100x75.jpg", quality=85, progressive=True)
    add("progressive_100x75.jpg", "jpeg", ev(56) + [("decode", 0, None)])
    Image.fromarray(u8(scene(400, 300, 24, noise=0.004, zoom=6))).save(f"{d}/photo_400x300.jpg", quality=90)
    add("photo_400x300.jpg", "jpeg", ev(224))
    return cases


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "tests/data/images"
    os.makedirs(d, exist_ok=True)
    lines = []
    for name, kind, ops in make_inputs(d):
        img = Image.open(f"{d}/{name}").convert("RGB")
        stem = os.path.splitext(name)[0] + "_" + os.path.splitext(name)[1][1:]
        for op, s, box in ops:
            if op == "eval":
                out = T.CenterCrop(s)(T.Resize(s, interpolation=InterpolationMode.BICUBIC)(img))
                ref = f"ref_{stem}_eval{s}.png"
            elif op == "crop":
                out = F.resized_crop(img, *box, [s, s], interpolation=InterpolationMode.BICUBIC)
                ref = f"ref_{stem}_crop{s}_{'_'.join(map(str, box))}.png"
            elif op == "center":
                out, ref = T.CenterCrop(s)(img), f"ref_{stem}_center{s}.png"
            else:
                out, ref = img, f"ref_{stem}_decode.png"
            out.save(f"{d}/{ref}")
            extra = " " + " ".join(map(str, box)) if box else ""
            lines.append(f"{kind} {name} {op} {s} {ref}{extra}")
    with open(f"{d}/manifest.txt", "w") as f:
        f.write(f"# made by tools/make_image_fixtures.py: Pillow {Image.__version__}, torchvision "
                f"{torchvision.__version__}, torch {torch.__version__}\n")
        f.write("\n".join(lines) + "\n")
    levels = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # (1, 256, 3)
    norm = T.Normalize(MEAN, STD)(T.ToTensor()(Image.fromarray(levels)))
    norm.numpy().astype("<f4").tofile(f"{d}/norm_ref.bin")


if __name__ == "__main__":
    main()
