#!/usr/bin/env python3
"""The GAN that `gantry bench` times, in PyTorch, timed the same way.

usage: pytorch_reference.py [--model gan|dcgan] [--threads N] [--batch N] [--steps N] [--warmup N]
                            [--stack-d] [--device cpu|cuda] [--json]

The model, hyperparameters and training step are those of gantry's `gan`
(include/gantry/gan.h, core/gan/), so the numbers compare directly with
`gantry bench --batch N --steps N --warmup N`:

  G = Linear(100,128) LReLU(.2) Linear(128,256) BN LReLU Linear(256,512) BN LReLU
      Linear(512,1024) BN LReLU Linear(1024,784) Tanh Unflatten(1, (1,28,28))
  D = Flatten Linear(784,512) LReLU(.2) Linear(512,256) LReLU Linear(256,1)
  PyTorch's default initialisation; Adam(lr 2e-4, betas (0.5, 0.999)) for both;
  BCEWithLogitsLoss; z ~ N(0, I).

--model dcgan uses gantry's dcgan networks (Radford et al. for 28x28) with the
same training step:

  G = Linear(100,128*7*7) Unflatten BN2d(128) ReLU ConvT(128,64,4,2,1) BN2d(64)
      ReLU ConvT(64,1,4,2,1) Tanh
  D = Conv(1,64,4,2,1) LReLU(.2) Conv(64,128,4,2,1) BN2d(128) LReLU(.2) Flatten
      Linear(6272,1)

One step is Algorithm 1 of Goodfellow et al. (2014) exactly as core/gan/step.c runs
it: d_steps (1) discriminator updates, each: zero D's gradients, D(real) with
target 1 backward, fresh z, fake = G(z) in training mode, D(fake.detach()) with
target 0 backward, Adam step; then one generator update on fresh z with the
non-saturating loss -log D(G(z)), backpropagated through D without
accumulating D's parameter gradients (gantry_seq_backward(D, .., 0, ..)), and
an Adam step.  Like gantry, every step also reads back the losses and the
mean probabilities D(x) and D(G(z)).

gantry runs the discriminator update's real and fake batches through D as one
stacked batch of 2 x batch rows when D has no batch norm (the gan model: the
same values, every weight read once per pass).  The default here is the
usual PyTorch code, two D passes; --stack-d does what gantry does
(D(torch.cat([real, fake])), the two losses on the halves), for gan only.

The real images are synthetic, uniform in [-1, 1] (two batches the steps
cycle through, as `gantry bench` does).  Each step is timed on its own after
--warmup untimed steps; the report is the median ms per step and
images/s = batch * d_steps / median step time.

PyTorch is only a point of comparison: it is never a dependency of gantry.
Compare with the PyTorch users install today, from PyPI: tools/torch-venv.sh
makes .venv-torch/ with it, then

  .venv-torch/bin/python tools/pytorch_reference.py --model dcgan --threads 2

Every report names the PyTorch version and the CPU capability it dispatches
to (torch.backends.cpu.get_cpu_capability(): DEFAULT, AVX2, AVX512, ...).
Debian's python3-torch (1.13, /usr/bin/python3) also runs this, but it is an
AVX2-only build 2-4x slower than today's on AVX-512 CPUs.
"""
import argparse
import json
import os
import statistics
import sys
import time

torch = nn = None  # imported by main() once the thread counts are in the environment

Z_DIM, C, H, W = 100, 1, 28, 28
D_STEPS = 1
DATA_POOL = 2


def generator():
    def block(i, o, bn=True):
        return [nn.Linear(i, o)] + ([nn.BatchNorm1d(o)] if bn else []) + [nn.LeakyReLU(0.2)]
    return nn.Sequential(*block(Z_DIM, 128, bn=False), *block(128, 256), *block(256, 512),
                         *block(512, 1024), nn.Linear(1024, C * H * W), nn.Tanh(),
                         nn.Unflatten(1, (C, H, W)))


