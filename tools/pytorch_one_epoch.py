#!/usr/bin/env python3
"""gantry's gan, dcgan, wgan or began trained on Fashion-MNIST in PyTorch, with the settings of
`gantry train --model NAME --epochs N` (batch 64), to see what the same networks give outside
gantry and to feed a quality table comparing the two:

  gan    Goodfellow et al. 2014, gantry's MLP GAN (as tools/pytorch_reference.py builds it):
         G = Linear(100,128) LReLU(.2) Linear(128,256) BN1d LReLU Linear(256,512) BN1d LReLU
             Linear(512,1024) BN1d LReLU Linear(1024,784) Tanh, reshaped to [N,1,28,28]
         D = Flatten Linear(784,512) LReLU(.2) Linear(512,256) LReLU Linear(256,1)
         PyTorch's default initialisation (gantry's gan initialises the same way: kaiming
         uniform, a = sqrt(5)); BCE with logits, non-saturating G loss -log D(G(z));
         Adam 2e-4 betas (0.5, 0.999) for both; per iteration one D step (real and fake
         batches; D has no batch norm, so they go through D as one stacked batch, as gantry
         runs them: the same values) then one G step on fresh z.
  dcgan  Radford et al. 2015 for 28x28: the dcgan G below; D = Conv(1,64,4,2,1) LReLU(.2)
         Conv(64,128,4,2,1) BN2d(128) LReLU(.2) Flatten Linear(6272,1); BCE with logits,
         non-saturating G loss; Adam 2e-4 betas (0.5, 0.999); per iteration one D step
         (D(real), then D(fake) as a separate batch: D has batch norm) then one G step.
  wgan   Arjovsky et al. 2017, Algorithm 1: dcgan G, dcgan critic, RMSProp 5e-5, n_critic 5,
         clip 0.01 after every critic update; an epoch is 937 critic batches (one real batch
         each), so G gets 187 updates per epoch.
  began  Berthelot et al. 2017: dcgan G, autoencoder D (gantry's), L1 reconstruction,
         gamma 0.5, lambda_k 0.001, k_0 = 0, Adam 1e-4 betas (0.5, 0.999).

  dcgan G = Linear(100,6272) Unflatten(128,7,7) BN2d(128) ReLU ConvT(128,64,4,2,1) BN2d(64)
            ReLU ConvT(64,1,4,2,1) Tanh
  The conv models (dcgan, wgan, began) start from weights N(0, 0.02), BN gamma N(1, 0.02),
  beta 0, biases PyTorch's default; gan keeps PyTorch's default initialisation.

An epoch is 60000 // 64 = 937 full batches of a fresh shuffle (the last 32 images are left out).

usage: /usr/bin/python3 tools/pytorch_one_epoch.py MODEL OUT.png [--epochs N] [--save-at 1,5]
           [--npy-prefix PREFIX] [--n 10000] [--threads T] [--seed 1] [--limit N]

  MODEL          gan, dcgan, wgan or began
  OUT.png        an 8x8 grid of G(z) for 64 fixed z (G in eval mode), written at the end
  --epochs N     epochs to train (default: the largest of --save-at, else 1)
  --save-at L    comma-separated epochs (e.g. 1,5) after which to write PREFIX-eN.npy
                 (default with --npy-prefix: the last epoch)
  --npy-prefix P write P-eN.npy: --n samples of G in eval mode (batch norm's running
                 statistics), z = torch.randn(n, 100) from a torch.Generator seeded with
                 --seed (the same z at every saved epoch), float32, shape [n,1,28,28],
                 values in [-1, 1], written with np.save
  --n N          samples per .npy (default 10000)
  --threads T    torch.set_num_threads and the BLAS/OpenMP pools (default: os.cpu_count());
                 OMP_WAIT_POLICY defaults to passive (spinning threads slow a shared machine
                 down 10-30x); set OMP_WAIT_POLICY=active in the environment to override
  --seed S       torch.manual_seed for training and the seed of the samples' z (default 1)
  --limit N      train on the first N images only (for a quick test; default all 60000)

The old form `pytorch_one_epoch.py wgan|began OUT.png` still trains one epoch and writes the
PNG.  A progress line is printed every 100 steps and a timing line after every epoch.  One epoch
with Debian's torch 1.13 on 2 cores that other jobs were also using took about 40 s (gan),
165 s (dcgan), 100 s (wgan) and 10 minutes (began); less on an idle machine.
"""
import argparse, gzip, os, struct, time, zlib
import numpy as np

