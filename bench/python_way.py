#!/usr/bin/env python3
"""The comparison of issue 5 done "the Python way", timed per stage, for the ratio against layerscope.

What a researcher does without layerscope: transformers' MambaForCausalLM with forward hooks at the six default
capture points of every layer, one fp32 run (the reference) and one fp16 run, every capture saved as .npy, then
numpy metrics over each (layer, point) pair of files: the sum-based metrics in float64 and exact percentiles of |d|
(numpy's linear interpolation, as layerscope reports them). Only fp32 vs fp16 can be done this way: transformers
has no W8A8 Mamba.

  python_way.py --model DIR --tokens FILE [--samples 10] [--seq-len 512] [--layerscope-dir OUT]

DIR: the mamba-130m-shaped checkpoint (transformers layout) that layerscoped serves; FILE: the token ids it ran
(bench/compare_all.sh writes OUT/tokens-10x512.txt). With --layerscope-dir, the layerscope runs of
bench/compare_all.sh in the same call (OUT/compare-fp16.json: the same job; OUT/compare-all.json) give the ratios,
and the numpy rows are checked against layerscope's rows of the same job: the fp32 reference statistics must agree
(else the points are not the same tensors; exit status 1), the fp16 errors are printed side by side (two
implementations of the fp16 model, so close but not equal).

Stages (CUDA synchronised at each end): load, capture (forward with hooks, captures copied to the host), check
(conv1d_output recomputed from conv1d_input in numpy; not counted in the job), write (.npy files), compare (files
read back, metrics). Captures go to a scratch folder (--work, removed afterwards). A capture missing, fired more
or less than once per batch, of the wrong shape or not the tensor its name says stops the script (exit status 1).
"""
import argparse
import importlib.util
import json
import os
import shutil
import sys
import time

import numpy
import torch
import transformers
from transformers import MambaForCausalLM

# The six default points, in layerscope's names and data-flow order (core/capture/capture_point.h).
POINTS = ["mixer_input", "conv1d_input", "conv1d_output", "ssm_input", "ssm_output", "mixer_output"]
PERCENTILES = [50, 90, 95, 99]


class Clock:
    """Wall seconds per stage; each lap waits for the GPU first, so its queued work counts where it was queued."""

    def __init__(self):
        self.stages = {}
        self.last = time.perf_counter()

    def lap(self, stage):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self.last
        self.last = now


def read_tokens(path, samples, seq_len):
    rows = []
    with open(path) as f:
        for line in f:
            words = line.replace(",", " ").split()
            if words and not words[0].startswith("#"):
                rows.append([int(w) for w in words[:seq_len]])
    if len(rows) < samples or any(len(r) < seq_len for r in rows[:samples]):
        sys.exit(f"{path}: fewer than {samples} samples of {seq_len} ids")
    return torch.tensor(rows[:samples], dtype=torch.long)


