#!/usr/bin/python3
"""A PyTorch peer of the engine's DeepSeek-V3-architecture model (MLA, dense SwiGLU /
DeepSeekMoE, final norm, untied head, MTP): a speed baseline and a numerics check. The spec
is engine/{model,mla,ffn,router,block}.cpp and kernels/cpu/reference.cpp. Module names are
the HF tensor names, so the engine's model.safetensors loads with load_state_dict(strict).

  bench   CONFIG.toml [--steps N] [--threads T] [--json]   time full training steps
  logits  CKPT_DIR --tokens 1,72,101 --out FILE            main-head float32 logits [T x V]
  compare CKPT_DIR --tokens 1,72,101 [--aha PATH]          peer vs `aha score --dump-logits`

Needs Debian's python3-torch (run with /usr/bin/python3); no other packages.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

# Set threads before torch loads: Debian's torch calls the system OpenBLAS (pthread build),
# which ignores torch.set_num_threads; spinning OpenMP workers fight its threads for the cores
# (steps 10x slower seen with 2 threads on 2 cores), so they wait passively. Env overrides.
_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--threads", type=int, default=1)
THREADS = max(1, _pre.parse_known_args()[0].threads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

# engine/config.h ModelConfig defaults; TOML [model] and config.json override them.
MODEL_DEFAULTS = dict(
    vocab_size=264, hidden_size=256, intermediate_size=512, moe_intermediate_size=64,
    num_hidden_layers=6, first_k_dense_replace=1, num_attention_heads=4, n_routed_experts=8,
    n_shared_experts=1, num_experts_per_tok=2, n_group=2, topk_group=1,
    routed_scaling_factor=1.0, scoring_func="sigmoid", norm_topk_prob=True, q_lora_rank=128,
    kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32,
    num_nextn_predict_layers=1, rope_theta=10000.0, rms_norm_eps=1e-6,
    max_position_embeddings=2048, initializer_range=0.02, aux_loss_alpha=1e-4,
    bias_update_speed=1e-3, mtp_loss_weight=0.3)
TRAIN_DEFAULTS = dict(seed=1234, batch_size=8, seq_len=256, grad_accum=1, steps=300, lr=3e-3,
                      min_lr=3e-4, warmup_steps=20, lr_schedule="cosine", decay_steps=0, beta1=0.9, beta2=0.95,
                      adam_eps=1e-8, weight_decay=0.1, grad_clip=1.0)

def model_config(d):
    """TOML [model] or config.json (q_lora_rank null = plain q_proj; aha_* = engine knobs)."""
    d = {**d, **{k[4:]: v for k, v in d.items() if k.startswith("aha_")}}
    c = {**MODEL_DEFAULTS, **{k: v for k, v in d.items() if k in MODEL_DEFAULTS}}
    c["q_lora_rank"] = c["q_lora_rank"] or 0
    return SimpleNamespace(**c)

# ---- layers -------------------------------------------------------------------------
class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * w, in FP32."""
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        x = x.float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

def linear(i, o):
    return nn.Linear(i, o, bias=False)  # weight [out, in], y = x W^T

def rope(x, cos, sin):
    """Interleaved RoPE on adjacent pairs (x[2j], x[2j+1]); x [..., T, R], cos/sin [T, R/2]."""
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

