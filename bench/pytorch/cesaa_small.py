"""PyTorch eager reference for bench/specs/cesaa_small.mdr, run by `npm run bench -- training`.

The same architecture and training step as mdrc compiles: 8 embedding fields (dim 16) and 4 numerics;
2 always-on shared experts and 8 routed experts, MLPs [256, 128] with ReLU after every layer; a top-2
router (softmax over features ++ an 8-wide domain embedding, the kept weights renormalised) with sparse
dispatch (each expert runs on its rows only, index_add back); a per-domain tower [64] -> 1; binary
cross-entropy; Adam for the dense parameters and, as mdrc updates only the table rows a batch touches,
sparse embedding gradients with SparseAdam for the tables. Prints one JSON line per (threads, batch):
rows per second of whole steps on batches already in memory (four batches cycled, as the mdrc benchmark
does).

For inference (`npm run bench -- inference`), `infer` prints rows per second of the eager forward under
torch.no_grad() (sparse dispatch, as above) and writes the dense form of the same model to an ONNX file
(every routed expert on every row, weighted by the renormalised top-2 gate: what mdrc's dense dispatch
computes), exported by torch.onnx at opset 17 with a dynamic batch, for ONNX Runtime to run beside mdrc.

usage: python3 cesaa_small.py <threads> <batch> <seconds>
       python3 cesaa_small.py infer <threads> <batch> <seconds> <export.onnx>
"""
import json
import sys
import time

import torch
import torch.nn as nn

RANGES = [1000, 2000, 5000, 10000, 20000, 50000, 100000, 100000]
DIM = 16
NUMERIC = 4
DOMAINS = 3
SHARED, ROUTED, K = 2, 8, 2


def mlp(inp, layers, last_act):
    mods = []
    for i, w in enumerate(layers):
        mods.append(nn.Linear(inp, w))
        if i < len(layers) - 1 or last_act:
            mods.append(nn.ReLU())
        inp = w
    return nn.Sequential(*mods)


class CesaaSmall(nn.Module):
    def __init__(self):
        super().__init__()
        # Row 0 is out-of-vocabulary, as in mdrc: range tables have max - min + 2 rows.
        self.tables = nn.ModuleList([nn.Embedding(r + 1, DIM, sparse=True) for r in RANGES])
        width = len(RANGES) * DIM + NUMERIC
        self.shared = nn.ModuleList([mlp(width, [256, 128], True) for _ in range(SHARED)])
        self.routed = nn.ModuleList([mlp(width, [256, 128], True) for _ in range(ROUTED)])
        self.domain_emb = nn.Embedding(DOMAINS, 8)
        self.router = nn.Linear(width + 8, ROUTED)
        self.towers = nn.ModuleList([mlp(128, [64, 1], False) for _ in range(DOMAINS)])

    def forward(self, ids, nums, domain):
        x = torch.cat([t(ids[:, i]) for i, t in enumerate(self.tables)] + [nums], dim=1)
        n = x.shape[0]
        p = torch.softmax(self.router(torch.cat([x, self.domain_emb(domain)], dim=1)), dim=1)
        w, idx = torch.topk(p, K, dim=1)
        w = w / w.sum(dim=1, keepdim=True)
        h = sum(e(x) for e in self.shared) / SHARED
        routed = torch.zeros(n, 128)
        for e, expert in enumerate(self.routed):
            rows, slot = torch.nonzero(idx == e, as_tuple=True)
            if rows.numel():
                routed = routed.index_add(0, rows, expert(x[rows]) * w[rows, slot].unsqueeze(1))
        h = h + routed
        logits = torch.stack([t(h).squeeze(1) for t in self.towers], dim=1)
        return logits.gather(1, domain.unsqueeze(1)).squeeze(1)


class DenseCesaaSmall(nn.Module):
    """The same model with dense dispatch: all routed experts on all rows, the gate's top-2 weights as a dense mix."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, ids, nums, domain):
        m = self.m
        x = torch.cat([t(ids[:, i]) for i, t in enumerate(m.tables)] + [nums], dim=1)
        p = torch.softmax(m.router(torch.cat([x, m.domain_emb(domain)], dim=1)), dim=1)
        w, idx = torch.topk(p, K, dim=1)
        w = w / w.sum(dim=1, keepdim=True)
        mix = torch.zeros_like(p).scatter(1, idx, w)
        h = sum(e(x) for e in m.shared) / SHARED
        h = h + sum(expert(x) * mix[:, e:e + 1] for e, expert in enumerate(m.routed))
        logits = torch.stack([t(h).squeeze(1) for t in m.towers], dim=1)
        return logits.gather(1, domain.unsqueeze(1)).squeeze(1)


def timed(fn, seconds):
    """Median of three rounds of whole calls, after warm-up: milliseconds per call."""
    for i in range(3):
        fn(i)
    rounds = []
    for _ in range(3):
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds / 3 or k < 2:
            fn(k)
            k += 1
        rounds.append((time.perf_counter() - t0) / k)
    return sorted(rounds)[1] * 1000


def infer(threads, n, seconds, path):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = CesaaSmall().eval()
    g = torch.Generator().manual_seed(2)
    batches = [batch(n, g) for _ in range(4)]
    with torch.no_grad():
        ms = timed(lambda i: model(*batches[i % 4][:3]), seconds)
        dense = DenseCesaaSmall(model).eval()
        ids, nums, dom, _ = batches[0]
        torch.onnx.export(dense, (ids, nums, dom), path, opset_version=17, input_names=["ids", "nums", "domain"], output_names=["logit"],
                          dynamic_axes={"ids": {0: "N"}, "nums": {0: "N"}, "domain": {0: "N"}, "logit": {0: "N"}})
    print(json.dumps({"threads": threads, "batch": n, "eager_rows_per_s": round(n * 1000 / ms), "torch": torch.__version__, "blas": blas()}))


def batch(n, g):
    ids = torch.stack([torch.randint(1, r + 1, (n,), generator=g) for r in RANGES], dim=1)
    return ids, torch.randn(n, NUMERIC, generator=g), torch.randint(0, DOMAINS, (n,), generator=g), torch.randint(0, 2, (n,), generator=g).float()


def main():
    if sys.argv[1] == "infer":
        infer(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
        return
    threads, n, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = CesaaSmall()
    tables = list(model.tables.parameters())
    dense = [p for n, p in model.named_parameters() if not n.startswith("tables.")]
    opts = [torch.optim.Adam(dense, lr=1e-3), torch.optim.SparseAdam(tables, lr=1e-3)]
    loss_fn = nn.BCEWithLogitsLoss()
    g = torch.Generator().manual_seed(2)
    batches = [batch(n, g) for _ in range(4)]

    def step(i):
        ids, nums, dom, y = batches[i % 4]
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss = loss_fn(model(ids, nums, dom), y)
        loss.backward()
        for o in opts:
            o.step()

    ms = timed(step, seconds)
    print(json.dumps({"threads": threads, "batch": n, "rows_per_s": round(n * 1000 / ms), "step_ms": round(ms, 2), "torch": torch.__version__, "blas": blas()}))


def blas():
    """Which BLAS Debian's torch loaded: its libblas.so.3 alternative may be the slow reference one."""
    try:
        with open("/proc/self/maps") as f:
            libs = f.read()
    except OSError:
        return "unknown"
    for name in ("openblas", "mkl", "blis", "atlas"):
        if name in libs:
            return name
    return "reference BLAS (slow; Debian: apt install libopenblas0-pthread)"


if __name__ == "__main__":
    main()