def capture(model, ids, batch_size):
    """One forward per batch with hooks on every layer; returns {(layer, point): host numpy array [B, L, C]}.

    The hooks sit on the three projections MambaMixer calls as modules on every path without a cache (the sequential
    slow_forward and, in eval, cuda_kernels_forward alike). The causal conv is not one of them: under transformers
    5.17 a hook on mixer.conv1d never fired (since its 2026 refactor of the linear-attention models the conv goes
    through a causal_conv1d function on the module's weights, a kernel or its torch fallback). Every capture is a
    tensor the mixer really computes.
    """
    layers = model.backbone.layers
    got = {}

    def keep(layer, point, value):
        got.setdefault((layer, point), []).append(value)

    def host(value):
        return value.detach().cpu().numpy()

    hooks = []
    for i, block in enumerate(layers):
        mixer = block.mixer

        # in_proj(input_states): its input is the mixer's input (the block's RMSNorm output); its output
        # projected_states [B, L, 2 d_inner] is chunked into hidden_states | gate, and that x half is what the
        # causal conv receives.
        def in_proj_hook(m, args, out, i=i, e=mixer.intermediate_size):
            keep(i, "mixer_input", host(args[0]))
            keep(i, "conv1d_input", host(out[..., :e]))

        # x_proj(hidden_states.transpose(1, 2)): hidden_states is act(causal conv1d(x))[..., :seq_len], the conv
        # stage's output, and the same tensor is the scan's u (deltaB_u and the D skip): one copy serves both.
        def x_proj_hook(m, args, i=i):
            u = host(args[0])
            keep(i, "conv1d_output", u)
            keep(i, "ssm_input", u)

        # out_proj(scan_output.transpose(1, 2)): scan_output is y after the D skip and the SiLU(gate) gating; its
        # output contextualized_states is what the mixer returns.
        def out_proj_hook(m, args, out, i=i):
            keep(i, "ssm_output", host(args[0]))
            keep(i, "mixer_output", host(out))

        hooks.append(mixer.in_proj.register_forward_hook(in_proj_hook))
        hooks.append(mixer.x_proj.register_forward_pre_hook(x_proj_hook))
        hooks.append(mixer.out_proj.register_forward_hook(out_proj_hook))
    batches = 0
    with torch.no_grad():
        for b in range(0, ids.shape[0], batch_size):
            model(input_ids=ids[b:b + batch_size].to(model.device), use_cache=False)
            batches += 1
    for h in hooks:
        h.remove()

    # Each hook must have fired exactly once per layer and batch, with [B, L, C] of the point's width: anything else
    # means this transformers calls the mixer differently and the captures would not be the points they are named.
    widths = {point: layers[0].mixer.intermediate_size for point in POINTS}
    widths.update(mixer_input=model.config.hidden_size, mixer_output=model.config.hidden_size)
    wrong = []
    captures = {}
    for layer in range(len(layers)):
        for point in POINTS:
            parts = got.get((layer, point), [])
            shape = numpy.concatenate(parts).shape if len(parts) == batches else None
            want = (ids.shape[0], ids.shape[1], widths[point])
            if shape != want:
                wrong.append(f"layer {layer} {point}: {len(parts)} calls for {batches} batches, shape {shape}, "
                             f"want {want}")
            else:
                captures[(layer, point)] = numpy.concatenate(parts)
    if wrong:
        sys.exit(f"python_way: {len(wrong)} of {len(layers) * len(POINTS)} captures missing or malformed, e.g. "
                 + "; ".join(wrong[:3]) + " (hooks on mixer.in_proj, x_proj, out_proj: does this transformers "
                 "still call them as modules?)")
    return captures


def check_conv1d_output(captures, model):
    """Fails unless every layer's conv1d_output is SiLU(causal depthwise conv(conv1d_input)) (MODES.md §1 step 3),
    recomputed here in float64 numpy on the first sample from mixer.conv1d's parameters: proof that the x_proj hook
    caught the conv stage's output, not some other tensor of the same shape."""
    dtype = next(model.parameters()).dtype
    # The conv and the SiLU each round once in the model's precision; a wrong tensor (no SiLU, a shifted window,
    # the gate half) is off by the size of the values themselves.
    tolerance = 64 * torch.finfo(dtype).eps
    for layer, block in enumerate(model.backbone.layers):
        conv = block.mixer.conv1d
        weight = conv.weight.detach().double().cpu().numpy()[:, 0, :]  # [d_inner, K]
        bias = conv.bias.detach().double().cpu().numpy() if conv.bias is not None else 0.0
        x = captures[(layer, "conv1d_input")][0].astype(numpy.float64)  # [L, d_inner]
        kernel, seq_len = weight.shape[1], x.shape[0]
        padded = numpy.concatenate([numpy.zeros((kernel - 1, x.shape[1])), x])
        v = bias + sum(weight[:, k] * padded[k:k + seq_len] for k in range(kernel))
        want = v / (1.0 + numpy.exp(-v))
        got = captures[(layer, "conv1d_output")][0].astype(numpy.float64)
        worst = float(numpy.abs(got - want).max())
        scale = max(1.0, float(numpy.abs(want).max()))
        if worst > tolerance * scale:
            sys.exit(f"python_way: layer {layer} conv1d_output is not SiLU(conv1d(conv1d_input)): max |diff| "
                     f"{worst:.3e} > {tolerance * scale:.3e} ({dtype})")


