#!/usr/bin/env python3
"""One epoch of gantry's wgan or began on Fashion-MNIST, in PyTorch, with the settings of
`gantry train --model NAME --epochs 1` (batch 64; dcgan G; weights N(0, 0.02), BN gamma
N(1, 0.02)), to see what one epoch gives outside gantry:

  wgan   Arjovsky et al. 2017, Algorithm 1: dcgan critic, RMSProp 5e-5, n_critic 5,
         clip 0.01 after every critic update
  began  Berthelot et al. 2017: autoencoder D (gantry's), L1 reconstruction, gamma 0.5,
         lambda_k 0.001, k_0 = 0, Adam 1e-4 betas (0.5, 0.999)

usage: /usr/bin/python3 tools/pytorch_one_epoch.py wgan|began OUT.png
       (5-10 minutes on one core; prints a progress line every 100 steps)
"""
import gzip, struct, sys, zlib
import numpy as np, torch, torch.nn as nn

if len(sys.argv) != 3 or sys.argv[1] not in ("wgan", "began"):
    sys.exit(__doc__)
model, out = sys.argv[1], sys.argv[2]
torch.set_num_threads(1)
torch.manual_seed(1)
with gzip.open('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 127.5 - 1
x = torch.from_numpy(x)


def decoder(i):
    return [nn.Linear(i, 128 * 49), nn.Unflatten(1, (128, 7, 7))]


G = nn.Sequential(*decoder(100), nn.BatchNorm2d(128), nn.ReLU(), nn.ConvTranspose2d(128, 64, 4, 2, 1),
                  nn.BatchNorm2d(64), nn.ReLU(), nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
encoder = [nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1)]
if model == "wgan":
    D = nn.Sequential(*encoder, nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 1))
else:
    D = nn.Sequential(*encoder, nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 64), *decoder(64), nn.ReLU(),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
for m in list(G) + list(D):
    if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0, 0.02)
    if isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1, 0.02)
        nn.init.zeros_(m.bias)
if model == "wgan":
    oD, oG = (torch.optim.RMSprop(n.parameters(), lr=5e-5) for n in (D, G))
else:
    oD, oG = (torch.optim.Adam(n.parameters(), lr=1e-4, betas=(0.5, 0.999)) for n in (D, G))

B, k = 64, 0.0
perm = torch.randperm(len(x))
zfix = torch.randn(64, 100)
L = lambda v: (v - D(v)).abs().mean()  # BEGAN's reconstruction loss
for i in range(len(x) // B):
    real = x[perm[i * B:(i + 1) * B]]
    oD.zero_grad()
    fake = G(torch.randn(B, 100)).detach()
    if model == "wgan":
        loss = -(D(real).mean() - D(fake).mean())
        loss.backward()
        oD.step()
        for p in D.parameters():
            p.data.clamp_(-0.01, 0.01)
        if (i + 1) % 5 == 0:
            oG.zero_grad()
            (-D(G(torch.randn(B, 100))).mean()).backward()
            oG.step()
        report = "wasserstein estimate %.4f" % -loss.item()
    else:
        l_real = L(real)
        (l_real - k * L(fake)).backward()
        oD.step()
        oG.zero_grad()
        l_g = L(G(torch.randn(B, 100)))
        l_g.backward()
        oG.step()
        k = min(max(k + 0.001 * (0.5 * l_real.item() - l_g.item()), 0.0), 1.0)
        report = "L(x) %.4f L(G(z)) %.4f k_t %.4f" % (l_real.item(), l_g.item(), k)
    if i % 100 == 0 or i == len(x) // B - 1:
        print("step %d: %s" % (i + 1, report), flush=True)

G.eval()
with torch.no_grad():
    s = G(zfix).numpy()
grid = np.zeros((8 * 30 + 2, 8 * 30 + 2), np.uint8)
for j in range(64):
    r, c = divmod(j, 8)
    grid[2 + r * 30:2 + r * 30 + 28, 2 + c * 30:2 + c * 30 + 28] = ((s[j, 0] + 1) * 127.5).clip(0, 255).astype(np.uint8)


def chunk(t, d):
    return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)


raw = b''.join(b'\x00' + grid[y].tobytes() for y in range(grid.shape[0]))
with open(out, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', grid.shape[1], grid.shape[0], 8, 0, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
print("wrote", out)
