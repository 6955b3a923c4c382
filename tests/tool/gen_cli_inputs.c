/* Writes the inputs of the CLI tests into OUTDIR: the malformed-file corpus, masks derived from the
 * MiniLM kv_lengths, arrays with wrong shapes/dtypes, and a small nn.MultiheadAttention weight file
 * with separate q/k/v projections (kdim != vdim != E, float16 weights) plus its float64 reference, and
 * the same weights under BERT names; a small SDPA problem with its float64 output and log-sum-exp.
 * usage: gen_cli_inputs OUTDIR MINILM_DIR */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "half.h"
#include "npy.h"
#include "safetensors.h"

static const char *outdir;

static int put(const char *name, npy_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    char path[4096], err[NPY_ERR_MAX];
    snprintf(path, sizeof path, "%s/%s", outdir, name);
    if (npy_write(path, dt, ndim, shape, data, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

/* Deterministic values in [-1, 1). */
static float rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float f16r(float x)
{
    return half_to_float(float_to_half(x));
}

/* out[b,i,:] = MHA with separate projections, in double (reference). */
static int small_mha(void)
{
    enum { B = 2, Lq = 3, Lk = 5, E = 8, H = 2, KD = 6, VD = 4, HD = E / H };
    uint32_t s = 12345;
    float wq[E * E], wk[E * KD], wv[E * VD], wo[E * E], bin[3 * E], bo[E];
    float x[B * Lq * E], key[B * Lk * KD], val[B * Lk * VD];
    uint16_t hq[E * E], hk[E * KD], hv[E * VD], ho[E * E], hbin[3 * E], hbo[E];
    /* weights are float16 in the file: use the rounded values in the reference */
    for (int i = 0; i < E * E; i++) wq[i] = f16r(rnd(&s)), hq[i] = float_to_half(wq[i]);
    for (int i = 0; i < E * KD; i++) wk[i] = f16r(rnd(&s)), hk[i] = float_to_half(wk[i]);
    for (int i = 0; i < E * VD; i++) wv[i] = f16r(rnd(&s)), hv[i] = float_to_half(wv[i]);
    for (int i = 0; i < E * E; i++) wo[i] = f16r(rnd(&s)), ho[i] = float_to_half(wo[i]);
    for (int i = 0; i < 3 * E; i++) bin[i] = f16r(rnd(&s)), hbin[i] = float_to_half(bin[i]);
    for (int i = 0; i < E; i++) bo[i] = f16r(rnd(&s)), hbo[i] = float_to_half(bo[i]);
    for (int i = 0; i < B * Lq * E; i++) x[i] = rnd(&s);
    for (int i = 0; i < B * Lk * KD; i++) key[i] = rnd(&s);
    for (int i = 0; i < B * Lk * VD; i++) val[i] = rnd(&s);

    double Q[B][Lq][E], K[B][Lk][E], V[B][Lk][E], C[B][Lq][E];
    float out[B * Lq * E];
    for (int b = 0; b < B; b++) {
        for (int i = 0; i < Lq; i++)
            for (int n = 0; n < E; n++) {
                double a = bin[n];
                for (int k = 0; k < E; k++) a += (double)x[(b * Lq + i) * E + k] * wq[n * E + k];
                Q[b][i][n] = a;
            }
        for (int j = 0; j < Lk; j++)
            for (int n = 0; n < E; n++) {
                double a = bin[E + n], c = bin[2 * E + n];
                for (int k = 0; k < KD; k++) a += (double)key[(b * Lk + j) * KD + k] * wk[n * KD + k];
                for (int k = 0; k < VD; k++) c += (double)val[(b * Lk + j) * VD + k] * wv[n * VD + k];
                K[b][j][n] = a;
                V[b][j][n] = c;
            }
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Lq; i++) {
                double sc[Lk], m = -INFINITY, sum = 0;
                for (int j = 0; j < Lk; j++) {
                    double d = 0;
                    for (int t = 0; t < HD; t++) d += Q[b][i][h * HD + t] * K[b][j][h * HD + t];
                    sc[j] = d / sqrt((double)HD);
                    if (sc[j] > m) m = sc[j];
                }
                for (int j = 0; j < Lk; j++) sum += (sc[j] = exp(sc[j] - m));
                for (int t = 0; t < HD; t++) {
                    double a = 0;
                    for (int j = 0; j < Lk; j++) a += sc[j] / sum * V[b][j][h * HD + t];
                    C[b][i][h * HD + t] = a;
                }
            }
        for (int i = 0; i < Lq; i++)
            for (int n = 0; n < E; n++) {
                double a = bo[n];
                for (int k = 0; k < E; k++) a += C[b][i][k] * wo[n * E + k];
                out[(b * Lq + i) * E + n] = (float)a;
            }
    }
    const int64_t sx[3] = {B, Lq, E}, sk[3] = {B, Lk, KD}, sv[3] = {B, Lk, VD};
    const int64_t s4[4] = {1, 2, 3, 4};
    if (put("small_q4.npy", NPY_DTYPE_F32, 4, s4, x) || put("small_x.npy", NPY_DTYPE_F32, 3, sx, x) || put("small_key.npy", NPY_DTYPE_F32, 3, sk, key) ||
        put("small_value.npy", NPY_DTYPE_F32, 3, sv, val) || put("small_out_ref.npy", NPY_DTYPE_F32, 3, sx, out))
        return -1;
    const int64_t swq[2] = {E, E}, swk[2] = {E, KD}, swv[2] = {E, VD}, sb3[1] = {3 * E}, sb[1] = {E};
    st_write_item items[6] = {
        {"attn.q_proj_weight", "F16", 2, swq, hq},   {"attn.k_proj_weight", "F16", 2, swk, hk},
        {"attn.v_proj_weight", "F16", 2, swv, hv},   {"attn.in_proj_bias", "F16", 1, sb3, hbin},
        {"attn.out_proj.weight", "F16", 2, swq, ho}, {"attn.out_proj.bias", "F16", 1, sb, hbo},
    };
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/small_mha_f16.safetensors", outdir);
    if (st_write(path, 6, items, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* the same weights named as a Hugging Face BERT attention block: self.key.weight [E,KD],
     * self.value.weight [E,VD] (kdim/vdim from the shapes); the same reference */
    st_write_item bert[8] = {
        {"bert.self.query.weight", "F16", 2, swq, hq},   {"bert.self.query.bias", "F16", 1, sb, hbin},
        {"bert.self.key.weight", "F16", 2, swk, hk},     {"bert.self.key.bias", "F16", 1, sb, hbin + E},
        {"bert.self.value.weight", "F16", 2, swv, hv},   {"bert.self.value.bias", "F16", 1, sb, hbin + 2 * E},
        {"bert.output.dense.weight", "F16", 2, swq, ho}, {"bert.output.dense.bias", "F16", 1, sb, hbo},
    };
    snprintf(path, sizeof path, "%s/small_bert_f16.safetensors", outdir);
    if (st_write(path, 8, bert, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    /* the same layout with int32 weights: refused naming the tensor and dtype */
    int32_t iw[3 * E * E] = {0};
    const int64_t sin[2] = {3 * E, E};
    st_write_item bad[2] = {{"in_proj_weight", "I32", 2, sin, iw}, {"out_proj.weight", "F16", 2, swq, ho}};
    snprintf(path, sizeof path, "%s/params_i32.safetensors", outdir);
    if (st_write(path, 2, bad, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

/* A small SDPA problem (GQA 4/2, bottom-right causal, kv-lengths 5,0: the second batch item's rows see no key)
 * with its float64 reference output and log-sum-exp (-inf where no key is allowed), for --lse/--expect-lse. */
static int small_sdpa_lse(void)
{
    enum { B = 2, HQ = 4, HKV = 2, LQ = 3, LK = 5, D = 8, DV = 4 };
    static const int kvl[B] = {5, 0};
    uint32_t s = 777;
    float q[B * HQ * LQ * D], k[B * HKV * LK * D], v[B * HKV * LK * DV], out[B * HQ * LQ * DV], lse[B * HQ * LQ];
    for (int i = 0; i < B * HQ * LQ * D; i++) q[i] = rnd(&s);
    for (int i = 0; i < B * HKV * LK * D; i++) k[i] = rnd(&s);
    for (int i = 0; i < B * HKV * LK * DV; i++) v[i] = rnd(&s);
    const double scale = 1.0 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < HQ; h++)
            for (int i = 0; i < LQ; i++) {
                const int hk = h / (HQ / HKV), r = (b * HQ + h) * LQ + i;
                double sc[LK], mx = -INFINITY, sum = 0.0, o[DV] = {0};
                int n = 0;
                for (int j = 0; j < LK; j++) {
                    sc[j] = -INFINITY;
                    if (j >= kvl[b] || j > i + kvl[b] - LQ) continue; /* kv length, bottom-right causal */
                    double dot = 0.0;
                    for (int d = 0; d < D; d++)
                        dot += (double)q[r * D + d] * (double)k[((b * HKV + hk) * LK + j) * D + d];
                    sc[j] = dot * (double)(float)scale;
                    if (sc[j] > mx) mx = sc[j];
                    n++;
                }
                for (int j = 0; j < LK; j++)
                    if (sc[j] != -INFINITY) {
                        const double w = exp(sc[j] - mx);
                        sum += w;
                        for (int e = 0; e < DV; e++) o[e] += w * (double)v[((b * HKV + hk) * LK + j) * DV + e];
                    }
                for (int e = 0; e < DV; e++) out[r * DV + e] = n ? (float)(o[e] / sum) : 0.0f;
                lse[r] = n ? (float)(mx + log(sum)) : -INFINITY;
            }
    const int64_t sq[4] = {B, HQ, LQ, D}, sk[4] = {B, HKV, LK, D}, sv[4] = {B, HKV, LK, DV}, so[4] = {B, HQ, LQ, DV},
                  sl[3] = {B, HQ, LQ};
    return put("small_sdpa_q.npy", NPY_DTYPE_F32, 4, sq, q) || put("small_sdpa_k.npy", NPY_DTYPE_F32, 4, sk, k) ||
           put("small_sdpa_v.npy", NPY_DTYPE_F32, 4, sv, v) || put("small_sdpa_out_ref.npy", NPY_DTYPE_F32, 4, so, out) ||
           put("small_sdpa_lse_ref.npy", NPY_DTYPE_F32, 3, sl, lse);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_cli_inputs OUTDIR MINILM_DIR\n");
        return 2;
    }
    outdir = argv[1];
    if (corpus_write_all(outdir)) {
        fprintf(stderr, "cannot write the corpus to %s\n", outdir);
        return 1;
    }
    if (small_mha() || small_sdpa_lse()) return 1;
    /* zeros [1,8,2048,64] as Q, K and V: an sdpa run long enough (--repeat) to be interrupted */
    const int64_t s_big[4] = {1, 8, 2048, 64};
    float *big = calloc((size_t)(8 * 2048 * 64), sizeof(float));
    if (!big || put("big_qkv.npy", NPY_DTYPE_F32, 4, s_big, big)) {
        free(big);
        return 1;
    }
    free(big);

    char path[4096], err[NPY_ERR_MAX];
    snprintf(path, sizeof path, "%s/kv_lengths.npy", argv[2]);
    npy_array kv;
    if (npy_read(path, &kv, err, sizeof err)) {
        fprintf(stderr, "%s (MiniLM-derived inputs not written)\n", err);
        return 0;
    }
    if (strcmp(kv.descr, "<i4") != 0 || kv.ndim != 1) {
        fprintf(stderr, "%s: expected int32 [B]\n", path);
        return 1;
    }
    const int32_t *len = kv.data;
    const int64_t B = kv.shape[0], L = 11, H = 12, D = 32;
    unsigned char *mb = calloc((size_t)(B * L), 1);
    float *ma = calloc((size_t)(B * L), sizeof(float));
    uint16_t *mh = calloc((size_t)(B * L), sizeof(uint16_t));
    unsigned char *ones = calloc((size_t)(B * L * L), 1);
    float *kbad = calloc((size_t)(B * H * L * 16), sizeof(float));
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < L; j++) {
            mb[b * L + j] = j < len[b];
            ma[b * L + j] = j < len[b] ? 0.0f : -INFINITY;
            mh[b * L + j] = float_to_half(ma[b * L + j]);
        }
    memset(ones, 1, (size_t)(B * L * L));
    const int64_t s_b11k[4] = {B, 1, 1, L}, s_b1q1[4] = {B, 1, L, 1}, s_qk[2] = {L, L}, s_bad[2] = {3, L},
                  s_b1k[3] = {B, 1, L}, s_kbad[4] = {B, H, L, 16};
    (void)D;
    int rc = put("mask_bool_b11k.npy", NPY_DTYPE_BOOL, 4, s_b11k, mb) ||
             put("mask_add_b11k.npy", NPY_DTYPE_F32, 4, s_b11k, ma) ||
             put("mask_add_f16_b11k.npy", NPY_DTYPE_F16, 4, s_b11k, mh) ||
             put("mask_true_b1q1.npy", NPY_DTYPE_BOOL, 4, s_b1q1, ones) ||
             put("mask_true_qk.npy", NPY_DTYPE_BOOL, 2, s_qk, ones) ||
             put("mask_bad_3k.npy", NPY_DTYPE_BOOL, 2, s_bad, ones) ||
             put("mask_rank3_b1k.npy", NPY_DTYPE_BOOL, 3, s_b1k, mb) ||
             put("k_bad_d16.npy", NPY_DTYPE_F32, 4, s_kbad, kbad);
    free(mb);
    free(ma);
    free(mh);
    free(ones);
    free(kbad);
    npy_free(&kv);
    return rc ? 1 : 0;
}