def write(captures, folder):
    os.makedirs(folder, exist_ok=True)
    for (layer, point), array in captures.items():
        numpy.save(os.path.join(folder, f"layer{layer:02d}.{point}.npy"), array)


def metrics(r, m):
    """The sum-based metrics in float64 and the exact percentiles of |d| (all pairs are finite here)."""
    r = r.astype(numpy.float64).ravel()
    m = m.astype(numpy.float64).ravel()
    d = m - r
    abs_d = numpy.abs(d)
    mse = float(numpy.mean(d * d))
    out = {
        "ref_mean": float(r.mean()), "ref_std": float(r.std()), "ref_min": float(r.min()), "ref_max": float(r.max()),
        "mode_mean": float(m.mean()), "mode_std": float(m.std()), "mode_min": float(m.min()),
        "mode_max": float(m.max()), "diff_mean": float(d.mean()), "diff_std": float(d.std()),
        "max_abs_diff": float(abs_d.max()), "mse": mse, "rmse": mse ** 0.5, "mae": float(abs_d.mean()),
        "relative_mse": mse / (float(numpy.mean(r * r)) + 1e-8),
        "relative_mae": float(abs_d.mean()) / (float(numpy.abs(r).mean()) + 1e-8),
        "correlation": float(numpy.corrcoef(r, m)[0, 1]),
        "cosine": float(numpy.dot(r, m) / (numpy.linalg.norm(r) * numpy.linalg.norm(m))),
        "sqnr_db": float(10 * numpy.log10(numpy.sum(r * r) / numpy.sum(d * d))),
    }
    # layerscope's population is |d| rounded to float32 (core/metrics/metric_accumulator.h); numpy's percentile
    # partitions the whole population once per call.
    for q, v in zip(PERCENTILES, numpy.percentile(abs_d.astype(numpy.float32), PERCENTILES)):
        out[f"p{q}"] = float(v)
    return out


def compare(ref_folder, mode_folder, layers):
    rows = {}
    for layer in range(layers):
        for point in POINTS:
            name = f"layer{layer:02d}.{point}.npy"
            rows[(layer, point)] = metrics(numpy.load(os.path.join(ref_folder, name)),
                                           numpy.load(os.path.join(mode_folder, name)))
    return rows