MODELS = ("gan", "dcgan", "wgan", "began")
DATA = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'
B, Z = 64, 100


def positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("'%s' is not a whole number from 1 up" % text)
    return value


def epoch_list(text):
    try:
        return sorted({positive(t) for t in text.split(',') if t.strip()})
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError("'%s' is not a comma-separated list of epochs from 1 up" % text)


ap = argparse.ArgumentParser(description="Trains gantry's gan, dcgan, wgan or began on Fashion-MNIST in PyTorch.",
                             epilog="See the module docstring for the networks and optimizers.")
ap.add_argument("model", choices=MODELS)
ap.add_argument("out", metavar="OUT.png", help="8x8 grid of samples, written at the end")
ap.add_argument("--epochs", type=positive, default=None,
                help="epochs to train (default: the largest of --save-at, else 1)")
ap.add_argument("--save-at", type=epoch_list, default=None, metavar="1,5",
                help="epochs after which to write PREFIX-eN.npy (default: the last epoch)")
ap.add_argument("--npy-prefix", default=None, metavar="PREFIX",
                help="write PREFIX-eN.npy: --n samples, float32 [n,1,28,28] in [-1,1]")
ap.add_argument("--n", type=positive, default=10000, help="samples per .npy (default 10000)")
ap.add_argument("--threads", type=positive, default=None, help="torch threads (default: os.cpu_count())")
ap.add_argument("--seed", type=int, default=1, help="training seed and the samples' z seed (default 1)")
ap.add_argument("--limit", type=positive, default=None,
                help="train on the first N images only (quick tests; at least 64)")
args = ap.parse_args()
if args.save_at and not args.npy_prefix:
    ap.error("--save-at needs --npy-prefix")
if args.npy_prefix and not args.save_at:
    args.save_at = [args.epochs or 1]
epochs = args.epochs or (args.save_at[-1] if args.save_at else 1)
if args.save_at and args.save_at[-1] > epochs:
    ap.error("--save-at %d is past --epochs %d" % (args.save_at[-1], epochs))
if args.limit is not None and args.limit < B:
    ap.error("--limit must be at least %d (one batch)" % B)
model, out = args.model, args.out

# torch.set_num_threads sizes torch's OpenMP pool; the BLAS (Debian's OpenBLAS) sizes its own from
# the environment when it loads, so set that first (variables the caller set are left alone).
# OMP_WAIT_POLICY=passive: with OpenMP's default spinning, 2 threads on 2 cores that other
# processes also use ran 10-30x slower than 1 thread; passive waiting does not.
threads = args.threads or os.cpu_count() or 1
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(threads))
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
import torch, torch.nn as nn  # noqa: E402

torch.set_num_threads(threads)
torch.manual_seed(args.seed)
with gzip.open(DATA) as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32) / 127.5 - 1
if args.limit:
    x = x[:args.limit]
x = torch.from_numpy(x)
steps = len(x) // B


def decoder(i):
    return [nn.Linear(i, 128 * 49), nn.Unflatten(1, (128, 7, 7))]


def mlp_block(i, o, bn=True):
    return [nn.Linear(i, o)] + ([nn.BatchNorm1d(o)] if bn else []) + [nn.LeakyReLU(0.2)]


if model == "gan":  # tools/pytorch_reference.py's generator() and discriminator()
    G = nn.Sequential(*mlp_block(Z, 128, bn=False), *mlp_block(128, 256), *mlp_block(256, 512),
                      *mlp_block(512, 1024), nn.Linear(1024, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
else:
    G = nn.Sequential(*decoder(Z), nn.BatchNorm2d(128), nn.ReLU(), nn.ConvTranspose2d(128, 64, 4, 2, 1),
                      nn.BatchNorm2d(64), nn.ReLU(), nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh())
    # built after G, as the one-epoch script did: the biases' default init draws in this order
    encoder = [nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(64, 128, 4, 2, 1)]
    if model in ("dcgan", "wgan"):
        D = nn.Sequential(*encoder, nn.BatchNorm2d(128), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 1))
    else:
        D = nn.Sequential(*encoder, nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(6272, 64), *decoder(64), nn.ReLU(),
                          nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(64, 1, 4, 2, 1),
                          nn.Tanh())
    for m in list(G) + list(D):  # Radford et al.
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.02)
        if isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1, 0.02)
            nn.init.zeros_(m.bias)
if model == "wgan":
    oD, oG = (torch.optim.RMSprop(n.parameters(), lr=5e-5) for n in (D, G))
