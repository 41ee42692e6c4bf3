#!/usr/bin/env python3
"""WGAN (Arjovsky et al. 2017, Algorithm 1) on gantry's dcgan networks for one epoch of
Fashion-MNIST, in PyTorch, with the settings of `gantry train --model wgan --epochs 1`
(RMSProp 5e-5, n_critic 5, clip 0.01 after every critic update, weights N(0, 0.02),
BN gamma N(1, 0.02), batch 64): what one epoch gives outside gantry.

usage: /usr/bin/python3 tools/pytorch_wgan_epoch.py OUT.png   (about 5 minutes on one core)
"""
import gzip, struct, sys, zlib
import numpy as np, torch, torch.nn as nn
if len(sys.argv) != 2:
    sys.exit(__doc__)
torch.set_num_threads(1); torch.manual_seed(1)
with gzip.open('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 127.5 - 1
x = torch.from_numpy(x)
G = nn.Sequential(nn.Linear(100, 128*49), nn.Unflatten(1, (128, 7, 7)), nn.BatchNorm2d(128), nn.ReLU(),
                  nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(), nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
D = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1), nn.BatchNorm2d(128),
                  nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 1))
for m in list(G) + list(D):
    if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)): nn.init.normal_(m.weight, 0, 0.02)
    if isinstance(m, nn.BatchNorm2d): nn.init.normal_(m.weight, 1, 0.02); nn.init.zeros_(m.bias)
oD = torch.optim.RMSprop(D.parameters(), lr=5e-5); oG = torch.optim.RMSprop(G.parameters(), lr=5e-5)
perm = torch.randperm(len(x)); B = 64; steps = len(x) // B
zfix = torch.randn(64, 100)
for i in range(steps):
    real = x[perm[i*B:(i+1)*B]]
    oD.zero_grad()
    fake = G(torch.randn(B, 100)).detach()
    loss_d = -(D(real).mean() - D(fake).mean()); loss_d.backward(); oD.step()
    for p in D.parameters(): p.data.clamp_(-0.01, 0.01)
    if (i + 1) % 5 == 0:
        oG.zero_grad(); loss_g = -D(G(torch.randn(B, 100))).mean(); loss_g.backward(); oG.step()
    if i % 100 == 0: print(i, -loss_d.item(), flush=True)
G.eval()
with torch.no_grad(): s = G(zfix).numpy()
grid = np.zeros((8*30+2, 8*30+2), np.uint8)
for k in range(64):
    r, c = divmod(k, 8); grid[2+r*30:2+r*30+28, 2+c*30:2+c*30+28] = ((s[k, 0] + 1) * 127.5).clip(0, 255).astype(np.uint8)
def png(path, a):
    raw = b''.join(b'\x00' + a[y].tobytes() for y in range(a.shape[0]))
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', a.shape[1], a.shape[0], 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
png(sys.argv[1], grid)
print('wrote', sys.argv[1])
