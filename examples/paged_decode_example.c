/*
 * paged_decode_example: a toy autoregressive loop over a paged KV cache (clattn_sdpa_desc.kv_layout =
 * CLATTN_KV_PAGED, clattn_kv_append_*), checked against contiguous SDPA at every step.
 *
 * The "model" has random weights: token ids embed into E floats, one attention layer projects them into HQ query
 * heads and HKV key/value heads of D (grouped-query attention), and the next token is the argmax of a random
 * readout of the attention output. B sequences with prompts of different lengths share one pool of NBLK blocks
 * of BLOCK tokens; a block is handed out (from a shuffled free list, as vLLM's block manager would) when a
 * sequence's length reaches a block boundary, and its id goes into that sequence's row of the block table
 * [B, MAXBLK]. Each prompt is prefilled in chunks of CHUNK tokens (append the chunk's K/V rows, then attend the
 * chunk's queries bottom-right causal at the end of the sequence: chunked prefill), then STEPS tokens are decoded
 * for all sequences at once (one query each, kv_lengths = each sequence's length). After every chunk and step the
 * paged output is compared with one SDPA call over the same keys held contiguously; they must agree within 1e-4.
 * Prints one line per decode step and "paged_decode_example: OK"; exits 1 on a mismatch or an error.
 *
 *   q: [B, HQ, Lq, D]   pools k, v: [NBLK, BLOCK, HKV, D]   block table int32 [B, MAXBLK]   kv_lengths int32 [B]
 */
#include <clattn.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 3, E = 64, HQ = 8, HKV = 2, D = 16, VOCAB = 97, BLOCK = 16, CHUNK = 24, STEPS = 10, MAXT = 96 };
enum { MAXBLK = MAXT / BLOCK, NBLK = B * MAXBLK + 2 };
static const int prompt_len[B] = {37, 20, 61};

static float wq[HQ * D][E], wk[HKV * D][E], wv[HKV * D][E], wo[VOCAB][HQ * D], emb[VOCAB][E];
static float kpool[NBLK][BLOCK][HKV][D], vpool[NBLK][BLOCK][HKV][D]; /* the paged cache */
static float kall[B][HKV][MAXT][D], vall[B][HKV][MAXT][D];          /* the same keys, contiguous */
static int32_t table[B][MAXBLK], lens[B], free_list[NBLK], nfree;
static int tokens[B][MAXT];

