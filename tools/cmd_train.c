/* `gantry train`: its options and --help, then the three phases of a run
 * (tools/train.h): prepare, run the steps, finish. */
#include <getopt.h>
#include <string.h>

#include "tools/cli.h"
#include "tools/train.h"

static void help(void)
{
    printf("usage: gantry train [options]\n\n"
           "Trains a GAN and writes into the output directory:\n"
           "  samples.png              the latest grid of samples from fixed noise: 8x8, or one row\n"
           "                           of 8 per class for the conditional models\n"
           "  samples-STEP.png         the grid at each sampling step\n"
           "  log.csv                  step,d_loss,g_loss,d_real,d_fake,wasserstein,k,m_global,\n"
           "                           d_class,seconds (model-specific columns are 0 elsewhere)\n"
           "  checkpoint.safetensors   G and D with PyTorch state_dict names\n"
           "  train-state.safetensors  the optimizers' state and counters, for --resume\n\n"
           "models (each with its paper's defaults):\n"
           "  gan     Goodfellow et al. 2014, Generative Adversarial Nets: MLP G and D,\n"
           "          Algorithm 1 with --d-steps K; Adam 2e-4, betas (0.5, 0.999)\n"
           "  cgan    Mirza & Osindero 2014, Conditional GANs: gan with one-hot labels\n"
           "          concatenated to z and to D's input\n"
           "  dcgan   Radford et al. 2015, DCGAN: Linear+ConvTranspose2d G, Conv2d D,\n"
           "          BatchNorm, (Leaky)ReLU; weights N(0, 0.02); Adam 2e-4, betas (0.5, 0.999)\n"
           "  cdcgan  dcgan with labels concatenated to z and as extra input channels of D\n"
           "  wgan    Arjovsky et al. 2017, Wasserstein GAN: dcgan networks, critic without\n"
           "          sigmoid, RMSProp 5e-5, --n-critic 5, --clip 0.01; log.csv's wasserstein\n"
           "          column is the paper's estimate of the distance\n"
           "  lsgan   Mao et al. 2017, Least Squares GANs: dcgan networks, 1/2 (D - b)^2 losses\n"
           "          with a = 0, b = c = 1\n"
           "  began   Berthelot et al. 2017, BEGAN: dcgan G, autoencoder D with L1\n"
           "          reconstruction loss, gamma 0.5, lambda_k 0.001, Adam 1e-4; log.csv has k\n"
           "          and the convergence measure m_global\n"
           "  sgan    Salimans et al. 2016, semi-supervised GAN: D is a K-class classifier with\n"
           "          D(x) = Z/(Z+1); trains on --labeled N labelled images plus the rest\n"
           "          unlabelled, then reports accuracy on the test split\n"
           "  classifier  not a GAN: the feature network of gantry eval, a small CNN trained on\n"
           "          labelled images (default 8 epochs, Adam 1e-3, the last quarter of the\n"
           "          epochs at 1e-4); writes classifier.safetensors and log.csv\n"
           "          (epoch,step,loss,test_accuracy,seconds); takes --data, --test-data,\n"
           "          --image-size, --channels, --limit, --epochs, --steps, --batch, --lr,\n"
           "          --seed, --out, --backend, --quiet\n\n"
           "options:\n"
           "  --model NAME        model to train (default gan)\n"
           "  --data SRC          fashion-mnist (default; GANTRY_DATA_DIR or\n"
           "                      /usr/share/datasets/fashion-mnist), or your images: a folder of\n"
           "                      PNG and JPEG files, searched recursively (class subfolders give\n"
           "                      the labels of cgan, cdcgan and sgan, as torchvision's ImageFolder),\n"
           "                      an .npy array [N, C, H, W] or [N, H, W, C] (uint8 or float), the\n"
           "                      folder of CIFAR-10's binary batches, or a folder of IDX files.\n"
           "                      A folder's decoded images are cached (GANTRY_CACHE_DIR)\n"
           "  --image-size S      resize (antialiased) and centre-crop to S x S (default: the\n"
           "                      images' own size when they all share one, else 64); the conv\n"
           "                      models train on 28 and on 32, 64 or 128\n"
           "  --channels C        1 (grayscale) or 3 (RGB) (default: the data's)\n"
           "  --limit N           use only the first N training images\n"
           "  --steps N           generator updates to run (0: write the initial model only)\n"
           "  --epochs N          passes over the data (default 1; exclusive with --steps)\n"
           "  --batch N           minibatch size (default 64)\n"
           "  --d-steps K         discriminator updates per generator update (default 1)\n"
           "  --g-loss L          nonsat: minimise -log D(G(z)) (default)\n"
           "                      minimax: minimise log(1 - D(G(z))), the paper's objective\n"
           "  --n-critic K        the same as --d-steps (wgan's name for it; default 5 there)\n"
           "  --lr X              learning rate (default: the model's)\n"
           "  --width W           channels of the conv networks (default 64; at 28x28 G 2W, W and\n"
           "                      D W, 2W; at 64x64 G 8W ... W and D W ... 8W, as the DCGAN paper)\n"
           "  --clip C            clip D's weights to [-C, C] after each update (wgan: 0.01)\n"
           "  --label-smoothing A one-sided label smoothing: D's target for real data is A\n"
           "                      (fake stays 0); default 1 (none)\n"
           "  --minibatch-disc    minibatch discrimination (50 kernels of 5) before D's last layer\n"
           "  --feature-matching  G minimises ||E f(x) - E f(G(z))||^2 over D's penultimate\n"
           "                      features instead of its adversarial loss\n"
           "  --vbn               virtual batch norm in G (Salimans et al. 2016): each example is\n"
           "                      normalised with the statistics of a fixed reference batch of noise\n"
           "                      plus itself; G runs the reference batch before each forward pass\n"
           "  --ref-bn            reference batch norm in G (NIPS 2016 GAN tutorial): every example is\n"
           "                      normalised with the reference batch's statistics alone\n"
           "  --unroll K          unrolled GAN (Metz et al. 2017): before each G update, D takes K\n"
           "                      more steps on the last real batch; G updates against that D, then\n"
           "                      D is restored.  First-order: the gradient does NOT flow through\n"
           "                      the unrolled D updates, only through the unrolled D's output\n"
           "  --labeled N         sgan: labelled training images, N / 10 per class (default 1000)\n"
           "  --test-data SRC     sgan: the images its accuracy is measured on (default: the\n"
           "                      data's test split; a source without one keeps its last 10%%)\n"
           "  --began-gamma G     began: the diversity ratio gamma = E L(G(z)) / E L(x) (default 0.5;\n"
           "                      higher trades quality for diversity)\n"
           "  --began-lambda-k L  began: the step of the k_t control (default 0.001, the paper's;\n"
           "                      larger lets D push back on G's samples sooner)\n"
           "  --eval-every N      every N steps and at the end, gantry eval's metrics on %d samples\n"
           "                      against as many test images: log.csv gets the columns\n"
           "                      fd,is,covered,class_kl,precision,recall, the progress line the FD,\n"
           "                      and the checkpoint of the best FD so far is kept as\n"
           "                      checkpoint-best.safetensors (see gantry eval --help)\n"
           "  --features FILE     the classifier of --eval-every (default: the one gantry eval uses\n"
           "                      for --data, trained on first use)\n"
           "  --seed S            weights, noise and data order (default 0)\n"
           "  --sample-every N    write samples and a checkpoint every N steps (default 200)\n"
           "  --out DIR           output directory (default runs/MODEL-YYYYmmdd-HHMMSS)\n"
           "  --backend NAME      backend (default: GANTRY_BACKEND, else auto)\n"
           "  --quiet             no progress output\n"
           "  --resume DIR        continue the run in DIR from its last save, with its model,\n"
           "                      settings, data order and noise: the result is bit for bit that\n"
           "                      of an uninterrupted run (on the same backend).  --steps/--epochs\n"
           "                      then count from the run's start (default: its own end); only\n"
           "                      --data and --test-data (moved data), --sample-every, --backend and\n"
           "                      --quiet may be given with it\n\n"
           "MPI (a build with it): `mpirun -np N gantry train ...` trains one model data-parallel:\n"
           "--batch is the global batch, each rank draws batch/N of its images and of the noise on\n"
           "its own backend (GANTRY_BACKEND and GANTRY_OPENCL_DEVICE per rank: mpirun -x, or an\n"
           "app context), the ranks average their gradients before every update, and rank 0\n"
           "writes the files.  Batch norm uses each rank's own statistics.  --resume needs the\n"
           "same N.  See docs/mpi.md.\n"
           "  --check-every K     compare a hash of the ranks' weights every K steps and at every\n"
           "                      save; differing weights stop the run (default 100; 0: at saves)\n"
           "  --sync-bn           batch norm with the statistics of every rank's rows (PyTorch's\n"
           "                      SyncBatchNorm): the same model as one process at the global batch,\n"
           "                      for two host round trips per batch norm layer and pass\n"
           "  --mpi-timeout S     a rank that waits S seconds for the others in a step ends the\n"
           "                      job with an error (a rank died or hangs; default 120)\n\n"
           "Ctrl-C stops after the current step and still writes samples, the checkpoint and the\n"
           "training state; `gantry train --resume DIR` continues from there.\n",
           TRAIN_EVAL_SAMPLES);
}

