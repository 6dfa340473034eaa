"""The PyTorch-eager reference for `benches/step.rs`: one training step (forward + backward +
AdamW, every parameter trained) of a model with the `bench-qwen2` shapes, on inputs of the same
sizes as the Rust benchmark's 8-slice volume question.

Needs only `torch` (e.g. PYTHONPATH=.cache/torch-site). The model is rebuilt in plain torch
with the shapes of `hulu synth --preset bench-qwen2` (random weights: timing and memory do not
depend on the values):
  - vision: patch embedding 588 -> 1152, 4 pre-LayerNorm layers (16 heads, MLP 4304, GELU-tanh),
    post LayerNorm, 2x2 token merge (mean), projector 1152 -> 896 -> 896 (GELU);
    hulu's 2-D rotary positions in the encoder are left out (elementwise, negligible cost);
  - decoder: Qwen2.5-0.5B (24 layers, width 896, 14 heads / 2 KV heads, MLP 4864, SwiGLU,
    RMSNorm, rotary, tied 151,936-word embedding), the loss over the labelled positions only
    (only those go through the head, as hulu does).
Precision f32, or bf16 autocast over float32 parameters and AdamW state (hulu's `bf16`);
checkpointing with `torch.utils.checkpoint` per decoder and encoder layer.

  PYTHONPATH=.cache/torch-site python3 hulu-train/bench/reference_step.py \
      --tokens T --patches P --labels L        # the sizes benches/step.rs prints

Each configuration runs in its own process so its peak RSS (ru_maxrss) is its own. Activation
memory is measured as `benches/step.rs` does: after the timed steps, one more forward + backward
over the existing weights, gradients and AdamW state; free heap pages are returned
(`malloc_trim`), the resident size read, the high-water mark restarted (`clear_refs` 5), and the
activation memory is the high-water mark of that forward + backward minus the resident size.
"""

import argparse
import ctypes
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, MLP = 151936, 896, 24, 14, 2, 4864
V_HIDDEN, V_LAYERS, V_HEADS, V_MLP, PATCH_DIM = 1152, 4, 16, 4304, 3 * 14 * 14