elif model == "began":
    oD, oG = (torch.optim.Adam(n.parameters(), lr=1e-4, betas=(0.5, 0.999)) for n in (D, G))
else:
    oD, oG = (torch.optim.Adam(n.parameters(), lr=2e-4, betas=(0.5, 0.999)) for n in (D, G))

bce = nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(B, 1), torch.zeros(B, 1)


def gan_step(real):
    """tools/pytorch_reference.py's GAN.train_step with one D step: gan stacks real and fake
    through D (no batch norm: the same values, as gantry does), dcgan runs them separately."""
    oD.zero_grad()
    if model == "gan":
        fake = G(torch.randn(B, Z))
        logits = D(torch.cat([real, fake.detach()]))
        logits_real, logits_fake = logits[:B], logits[B:]
        loss_real, loss_fake = bce(logits_real, ones), bce(logits_fake, zeros)
        (loss_real + loss_fake).backward()
    else:
        logits_real = D(real)
        loss_real = bce(logits_real, ones)
        loss_real.backward()
        fake = G(torch.randn(B, Z))
        logits_fake = D(fake.detach())
        loss_fake = bce(logits_fake, zeros)
        loss_fake.backward()
    oD.step()
    oG.zero_grad()
    D.requires_grad_(False)  # gradients flow through D to G, D's own are not accumulated
    loss_g = bce(D(G(torch.randn(B, Z))), ones)  # non-saturating: -log D(G(z))
    loss_g.backward()
    D.requires_grad_(True)
    oG.step()
    with torch.no_grad():
        d_real, d_fake = torch.sigmoid(logits_real).mean().item(), torch.sigmoid(logits_fake).mean().item()
    return "d_loss %.4f g_loss %.4f D(x) %.4f D(G(z)) %.4f" % (
        loss_real.item() + loss_fake.item(), loss_g.item(), d_real, d_fake)


def save_samples(path):
    """--n samples of G in eval mode from z seeded with --seed, float32 [n,1,28,28] in [-1,1]."""
    gen = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, Z, generator=gen)
    G.eval()
    with torch.no_grad():
        s = torch.cat([G(z[i:i + 500]) for i in range(0, args.n, 500)]).numpy().astype(np.float32)
    G.train()
    assert s.shape == (args.n, 1, 28, 28), s.shape
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    np.save(path, s)
    print("wrote", path, flush=True)


k = 0.0
perm = torch.randperm(len(x))
zfix = torch.randn(64, Z)
L = lambda v: (v - D(v)).abs().mean()  # BEGAN's reconstruction loss
print("%s: %d epoch(s) of %d steps, batch %d, %d thread(s), seed %d"
      % (model, epochs, steps, B, torch.get_num_threads(), args.seed), flush=True)
for epoch in range(1, epochs + 1):
    t0 = time.perf_counter()
    if epoch > 1:  # epoch 1 keeps the draw order of the one-epoch script
        perm = torch.randperm(len(x))
    for i in range(steps):
        real = x[perm[i * B:(i + 1) * B]]
        if model in ("gan", "dcgan"):
            report = gan_step(real)
        elif model == "wgan":
            oD.zero_grad()
            fake = G(torch.randn(B, Z)).detach()
            loss = -(D(real).mean() - D(fake).mean())
            loss.backward()
            oD.step()
            for p in D.parameters():
                p.data.clamp_(-0.01, 0.01)
            if (i + 1) % 5 == 0:
                oG.zero_grad()
                (-D(G(torch.randn(B, Z))).mean()).backward()
                oG.step()
            report = "wasserstein estimate %.4f" % -loss.item()
        else:
            oD.zero_grad()
            fake = G(torch.randn(B, Z)).detach()
            l_real = L(real)
            (l_real - k * L(fake)).backward()
            oD.step()
            oG.zero_grad()
            l_g = L(G(torch.randn(B, Z)))
            l_g.backward()
            oG.step()
            k = min(max(k + 0.001 * (0.5 * l_real.item() - l_g.item()), 0.0), 1.0)
            report = "L(x) %.4f L(G(z)) %.4f k_t %.4f" % (l_real.item(), l_g.item(), k)
        if i % 100 == 0 or i == steps - 1:
            print("epoch %d step %d: %s" % (epoch, i + 1, report), flush=True)
    print("epoch %d: %.1f s (%d steps)" % (epoch, time.perf_counter() - t0, steps), flush=True)
    if args.save_at and epoch in args.save_at:
        save_samples("%s-e%d.npy" % (args.npy_prefix, epoch))

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