class MLA(nn.Module):
    """Multi-head Latent Attention, naive (training) form: expand K, V per head."""
    def __init__(self, c):
        super().__init__()
        self.c, d, H = c, c.hidden_size, c.num_attention_heads
        self.dqk = c.qk_nope_head_dim + c.qk_rope_head_dim
        if c.q_lora_rank > 0:
            self.q_a_proj = linear(d, c.q_lora_rank)
            self.q_a_layernorm = RMSNorm(c.q_lora_rank, c.rms_norm_eps)
            self.q_b_proj = linear(c.q_lora_rank, H * self.dqk)
        else:
            self.q_proj = linear(d, H * self.dqk)
        self.kv_a_proj_with_mqa = linear(d, c.kv_lora_rank + c.qk_rope_head_dim)
        self.kv_a_layernorm = RMSNorm(c.kv_lora_rank, c.rms_norm_eps)
        self.kv_b_proj = linear(c.kv_lora_rank, H * (c.qk_nope_head_dim + c.v_head_dim))
        self.o_proj = linear(H * c.v_head_dim, d)

    def forward(self, x, cos, sin, mask):
        (B, T, _), c = x.shape, self.c
        H, dn, dr, dv = c.num_attention_heads, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))) if c.q_lora_rank > 0 else self.q_proj(x)
        q = q.view(B, T, H, self.dqk).transpose(1, 2)                     # [B,H,T,dqk]
        q = torch.cat((q[..., :dn], rope(q[..., dn:], cos, sin)), dim=-1)
        ckv, kpe = self.kv_a_proj_with_mqa(x).split([c.kv_lora_rank, dr], dim=-1)
        kpe = rope(kpe, cos, sin).unsqueeze(1).expand(B, H, T, dr)        # one RoPE key, all heads
        kv = self.kv_b_proj(self.kv_a_layernorm(ckv)).view(B, T, H, dn + dv).transpose(1, 2)
        k = torch.cat((kv[..., :dn], kpe), dim=-1)                        # [B,H,T,dqk]
        v = kv[..., dn:]                                                  # [B,H,T,dv]
        s = (q @ k.transpose(-1, -2)) * self.dqk ** -0.5
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        o = (p @ v).transpose(1, 2).reshape(B, T, H * dv)
        return self.o_proj(o)

class SwiGLU(nn.Module):
    def __init__(self, d, inter):
        super().__init__()
        self.gate_proj, self.up_proj, self.down_proj = linear(d, inter), linear(d, inter), linear(inter, d)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