class RMSNorm(nn.Module):
    def __init__(self, n, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        v = x.float().pow(2).mean(-1, keepdim=True)
        return (x.float() * torch.rsqrt(v + self.eps)).to(x.dtype) * self.weight


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class DecoderLayer(nn.Module):
    def __init__(self):
        super().__init__()
        hd = HIDDEN // HEADS
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(HIDDEN), RMSNorm(HIDDEN)
        self.q_proj = nn.Linear(HIDDEN, HEADS * hd)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * hd)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * hd)
        self.o_proj = nn.Linear(HEADS * hd, HIDDEN, bias=False)
        self.gate_proj = nn.Linear(HIDDEN, MLP, bias=False)
        self.up_proj = nn.Linear(HIDDEN, MLP, bias=False)
        self.down_proj = nn.Linear(MLP, HIDDEN, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        hd = HIDDEN // HEADS
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, HEADS, hd).transpose(1, 2)
        k = self.k_proj(h).view(b, t, KV_HEADS, hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, KV_HEADS, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
        v = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, HIDDEN))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class VisionLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer_norm1, self.layer_norm2 = nn.LayerNorm(V_HIDDEN), nn.LayerNorm(V_HIDDEN)
        self.qkv = nn.Linear(V_HIDDEN, 3 * V_HIDDEN)
        self.out_proj = nn.Linear(V_HIDDEN, V_HIDDEN)
        self.fc1, self.fc2 = nn.Linear(V_HIDDEN, V_MLP), nn.Linear(V_MLP, V_HIDDEN)

    def forward(self, x):
        f, s, _ = x.shape
        q, k, v = self.qkv(self.layer_norm1(x)).view(f, s, 3, V_HEADS, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out_proj(a.transpose(1, 2).reshape(f, s, V_HIDDEN))
        return x + self.fc2(F.gelu(self.fc1(self.layer_norm2(x)), approximate="tanh"))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embedding = nn.Linear(PATCH_DIM, V_HIDDEN)
        self.vision_layers = nn.ModuleList(VisionLayer() for _ in range(V_LAYERS))
        self.post_layernorm = nn.LayerNorm(V_HIDDEN)
        self.projector = nn.Sequential(nn.Linear(V_HIDDEN, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, HIDDEN))
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(DecoderLayer() for _ in range(LAYERS))
        self.norm = RMSNorm(HIDDEN)

    def forward(self, patches, frames, ids, image_positions, label_positions, labels, ckpt):
        run = (lambda f, *a: checkpoint(f, *a, use_reentrant=False)) if ckpt else (lambda f, *a: f(*a))
        x = self.patch_embedding(patches).view(frames, -1, V_HIDDEN)
        for layer in self.vision_layers:
            x = run(layer, x)
        x = self.post_layernorm(x)
        # 2x2 merge: consecutive groups of four patches (the layout only moves memory).
        x = x.reshape(-1, 4, V_HIDDEN).mean(1)
        visual = self.projector(x)
        embeds = self.embed_tokens(ids).clone()
        embeds[0, image_positions] = visual.to(embeds.dtype)
        t = ids.shape[1]
        hd = HIDDEN // HEADS
        inv = 1.0 / (1e6 ** (torch.arange(0, hd, 2).float() / hd))
        freqs = torch.outer(torch.arange(t).float(), inv)
        emb = torch.cat((freqs, freqs), -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        h = embeds
        for layer in self.layers:
            h = run(layer, h, cos, sin)
        h = self.norm(h)[0, label_positions]
        logits = h @ self.embed_tokens.weight.t()
        return F.cross_entropy(logits.float(), labels)


def status_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return None


def one(args):
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = Model()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, foreach=False)
    t, p, nl = args.tokens, args.patches, args.labels
    visual = p // 4
    ids = torch.randint(0, VOCAB, (1, t))
    image_positions = torch.arange(5, 5 + visual)
    label_positions = torch.arange(t - nl - 1, t - 1)
    labels = torch.randint(0, VOCAB, (nl,))
    patches = torch.randn(p, PATCH_DIM)
    frames = args.frames

    def forward_backward():
        opt.zero_grad(set_to_none=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss = model(patches, frames, ids, image_positions, label_positions, labels, args.checkpoint)
        loss.backward()
        return loss

    def step():
        loss = forward_backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    step()  # warm-up (creates Adam's state, as the Rust benchmark's warm-up step)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    per = (time.perf_counter() - start) / args.steps
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    resident = status_bytes("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    forward_backward()
    activations = status_bytes("VmHWM:") - resident
    print(json.dumps({"precision": args.precision, "checkpoint": args.checkpoint, "tokens": t,
                      "s_per_step": per, "tokens_per_s": t / per, "peak_rss_gb": rss / 1e9,
                      "activation_gb": activations / 1e9}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, required=True)
    ap.add_argument("--patches", type=int, required=True)
    ap.add_argument("--labels", type=int, required=True)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--precision", choices=["f32", "bf16"])
    ap.add_argument("--checkpoint", action="store_true")
    args = ap.parse_args()
    if args.precision:
        return one(args)
    print("| precision | memory | tokens | s/step | tokens/s | peak RSS | activation memory |")
    print("|---|---|---|---|---|---|---|")
    for precision in ["f32", "bf16"]:
        for ckpt in [False, True]:
            cmd = [sys.executable, __file__, "--precision", precision] + sys.argv[1:]
            cmd += ["--checkpoint"] if ckpt else []
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            mem = "CheckpointLayers" if ckpt else "Plain"
            print(f"| {precision} | {mem} | {r['tokens']} | {r['s_per_step']:.2f} | "
                  f"{r['tokens_per_s']:.1f} | {r['peak_rss_gb']:.2f} GB | {r['activation_gb']:.2f} GB |")


if __name__ == "__main__":
    main()
