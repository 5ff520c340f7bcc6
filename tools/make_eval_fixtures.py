#!/usr/bin/env python3
"""Generate the evaluation fixtures in tests/data/eval/ (metrics, .npy files, end-to-end runs).

Every expected value comes from an independent computation, never from evaclip:
  metrics.safetensors   classification and retrieval cases with known answers (random scores, many exact
                        ties, classes without samples, k above the number of classes). Expected values
                        from scikit-learn (top_k_accuracy_score, balanced_accuracy_score) and numpy
                        (a stable argsort), which must agree before anything is written.
  npy/*.npy             arrays written by numpy.save, for a byte-for-byte check of evaclip's writer.
  images/, *.csv, *.txt a tiny data set: 3 classes of PNG images plus a class folder without images, class
                        names, templates, captions (retrieval) and texts (feature extraction).
  e2e_expected.*        what the official EVA-CLIP model (float64, torchvision eval transform, the official
                        tokenizer) gives on that data set for the tests/data/models/eva02_tiny weights with
                        the token embedding widened to the real 49408-token vocabulary (row r = row r % 100,
                        which the C++ test rebuilds the same way): embeddings, classifier, logits, and the
                        metrics by numpy / scikit-learn. Every decision in those metrics is checked to
                        have a margin far above the float32-vs-float64 difference.

Tie rule (include/evaclip/eval/metrics.hpp): among equal scores the lower index ranks first, i.e. the
order of numpy.argsort(-scores, kind="stable"). scikit-learn's top_k_accuracy_score puts the higher index
first, so it is called on the columns reversed (class c -> C-1-c), which turns its rule into ours.

Requirements: numpy, scikit-learn (Debian python3-sklearn), safetensors, Pillow, torch, torchvision, and
the official eva_clip package as tools/make_fixtures.py obtains it.

    /usr/bin/python3 tools/make_eval_fixtures.py [--eva-git GITDIR | --eva-src DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "data" / "eval"
MODEL = REPO / "tests" / "data" / "models" / "eva02_tiny"
VOCAB = 49408
KS_CLS, KS_RET = (1, 5), (1, 5, 10)


# ---------------------------------------------------------------------------------------------------
# Metrics, twice: numpy (stable argsort) and scikit-learn; the two must agree.
# ---------------------------------------------------------------------------------------------------
def ranks_numpy(scores: np.ndarray, target: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores.astype(np.float64), axis=1, kind="stable")
    return np.argmax(order == target[:, None], axis=1)


def classification_expected(logits: np.ndarray, labels: np.ndarray):
    n, c = logits.shape
    rank = ranks_numpy(logits, labels)
    top_k, per_class, mean_per_class = [], [], []
    count = np.bincount(labels, minlength=c)
    for k in KS_CLS:
        hit = rank < k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "k >= n_classes": every sample counts, as evaclip does
            sk = top_k_accuracy_score(c - 1 - labels, logits[:, ::-1], k=k, labels=np.arange(c))
        assert sk == hit.mean(), (k, sk, hit.mean())
        top_k.append(hit.mean())
        per = np.full(c, np.nan)
        for cls in range(c):
            if count[cls]:
                per[cls] = hit[labels == cls].mean()
        per_class.append(per)
        mean_per_class.append(np.nanmean(per))
    pred = np.argmax(logits, axis=1)  # first maximum: the tie rule at k = 1
    assert np.array_equal(pred == labels, rank == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        bal = balanced_accuracy_score(labels, pred)
    assert np.isclose(bal, mean_per_class[0], rtol=0, atol=1e-15), (bal, mean_per_class[0])
    return dict(top_k=np.array(top_k), per_class=np.stack(per_class), mean_per_class=np.array(mean_per_class),
                class_count=count.astype(np.int64))


def retrieval_expected(scores: np.ndarray, caption_image: np.ndarray):
    t, n_img = scores.shape
    t2i_rank = ranks_numpy(scores, caption_image)
    # Image to text the CLIP_benchmark way: the K best captions of each image (stable order), any positive.
    order = np.argsort(-scores.T.astype(np.float64), axis=1, kind="stable")
    positive = caption_image[order] == np.arange(n_img)[:, None]
    t2i, i2t = [], []
    for k in KS_RET:
        t2i.append((t2i_rank < k).mean())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk = top_k_accuracy_score(n_img - 1 - caption_image, scores[:, ::-1], k=k, labels=np.arange(n_img))
        assert sk == t2i[-1], (k, sk, t2i[-1])
        i2t.append(positive[:, :k].any(axis=1).mean())
    return dict(t2i=np.array(t2i), i2t=np.array(i2t))


def metric_cases(rng: np.random.Generator) -> dict:
    out = {}

    def cls_case(name, logits, labels):
        logits = logits.astype(np.float32)
        labels = labels.astype(np.int64)
        exp = classification_expected(logits, labels)
        out[f"cls.{name}.logits"] = logits
        out[f"cls.{name}.labels"] = labels
        for key, v in exp.items():
            out[f"cls.{name}.{key}"] = v
        print(f"  cls.{name}: N={len(labels)} C={logits.shape[1]} top1 {exp['top_k'][0]:.4f} "
              f"top5 {exp['top_k'][1]:.4f}, {int((exp['class_count'] == 0).sum())} empty classes")

    def ret_case(name, scores, caption_image):
        scores = scores.astype(np.float32)
        caption_image = caption_image.astype(np.int64)
        exp = retrieval_expected(scores, caption_image)
        out[f"ret.{name}.scores"] = scores
        out[f"ret.{name}.caption_image"] = caption_image
        out[f"ret.{name}.t2i"] = exp["t2i"]
        out[f"ret.{name}.i2t"] = exp["i2t"]
        print(f"  ret.{name}: T={len(caption_image)} I={scores.shape[1]} t2i {exp['t2i']} i2t {exp['i2t']}")

    # Random scores (no ties), labels correlated with the scores so that accuracies are not trivial.
    labels = rng.integers(0, 10, 200)
    logits = rng.normal(size=(200, 10)) + 1.5 * np.eye(10)[labels]
    cls_case("random", logits, labels)
    # Integer scores in {0, 1, 2}: exact ties everywhere, so the tie rule decides most ranks.
    cls_case("ties", rng.integers(0, 3, (300, 7)), rng.integers(0, 7, 300))
    # Classes 3, 9, 10 and 11 have no samples (null per-class accuracy, left out of the means).
    labels = rng.choice([0, 1, 2, 4, 5, 6, 7, 8], 150)
    cls_case("empty_classes", rng.normal(size=(150, 12)) + np.eye(12)[labels], labels)
    # Fewer classes than k = 5: top-5 counts every sample.
    cls_case("few_classes", rng.normal(size=(40, 3)), rng.integers(0, 3, 40))
    # Constant rows: the rank of class y is y.
    cls_case("constant", np.zeros((30, 6)), rng.integers(0, 6, 30))

    # Retrieval: 1 to 5 captions per image, scores correlated with the true pairs.
    per_image = rng.integers(1, 6, 25)
    caption_image = np.repeat(np.arange(25), per_image)
    ret_case("random", rng.normal(size=(len(caption_image), 25)) + 1.2 * np.eye(25)[caption_image], caption_image)
    # Ties: scores in {0, 1}; captions in shuffled order (not grouped by image).
    caption_image = rng.permutation(np.repeat(np.arange(12), 3))
    ret_case("ties", rng.integers(0, 2, (36, 12)), caption_image)
    # Fewer images than K = 10.
    caption_image = np.array([0, 0, 1, 2, 2, 2, 3])
    ret_case("few_images", rng.normal(size=(7, 4)), caption_image)
    return out


# ---------------------------------------------------------------------------------------------------
# .npy files from numpy itself; the C++ test writes the same arrays (values (i - 3) * 0.25) and compares
# bytes.
# ---------------------------------------------------------------------------------------------------
NPY_CASES = {
    "f32_2x3": ((2, 3), np.float32),
    "f32_0x4": ((0, 4), np.float32),
    "f64_5": ((5,), np.float64),
    "i64_scalar": ((), np.int64),
    "f32_2x1x3x2": ((2, 1, 3, 2), np.float32),
    "i32_4x4": ((4, 4), np.int32),
    "f16_3": ((3,), np.float16),
}


def write_npy(out: Path):
    d = out / "npy"
    d.mkdir(parents=True, exist_ok=True)
    for name, (shape, dtype) in NPY_CASES.items():
        n = int(np.prod(shape)) if shape else 1
        values = (np.arange(n) - 3) * 0.25
        if np.issubdtype(dtype, np.integer):
            values = np.arange(n) - 3
        np.save(d / f"{name}.npy", values.astype(dtype).reshape(shape))


# ---------------------------------------------------------------------------------------------------
# The tiny data set.
# ---------------------------------------------------------------------------------------------------
CLASSES = [("a_red", "red square"), ("b_green", "green circle"), ("c_blue", "blue stripes"),
           ("d_empty", "empty class")]
TEMPLATES = ["a photo of a {}.", "a drawing of the {}, small.", "{}"]
SIZES = [(40, 30), (24, 48), (32, 32), (50, 37)]


def write_images(out: Path, rng: np.random.Generator):
    from PIL import Image

    paths = []
    for ci, (folder, _) in enumerate(CLASSES):
        d = out / "images" / folder
        d.mkdir(parents=True, exist_ok=True)
        if folder == "d_empty":
            (d / "README.txt").write_text("A class folder without images (no samples for this class).\n")
            continue
        for i in range(3 + ci % 2):
            w, h = SIZES[(i + ci) % len(SIZES)]
            yy, xx = np.mgrid[0:h, 0:w]
            base = np.zeros((h, w, 3))
            base[..., ci] = 160 + 60 * np.sin((xx * (ci + 1) + yy * (i + 1)) / 5.0)
            px = np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)
            p = d / f"{i}.png"
            Image.fromarray(px, "RGB").save(p)
            paths.append((f"images/{folder}/{i}.png", ci))
    return paths


def write_lists(out: Path, images, rng: np.random.Generator):
    (out / "classnames.txt").write_text("".join(name + "\n" for _, name in CLASSES))
    (out / "templates.txt").write_text("".join(t + "\n" for t in TEMPLATES))
    # Zero-shot from a CSV: a shuffled subset (labels as class indices).
    subset = [images[i] for i in rng.permutation(len(images))[: len(images) - 3]]
    (out / "labels.csv").write_text("filepath,label\n" + "".join(f"{p},{c}\n" for p, c in subset))
    # Retrieval: one to three captions per image, some quoted with commas inside.
    words = ["red", "green", "blue", "square", "circle", "stripes", "noisy", "small", "bright", "dark"]
    rows = []
    for p, c in images:
        for j in range(1 + (len(rows) % 3)):
            cap = " ".join(rng.choice(words, 3 + j)) + f" {CLASSES[c][1]}"
            rows.append((p, f'"{cap}, photo {j}"' if j == 1 else cap))
    (out / "retrieval.csv").write_text("filepath,title\n" + "".join(f"{p},{cap}\n" for p, cap in rows))
    texts = ["a red square", "two green circles, side by side", "", "blue stripes on a noisy background",
             "café crème — ünïcode"]
    (out / "texts.txt").write_text("".join(t + "\n" for t in texts))
    return subset, rows, texts


# ---------------------------------------------------------------------------------------------------
# The official model on the data set.
# ---------------------------------------------------------------------------------------------------
def official_model(args):
    sys.path.insert(0, str(REPO / "tools"))
    import make_fixtures  # obtain_eva_clip: the pinned official package, never copied into the repo

    root, how = make_fixtures.obtain_eva_clip(args)
    sys.path.insert(0, str(root))
    os.environ.pop("RoPE", None)
    import torch

    torch.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()):
        import eva_clip
    cfg = json.loads((MODEL / "config.json").read_text())
    cfg["text_cfg"]["vocab_size"] = VOCAB
    cfg_dir = make_fixtures.CACHE_ROOT / "configs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    (cfg_dir / "evaclip-eval-fixture.json").write_text(json.dumps(cfg, indent=2))
    eva_clip.add_model_config(cfg_dir / "evaclip-eval-fixture.json")
    with contextlib.redirect_stdout(io.StringIO()):
        model = eva_clip.create_model("evaclip-eval-fixture", pretrained=None, precision="fp32", device="cpu")
    weights = {k: torch.from_numpy(v) for k, v in load_file(str(MODEL / "weights.safetensors")).items()}
    emb = weights["text.token_embedding.weight"]
    weights["text.token_embedding.weight"] = emb[torch.arange(VOCAB) % emb.shape[0]]
    model.load_state_dict(weights, strict=True)
    model = model.double().eval()
    print(f"official source: {how}; eva02_tiny with the token embedding widened to {VOCAB} rows")
    return torch, eva_clip, model, cfg


def min_gap(scores: np.ndarray, target: np.ndarray) -> float:
    """The smallest |score(target) - score(other)| over rows: how far every rank decision is from a tie."""
    s = scores[np.arange(len(target)), target][:, None] - scores
    s[np.arange(len(target)), target] = np.inf
    return float(np.abs(s).min())


def end_to_end(args, out: Path, images, subset, rows, texts):
    from PIL import Image

    torch, eva_clip, model, cfg = official_model(args)
    size, ctx = cfg["vision_cfg"]["image_size"], cfg["text_cfg"]["context_length"]
    transform = eva_clip.image_transform(size, is_train=False)

    def embed_images(paths):
        x = torch.stack([transform(Image.open(out / p)) for p in paths]).double()
        with torch.no_grad():
            return model.encode_image(x).numpy()

    def embed_texts(strings):
        with torch.no_grad():
            return model.encode_text(eva_clip.tokenize(strings, context_length=ctx)).numpy()

    def normalize(x):
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    names = [name for _, name in CLASSES]
    prompts = [t.replace("{}", n) for n in names for t in TEMPLATES]
    classifier = normalize(normalize(embed_texts(prompts)).reshape(len(names), len(TEMPLATES), -1).mean(axis=1))
    exp, metrics = {}, {}
    for tag, samples in (("folder", images), ("csv", subset)):
        paths = [p for p, _ in samples]
        labels = np.array([c for _, c in samples], dtype=np.int64)
        feats = normalize(embed_images(paths))
        logits = (100.0 * feats) @ classifier.T
        gap = min_gap(logits, labels)
        print(f"  zero-shot {tag}: {len(paths)} images, smallest logit gap {gap:.3e}")
        assert gap > 1e-2, f"a zero-shot decision is within {gap} of a tie; change the images"
        m = classification_expected(logits.astype(np.float32), labels)
        exp[f"zeroshot_{tag}.image_embeddings"] = feats
        exp[f"zeroshot_{tag}.logits"] = logits
        exp[f"zeroshot_{tag}.labels"] = labels
        metrics[f"zeroshot_{tag}"] = {
            "top1": m["top_k"][0], "top5": m["top_k"][1],
            "mean_per_class_top1": m["mean_per_class"][0], "mean_per_class_top5": m["mean_per_class"][1],
            "per_class_top1": [None if np.isnan(v) else v for v in m["per_class"][0]],
            "per_class_top5": [None if np.isnan(v) else v for v in m["per_class"][1]],
            "class_count": m["class_count"].tolist(),
        }
    exp["classifier"] = classifier

    # Retrieval: images in order of first appearance, captions in row order.
    ret_images = list(dict.fromkeys(p for p, _ in rows))
    captions = [cap.strip('"') for _, cap in rows]
    caption_image = np.array([ret_images.index(p) for p, _ in rows], dtype=np.int64)
    fi, ft = normalize(embed_images(ret_images)), normalize(embed_texts(captions))
    scores = ft @ fi.T
    gap_t2i = min_gap(scores, caption_image)
    # Image to text: each positive caption against every caption of another image.
    gap_i2t = min(np.abs(scores[j, i] - scores[caption_image != i, i]).min() for j, i in enumerate(caption_image))
    print(f"  retrieval: {len(ret_images)} images, {len(captions)} captions, smallest gaps {gap_t2i:.3e} / "
          f"{gap_i2t:.3e}")
    assert min(gap_t2i, gap_i2t) > 1e-4, "a retrieval decision is within 1e-4 of a tie; change the captions"
    r = retrieval_expected(scores.astype(np.float32), caption_image)
    metrics["retrieval"] = {"images": len(ret_images), "captions": len(captions),
                            "text_to_image": {f"R@{k}": v for k, v in zip(KS_RET, r["t2i"])},
                            "image_to_text": {f"R@{k}": v for k, v in zip(KS_RET, r["i2t"])}}
    exp["retrieval.image_embeddings"] = fi
    exp["retrieval.text_embeddings"] = ft
    exp["retrieval.caption_image"] = caption_image

    # Feature extraction: the folder's images (sorted) and texts.txt, normalised.
    exp["features.image_embeddings"] = normalize(embed_images([p for p, _ in images]))
    exp["features.text_embeddings"] = normalize(embed_texts(texts))

    save_file({k: np.ascontiguousarray(v) for k, v in exp.items()}, str(out / "e2e_expected.safetensors"),
              metadata={"generator": "tools/make_eval_fixtures.py", "model": "eva02_tiny, vocab widened to 49408"})
    (out / "e2e_expected.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eva-git", help="git dir of baaivision/EVA holding the pinned commit (as make_fixtures.py)")
    ap.add_argument("--eva-src", help="directory containing the eva_clip/ package (as make_fixtures.py)")
    args = ap.parse_args()
    rng = np.random.default_rng(20251128)
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    print("metric cases:")
    save_file(metric_cases(rng), str(OUT / "metrics.safetensors"), metadata={"generator": "tools/make_eval_fixtures.py"})
    write_npy(OUT)
    images = write_images(OUT, rng)
    subset, rows, texts = write_lists(OUT, images, rng)
    end_to_end(args, OUT, images, subset, rows, texts)
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT}: {sum(1 for f in OUT.rglob('*') if f.is_file())} files, {total} bytes")


if __name__ == "__main__":
    main()