def discriminator():
    return nn.Sequential(nn.Flatten(), nn.Linear(C * H * W, 512), nn.LeakyReLU(0.2),
                         nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))


def dcgan_generator(width=64):
    """gantry's dcgan G (Radford et al. for 28x28), layer for layer."""
    return nn.Sequential(nn.Linear(Z_DIM, 2 * width * 7 * 7), nn.Unflatten(1, (2 * width, 7, 7)),
                         nn.BatchNorm2d(2 * width), nn.ReLU(),
                         nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.ConvTranspose2d(width, C, 4, 2, 1), nn.Tanh())


def dcgan_discriminator(width=64):
    return nn.Sequential(nn.Conv2d(C, width, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
                         nn.Flatten(), nn.Linear(2 * width * 7 * 7, 1))


def tutorial_generator(width=64):
    """The DCGAN paper's all-convolutional G, as gantry builds it for 32, 64 or
    128 pixels: at 64x64 RGB the PyTorch DCGAN tutorial's Generator.main.  It
    takes z as [N, Z_DIM, 1, 1]."""
    k = {32: 3, 64: 4, 128: 5}[H]
    ch = width << (k - 1)
    layers = [nn.Unflatten(1, (Z_DIM, 1, 1)), nn.ConvTranspose2d(Z_DIM, ch, 4, 1, 0, bias=False)]
    while True:
        layers += [nn.BatchNorm2d(ch), nn.ReLU(True)]
        if ch == width:
            break
        layers.append(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False))
        ch //= 2
    return nn.Sequential(*layers, nn.ConvTranspose2d(ch, C, 4, 2, 1, bias=False), nn.Tanh())


def tutorial_discriminator(width=64):
    """Its mirror, the tutorial's Discriminator.main with a logit (BCE with logits)."""
    k = {32: 3, 64: 4, 128: 5}[H]
    layers, ch = [nn.Conv2d(C, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)], width
    for _ in range(1, k):
        layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2),
                   nn.LeakyReLU(0.2, inplace=True)]
        ch *= 2
    return nn.Sequential(*layers, nn.Conv2d(ch, 1, 4, 1, 0, bias=False), nn.Flatten())


MODELS = {"gan": (generator, discriminator), "dcgan": (dcgan_generator, dcgan_discriminator)}


def models_for(model):
    """gantry's networks for the image size (--image-size): the 28x28 DCGAN or
    the paper's all-convolutional one."""
    if model == "dcgan" and H != 28:
        return tutorial_generator, tutorial_discriminator
    return MODELS[model]