class Gate(nn.Module):
    """DeepSeekMoE router (engine/router.cpp): sigmoid/softmax scores, group-limited top-k
    on the biased scores, gates from the unbiased scores, the sequence-wise balance loss."""
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.weight = nn.Parameter(torch.empty(c.n_routed_experts, c.hidden_size))
        self.register_buffer("e_score_correction_bias", torch.zeros(c.n_routed_experts))

    def forward(self, x):                                     # x [B,T,d]
        (B, T, _), c = x.shape, self.c
        E, K, G = c.n_routed_experts, c.num_experts_per_tok, c.n_group
        logits = F.linear(x.float(), self.weight.float())
        s = torch.sigmoid(logits) if c.scoring_func == "sigmoid" else torch.softmax(logits, dim=-1)
        with torch.no_grad():                                 # the choice gets no gradient
            biased = s + self.e_score_correction_bias
            if G > 1:                                         # group score: sum of its top-2
                g = biased.view(B, T, G, E // G).topk(2, dim=-1).values.sum(-1)
                keep = torch.zeros_like(g, dtype=torch.bool)
                keep.scatter_(-1, g.topk(c.topk_group, dim=-1).indices, True)
                biased = biased.masked_fill(~keep.repeat_interleave(E // G, dim=-1), float("-inf"))
            idx = biased.topk(K, dim=-1).indices              # [B,T,K]
        gate = s.gather(-1, idx)
        if c.norm_topk_prob:
            gate = gate / (gate.sum(-1, keepdim=True) + 1e-20)
        gate = gate * c.routed_scaling_factor
        # balance loss: alpha * mean_b sum_i f_i P_i
        balance = x.new_zeros(())
        if c.aux_loss_alpha > 0:
            with torch.no_grad():
                f = torch.zeros(B, E).scatter_add_(1, idx.view(B, T * K), torch.ones(B, T * K))
                f *= E / (K * T)                              # f_i = E/(K T) * #{t: i in TopK_t}
            P = (s / s.sum(-1, keepdim=True)).mean(1)         # [B,E]
            balance = c.aux_loss_alpha * (f * P).sum(-1).mean()
        return idx, gate, balance

class MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c, self.gate = c, Gate(c)
        self.experts = nn.ModuleList(SwiGLU(c.hidden_size, c.moe_intermediate_size)
                                     for _ in range(c.n_routed_experts))
        if c.n_shared_experts > 0:
            self.shared_experts = SwiGLU(c.hidden_size, c.n_shared_experts * c.moe_intermediate_size)
        self.load = torch.zeros(c.n_routed_experts)           # tokens per expert since the last bias update

    def forward(self, x):
        B, T, d = x.shape
        idx, gate, balance = self.gate(x)
        xf, idx, gate = x.reshape(-1, d), idx.reshape(-1, idx.shape[-1]), gate.reshape(-1, gate.shape[-1])
        out = self.shared_experts(xf) if self.c.n_shared_experts > 0 else torch.zeros_like(xf)
        self.load += torch.bincount(idx.flatten(), minlength=self.c.n_routed_experts).float()
        for e, expert in enumerate(self.experts):             # the plain expert loop
            tok, slot = (idx == e).nonzero(as_tuple=True)
            if tok.numel() == 0:
                continue
            y = expert(xf.index_select(0, tok)) * gate[tok, slot].unsqueeze(-1)
            out.index_add_(0, tok, y)
        return out.view(B, T, d), balance

class Block(nn.Module):
    """x + MLA(norm(x)), then + FFN(norm(.))."""
    def __init__(self, c, layer):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = MLA(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.moe = c.n_routed_experts > 0 and layer >= c.first_k_dense_replace
        self.mlp = MoE(c) if self.moe else SwiGLU(c.hidden_size, c.intermediate_size)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        h = self.post_attention_layernorm(x)
        y, balance = self.mlp(h) if self.moe else (self.mlp(h), x.new_zeros(()))
        return x + y, balance

class MtpLayer(Block):
    """MTP depth k = model.layers.{L+k-1}: eh_proj(cat[enorm(emb), hnorm(h)]) -> block."""
    def __init__(self, c, layer):
        super().__init__(c, layer)
        self.enorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.hnorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.eh_proj = linear(2 * c.hidden_size, c.hidden_size)
        self.shared_head = nn.Module()
        self.shared_head.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)

class DeepseekV3(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c, L = c, c.num_hidden_layers
        self.model = nn.Module()  # model.embed_tokens, model.layers.N (MTP depths last), model.norm
        self.model.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.model.layers = nn.ModuleList([Block(c, l) for l in range(L)] +
                                          [MtpLayer(c, L + k) for k in range(c.num_nextn_predict_layers)])
        self.model.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.lm_head = linear(c.hidden_size, c.vocab_size)

    def init_weights(self):
        """Normal(0, initializer_range) weights, norms 1, router bias 0 (Model::init_weights)."""
        with torch.no_grad():
            for p in self.parameters():
                p.fill_(1.0) if p.dim() == 1 else p.normal_(0.0, self.c.initializer_range)
            for b in self.buffers():
                b.zero_()
        return self

    def rope_tables(self, T):
        R = self.c.qk_rope_head_dim  # angle pos * theta^(-2j/R), in double as the engine
        freq = self.c.rope_theta ** (-2.0 * torch.arange(R // 2, dtype=torch.float64) / R)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]
        return ang.cos().float(), ang.sin().float()

    def trunk(self, tokens):
        """tokens [B,T] -> main trunk output h (before the final norm), balance loss."""
        T = tokens.shape[1]
        cos, sin = self.rope_tables(T)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)  # True = masked (future key)
        h, balance = self.model.embed_tokens(tokens), 0.0
        for blk in self.model.layers[:self.c.num_hidden_layers]:
            h, b = blk(h, cos, sin, mask)
            balance = balance + b
        return h, balance, (cos, sin, mask)

    def logits(self, tokens):
        h, _, _ = self.trunk(tokens)
        return self.lm_head(self.model.norm(h))

    def loss(self, inputs, targets):
        """lm CE + mtp_loss_weight * mean_k MTP_k CE + balance (every token scored)."""
        c, V = self.c, self.c.vocab_size
        h, balance, rope_mask = self.trunk(inputs)
        lm = F.cross_entropy(self.lm_head(self.model.norm(h)).view(-1, V), targets.reshape(-1))
        mtp = []
        for k, m in enumerate(self.model.layers[c.num_hidden_layers:]):
            # depth k+1 at position i reads token i+k+1 and predicts target i+k+1;
            # positions past the end get token 0 and no target (as in the engine).
            tok = F.pad(inputs[:, k + 1:], (0, k + 1), value=0)
            tgt = F.pad(targets[:, k + 1:], (0, k + 1), value=-100)
            x = torch.cat((m.enorm(self.model.embed_tokens(tok)), m.hnorm(h)), dim=-1)
            h, b = m(m.eh_proj(x), *rope_mask)
            balance = balance + b
            logits = self.lm_head(m.shared_head.norm(h))
            mtp.append(F.cross_entropy(logits.view(-1, V), tgt.reshape(-1), ignore_index=-100))
        total = lm + balance + (c.mtp_loss_weight * torch.stack(mtp).mean() if mtp else 0.0)
        return total, lm, mtp, balance

    @torch.no_grad()
    def update_router_bias(self):
        """Aux-loss-free balancing: b_i += gamma * sign(mean load - load_i), then reset."""
        for mod in self.modules():
            if isinstance(mod, MoE):
                step = self.c.bias_update_speed * torch.sign(mod.load.mean() - mod.load)
                mod.gate.e_score_correction_bias += step
                mod.load.zero_()

# ---- safetensors, by hand ---------------------------------------------------------------
ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}

def read_safetensors(path):
    """8-byte LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw LE data."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    return {name: torch.frombuffer(bytearray(body[i["data_offsets"][0]:i["data_offsets"][1]]),
                                   dtype=ST_DTYPES[i["dtype"]]).reshape(i["shape"]).float()
            for name, i in header.items() if name != "__metadata__"}

def load_checkpoint(ckpt):
    model = DeepseekV3(model_config(json.loads((Path(ckpt) / "config.json").read_text())))
    model.load_state_dict(read_safetensors(Path(ckpt) / "model.safetensors"), strict=True)
    return model.eval()

def peer_logits(ckpt, tokens):
    with torch.no_grad():
        return load_checkpoint(ckpt).logits(torch.tensor([tokens]))[0].float().contiguous()

# ---- subcommands -----------------------------------------------------------------------
def learning_rate(t, step):
    """engine/optim.cpp learning_rate: linear warm-up, then cosine to min_lr (or constant)."""
    if t.warmup_steps > 0 and step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    if t.lr_schedule == "constant":
        return t.lr
    end = t.decay_steps if t.decay_steps > 0 else t.steps
    progress = min(1.0, (step - t.warmup_steps) / max(1, end - t.warmup_steps))
    return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1.0 + math.cos(math.pi * progress))

def cmd_bench(args):
    cfg = tomllib.loads(Path(args.config).read_text())
    c = model_config(cfg.get("model", {}))
    t = SimpleNamespace(**{**TRAIN_DEFAULTS, **{k: v for k, v in cfg.get("train", {}).items()
                                                if k in TRAIN_DEFAULTS}})
    t.steps = args.steps + 2                                  # as engine/bench.cpp
    t.warmup_steps = min(t.warmup_steps, t.steps)
    if t.decay_steps > t.steps:
        t.decay_steps = 0
    torch.set_num_threads(THREADS)
    torch.manual_seed(t.seed)
    model = DeepseekV3(c).init_weights().train()
    # AdamW; no weight decay on the embedding and the norms (ParamInfo::decay in the engine)
    decay = [p for n, p in model.named_parameters() if p.dim() > 1 and "embed_tokens" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.dim() == 1 or "embed_tokens" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": t.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=t.lr, betas=(t.beta1, t.beta2), eps=t.adam_eps)
    gen = torch.Generator().manual_seed(t.seed ^ 0xDA7A)
    times = []
    for step in range(t.steps):
        batches = [torch.randint(0, c.vocab_size, (t.batch_size, t.seq_len + 1), generator=gen)
                   for _ in range(t.grad_accum)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        for b in batches:
            total, lm, mtp, balance = model.loss(b[:, :-1], b[:, 1:])
            (total / t.grad_accum).backward()
        if t.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        for g in opt.param_groups:
            g["lr"] = learning_rate(t, step)
        opt.step()
        model.update_router_bias()
        times.append((time.perf_counter() - t0) * 1e3)
        if not args.json:
            print(f"step {step}: loss {total.item():.4f} {times[-1]:.1f} ms", file=sys.stderr)
    timed = sorted(times[2:])
    step_ms = timed[len(timed) // 2]
    r = {"framework": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
         "step_ms": step_ms, "tokens_per_s": t.batch_size * t.grad_accum * t.seq_len / (step_ms / 1e3),
         "batch_size": t.batch_size * t.grad_accum, "seq_len": t.seq_len,
         "params": sum(p.numel() for p in model.parameters())}
    print(json.dumps(r) if args.json else f"{r['tokens_per_s']:.0f} tokens/s, {step_ms:.1f} ms/step")

def cmd_logits(args):
    peer_logits(args.ckpt, [int(t) for t in args.tokens.split(",")]).numpy().tofile(args.out)

def cmd_compare(args):
    tokens = [int(t) for t in args.tokens.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "engine_logits.f32")
        subprocess.run([args.aha, "score", args.ckpt, "--tokens", args.tokens, "--json",
                        "--attention", args.attention, "--dump-logits", dump],
                       check=True, stdout=subprocess.DEVNULL)
        ref = torch.frombuffer(bytearray(Path(dump).read_bytes()), dtype=torch.float32).view(len(tokens), -1)
    peer = peer_logits(args.ckpt, tokens)
    if ref.shape != peer.shape:
        sys.exit(f"shape mismatch: engine {tuple(ref.shape)}, peer {tuple(peer.shape)}")
    diff = (peer.double() - ref.double()).abs()
    r = {"checkpoint": args.ckpt, "attention": args.attention, "tokens": len(tokens),
         "vocab": ref.shape[1], "max_abs_diff": diff.max().item(),
         # relative to the largest engine logit (elementwise ratios blow up near zero)
         "max_rel_diff": diff.max().item() / max(ref.abs().max().item(), 1e-30),
         "max_abs_logit": ref.abs().max().item(), "tolerance": 1e-3, "ok": diff.max().item() <= 1e-3}
    print(json.dumps(r))
    sys.exit(0 if r["ok"] else 1)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bench", help="time full training steps on random tokens")
    b.add_argument("config", help="TOML file with [model] and [train] tables")
    b.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--json", action="store_true", help="print one JSON object")
    lg = sub.add_parser("logits", help="write main-head float32 logits [T x vocab], no header")
    cp = sub.add_parser("compare", help="compare the peer's logits with `aha score --dump-logits`")
    for p in (lg, cp):
        p.add_argument("ckpt", help="checkpoint directory (config.json, model.safetensors)")
        p.add_argument("--tokens", required=True, help="comma-separated ids, e.g. 1,72,101")
    lg.add_argument("--out", required=True)
    cp.add_argument("--aha", default=str(REPO / "build/release/app/aha"))
    cp.add_argument("--attention", default="absorbed", choices=["absorbed", "naive"],
                    help="the engine's MLA inference path (the peer always runs the naive form)")
    args = ap.parse_args()
    {"bench": cmd_bench, "logits": cmd_logits, "compare": cmd_compare}[args.cmd](args)

if __name__ == "__main__":
    main()
