#!/usr/bin/env python3
"""One gan or dcgan training step in gantry and in PyTorch from the same state.

usage: torch_step.py CHECKPOINT_STEP0 CHECKPOINT_STEP1 LOG_CSV DATA_DIR

gantry wrote CHECKPOINT_STEP0 with `train --steps 0` and CHECKPOINT_STEP1 and
LOG_CSV with `train --steps 1` (same seed), on a data set of exactly one
batch (--limit = --batch), so the real batch is the first `batch` training
images in some order; batch norm and the mean losses make one step
independent of that order.  Here PyTorch loads step 0 into the equivalent
nn.Sequential models, draws the same noise from the Philox stream at the
checkpoint's noise_offset, runs Algorithm 1 once (D: real and fake BCE terms,
Adam; G: non-saturating loss through D, Adam) and must reproduce gantry's
losses and updated weights.  For gan this checks gantry's fast paths against
PyTorch's plain ones: gantry runs the real and the fake batch through its
batch-norm-free D as one stacked batch, and both of a step's noise batches
through its MLP G at once (batch norm per half), where PyTorch runs two
passes of each.  Exits 77 (skipped) without torch.
"""
import gzip
import sys

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:
    print(f"{e.name} is not installed: skipped")
    sys.exit(77)

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from torch_checkpoint import (  # noqa: E402
    dcgan_discriminator,
    dcgan_generator,
    discriminator,
    generator,
    load_safetensors,
    philox_normal,
)


def real_batch(data_dir, n):
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"):
        try:
            raw = (gzip.open if name.endswith(".gz") else open)(f"{data_dir}/{name}", "rb").read()
            break
        except OSError:
            continue
    count, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    pixels = np.frombuffer(raw[16:16 + n * rows * cols], dtype=np.uint8).astype(np.float32)
    return torch.from_numpy(pixels.reshape(n, 1, rows, cols) / np.float32(127.5) - np.float32(1.0))


def main():
    ck0, ck1, log_path, data_dir = sys.argv[1:5]
    t0, meta = load_safetensors(ck0)
    t1, _ = load_safetensors(ck1)
    model = meta["model"]
    assert model in ("gan", "dcgan"), model
    batch, z_dim = int(meta["batch"]), int(meta["z_dim"])
    seed, offset = int(meta["seed"]), int(meta["noise_offset"])
    lr = float(meta["lr"])
    b1, b2 = (float(v) for v in meta["betas"].split(","))
    if model == "dcgan":
        width = int(meta["width"])
        G, D = dcgan_generator(z_dim, 1, 28, 28, width), dcgan_discriminator(1, 28, 28, width)
    else:
        G, D = generator(z_dim, 1, 28, 28), discriminator(1, 28, 28)
    G.load_state_dict({k[2:]: v for k, v in t0.items() if k.startswith("G.")}, strict=True)
    D.load_state_dict({k[2:]: v for k, v in t0.items() if k.startswith("D.")}, strict=True)
    G.train()
    D.train()
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(b1, b2), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(b1, b2), eps=1e-8)
    bce = nn.BCEWithLogitsLoss()
    real = real_batch(data_dir, batch)
    blocks = (batch * z_dim + 1) // 2

    opt_d.zero_grad()
    loss_real = bce(D(real), torch.ones(batch, 1))
    loss_real.backward()
    z = torch.from_numpy(philox_normal(seed, offset, batch * z_dim).reshape(batch, z_dim))
    loss_fake = bce(D(G(z).detach()), torch.zeros(batch, 1))
    loss_fake.backward()
    opt_d.step()
    opt_g.zero_grad()
    z = torch.from_numpy(philox_normal(seed, offset + blocks, batch * z_dim).reshape(batch, z_dim))
    D.requires_grad_(False)
    loss_g = bce(D(G(z)), torch.ones(batch, 1))
    loss_g.backward()
    opt_g.step()

    row = open(log_path).read().strip().split("\n")[1].split(",")
    d_loss, g_loss = float(row[1]), float(row[2])
    ours = (loss_real + loss_fake).item(), loss_g.item()
    print(f"d_loss gantry {d_loss:.7f} torch {ours[0]:.7f}; g_loss gantry {g_loss:.7f} torch {ours[1]:.7f}")
    fail = abs(d_loss - ours[0]) > 1e-4 * abs(ours[0]) or abs(g_loss - ours[1]) > 1e-4 * abs(ours[1])

    # Adam's first step moves every weight by about lr * sign(g); a gradient
    # component at rounding-noise level may flip sign between the two, so a
    # few weights may differ by up to 2 lr.  Everything else agrees closely.
    state = {**{"G." + k: v for k, v in G.state_dict().items()}, **{"D." + k: v for k, v in D.state_dict().items()}}
    worst, flipped, total = 0.0, 0, 0
    for name, theirs in state.items():
        mine = t1[name].to(theirs.dtype).reshape(theirs.shape)
        diff = (mine - theirs).abs().double()
        total += diff.numel()
        if name.endswith("num_batches_tracked"):
            fail |= bool(diff.max() != 0)
            continue
        flipped += int((diff > lr * 1e-2).sum())
        worst = max(worst, float(diff.max()))
    print(f"{total} state values after one step: {flipped} differ by more than lr/100 (worst {worst:.3g}, lr {lr:g})")
    if fail or flipped > total * 1e-3 or worst > 2.5 * lr:
        print(f"FAIL: PyTorch's {model} step does not reproduce gantry's")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
