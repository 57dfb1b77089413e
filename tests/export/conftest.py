"""Export fixtures: one full tiny export, and a tiny model trained until its verdicts are decisive."""

from __future__ import annotations

import pytest

from openvino_support import HAVE_OPENVINO

# lr 2e-2 decayed linearly to 0 with clipping: measured 35 of 50 held-out pairs decisive; without
# the decay the run oscillates back to coin flips. One thread: OpenMP spinning on a busy 2-core
# box made the same loop 50x slower with two.
TRAIN_STEPS, TRAIN_LR, TRAIN_PAIRS_PER_STEP = 60, 2e-2, 4


@pytest.fixture(scope="session")
def tiny_export(tiny_model_dir, tmp_path_factory):
    """fp32 + INT8 + Triton export of the untrained tiny preset: (folder, summary)."""
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path_factory.mktemp("exports") / "tiny"
    summary = run_export(ExportConfig(model=tiny_model_dir, out=out, int8=True, triton=True, openvino=HAVE_OPENVINO, calib_pairs=8,
                                      threads=1, int8_min_weights=0))  # quantize every weight of the tiny preset
    return out, summary


@pytest.fixture(scope="session")
def trained_export(trained_tiny_dir, heldout_pairs_file, tmp_path_factory):
    """fp32, INT8, FP16 (and OpenVINO IR where openvino is installed) export of the trained tiny model, verdict
    graphs only, calibrated and checked on 50 + 50 held-out pairs: (folder, summary)."""
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path_factory.mktemp("exports") / "trained"
    cfg = ExportConfig(model=trained_tiny_dir, out=out, int8=True, fp16=True, openvino=HAVE_OPENVINO, decoder=False,
                       calib=heldout_pairs_file, calib_pairs=50, int8_min_weights=0, threads=1)
    return out, run_export(cfg)


@pytest.fixture(scope="session")
def static_export(trained_tiny_dir, heldout_pairs_file, tmp_path_factory):
    """The trained tiny model with static-scale OpenVINO INT8 calibrated on synthetic pairs only (--openvino-int8 static)."""
    from creative4u_small.export.export_config import ExportConfig
    from creative4u_small.export.exporter import run_export

    out = tmp_path_factory.mktemp("exports") / "static"
    run_export(ExportConfig(model=trained_tiny_dir, out=out, openvino=True, openvino_int8="static", decoder=False,
                            calib=heldout_pairs_file, calib_pairs=50, timing_runs=0, threads=1))
    return out


@pytest.fixture(scope="session")
def heldout_pairs_file(tmp_path_factory):
    """100 synthetic pairs never used in training: 50 calibrate INT8, 50 check parity."""
    from creative4u_small.data.synth import synthesize

    return synthesize(100, tmp_path_factory.mktemp("heldout") / "data", seed=7, image_size=64)


@pytest.fixture(scope="session")
def trained_tiny_dir(tiny_model_dir, synth_pairs_file, tmp_path_factory):
    """The tiny preset after ~60 AdamW steps of verdict cross-entropy on synthetic labels (both orders)."""
    import torch

    from creative4u_small.contract.pairs import load_pairs
    from creative4u_small.modeling.checkpoint import load_model
    from creative4u_small.modeling.scorer import build_judge_batch, verdict_logits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, processor, verdict_ids = load_model(tiny_model_dir, train=True)
    pairs = load_pairs(synth_pairs_file)
    batches = []
    for i in range(0, len(pairs), TRAIN_PAIRS_PER_STEP):
        chunk = pairs[i: i + TRAIN_PAIRS_PER_STEP]
        batch = build_judge_batch(processor, [(p.image_a, p.image_b, p.query, p.title) for p in chunk])
        a_wins = torch.tensor([0 if p.label == "A" else 1 for p in chunk])
        batches.append((batch, torch.stack([a_wins, 1 - a_wins], 1).reshape(-1)))  # rows: AB, BA per pair
    opt = torch.optim.AdamW(model.parameters(), lr=TRAIN_LR)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / TRAIN_STEPS)
    try:
        for step in range(TRAIN_STEPS):
            batch, target = batches[step % len(batches)]
            loss = torch.nn.functional.cross_entropy(verdict_logits(model, batch, verdict_ids), target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    finally:
        torch.set_num_threads(threads)
    out = tmp_path_factory.mktemp("models") / "tiny-trained"
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out