static float rnd(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int check(clattn_context *ctx, clattn_status st, const char *what)
{
    if (st != CLATTN_SUCCESS) fprintf(stderr, "%s: %s: %s\n", what, clattn_status_string(st), clattn_last_error(ctx));
    return st != CLATTN_SUCCESS;
}

/* y[n] = W[n, :]·x for n < rows */
static void matvec(const float *w, int rows, const float *x, float *y)
{
    for (int n = 0; n < rows; n++) {
        float s = 0.0f;
        for (int e = 0; e < E; e++) s += w[n * E + e] * x[e];
        y[n] = s;
    }
}

/* Projects token t of sequence b: its query rows into q (row-major [HQ][D] at q), its K/V rows into the
 * contiguous copies at position pos and into knew/vnew [HKV][D]. */
static void project(int b, int tok, int pos, float *q, float *knew, float *vnew)
{
    matvec(&wq[0][0], HQ * D, emb[tok], q);
    matvec(&wk[0][0], HKV * D, emb[tok], knew);
    matvec(&wv[0][0], HKV * D, emb[tok], vnew);
    for (int h = 0; h < HKV; h++)
        for (int d = 0; d < D; d++) kall[b][h][pos][d] = knew[h * D + d], vall[b][h][pos][d] = vnew[h * D + d];
}

/* Makes sure sequence b has blocks for n tokens (from the free list). */
static int reserve(int b, int n)
{
    for (int i = (lens[b] + BLOCK - 1) / BLOCK; i < (n + BLOCK - 1) / BLOCK; i++) {
        if (nfree == 0 || i >= MAXBLK) return 1;
        table[b][i] = free_list[--nfree];
    }
    return 0;
}

/* Appends n new K/V rows ([nb sequences][HKV][n][D] in kn/vn) of the sequences starting at b0 at their lengths. */
static int append(clattn_context *ctx, int b0, int nb, int n, const float *kn, const float *vn)
{
    clattn_kv_append_desc ad;
    clattn_kv_append_desc_init(&ad, nb, HKV, n, D, D, NBLK, BLOCK, MAXBLK);
    clattn_kv_append_plan *plan = NULL;
    clattn_status st = clattn_kv_append_plan_create(&plan, ctx, &ad);
    if (st == CLATTN_SUCCESS) {
        clattn_kv_append_buffers u;
        clattn_kv_append_buffers_init(&u);
        u.k_new = kn, u.v_new = vn, u.block_table = &table[b0][0], u.positions = &lens[b0];
        u.k_cache = kpool, u.v_cache = vpool;
        st = clattn_kv_append_execute(plan, &u);
    }
    clattn_kv_append_plan_destroy(plan);
    return check(ctx, st, "append");
}

/* Attention of Lq queries q [nb][HQ][Lq][D] of the sequences b0.. over the paged cache (kv_lengths = their lengths,
 * bottom-right causal) into out, and over the contiguous copies into ref; returns the largest difference or -1. */
static double attend(clattn_context *ctx, int b0, int nb, int Lq, const float *q, float *out, float *ref)
{
    clattn_sdpa_desc d;
    clattn_sdpa_desc_init(&d, nb, HQ, HKV, Lq, MAXBLK * BLOCK, D, D);
    d.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    d.use_kv_lengths = 1;
    d.kv_layout = CLATTN_KV_PAGED;
    d.kv_block_size = BLOCK;
    d.max_blocks_per_seq = MAXBLK;
    d.k = clattn_tensor_contiguous(NBLK, BLOCK, HKV, D);
    d.v = d.k;
    clattn_sdpa_plan *plan = NULL;
    clattn_status st = clattn_sdpa_plan_create(&plan, ctx, &d);
    if (st == CLATTN_SUCCESS) {
        clattn_sdpa_buffers u;
        clattn_sdpa_buffers_init(&u);
        u.q = q, u.k = kpool, u.v = vpool, u.kv_lengths = &lens[b0], u.block_table = &table[b0][0], u.out = out;
        st = clattn_sdpa_execute_buffers(plan, &u);
    }
    clattn_sdpa_plan_destroy(plan);
    if (check(ctx, st, "paged sdpa")) return -1;
    /* the same over contiguous K/V [nb, HKV, MAXT, D] */
    clattn_sdpa_desc c;
    clattn_sdpa_desc_init(&c, nb, HQ, HKV, Lq, MAXT, D, D);
    c.causal = CLATTN_CAUSAL_BOTTOM_RIGHT;
    c.use_kv_lengths = 1;
    c.k.offset = c.v.offset = 0;
    st = clattn_sdpa(ctx, &c, q, &kall[b0][0][0][0], &vall[b0][0][0][0], NULL, &lens[b0], ref, NULL);
    if (check(ctx, st, "contiguous sdpa")) return -1;
    double err = 0.0;
    for (int i = 0; i < nb * HQ * Lq * D; i++) {
        const double e = fabs((double)out[i] - ref[i]);
        if (!(e <= err)) err = e; /* NaN propagates */
    }
    return err;
}

int main(void)
{
    unsigned s = 20261205u;
    float *w[] = {&wq[0][0], &wk[0][0], &wv[0][0], &wo[0][0], &emb[0][0]};
    const size_t n[] = {sizeof wq, sizeof wk, sizeof wv, sizeof wo, sizeof emb};
    for (int a = 0; a < 5; a++)
        for (size_t i = 0; i < n[a] / sizeof(float); i++) w[a][i] = rnd(&s) * (a < 3 ? 0.25f : 1.0f);
    for (int i = 0; i < NBLK; i++) free_list[i] = i;
    for (int i = NBLK - 1; i > 0; i--) { /* a shuffled free list: blocks land anywhere in the pool */
        s = s * 1664525u + 1013904223u;
        const int j = (int)((s >> 8) % (unsigned)(i + 1)), t = free_list[i];
        free_list[i] = free_list[j], free_list[j] = t;
    }
    nfree = NBLK;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < prompt_len[b]; t++) tokens[b][t] = (int)((s = s * 1664525u + 1013904223u) >> 8) % VOCAB;

    clattn_context *ctx = NULL;
    if (check(NULL, clattn_context_create(&ctx, NULL), "context")) return 1;
    clattn_device_info info;
    clattn_device_info_init(&info);
    clattn_context_get_info(ctx, &info);
    printf("paged_decode_example on '%s': %d sequences, prompts %d/%d/%d, blocks of %d, chunks of %d\n",
           info.device_name, B, prompt_len[0], prompt_len[1], prompt_len[2], BLOCK, CHUNK);

    static float q[B * HQ * MAXT * D], kn[B * HKV * MAXT * D], vn[B * HKV * MAXT * D], out[B * HQ * MAXT * D],
        ref[B * HQ * MAXT * D];
    double worst = 0.0;
    /* chunked prefill, one sequence at a time (its row of the table, B = 1) */
    for (int b = 0; b < B; b++)
        for (int c0 = 0; c0 < prompt_len[b]; c0 += CHUNK) {
            const int m = prompt_len[b] - c0 < CHUNK ? prompt_len[b] - c0 : CHUNK;
            float qr[HQ * D], kr[HKV * D], vr[HKV * D];
            for (int t = 0; t < m; t++) { /* q [1, HQ, m, D], kn/vn [1, HKV, m, D] */
                project(b, tokens[b][c0 + t], c0 + t, qr, kr, vr);
                for (int h = 0; h < HQ; h++) memcpy(&q[(h * m + t) * D], &qr[h * D], D * sizeof(float));
                for (int h = 0; h < HKV; h++) {
                    memcpy(&kn[(h * m + t) * D], &kr[h * D], D * sizeof(float));
                    memcpy(&vn[(h * m + t) * D], &vr[h * D], D * sizeof(float));
                }
            }
            if (reserve(b, lens[b] + m) || append(ctx, b, 1, m, kn, vn)) return 1;
            lens[b] += m;
            const double err = attend(ctx, b, 1, m, q, out, ref);
            if (err < 0 || !(err <= 1e-4)) {
                fprintf(stderr, "prefill sequence %d chunk at %d: paged and contiguous differ by %g\n", b, c0, err);
                return 1;
            }
            if (err > worst) worst = err;
        }
    /* decode: the next token of each sequence from its last attention row, STEPS times for all at once */
    int next[B];
    for (int b = 0; b < B; b++) next[b] = tokens[b][prompt_len[b] - 1];
    for (int step = 0; step < STEPS; step++) {
        for (int b = 0; b < B; b++) {
            float qr[HQ * D], kr[HKV * D], vr[HKV * D];
            project(b, next[b], lens[b], qr, kr, vr);
            memcpy(&q[b * HQ * D], qr, sizeof qr); /* q [B, HQ, 1, D] */
            memcpy(&kn[b * HKV * D], kr, sizeof kr);
            memcpy(&vn[b * HKV * D], vr, sizeof vr);
            if (reserve(b, lens[b] + 1)) return 1;
        }
        if (append(ctx, 0, B, 1, kn, vn)) return 1;
        for (int b = 0; b < B; b++) lens[b]++;
        const double err = attend(ctx, 0, B, 1, q, out, ref);
        if (err < 0 || !(err <= 1e-4)) {
            fprintf(stderr, "decode step %d: paged and contiguous differ by %g\n", step, err);
            return 1;
        }
        if (err > worst) worst = err;
        printf("step %2d:", step);
        for (int b = 0; b < B; b++) { /* argmax of the readout */
            int best = 0;
            float bv = -INFINITY;
            for (int t = 0; t < VOCAB; t++) {
                float z = 0.0f;
                for (int i = 0; i < HQ * D; i++) z += wo[t][i] * out[b * HQ * D + i];
                if (z > bv) bv = z, best = t;
            }
            tokens[b][lens[b] - 1] = next[b] = best;
            printf(" seq %d len %2d -> token %2d", b, (int)lens[b], best);
        }
        printf("  (max |paged - contiguous| %.2g)\n", err);
    }
    clattn_context_destroy(ctx);
    printf("paged_decode_example: OK (largest difference %.3g, %d of %d blocks used)\n", worst, NBLK - nfree, NBLK);
    return 0;
}