class GAN:
    def __init__(self, batch, model="gan", seed=0, stack_d=False, device="cpu"):
        torch.manual_seed(seed)
        self.batch = batch
        self.stack_d = stack_d
        self.device = device
        make_g, make_d = models_for(model)
        self.G, self.D = make_g().to(device), make_d().to(device)
        self.G.train()
        self.D.train()
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()
        self.ones = torch.ones(batch, 1, device=device)
        self.zeros = torch.zeros(batch, 1, device=device)

    def discriminator_step_stacked(self, real):
        self.opt_d.zero_grad()
        z = torch.randn(self.batch, Z_DIM, device=self.device)
        fake = self.G(z)
        logits = self.D(torch.cat([real, fake.detach()]))
        logits_real, logits_fake = logits[:self.batch], logits[self.batch:]
        loss_real = self.bce(logits_real, self.ones)
        loss_fake = self.bce(logits_fake, self.zeros)
        (loss_real + loss_fake).backward()
        self.opt_d.step()
        with torch.no_grad():
            d_real = torch.sigmoid(logits_real).mean().item()
            d_fake = torch.sigmoid(logits_fake).mean().item()
        return loss_real.item() + loss_fake.item(), d_real, d_fake

    def discriminator_step(self, real):
        if self.stack_d:
            return self.discriminator_step_stacked(real)
        self.opt_d.zero_grad()
        logits_real = self.D(real)
        loss_real = self.bce(logits_real, self.ones)
        loss_real.backward()
        z = torch.randn(self.batch, Z_DIM, device=self.device)
        fake = self.G(z)
        logits_fake = self.D(fake.detach())
        loss_fake = self.bce(logits_fake, self.zeros)
        loss_fake.backward()
        self.opt_d.step()
        with torch.no_grad():
            d_real = torch.sigmoid(logits_real).mean().item()
            d_fake = torch.sigmoid(logits_fake).mean().item()
        return loss_real.item() + loss_fake.item(), d_real, d_fake

    def generator_step(self):
        self.opt_g.zero_grad()
        z = torch.randn(self.batch, Z_DIM, device=self.device)
        fake = self.G(z)
        # gradients flow through D to G, but D's own are not accumulated
        self.D.requires_grad_(False)
        loss = self.bce(self.D(fake), self.ones)  # non-saturating: -log D(G(z))
        loss.backward()
        self.D.requires_grad_(True)
        self.opt_g.step()
        return loss.item()

    def train_step(self, real):
        """real: [D_STEPS, batch, C, H, W]; returns d_loss, g_loss, d_real, d_fake."""
        d_loss = d_real = d_fake = 0.0
        for k in range(D_STEPS):
            loss, p_real, p_fake = self.discriminator_step(real[k])
            d_loss, d_real, d_fake = d_loss + loss, d_real + p_real, d_fake + p_fake
        g_loss = self.generator_step()
        if self.device != "cpu":
            torch.cuda.synchronize()  # the last Adam step too, as gantry bench synchronizes its backend
        return d_loss / D_STEPS, g_loss, d_real / D_STEPS, d_fake / D_STEPS


def cpu_description():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "cpu"


def cpu_capability():
    """The kernels PyTorch dispatches to on this CPU (AVX512, AVX2, ...):
    torch.backends.cpu from 2.1 on, the build summary before."""
    try:
        return torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        for line in torch.__config__.show().splitlines():
            if "CPU capability usage:" in line:
                return line.split(":", 1)[1].strip()
    return "unknown"


def online_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from 1 up")
    return value


def non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from 0 up")
    return value


def import_torch(threads):
    """Imports torch with every thread pool it may use sized to `threads`:
    torch.set_num_threads covers its OpenMP pool, but the BLAS it calls
    (Debian's: OpenBLAS) sizes its own pool from the environment at load
    time.  Variables the caller set are left alone."""
    global torch, nn
    pools = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    for var in pools:
        os.environ.setdefault(var, str(threads))
    try:
        import torch as torch_module
        from torch import nn as nn_module
    except ImportError:
        sys.exit("pytorch_reference.py: PyTorch is not installed for this Python; make a virtual environment "
                 "with it (tools/torch-venv.sh) and run .venv-torch/bin/python tools/pytorch_reference.py")
    torch, nn = torch_module, nn_module
    torch.set_num_threads(threads)
    return {var: os.environ[var] for var in pools}


