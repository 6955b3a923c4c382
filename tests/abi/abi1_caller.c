/*
 * An "old program": compiled against the frozen 0.2.0 layouts (clattn_abi1.h) and the 0.2.0 prototypes
 * below, never against the live clattn.h, then linked with the library as it is now. Its structs have the
 * 0.2.0 sizes, and the *_init_sized calls pass those sizes, exactly as the 0.2.0 header's static inline
 * *_init() wrappers do. Keep this file as it is when clattn.h gains fields.
 */
#include "abi1_caller.h"

#include "clattn_abi1.h"

#include <string.h>

/* The 0.2.0 prototypes this program uses (clattn_status is int-sized; opaque handles as void). */
typedef struct clattn_context clattn_context;
typedef struct clattn_mha clattn_mha;
int clattn_context_create(clattn_context **ctx, const clattn_context_options_abi1 *opts);
void clattn_context_options_init_sized(clattn_context_options_abi1 *opts, size_t struct_size);
void clattn_device_info_init_sized(clattn_device_info_abi1 *info, size_t struct_size);
int clattn_context_get_info(const clattn_context *ctx, clattn_device_info_abi1 *info);
const char *clattn_last_error(const clattn_context *ctx);
void clattn_sdpa_desc_init_sized(clattn_sdpa_desc_abi1 *desc, size_t struct_size, int64_t batch, int64_t num_heads,
                                 int64_t num_kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                                 int64_t v_head_dim);
int clattn_sdpa(clattn_context *ctx, const clattn_sdpa_desc_abi1 *desc, const void *q, const void *k, const void *v,
                const void *mask, const int32_t *kv_lengths, void *out, float *probs);
void clattn_mha_weights_init_sized(clattn_mha_weights_abi1 *w, size_t struct_size);
void clattn_mha_options_init_sized(clattn_mha_options_abi1 *opts, size_t struct_size);
int clattn_mha_create(clattn_mha **mha, clattn_context *ctx, const clattn_mha_weights_abi1 *w);
void clattn_mha_destroy(clattn_mha *mha);
int clattn_mha_forward(clattn_mha *mha, int64_t batch, int64_t q_len, int64_t kv_len, const float *query,
                       const float *key, const float *value, const void *mask, const int32_t *kv_lengths,
                       const clattn_mha_options_abi1 *opts, float *out, float *probs);

int abi1_open(void **ctx, int *backend, char *device_name, size_t name_size)
{
    clattn_context_options_abi1 o;
    clattn_context_options_init_sized(&o, sizeof o);
    clattn_context *c = NULL;
    int st = clattn_context_create(&c, &o);
    *ctx = c;
    if (st != 0) return st;
    clattn_device_info_abi1 info;
    clattn_device_info_init_sized(&info, sizeof info);
    st = clattn_context_get_info(c, &info);
    *backend = info.backend;
    if (name_size) {
        strncpy(device_name, info.device_name, name_size - 1);
        device_name[name_size - 1] = '\0';
    }
    return st;
}

int abi1_sdpa(void *ctx, int64_t B, int64_t H, int64_t L, int64_t D, int causal, int64_t window_left,
              const float *q, const float *k, const float *v, float *out)
{
    clattn_sdpa_desc_abi1 d;
    clattn_sdpa_desc_init_sized(&d, sizeof d, B, H, H, L, L, D, D);
    d.causal = causal;
    d.window_left = window_left;
    return clattn_sdpa(ctx, &d, q, k, v, NULL, NULL, out, NULL);
}

int abi1_mha(void *ctx, int64_t E, int64_t H, const float *w_q, const float *w_k, const float *w_v,
             const float *w_o, int64_t B, int64_t L, int causal, const float *query, float *out)
{
    clattn_mha_weights_abi1 w;
    clattn_mha_weights_init_sized(&w, sizeof w);
    w.embed_dim = E;
    w.num_heads = H;
    w.w_q = w_q;
    w.w_k = w_k;
    w.w_v = w_v;
    w.w_o = w_o;
    clattn_mha *m = NULL;
    int st = clattn_mha_create(&m, ctx, &w);
    if (st != 0) return st;
    clattn_mha_options_abi1 o;
    clattn_mha_options_init_sized(&o, sizeof o);
    o.causal = causal;
    st = clattn_mha_forward(m, B, L, L, query, NULL, NULL, NULL, NULL, &o, out, NULL);
    clattn_mha_destroy(m);
    return st;
}

const char *abi1_last_error(const void *ctx)
{
    return clattn_last_error(ctx);
}
