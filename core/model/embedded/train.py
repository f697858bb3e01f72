#!/usr/bin/env python3
"""Trains layerscope's embedded default model: a byte-level Mamba-1 on Debian's `fortunes` corpus.

Run on the GPU machine (transformers' MambaForCausalLM, its pure-PyTorch path). The corpus is the text of the
Debian package `fortunes` (unpacked with `dpkg -x`; point --corpus at its usr/share/games/fortunes folder).
Writes config.json (transformers naming), model.safetensors (tied embedding), calib.txt and eval.txt (held-out
text for calibration and evaluation, disjoint from the training text and from each other) and TRAINING.md.
"""
import argparse
import json
import math
import os
import time

import torch
from transformers import MambaConfig, MambaForCausalLM


def read_corpus(folder):
    """All cookie files of the package (the .dat index files and symlinks skipped), in name order."""
    texts = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".dat") or name.endswith(".u8") or os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            raw = f.read()
        cookies = [c.strip() for c in raw.decode("utf-8", "ignore").split("\n%\n")]
        texts.extend(c for c in cookies if c)
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--max-seconds", type=float, default=330.0)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    cookies = read_corpus(args.corpus)
    order = torch.randperm(len(cookies), generator=gen).tolist()
    cookies = [cookies[i] for i in order]
    n_hold = max(200, len(cookies) // 25)
    eval_text = "\n\n".join(cookies[:n_hold])
    calib_text = "\n\n".join(cookies[n_hold:2 * n_hold])
    train_bytes = "\n\n".join(cookies[2 * n_hold:]).encode("utf-8")
    data = torch.tensor(list(train_bytes), dtype=torch.long)

    config = MambaConfig(vocab_size=256, hidden_size=192, state_size=16, num_hidden_layers=6, expand=2,
                         conv_kernel=4, time_step_rank=12, use_bias=False, use_conv_bias=True,
                         residual_in_fp32=True, layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                         bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = MambaForCausalLM(config).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = 100
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))

    start = time.time()
    losses = []
    step = 0
    while step < args.steps and time.time() - start < args.max_seconds:
        idx = torch.randint(0, data.numel() - args.seq_len - 1, (args.batch,), generator=gen)
        batch = torch.stack([data[i:i + args.seq_len] for i in idx]).cuda()
        out = model(input_ids=batch, labels=batch)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(out.loss.item())
        step += 1
        if step % 100 == 0:
            print(f"step {step} loss {sum(losses[-100:]) / 100:.4f} elapsed {time.time() - start:.0f}s", flush=True)
    final_loss = sum(losses[-50:]) / min(50, len(losses))

    model.eval()
    eval_ids = torch.tensor(list(eval_text.encode("utf-8")[: 64 * 512]), dtype=torch.long).view(64, 512).cuda()
    with torch.no_grad():
        eval_loss = model(input_ids=eval_ids, labels=eval_ids).loss.item()

    os.makedirs(args.out, exist_ok=True)
    model.cpu().save_pretrained(args.out, safe_serialization=True)
    for name in os.listdir(args.out):
        if name not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(args.out, name))
    # 64 KiB of each held-out text: enough for the default 10 x 512 tokens and more.
    with open(os.path.join(args.out, "eval.txt"), "w") as f:
        f.write(eval_text.encode("utf-8")[: 64 * 1024].decode("utf-8", "ignore"))
    with open(os.path.join(args.out, "calib.txt"), "w") as f:
        f.write(calib_text.encode("utf-8")[: 64 * 1024].decode("utf-8", "ignore"))
    with open(os.path.join(args.out, "TRAINING.md"), "w") as f:
        f.write(f"""# byte-mamba: layerscope's embedded default model

Made by `core/model/embedded/train.py` on the GPU machine ({torch.cuda.get_device_name()}), {time.strftime('%Y-%m-%d')}.

| what | value |
| --- | --- |
| architecture | Mamba-1, transformers `MambaForCausalLM` {json.dumps(config.to_diff_dict())} |
| vocabulary | raw bytes (256 ids), no tokenizer |
| corpus | Debian 12 package `fortunes` 1:1.99.1-7.3, all cookie files, {len(cookies)} cookies shuffled with the seed; first {n_hold} held out as eval.txt, next {n_hold} as calib.txt, {len(train_bytes)} training bytes |
| optimiser | AdamW lr 3e-3, betas (0.9, 0.95), weight decay 0.1, {warmup} warm-up steps then cosine, grad clip 1.0 |
| batches | {args.batch} x {args.seq_len} random windows of the training bytes |
| seed | {args.seed} |
| steps | {step} ({time.time() - start:.0f} s) |
| final training loss | {final_loss:.4f} nats/byte (mean of the last 50 steps) |
| eval loss | {eval_loss:.4f} nats/byte on the first 64 x 512 bytes of eval.txt |
| torch / transformers | {torch.__version__} / {__import__('transformers').__version__} |
""")
    print(f"done: {step} steps, final loss {final_loss:.4f}, eval loss {eval_loss:.4f}")


if __name__ == "__main__":
    main()