def layerscope_summary(folder, name):
    path = os.path.join(folder, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def check_against_layerscope(document, rows):
    """Prints how layerscope's rows of the same job match the numpy rows; returns why they do not, or None.

    The fp32 references are one model in one precision on the same tokens, so their statistics (mean, std, min,
    max of each capture) must agree to well under 1 %: a capture hooked at another tensor than layerscope's point of
    that name (before the SiLU, the gate half, before the gating) is off by tens of percent. The fp16 errors come
    from two implementations of the fp16 model (transformers': fp16 except the scan's discretisation; layerscope's:
    fp16 in, fp32 inside), so their relative MSEs agree only in size: a factor over 10 is reported as suspect.
    """
    summary = document["summary"]
    if summary["reference_mode"] != "fp32" or summary["modes"] != ["fp16"]:
        return (f"compare-fp16.json compares {summary['modes']} against {summary['reference_mode']}, not fp16 against "
                "fp32")
    theirs = {(row["layer"], row["point"]): row["metrics"] for row in document["rows"]}
    if set(theirs) != set(rows):
        return (f"compare-fp16.json has {len(theirs)} (layer, point) rows, {len(set(theirs) & set(rows))} of the "
                f"{len(rows)} captured here")
    worst_ref = (-1.0, None)  # any row replaces these
    worst_factor = (0.0, None)
    for key, ours in rows.items():
        metrics = theirs[key]
        where = f"layer {key[0]} {key[1]}"
        magnitude = max(abs(ours["ref_min"]), abs(ours["ref_max"]))
        for stat, scale in (("ref_mean", ours["ref_std"]), ("ref_std", ours["ref_std"]), ("ref_min", magnitude),
                            ("ref_max", magnitude)):
            if metrics[stat] is None:
                return f"layerscope's {where} has no {stat}"
            deviation = abs(metrics[stat] - ours[stat]) / max(scale, 1e-30)
            worst_ref = max(worst_ref, (deviation, f"{where} {stat}"), key=lambda w: w[0])
        theirs_rel, ours_rel = metrics["relative_mse"], ours["relative_mse"]
        if theirs_rel is None or theirs_rel <= 0 or ours_rel <= 0:
            return f"{where}: relative MSE {theirs_rel} (layerscope) vs {ours_rel} (numpy), both should be > 0"
        factor = max(theirs_rel, ours_rel) / min(theirs_rel, ours_rel)
        worst_factor = max(worst_factor, (factor, where), key=lambda w: w[0])
    print(f"  numpy vs layerscope, {len(rows)} rows: fp32 reference statistics differ by at most "
          f"{worst_ref[0]:.2e} of their scale ({worst_ref[1]}); fp16 relative MSEs within a factor of "
          f"{worst_factor[0]:.2f} ({worst_factor[1]}){' (suspect: over 10)' if worst_factor[0] > 10 else ''}")
    if worst_ref[0] > 1e-2:
        return f"the fp32 references disagree at {worst_ref[1]} ({worst_ref[0]:.2e} of its scale, limit 1e-2)"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=10)
    ap.add_argument("--work", default="/tmp/python-way")
    ap.add_argument("--layerscope-dir")
    args = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ids = read_tokens(args.tokens, args.samples, args.seq_len)
    shutil.rmtree(args.work, ignore_errors=True)
    clock = Clock()
    model = MambaForCausalLM.from_pretrained(args.model).float().to(device).eval()
    layers = len(model.backbone.layers)
    clock.lap("load")

    folders = {}
    for mode, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        model = model.to(dtype)
        captures = capture(model, ids, args.batch_size)
        clock.lap(f"capture {mode}")
        check_conv1d_output(captures, model)
        clock.lap(f"check {mode}")
        folders[mode] = os.path.join(args.work, mode)
        write(captures, folders[mode])
        del captures
        clock.lap(f"write {mode}")
    disk = sum(os.path.getsize(os.path.join(f, n)) for f in folders.values() for n in os.listdir(f))
    rows = compare(folders["fp32"], folders["fp16"], layers)
    clock.lap("compare")
    shutil.rmtree(args.work, ignore_errors=True)

    # What transformers can swap in for its PyTorch path: the timings mean different things with them.
    kernels = [name for name in ("mamba_ssm", "causal_conv1d", "kernels") if importlib.util.find_spec(name)]
    s = clock.stages
    job = sum(v for k, v in s.items() if k != "load" and not k.startswith("check "))
    per_mode = s["capture fp16"] + s["write fp16"] + s["compare"]
    print(f"python way on {device} ({torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}): "
          f"{layers} layers x {len(POINTS)} points, {args.samples} x {args.seq_len} tokens, "
          f"batch {args.batch_size}, {disk / 1e9:.2f} GB of .npy; transformers {transformers.__version__}, "
          f"mamba kernels installed: {', '.join(kernels) or 'none (the PyTorch path)'}")
    print("  stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in s.items()))
    print(f"  the job (fp32 reference + fp16, model loaded): {job:.2f} s; per mode (capture + write + compare "
          f"of fp16): {per_mode:.2f} s")

    if args.layerscope_dir:
        same = layerscope_summary(args.layerscope_dir, "compare-fp16")
        if same:
            seconds = same["summary"]["server_seconds"]
            print(f"  layerscope, the same job (compare fp16, server): {seconds:.3f} s -> python way / layerscope "
                  f"= {job / seconds:.1f}x")
            mismatch = check_against_layerscope(same, rows)
        every = layerscope_summary(args.layerscope_dir, "compare-all")
        if every:
            summary = every["summary"]
            reference = sum(t["seconds"] for t in summary.get("stages", [])
                            if t["stage"] == "forward " + summary["reference_mode"])
            ls_per_mode = (summary["server_seconds"] - reference) / len(summary["modes"])
            print(f"  layerscope compare-all: {summary['server_seconds']:.3f} s for {len(summary['modes'])} modes, "
                  f"{ls_per_mode:.3f} s per mode past the reference -> per-mode ratio {per_mode / ls_per_mode:.1f}x")
        if same and mismatch:
            sys.exit(f"python_way: numpy and layerscope rows disagree: {mismatch}")


if __name__ == "__main__":
    main()