def main():
    ap = argparse.ArgumentParser(description="Times gantry's GAN training step in PyTorch (CPU or CUDA).")
    ap.add_argument("--threads", type=positive, default=None,
                    help="torch.set_num_threads (default: every online CPU)")
    ap.add_argument("--model", choices=sorted(MODELS), default="gan",
                    help="gantry's gan (default) or dcgan, with the same networks and Adam settings")
    ap.add_argument("--batch", type=positive, default=64, help="minibatch size (default 64)")
    ap.add_argument("--steps", type=positive, default=50, help="timed steps (default 50)")
    ap.add_argument("--warmup", type=non_negative, default=5, help="untimed steps first (default 5)")
    ap.add_argument("--stack-d", action="store_true",
                    help="gan: one D pass over real and fake stacked, as gantry runs it (default: two passes)")
    ap.add_argument("--image-size", type=int, choices=(28, 32, 64, 128), default=28,
                    help="square images of this size (default 28); dcgan at 32 to 128 is the DCGAN paper's "
                         "all-convolutional networks, at 64 the PyTorch DCGAN tutorial's")
    ap.add_argument("--channels", type=int, choices=(1, 3), default=1, help="1 (default) or 3 (RGB)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where PyTorch trains (default cpu; cuda: the first CUDA GPU)")
    ap.add_argument("--bf16", action="store_true",
                    help="mixed precision: torch.autocast with bfloat16 around every step (the optimizers stay fp32)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = ap.parse_args()
    if args.stack_d and args.model != "gan":
        ap.error("--stack-d is for gan only (dcgan's D has batch norm, which a stacked batch would change)")
    if args.batch < 2:
        ap.error("--batch must be at least 2 (batch norm)")

    global C, H, W
    C, H, W = args.channels, args.image_size, args.image_size
    threads = args.threads if args.threads else online_cpus()
    pools = import_torch(threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("pytorch_reference.py: --device cuda, but this PyTorch (%s) sees no CUDA GPU" % torch.__version__)
    gan = GAN(args.batch, args.model, stack_d=args.stack_d, device=args.device)
    data_gen = torch.Generator().manual_seed(0xB3AC4DA7A5EED)
    pool = (torch.rand(DATA_POOL, D_STEPS, args.batch, C, H, W, generator=data_gen) * 2 - 1).to(args.device)

    if not args.json:
        print(f"pytorch_reference: {args.warmup} warm-up and {args.steps} timed steps...", file=sys.stderr)
    times, cpu_times = [], []
    stats = None
    for step in range(args.warmup + args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        if args.bf16:
            with torch.autocast(device_type=args.device, dtype=torch.bfloat16):
                stats = gan.train_step(pool[step % DATA_POOL])
        else:
            stats = gan.train_step(pool[step % DATA_POOL])
        t, c = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
        if step >= args.warmup:
            times.append(t)
            cpu_times.append(c)
    med = statistics.median(times)
    result = {
        "ms_per_step": med,
        "images_per_s": args.batch * D_STEPS / (med * 1e-3),
        "ms_min": min(times),
        "ms_max": max(times),
        "ms_mean": statistics.fmean(times) if hasattr(statistics, "fmean") else statistics.mean(times),
        "cpu_ms_per_step": statistics.median(cpu_times),
        "steps": args.steps,
        "warmup": args.warmup,
        "d_steps": D_STEPS,
        "backend": "pytorch",
        "backend_description": (f"PyTorch {torch.__version__} on the CPU, capability {cpu_capability()}"
                                if args.device == "cpu" else
                                f"PyTorch {torch.__version__} on CUDA {torch.version.cuda}"),
        "torch_version": torch.__version__,
        "cpu_capability": cpu_capability(),
        "device": cpu_description() if args.device == "cpu" else torch.cuda.get_device_name(0),
        "torch_device": args.device,
        "model": args.model,
        "image_shape": [C, H, W],
        "precision": "bf16 autocast" if args.bf16 else "fp32",
        "stack_d": args.stack_d,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "threads_source": "--threads" if args.threads else "online CPUs",
        "thread_pools": pools,
        "last_losses": {"d_loss": stats[0], "g_loss": stats[1], "d_real": stats[2], "d_fake": stats[3]},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"backend:  pytorch ({result['backend_description']})")
    print(f"device:   {result['device']}")
    print(f"threads:  {result['threads']} ({result['threads_source']}; "
          + ", ".join(f"{k}={v}" for k, v in pools.items()) + ")")
    print(f"model:    {args.model}, batch {args.batch}, d_steps {D_STEPS}"
          + (", D's real and fake batches stacked" if args.stack_d else ""))
    print(f"steps:    {args.steps} timed after {args.warmup} warm-up")
    print(f"median:   {med:.3f} ms/step  (min {result['ms_min']:.3f}, max {result['ms_max']:.3f}, "
          f"mean {result['ms_mean']:.3f})")
    print(f"images/s: {result['images_per_s']:.1f}  (batch * d_steps / median step time)")
    print(f"cpu time: {result['cpu_ms_per_step']:.3f} ms/step (median, all threads of the process)")


if __name__ == "__main__":
    main()
