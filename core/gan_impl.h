/* Internal: the GAN struct shared by the model builders (gan.c), the
 * training steps (gan_train.c) and the checkpoint code. */
#ifndef GANTRY_GAN_IMPL_H
#define GANTRY_GAN_IMPL_H

#include "core/tensor_impl.h"
#include "gantry/gan.h"

/* How D is trained and what G's objective is. */
typedef enum gan_family {
    FAMILY_BCE,   /* gan, cgan, dcgan, cdcgan */
    FAMILY_WGAN,  /* critic scores */
    FAMILY_LS,    /* least squares */
    FAMILY_BEGAN, /* autoencoder D */
    FAMILY_SGAN,  /* K-class D */
} gan_family;

struct gantry_gan {
    gantry_backend *be;
    gantry_gan_config config;
    gan_family family;
    int conv;        /* DCGAN-style networks */
    int conditional; /* labels go into G and D */
    gantry_seq *g, *d;
    gantry_optim *opt_g, *opt_d;
    uint64_t steps;
    uint64_t noise_offset; /* next Philox block of the training noise stream */
    uint64_t label_offset; /* next Philox block of the fake-label / labelled-draw stream */
    float k_t;             /* began */
    /* Step tensors, allocated once. */
    gantry_tensor *real, *z, *dlogits, *probs, *scalar;
    gantry_tensor *target;     /* constant targets of D's output (lsgan) */
    gantry_tensor *g_in;       /* conditional: [z, one-hot] */
    gantry_tensor *d_in;       /* conditional: [image, labels] */
    gantry_tensor *onehot;     /* [N, classes] */
    gantry_tensor *planes;     /* cdcgan: [N, classes * H * W] label planes */
    gantry_tensor *dimage;     /* conditional: D's input gradient, image part */
    gantry_tensor *ones;       /* [N, 1] of 1 (feature means) */
    gantry_tensor *feat_real;  /* [1, F]: mean D features of the last real batch */
    gantry_tensor *feat_fake;  /* [1, F] */
    gantry_tensor *dfeat;      /* [N, F] */
    gantry_tensor *lse, *dlse; /* sgan: [N] */
    gantry_tensor *ae_grad;    /* began: [N, C, H, W] */
    float *host_labels;        /* [N * classes * H * W] scratch for one-hots and planes */
    uint8_t *fake_labels;      /* [N] */
    /* sgan: the labelled set on the host, and its batch tensors. */
    float *labeled_images;
    uint8_t *labeled_labels;
    size_t labeled_n;
    gantry_tensor *lab_real, *lab_target;
    float *lab_host; /* [N * (C*H*W + classes)] */
    /* --vbn: the reference batch of noise (and labels) for G. */
    gantry_tensor *z_ref;
    uint8_t *ref_labels;
    /* When D's layers keep the rows of a batch apart (no batch norm,
     * dropout or minibatch discrimination), D's update runs the real and
     * the fake batch through D as one batch of 2N rows: every weight is read
     * once per pass instead of twice, in products twice as tall.  Real rows
     * first, fake rows after; gan->real is then a view of the real rows. */
    int stacked;
    gantry_tensor *d_stack;  /* [2N, D's input] */
    gantry_tensor *dstack;   /* [2N, D's outputs]: the gradient of D's stacked output */
    /* Algorithm 1 draws G's noise twice a step, for the discriminator and
     * the generator update, while G stays unchanged in between: when G is
     * groupable (an MLP) and nothing else runs G in between (one D step, no
     * unrolling, no virtual batch norm), one forward over both noise
     * batches stacked, each batch normalised by its own statistics, gives
     * both fakes (the same values as two forwards); the generator update
     * then backpropagates through the second group alone. */
    int g_stacked;
    int pair_next;                 /* the second fake of this step is ready */
    gantry_tensor *z_pair;         /* [2N, z_dim] */
    gantry_tensor *g_in_pair;      /* conditional: [2N, z_dim + classes] */
    uint8_t *fake_labels2;         /* conditional: the second batch's labels */
    gantry_tensor fake_first, fake_second; /* rows 0..N and N..2N of G's stacked output */
    /* --unroll: a snapshot of D and its optimizer. */
    gantry_seq *d_saved;
    gantry_optim *opt_saved;
};

/* gan_train.c */
gantry_status gantry__gan_step(gantry_gan *gan, const float *real, const uint8_t *labels, gantry_gan_stats *acc);
/* Writes the conditioning tensors (one-hot, planes) for these labels. */
gantry_status gantry__gan_condition(gantry_gan *gan, const uint8_t *labels, size_t n);
/* G's input for noise z [batch, z_dim] (conditional: with the current one-hot). */
gantry_status gantry__gan_g_input(gantry_gan *gan, gantry_tensor *z, gantry_tensor **in);

/* checkpoint.c: safetensors entries named for a file. */
typedef struct state_ref {
    char name[80];
    const gantry_param *param; /* a tensor (F32) or an int64 counter (I64 scalar) */
} state_ref;
/* Reads every ref's tensor back to the host and writes them with `meta`. */
gantry_status gantry__st_write_refs(const char *path, const state_ref *refs, size_t count, const gantry_st_meta *meta,
                                   size_t meta_count);
/* Writes the file's entry named ref->name into ref->param, checking dtype and shape. */
gantry_status gantry__st_load_ref(const gantry_safetensors *st, const char *path, const state_ref *ref);
/* Appends metadata entry k, printf-formatted into values[n], as meta[n++]. */
#define GANTRY__META_ADD(meta, values, n, k, ...)                                                  \
    do {                                                                                            \
        snprintf((values)[n], sizeof(values)[n], __VA_ARGS__);                                      \
        (meta)[n].key = (k);                                                                        \
        (meta)[n].value = (values)[n];                                                              \
        (n)++;                                                                                      \
    } while (0)

#endif