static int parse(int argc, char **argv, train_options *o)
{
    enum { O_MODEL = 256, O_DATA, O_LIMIT, O_STEPS, O_EPOCHS, O_BATCH, O_DSTEPS, O_GLOSS, O_LR, O_SEED, O_EVERY,
           O_OUT, O_BACKEND, O_QUIET, O_WIDTH, O_CLIP, O_SMOOTH, O_MBD, O_FM, O_LABELED, O_VBN, O_UNROLL, O_REFBN, O_GAMMA,
           O_LAMBDA_K, O_RESUME, O_IMAGE_SIZE, O_CHANNELS, O_TEST_DATA, O_EVAL_EVERY, O_FEATURES, O_CHECK_EVERY,
           O_MPI_TIMEOUT, O_SYNC_BN };
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },          { "model", required_argument, NULL, O_MODEL },
        { "data", required_argument, NULL, O_DATA },   { "limit", required_argument, NULL, O_LIMIT },
        { "steps", required_argument, NULL, O_STEPS }, { "epochs", required_argument, NULL, O_EPOCHS },
        { "batch", required_argument, NULL, O_BATCH }, { "d-steps", required_argument, NULL, O_DSTEPS },
        { "g-loss", required_argument, NULL, O_GLOSS }, { "lr", required_argument, NULL, O_LR },
        { "seed", required_argument, NULL, O_SEED },   { "sample-every", required_argument, NULL, O_EVERY },
        { "out", required_argument, NULL, O_OUT },     { "backend", required_argument, NULL, O_BACKEND },
        { "quiet", no_argument, NULL, O_QUIET },       { "n-critic", required_argument, NULL, O_DSTEPS },
        { "width", required_argument, NULL, O_WIDTH }, { "clip", required_argument, NULL, O_CLIP },
        { "label-smoothing", required_argument, NULL, O_SMOOTH },
        { "minibatch-disc", no_argument, NULL, O_MBD }, { "feature-matching", no_argument, NULL, O_FM },
        { "labeled", required_argument, NULL, O_LABELED }, { "vbn", no_argument, NULL, O_VBN },
        { "unroll", required_argument, NULL, O_UNROLL }, { "ref-bn", no_argument, NULL, O_REFBN },
        { "began-gamma", required_argument, NULL, O_GAMMA },
        { "began-lambda-k", required_argument, NULL, O_LAMBDA_K }, { "resume", required_argument, NULL, O_RESUME },
        { "image-size", required_argument, NULL, O_IMAGE_SIZE }, { "channels", required_argument, NULL, O_CHANNELS },
        { "test-data", required_argument, NULL, O_TEST_DATA },
        { "eval-every", required_argument, NULL, O_EVAL_EVERY }, { "features", required_argument, NULL, O_FEATURES },
        { "check-every", required_argument, NULL, O_CHECK_EVERY },
        { "mpi-timeout", required_argument, NULL, O_MPI_TIMEOUT }, { "sync-bn", no_argument, NULL, O_SYNC_BN },
        { 0, 0, 0, 0 },
    };
    static const char cmd[] = "train";
    int c, index = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, &index)) != -1) {
        int bad = 0;
        /* What a resumed run takes from its directory (the rest may change). */
        if (c >= O_MODEL && c != O_DATA && c != O_STEPS && c != O_EPOCHS && c != O_EVERY && c != O_BACKEND &&
            c != O_QUIET && c != O_RESUME && c != O_TEST_DATA && c != O_CHECK_EVERY && c != O_MPI_TIMEOUT &&
            !o->setting && index >= 0)
            o->setting = options[index].name;
        /* What --model classifier has no use for. */
        if (c >= O_MODEL && c != O_MODEL && c != O_DATA && c != O_TEST_DATA && c != O_IMAGE_SIZE &&
            c != O_CHANNELS && c != O_LIMIT && c != O_EPOCHS && c != O_STEPS && c != O_BATCH && c != O_LR &&
            c != O_SEED && c != O_OUT && c != O_BACKEND && c != O_QUIET && !o->gan_only && index >= 0)
            o->gan_only = options[index].name;
        index = -1;
        switch (c) {
        case 'h': help(); return 1;
        case O_MODEL: o->model = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_LIMIT: bad = cli_parse_u64(cmd, "--limit", optarg, 1, 1u << 30, &o->limit); break;
        case O_STEPS:
            o->steps_set = 1;
            bad = cli_parse_u64(cmd, "--steps", optarg, 0, 1ull << 40, &o->steps);
            break;
        case O_EPOCHS: bad = cli_parse_u64(cmd, "--epochs", optarg, 1, 100000, &o->epochs); break;
        case O_BATCH: bad = cli_parse_u64(cmd, "--batch", optarg, 2, 65536, &o->batch); break;
        case O_DSTEPS: bad = cli_parse_u64(cmd, "--d-steps", optarg, 1, 100, &o->d_steps); break;
        case O_LR: bad = cli_parse_float(cmd, "--lr", optarg, 1e-12f, 10.0f, &o->lr); break;
        case O_SEED: bad = cli_parse_u64(cmd, "--seed", optarg, 0, UINT64_MAX, &o->seed); break;
        case O_EVERY: bad = cli_parse_u64(cmd, "--sample-every", optarg, 1, 1ull << 40, &o->sample_every); break;
        case O_OUT: o->out = optarg; break;
        case O_BACKEND: o->backend = optarg; break;
        case O_QUIET: o->quiet = 1; break;
        case O_WIDTH: bad = cli_parse_u64(cmd, "--width", optarg, 1, 4096, &o->width); break;
        case O_CLIP:
            o->clip_set = 1;
            bad = cli_parse_float(cmd, "--clip", optarg, 0.0f, 1e6f, &o->clip);
            break;
        case O_SMOOTH: bad = cli_parse_float(cmd, "--label-smoothing", optarg, 1e-6f, 1.0f, &o->smoothing); break;
        case O_MBD: o->minibatch_disc = 1; break;
        case O_FM: o->feature_matching = 1; break;
        case O_VBN: o->vbn = GANTRY_BN_VIRTUAL; break;
        case O_REFBN: o->vbn = GANTRY_BN_REFERENCE; break;
        case O_GAMMA: bad = cli_parse_float(cmd, "--began-gamma", optarg, 1e-3f, 1.0f, &o->gamma); break;
        case O_LAMBDA_K:
            bad = cli_parse_float(cmd, "--began-lambda-k", optarg, 1e-6f, 1.0f, &o->lambda_k);
            break;
        case O_RESUME: o->resume = optarg; break;
        case O_UNROLL: bad = cli_parse_u64(cmd, "--unroll", optarg, 1, 100, &o->unroll); break;
        case O_LABELED: bad = cli_parse_u64(cmd, "--labeled", optarg, 1, 1u << 30, &o->labeled); break;
        case O_IMAGE_SIZE: bad = cli_parse_u64(cmd, "--image-size", optarg, 1, 4096, &o->image_size); break;
        case O_CHANNELS:
            bad = cli_parse_u64(cmd, "--channels", optarg, 1, 3, &o->channels) ||
                  (o->channels == 2 && cli_usage_error(cmd, "--channels '2': 1 (grayscale) or 3 (RGB)"));
            break;
        case O_TEST_DATA: o->test_data = optarg; break;
        case O_EVAL_EVERY: bad = cli_parse_u64(cmd, "--eval-every", optarg, 1, 1ull << 40, &o->eval_every); break;
        case O_FEATURES: o->features = optarg; break;
        case O_CHECK_EVERY:
            bad = cli_parse_u64(cmd, "--check-every", optarg, 0, 1ull << 40, &o->mpi.check_every);
            break;
        case O_SYNC_BN: o->sync_bn = 1; break;
        case O_MPI_TIMEOUT: {
            float secs;
            bad = cli_parse_float(cmd, "--mpi-timeout", optarg, 1.0f, 1e6f, &secs);
            o->mpi.timeout = secs;
            break;
        }
        case O_GLOSS:
            o->g_loss_set = 1;
            if (!strcmp(optarg, "nonsat"))
                o->g_loss = GANTRY_G_LOSS_NONSAT;
            else if (!strcmp(optarg, "minimax"))
                o->g_loss = GANTRY_G_LOSS_MINIMAX;
            else
                return -cli_usage_error(cmd, "--g-loss '%s': expected minimax or nonsat", optarg);
            break;
        case '?': return -cli_getopt_error(cmd, argv);
        default: return -cli_usage_error(cmd, "unknown option");
        }
        if (bad)
            return -CLI_USAGE;
    }
    if (optind < argc)
        return -cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (o->steps_set && o->epochs)
        return -cli_usage_error(cmd, "--steps and --epochs exclude each other");
    if (o->resume && o->setting)
        return -cli_usage_error(cmd, "--%s cannot be given with --resume: the run continues with its own settings",
                                o->setting);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    train_session t = { .o = { .model = "gan",
                               .sample_every = 200,
                               .mpi = { .check_every = TRAIN_MPI_CHECK_EVERY, .timeout = TRAIN_MPI_TIMEOUT } } };
    int rc = parse(argc, argv, &t.o);
    if (rc)
        return rc > 0 ? CLI_OK : -rc;
    if ((rc = train_mpi_init(&t.o.mpi)) != CLI_OK)
        return rc;
    if (!strcmp(t.o.model, "classifier")) {
        if (t.o.gan_only)
            rc = cli_usage_error("train", "--%s does not apply to --model classifier", t.o.gan_only);
        else if (train_mpi_world() > 1)
            rc = cli_usage_error("train", "--model classifier trains in one process, not across MPI ranks");
        else
            rc = train_classifier(&t.o);
        return train_mpi_end(rc);
    }
    rc = train_prepare(&t);
    if (!rc)
        rc = train_finish(&t, train_run(&t));
    train_close(&t);
    return train_mpi_end(rc);
}
