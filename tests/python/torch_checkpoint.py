#!/usr/bin/env python3
"""Loads a gantry GAN checkpoint into the equivalent torch.nn.Sequential and
checks that PyTorch's generator computes what `gantry sample` computed.

usage: torch_checkpoint.py CHECKPOINT SAMPLES.npy SEED

The noise is re-drawn here from the same Philox4x32-10 stream gantry uses
(include/gantry/philox.h), so any mismatch in names, shapes or weight layouts
shows up as a numeric difference.  Exits 77 (skipped) without torch.
"""
import json
import struct
import sys

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:
    print(f"{e.name} is not installed: skipped")
    sys.exit(77)


def load_safetensors(path):
    """A dependency-free safetensors reader: {name: tensor}, metadata."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    dtypes = {"F32": torch.float32, "I64": torch.int64}
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=dtypes[e["dtype"]])
        tensors[name] = t.reshape(e["shape"])
    return tensors, meta


def generator(z_dim, c, h, w):
    def block(i, o, bn=True):
        return [nn.Linear(i, o)] + ([nn.BatchNorm1d(o)] if bn else []) + [nn.LeakyReLU(0.2)]
    return nn.Sequential(*block(z_dim, 128, bn=False), *block(128, 256), *block(256, 512),
                         *block(512, 1024), nn.Linear(1024, c * h * w), nn.Tanh(),
                         nn.Unflatten(1, (c, h, w)))


def discriminator(c, h, w):
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, 512), nn.LeakyReLU(0.2),
                         nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))


def dcgan_generator(z_dim, c, h, w, width):
    """Radford et al. for 28x28, as gantry builds it (include/gantry/gan.h)."""
    return nn.Sequential(nn.Linear(z_dim, 2 * width * (h // 4) * (w // 4)),
                         nn.Unflatten(1, (2 * width, h // 4, w // 4)), nn.BatchNorm2d(2 * width), nn.ReLU(),
                         nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.ConvTranspose2d(width, c, 4, 2, 1), nn.Tanh())


class TutorialGenerator(nn.Module):
    """The PyTorch DCGAN tutorial's Generator (nz=100, ngf, nc), as written
    there: the state_dict of gantry's dcgan G at 64x64 RGB loads into its
    `main` with strict=True."""

    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x):
        return self.main(x)


class TutorialDiscriminator(nn.Module):
    def __init__(self, ndf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x)


def allconv_generator(z_dim, c, size, width):
    """The DCGAN paper's G at 32, 64 or 128 as gantry builds it (the
    tutorial's at 64); z as [N, z_dim, 1, 1]."""
    k = {32: 3, 64: 4, 128: 5}[size]
    ch = width << (k - 1)
    layers = [nn.ConvTranspose2d(z_dim, ch, 4, 1, 0, bias=False)]
    while True:
        layers += [nn.BatchNorm2d(ch), nn.ReLU()]
        if ch == width:
            break
        layers.append(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False))
        ch //= 2
    return nn.Sequential(*layers, nn.ConvTranspose2d(ch, c, 4, 2, 1, bias=False), nn.Tanh())


def allconv_discriminator(c, size, width):
    k = {32: 3, 64: 4, 128: 5}[size]
    layers, ch = [nn.Conv2d(c, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)], width
    for _ in range(1, k):
        layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2)]
        ch *= 2
    return nn.Sequential(*layers, nn.Conv2d(ch, 1, 4, 1, 0, bias=False), nn.Flatten())


def dcgan_discriminator(c, h, w, width):
    return nn.Sequential(nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
                         nn.Flatten(), nn.Linear(2 * width * (h // 4) * (w // 4), 1))


M0, M1, W0, W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox(seed, blocks):
    """Philox4x32-10 on counters `blocks` (uint64 array) -> 4 uint32 words each."""
    blocks = blocks.astype(np.uint64)
    c0 = blocks & MASK
    c1 = blocks >> np.uint64(32)
    c2 = np.zeros_like(c0)
    c3 = np.zeros_like(c0)
    k0, k1 = seed & MASK, (seed >> 32) & MASK
    for _ in range(10):
        p0 = np.uint64(M0) * c0
        p1 = np.uint64(M1) * c2
        n0 = (p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0)
        n2 = (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1)
        c1, c3, c0, c2 = p1 & MASK, p0 & MASK, n0, n2
        k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
    return np.stack([c0, c1, c2, c3], axis=1).astype(np.uint32)


def philox_normal(seed, offset, n):
    i = np.arange(n, dtype=np.uint64)
    words = philox(seed, np.uint64(offset) + i // np.uint64(2))
    w = (i % np.uint64(2)).astype(np.int64) * 2
    rows = np.arange(n)
    u1 = ((words[rows, w] >> 8).astype(np.float64) + 1.0) / 16777216.0
    u2 = (words[rows, w + 1] >> 8).astype(np.float64) / 16777216.0
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)).astype(np.float32)


def main():
    path, samples_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tensors, meta = load_safetensors(path)
    model = meta["model"]
    z_dim = int(meta["z_dim"])
    c, h, w = (int(v) for v in meta["image_shape"].split(","))

    z_shape = (z_dim,)
    if model == "gan":
        G, D = generator(z_dim, c, h, w), discriminator(c, h, w)
    elif model in ("dcgan", "lsgan", "wgan") and h == w == 64 and c == 3 and int(meta["width"]) == 64:
        # the PyTorch DCGAN tutorial's own classes: their `main` takes the state_dict as it is
        tg, td = TutorialGenerator(z_dim, 64, 3), TutorialDiscriminator(64, 3)
        G, D = tg.main, td.main
        z_shape = (z_dim, 1, 1)
        print("the PyTorch DCGAN tutorial's Generator.main and Discriminator.main")
    elif model in ("dcgan", "lsgan", "wgan") and h == w and h in (32, 64, 128):
        width = int(meta["width"])
        G, D = allconv_generator(z_dim, c, h, width), allconv_discriminator(c, h, width)
        z_shape = (z_dim, 1, 1)
    elif model in ("dcgan", "lsgan", "wgan"):
        width = int(meta["width"])
        G, D = dcgan_generator(z_dim, c, h, w, width), dcgan_discriminator(c, h, w, width)
    else:
        print(f"model {model}: no PyTorch equivalent defined here")
        sys.exit(1)
    G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")}, strict=True)
    D.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")}, strict=True)
    G.eval()

    ours = np.load(samples_path)
    n = ours.shape[0]
    z = torch.from_numpy(philox_normal(seed, 0, n * z_dim).reshape((n,) + z_shape))
    with torch.no_grad():
        theirs = G(z).numpy()
    err = float(np.abs(theirs - ours).max())
    print(f"loaded {len(tensors)} tensors; G output {theirs.shape}, max |torch - gantry| = {err:.3g}")
    if theirs.shape != ours.shape or not err < 1e-4:
        print("FAIL: PyTorch's generator does not reproduce gantry's samples")
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
