/*
 * The ABI of caller-allocated structs ("## ABI" in clattn.h) and N-D tensor views, on the backend chosen
 * by CLATTN_DEVICE (registered as abi.host, abi.pocl, abi.rusticl):
 *   - the live header keeps every 0.2.0 field (clattn_abi1.h) at its offset and size;
 *   - a program compiled against the 0.2.0 layouts (abi1_caller.c) gets correct SDPA and MHA results,
 *     checked against the double-precision reference;
 *   - a struct_size cut at every byte from the 0.2.0 size to the live sizeof gets defaults for what it
 *     lacks (the bytes beyond it hold garbage that would fail if read); the output struct is written
 *     only up to struct_size;
 *   - bad sizes give the documented statuses and messages;
 *   - the version macros and clattn_version_number() agree; tensor constructors and ndim checks.
 * Nothing here names a field appended after 0.2.0, so appending one needs no change to this file or to
 * clattn_abi1.h. The structs added after 0.2.0 (clattn_sdpa_buffers, clattn_merge_desc, clattn_kv_append_desc,
 * clattn_kv_append_buffers) get the same bad and newer size checks, against their first layout's size
 * (ABI_SDPA_BUFFERS_SIZE etc. below).
 */
#include "abi1_caller.h"
#include "clattn_abi1.h"
#include "reference.h"
#include "test_util.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

/* ---- the live layouts start with the 0.2.0 ones ------------------------------------------------- */

#define SAME_FIELD(T, f)                                                                                 \
    _Static_assert(offsetof(T, f) == offsetof(T##_abi1, f) && sizeof(((T *)0)->f) == sizeof(((T##_abi1 *)0)->f), \
                   #T "." #f " moved or changed size since 0.2.0: that breaks binaries (raise the SONAME)")
#define NOT_SMALLER(T) _Static_assert(sizeof(T) >= sizeof(T##_abi1), #T " shrank since 0.2.0")

_Static_assert(sizeof(clattn_causal) == sizeof(int) && sizeof(clattn_backend) == sizeof(int) &&
                   sizeof(clattn_mask_kind) == sizeof(int) && sizeof(clattn_dtype) == sizeof(int) &&
                   sizeof(clattn_probs_mode) == sizeof(int),
               "clattn_abi1.h freezes enums as int");
_Static_assert(sizeof(clattn_tensor) == sizeof(clattn_tensor_abi1) && CLATTN_MAX_DIMS == CLATTN_ABI1_MAX_DIMS,
               "clattn_tensor is fixed for SONAME 1");
SAME_FIELD(clattn_tensor, ndim);
SAME_FIELD(clattn_tensor, dims);
SAME_FIELD(clattn_tensor, strides);
SAME_FIELD(clattn_tensor, offset);
NOT_SMALLER(clattn_context_options);
SAME_FIELD(clattn_context_options, struct_size);
SAME_FIELD(clattn_context_options, device);
SAME_FIELD(clattn_context_options, num_threads);
NOT_SMALLER(clattn_device_info);
SAME_FIELD(clattn_device_info, struct_size);
SAME_FIELD(clattn_device_info, backend);
SAME_FIELD(clattn_device_info, platform_name);
SAME_FIELD(clattn_device_info, device_name);
SAME_FIELD(clattn_device_info, vendor);
SAME_FIELD(clattn_device_info, driver_version);
SAME_FIELD(clattn_device_info, opencl_c_version);
SAME_FIELD(clattn_device_info, num_threads);
SAME_FIELD(clattn_device_info, global_mem_bytes);
SAME_FIELD(clattn_device_info, local_mem_bytes);
SAME_FIELD(clattn_device_info, max_work_group_size);
NOT_SMALLER(clattn_sdpa_desc);
SAME_FIELD(clattn_sdpa_desc, struct_size);
SAME_FIELD(clattn_sdpa_desc, q);
SAME_FIELD(clattn_sdpa_desc, k);
SAME_FIELD(clattn_sdpa_desc, v);
SAME_FIELD(clattn_sdpa_desc, out);
SAME_FIELD(clattn_sdpa_desc, scale);
SAME_FIELD(clattn_sdpa_desc, softcap);
SAME_FIELD(clattn_sdpa_desc, causal);
SAME_FIELD(clattn_sdpa_desc, window_left);
SAME_FIELD(clattn_sdpa_desc, window_right);
SAME_FIELD(clattn_sdpa_desc, mask_kind);
SAME_FIELD(clattn_sdpa_desc, mask);
SAME_FIELD(clattn_sdpa_desc, use_kv_lengths);
SAME_FIELD(clattn_sdpa_desc, want_probs);
SAME_FIELD(clattn_sdpa_desc, probs);
SAME_FIELD(clattn_sdpa_desc, data_type);
/* Fields appended after 0.2.0 stay where they were appended: mask_data_type right after max_blocks_per_seq, then
 * its explicit padding, and no trailing padding (so the next appended field changes sizeof). */
_Static_assert(offsetof(clattn_sdpa_desc, mask_data_type) ==
                       offsetof(clattn_sdpa_desc, max_blocks_per_seq) + sizeof(int64_t) &&
                   offsetof(clattn_sdpa_desc, reserved_4) == offsetof(clattn_sdpa_desc, mask_data_type) + sizeof(int) &&
                   sizeof(clattn_sdpa_desc) == offsetof(clattn_sdpa_desc, reserved_4) + sizeof(int),
               "clattn_sdpa_desc: mask_data_type appended after max_blocks_per_seq, padded to a multiple of 8");
NOT_SMALLER(clattn_mha_weights);
SAME_FIELD(clattn_mha_weights, struct_size);
SAME_FIELD(clattn_mha_weights, embed_dim);
SAME_FIELD(clattn_mha_weights, num_heads);
SAME_FIELD(clattn_mha_weights, kdim);
SAME_FIELD(clattn_mha_weights, vdim);
SAME_FIELD(clattn_mha_weights, w_q);
SAME_FIELD(clattn_mha_weights, w_k);
SAME_FIELD(clattn_mha_weights, w_v);
SAME_FIELD(clattn_mha_weights, w_o);
SAME_FIELD(clattn_mha_weights, b_q);
SAME_FIELD(clattn_mha_weights, b_k);
SAME_FIELD(clattn_mha_weights, b_v);
SAME_FIELD(clattn_mha_weights, b_o);
NOT_SMALLER(clattn_mha_options);
SAME_FIELD(clattn_mha_options, struct_size);
SAME_FIELD(clattn_mha_options, scale);
SAME_FIELD(clattn_mha_options, softcap);
SAME_FIELD(clattn_mha_options, causal);
SAME_FIELD(clattn_mha_options, window_left);
SAME_FIELD(clattn_mha_options, window_right);
SAME_FIELD(clattn_mha_options, mask_kind);
SAME_FIELD(clattn_mha_options, mask);
SAME_FIELD(clattn_mha_options, probs_mode);

/* ---- shared problem ------------------------------------------------------------------------------ */

enum { B_ = 2, H_ = 3, L_ = 5, D_ = 8, E_ = 8, MH_ = 2, BYTE_GARBAGE = 0xA5, SLACK = 32 };
#define TOL 2e-5

static clattn_context *g_ctx;
static float g_q[B_ * H_ * L_ * D_], g_k[B_ * H_ * L_ * D_], g_v[B_ * H_ * L_ * D_];
static float g_wq[E_ * E_], g_wk[E_ * E_], g_wv[E_ * E_], g_wo[E_ * E_], g_x[B_ * L_ * E_];

static void fill(tu_rng *r, float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)tu_rng_uniform(r, -1.0, 1.0);
}

static int setup(void **state)
{
    (void)state;
    tu_rng r;
    tu_rng_init(&r, tu_case_seed("abi", 0));
    fill(&r, g_q, sizeof g_q / sizeof *g_q);
    fill(&r, g_k, sizeof g_k / sizeof *g_k);
    fill(&r, g_v, sizeof g_v / sizeof *g_v);
    fill(&r, g_wq, sizeof g_wq / sizeof *g_wq);
    fill(&r, g_wk, sizeof g_wk / sizeof *g_wk);
    fill(&r, g_wv, sizeof g_wv / sizeof *g_wv);
    fill(&r, g_wo, sizeof g_wo / sizeof *g_wo);
    fill(&r, g_x, sizeof g_x / sizeof *g_x);
    return 0;
}

static tu_where where(const char *name)
{
    tu_where w = {"abi", name, tu_case_seed("abi", 0)};
    return w;
}

/* The live desc of the shared problem (defaults but for causal and window_left). */
static void live_desc(clattn_sdpa_desc *d, clattn_causal causal, int64_t window_left)
{
    clattn_sdpa_desc_init(d, B_, H_, H_, L_, L_, D_, D_);
    d->causal = causal;
    d->window_left = window_left;
}

/* Runs desc (whatever its struct_size says) on the shared problem and checks it against the reference
 * of ref_desc. */
static bool sdpa_matches(const char *name, const void *desc, const clattn_sdpa_desc *ref_desc)
{
    float out[B_ * H_ * L_ * D_];
    double ref[B_ * H_ * L_ * D_];
    clattn_status st = clattn_sdpa(g_ctx, desc, g_q, g_k, g_v, NULL, NULL, out, NULL);
    tu_where w = where(name);
    if (st != CLATTN_SUCCESS) {
        tu_report(&w, "clattn_sdpa returned %d: %s", (int)st, clattn_last_error(g_ctx));
        return false;
    }
    ref_sdpa(ref_desc, g_q, g_k, g_v, NULL, NULL, ref, NULL);
    return tu_check_array(&w, "out", out, ref, B_ * H_ * L_ * D_, TOL);
}

static void live_weights(clattn_mha_weights *w)
{
    clattn_mha_weights_init(w);
    w->embed_dim = E_;
    w->num_heads = MH_;
    w->w_q = g_wq;
    w->w_k = g_wk;
    w->w_v = g_wv;
    w->w_o = g_wo;
}

/* MHA forward of the shared input through weights and opts (whatever their struct_size says), checked
 * against the reference of ref_opts. */
static bool mha_matches(const char *name, const void *weights, const void *opts, const clattn_mha_options *ref_opts)
{
    float out[B_ * L_ * E_];
    double ref[B_ * L_ * E_];
    tu_where w = where(name);
    clattn_mha *m = NULL;
    clattn_status st = clattn_mha_create(&m, g_ctx, weights);
    if (st == CLATTN_SUCCESS)
        st = clattn_mha_forward(m, B_, L_, L_, g_x, NULL, NULL, NULL, NULL, opts, out, NULL);
    clattn_mha_destroy(m);
    if (st != CLATTN_SUCCESS) {
        tu_report(&w, "clattn_mha returned %d: %s", (int)st, clattn_last_error(g_ctx));
        return false;
    }
    clattn_mha_weights rw;
    live_weights(&rw);
    ref_mha(&rw, B_, L_, L_, g_x, NULL, NULL, NULL, NULL, ref_opts, ref, NULL);
    return tu_check_array(&w, "out", out, ref, B_ * L_ * E_, TOL);
}

/* status == want and the message holds every needle (NULL-terminated list). */
static bool expect(const char *what, clattn_status st, clattn_status want, const char *msg, ...)
{
    bool ok = st == want;
    va_list ap;
    va_start(ap, msg);
    for (const char *n; (n = va_arg(ap, const char *)) != NULL;) ok &= strstr(msg, n) != NULL;
    va_end(ap);
    if (!ok) printf("FAIL [abi/%s] status %d (want %d), message: %s\n", what, (int)st, (int)want, msg);
    return ok;
}

/* ---- a 0.2.0 program ---------------------------------------------------------------------------- */

static void test_old_program(void **state)
{
    (void)state;
    void *ctx = NULL;
    int backend = -1;
    char name[128];
    int st = abi1_open(&ctx, &backend, name, sizeof name);
    if (st != CLATTN_SUCCESS) fail_msg("abi1_open: %d %s", st, abi1_last_error(ctx));
    clattn_device_info info;
    clattn_device_info_init(&info);
    assert_int_equal(clattn_context_get_info(ctx, &info), CLATTN_SUCCESS);
    assert_int_equal(backend, (int)info.backend);
    assert_string_equal(name, info.device_name);

    float out[B_ * H_ * L_ * D_];
    double ref[B_ * H_ * L_ * D_];
    st = abi1_sdpa(ctx, B_, H_, L_, D_, CLATTN_CAUSAL_TOP_LEFT, 2, g_q, g_k, g_v, out);
    if (st != CLATTN_SUCCESS) fail_msg("abi1_sdpa: %d %s", st, abi1_last_error(ctx));
    clattn_sdpa_desc d;
    live_desc(&d, CLATTN_CAUSAL_TOP_LEFT, 2);
    ref_sdpa(&d, g_q, g_k, g_v, NULL, NULL, ref, NULL);
    tu_where w = where("old_program_sdpa");
    assert_true(tu_check_array(&w, "out", out, ref, B_ * H_ * L_ * D_, TOL));

    float mout[B_ * L_ * E_];
    double mref[B_ * L_ * E_];
    st = abi1_mha(ctx, E_, MH_, g_wq, g_wk, g_wv, g_wo, B_, L_, CLATTN_CAUSAL_TOP_LEFT, g_x, mout);
    if (st != CLATTN_SUCCESS) fail_msg("abi1_mha: %d %s", st, abi1_last_error(ctx));
    clattn_mha_weights rw;
    live_weights(&rw);
    clattn_mha_options o;
    clattn_mha_options_init(&o);
    o.causal = CLATTN_CAUSAL_TOP_LEFT;
    ref_mha(&rw, B_, L_, L_, g_x, NULL, NULL, NULL, NULL, &o, mref, NULL);
    w = where("old_program_mha");
    assert_true(tu_check_array(&w, "out", mout, mref, B_ * L_ * E_, TOL));
    clattn_context_destroy(ctx);
}

/* ---- struct_size cut between the 0.2.0 size and the live sizeof: defaults for the rest ------------ */

/* Sets struct_size = size and fills the bytes beyond it (up to the live sizeof) with garbage that makes
 * every field invalid or different if the library read it. */
static void cut(void *s, size_t size, size_t live_size)
{
    memcpy(s, &size, sizeof size);
    memset((unsigned char *)s + size, BYTE_GARBAGE, live_size - size);
}

static void test_truncated_inputs(void **state)
{
    (void)state;
    int bad = 0;
    char name[64];
    for (size_t s = CLATTN_ABI1_CONTEXT_OPTIONS_SIZE; s <= sizeof(clattn_context_options); s++) {
        clattn_context_options o;
        clattn_context_options_init(&o);
        cut(&o, s, sizeof o);
        clattn_context *c = NULL;
        clattn_status st = clattn_context_create(&c, &o);
        snprintf(name, sizeof name, "context_options size %zu", s);
        bad += !expect(name, st, CLATTN_SUCCESS, clattn_last_error(NULL), NULL);
        clattn_context_destroy(c);
    }
    clattn_sdpa_desc ref;
    live_desc(&ref, CLATTN_CAUSAL_BOTTOM_RIGHT, CLATTN_WINDOW_UNBOUNDED);
    for (size_t s = CLATTN_ABI1_SDPA_DESC_SIZE; s <= sizeof(clattn_sdpa_desc); s++) {
        clattn_sdpa_desc d = ref;
        cut(&d, s, sizeof d);
        snprintf(name, sizeof name, "sdpa_desc size %zu", s);
        bad += !sdpa_matches(name, &d, &ref);
    }
    clattn_mha_options ro;
    clattn_mha_options_init(&ro);
    ro.causal = CLATTN_CAUSAL_TOP_LEFT;
    clattn_mha_weights rw;
    live_weights(&rw);
    for (size_t s = CLATTN_ABI1_MHA_OPTIONS_SIZE; s <= sizeof(clattn_mha_options); s++) {
        clattn_mha_options o = ro;
        cut(&o, s, sizeof o);
        snprintf(name, sizeof name, "mha_options size %zu", s);
        bad += !mha_matches(name, &rw, &o, &ro);
    }
    for (size_t s = CLATTN_ABI1_MHA_WEIGHTS_SIZE; s <= sizeof(clattn_mha_weights); s++) {
        clattn_mha_weights w = rw;
        cut(&w, s, sizeof w);
        snprintf(name, sizeof name, "mha_weights size %zu", s);
        bad += !mha_matches(name, &w, &ro, &ro);
    }
    assert_int_equal(bad, 0);
}

static void test_truncated_output(void **state)
{
    (void)state;
    clattn_device_info full;
    clattn_device_info_init(&full);
    assert_int_equal(clattn_context_get_info(g_ctx, &full), CLATTN_SUCCESS);
    assert_int_equal(full.struct_size, sizeof full);
    for (size_t s = CLATTN_ABI1_DEVICE_INFO_SIZE; s <= sizeof(clattn_device_info); s++) {
        unsigned char buf[sizeof(clattn_device_info)] __attribute__((aligned(16)));
        memset(buf, 0x5A, sizeof buf);
        memcpy(buf, &s, sizeof s);
        assert_int_equal(clattn_context_get_info(g_ctx, (clattn_device_info *)(void *)buf), CLATTN_SUCCESS);
        size_t got;
        memcpy(&got, buf, sizeof got);
        assert_int_equal(got, s); /* struct_size left as the caller set it */
        assert_memory_equal(buf + sizeof s, (unsigned char *)&full + sizeof s, s - sizeof s);
        for (size_t i = s; i < sizeof buf; i++)
            if (buf[i] != 0x5A) fail_msg("device_info size %zu: byte %zu written (beyond struct_size)", s, i);
    }
}

/* ---- bad and newer sizes ------------------------------------------------------------------------ */

/* First layouts of the structs added after 0.2.0 (their struct_size floor; frozen like clattn_abi1.h's). */
#define ABI_THROUGH(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))
#define ABI_SDPA_BUFFERS_SIZE ABI_THROUGH(clattn_sdpa_buffers, lse)
#define ABI_MERGE_DESC_SIZE ABI_THROUGH(clattn_merge_desc, lse)
#define ABI_KV_APPEND_DESC_SIZE ABI_THROUGH(clattn_kv_append_desc, data_type)
#define ABI_KV_APPEND_BUFFERS_SIZE ABI_THROUGH(clattn_kv_append_buffers, v_cache)

/* A struct of the live type followed by SLACK bytes: a caller compiled against a newer header. */
typedef union newer {
    clattn_context_options co;
    clattn_sdpa_desc sd;
    clattn_mha_weights mw;
    clattn_mha_options mo;
    clattn_device_info di;
    clattn_sdpa_buffers sb;
    clattn_merge_desc md;
    clattn_kv_append_desc ad;
    clattn_kv_append_buffers ab;
    unsigned char bytes[sizeof(clattn_sdpa_desc) + sizeof(clattn_device_info) + SLACK];
} newer;

/* Each input struct: what to call with it and the message's names. */
typedef struct input_kind {
    const char *type, *init_fn;
    size_t min_size, live_size;
    void (*init)(newer *n);
    clattn_status (*call)(const newer *n, const char **msg);
} input_kind;

static void init_co(newer *n)
{
    clattn_context_options_init(&n->co);
}
static clattn_status call_co(const newer *n, const char **msg)
{
    clattn_context *c = NULL;
    clattn_status st = clattn_context_create(&c, &n->co);
    clattn_context_destroy(c);
    *msg = clattn_last_error(NULL);
    return st;
}
static void init_sd(newer *n)
{
    live_desc(&n->sd, CLATTN_CAUSAL_NONE, CLATTN_WINDOW_UNBOUNDED);
}
static clattn_status call_sd(const newer *n, const char **msg)
{
    clattn_sdpa_plan *p = NULL;
    clattn_status st = clattn_sdpa_plan_create(&p, g_ctx, &n->sd);
    clattn_sdpa_plan_destroy(p);
    *msg = clattn_last_error(g_ctx);
    return st;
}
static void init_mw(newer *n)
{
    live_weights(&n->mw);
}
static clattn_status call_mw(const newer *n, const char **msg)
{
    clattn_mha *m = NULL;
    clattn_status st = clattn_mha_create(&m, g_ctx, &n->mw);
    clattn_mha_destroy(m);
    *msg = clattn_last_error(g_ctx);
    return st;
}
static void init_mo(newer *n)
{
    clattn_mha_options_init(&n->mo);
}
static clattn_status call_mo(const newer *n, const char **msg)
{
    clattn_mha_weights w;
    live_weights(&w);
    clattn_mha *m = NULL;
    float out[B_ * L_ * E_];
    clattn_status st = clattn_mha_create(&m, g_ctx, &w);
    if (st == CLATTN_SUCCESS) st = clattn_mha_forward(m, B_, L_, L_, g_x, NULL, NULL, NULL, NULL, &n->mo, out, NULL);
    clattn_mha_destroy(m);
    *msg = clattn_last_error(g_ctx);
    return st;
}

static void init_sb(newer *n)
{
    static float out[B_ * H_ * L_ * D_];
    clattn_sdpa_buffers_init(&n->sb);
    n->sb.q = g_q, n->sb.k = g_k, n->sb.v = g_v, n->sb.out = out;
}
static clattn_status call_sb(const newer *n, const char **msg)
{
    clattn_sdpa_desc d;
    live_desc(&d, CLATTN_CAUSAL_NONE, CLATTN_WINDOW_UNBOUNDED);
    clattn_sdpa_plan *p = NULL;
    clattn_status st = clattn_sdpa_plan_create(&p, g_ctx, &d);
    if (st == CLATTN_SUCCESS) st = clattn_sdpa_execute_buffers(p, &n->sb);
    clattn_sdpa_plan_destroy(p);
    *msg = clattn_last_error(g_ctx);
    return st;
}
static void init_md(newer *n)
{
    clattn_merge_desc_init(&n->md, 2, B_, H_, L_, D_);
}
static clattn_status call_md(const newer *n, const char **msg)
{
    clattn_merge_plan *p = NULL;
    clattn_status st = clattn_merge_plan_create(&p, g_ctx, &n->md);
    clattn_merge_plan_destroy(p);
    *msg = clattn_last_error(g_ctx);
    return st;
}

/* An append of one row of B_ sequences into pools of 2·B_ blocks of 16 rows (positions 0, table row b: 2b, 2b+1). */
#define AP_NB (2 * B_)
static void init_ad(newer *n)
{
    clattn_kv_append_desc_init(&n->ad, B_, H_, 1, D_, D_, AP_NB, 16, 2);
}
static clattn_status call_ad(const newer *n, const char **msg)
{
    clattn_kv_append_plan *p = NULL;
    clattn_status st = clattn_kv_append_plan_create(&p, g_ctx, &n->ad);
    clattn_kv_append_plan_destroy(p);
    *msg = clattn_last_error(g_ctx);
    return st;
}
static void init_ab(newer *n)
{
    static float kn[B_ * H_ * D_], vn[B_ * H_ * D_], kc[AP_NB * 16 * H_ * D_], vc[AP_NB * 16 * H_ * D_];
    static int32_t table[B_ * 2], pos[B_];
    for (int i = 0; i < B_ * 2; i++) table[i] = i;
    clattn_kv_append_buffers_init(&n->ab);
    n->ab.k_new = kn, n->ab.v_new = vn, n->ab.block_table = table, n->ab.positions = pos;
    n->ab.k_cache = kc, n->ab.v_cache = vc;
}
static clattn_status call_ab(const newer *n, const char **msg)
{
    newer d;
    init_ad(&d);
    clattn_kv_append_plan *p = NULL;
    clattn_status st = clattn_kv_append_plan_create(&p, g_ctx, &d.ad);
    if (st == CLATTN_SUCCESS) st = clattn_kv_append_execute(p, &n->ab);
    clattn_kv_append_plan_destroy(p);
    *msg = clattn_last_error(g_ctx);
    return st;
}

static void test_bad_and_newer_sizes(void **state)
{
    (void)state;
    const input_kind kinds[] = {
        {"clattn_context_options", "clattn_context_options_init", CLATTN_ABI1_CONTEXT_OPTIONS_SIZE,
         sizeof(clattn_context_options), init_co, call_co},
        {"clattn_sdpa_desc", "clattn_sdpa_desc_init", CLATTN_ABI1_SDPA_DESC_SIZE, sizeof(clattn_sdpa_desc), init_sd,
         call_sd},
        {"clattn_mha_weights", "clattn_mha_weights_init", CLATTN_ABI1_MHA_WEIGHTS_SIZE, sizeof(clattn_mha_weights),
         init_mw, call_mw},
        {"clattn_mha_options", "clattn_mha_options_init", CLATTN_ABI1_MHA_OPTIONS_SIZE, sizeof(clattn_mha_options),
         init_mo, call_mo},
        {"clattn_sdpa_buffers", "clattn_sdpa_buffers_init", ABI_SDPA_BUFFERS_SIZE, sizeof(clattn_sdpa_buffers), init_sb,
         call_sb},
        {"clattn_merge_desc", "clattn_merge_desc_init", ABI_MERGE_DESC_SIZE, sizeof(clattn_merge_desc), init_md,
         call_md},
        {"clattn_kv_append_desc", "clattn_kv_append_desc_init", ABI_KV_APPEND_DESC_SIZE, sizeof(clattn_kv_append_desc),
         init_ad, call_ad},
        {"clattn_kv_append_buffers", "clattn_kv_append_buffers_init", ABI_KV_APPEND_BUFFERS_SIZE,
         sizeof(clattn_kv_append_buffers), init_ab, call_ab},
    };
    int bad = 0;
    /* A backend without paged KV append (OpenCL until its append kernel lands) answers UNSUPPORTED for a good
     * append desc: its two structs' checks need a plan, so they run where append does. */
    newer probe;
    init_ad(&probe);
    const char *probe_msg;
    const bool has_append = call_ad(&probe, &probe_msg) != CLATTN_ERROR_UNSUPPORTED;
    if (!has_append) printf("note: no paged KV append on this backend (%s): its ABI rows skipped\n", probe_msg);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        const input_kind *k = &kinds[i];
        if (i >= 6 && !has_append) continue;
        newer n;
        const char *msg = "";
        char what[96], value[48], byte[48];
        /* too small, and garbage (an uninitialised struct): refused before reading past the caller's bytes */
        const size_t small[] = {0, k->min_size - 1, (size_t)1 << 40};
        for (size_t j = 0; j < 3; j++) {
            memset(&n, 0, sizeof n);
            k->init(&n);
            memcpy(&n, &small[j], sizeof small[j]);
            clattn_status st = k->call(&n, &msg);
            snprintf(what, sizeof what, "%s size %zu", k->type, small[j]);
            snprintf(value, sizeof value, "struct_size is %zu,", small[j]);
            bad += !expect(what, st, CLATTN_ERROR_INVALID_ARGUMENT, msg, k->type, value, k->init_fn, NULL);
        }
        /* A newer caller: the library's fields then SLACK more, zero (fields at their defaults). */
        const size_t big = k->live_size + SLACK;
        memset(&n, 0, sizeof n);
        k->init(&n);
        memcpy(&n, &big, sizeof big);
        snprintf(what, sizeof what, "%s size %zu, zero tail", k->type, big);
        bad += !expect(what, k->call(&n, &msg), CLATTN_SUCCESS, msg, NULL);
        /* ... with a field this library lacks set. */
        const size_t at = k->live_size + 5;
        n.bytes[at] = 1;
        snprintf(what, sizeof what, "%s size %zu, byte %zu set", k->type, big, at);
        snprintf(byte, sizeof byte, "byte %zu is nonzero", at);
        snprintf(value, sizeof value, "struct_size is %zu", big);
        bad += !expect(what, k->call(&n, &msg), CLATTN_ERROR_UNSUPPORTED, msg, k->type, value, byte, NULL);
        /* The *_init_sized of a newer caller zeroes what this library lacks and records the caller's size. */
        memset(&n, BYTE_GARBAGE, sizeof n);
        switch (i) {
        case 0: clattn_context_options_init_sized(&n.co, big); break;
        case 1: clattn_sdpa_desc_init_sized(&n.sd, big, B_, H_, H_, L_, L_, D_, D_); break;
        case 2: clattn_mha_weights_init_sized(&n.mw, big); break;
        case 3: clattn_mha_options_init_sized(&n.mo, big); break;
        case 4: clattn_sdpa_buffers_init_sized(&n.sb, big); break;
        case 5: clattn_merge_desc_init_sized(&n.md, big, 2, B_, H_, L_, D_); break;
        case 6: clattn_kv_append_desc_init_sized(&n.ad, big, B_, H_, 1, D_, D_, AP_NB, 16, 2); break;
        default: clattn_kv_append_buffers_init_sized(&n.ab, big); break;
        }
        size_t got;
        memcpy(&got, &n, sizeof got);
        bad += got != big;
        for (size_t b = k->live_size; b < big; b++) bad += n.bytes[b] != 0;
        if (i == 2) { /* default weights are no weights: give them, keeping the newer size and tail */
            clattn_mha_weights w;
            live_weights(&w);
            w.struct_size = big;
            n.mw = w;
        }
        if (i == 4) { /* default buffers are no buffers: give them, keeping the newer size and tail */
            newer b;
            init_sb(&b);
            b.sb.struct_size = big;
            n.sb = b.sb;
        }
        if (i == 7) { /* likewise for the append's buffers */
            newer b;
            init_ab(&b);
            b.ab.struct_size = big;
            n.ab = b.ab;
        }
        snprintf(what, sizeof what, "%s init_sized(%zu)", k->type, big);
        bad += !expect(what, k->call(&n, &msg), CLATTN_SUCCESS, msg, NULL);
    }

    /* The output struct: too small, and a newer caller's (bytes beyond the library's are zeroed). */
    newer n;
    const char *msg;
    clattn_device_info_init(&n.di);
    n.di.struct_size = 0;
    bad += !expect("device_info size 0", clattn_context_get_info(g_ctx, &n.di), CLATTN_ERROR_INVALID_ARGUMENT,
                   msg = clattn_last_error(g_ctx), "clattn_device_info", "struct_size is 0,", "clattn_device_info_init",
                   NULL);
    n.di.struct_size = CLATTN_ABI1_DEVICE_INFO_SIZE - 1;
    bad += !expect("device_info size min-1", clattn_context_get_info(g_ctx, &n.di), CLATTN_ERROR_INVALID_ARGUMENT,
                   msg = clattn_last_error(g_ctx), "clattn_device_info", NULL);
    /* garbage: refused before writing past the caller's bytes (ASan builds catch a write) */
    n.di.struct_size = (size_t)1 << 40;
    bad += !expect("device_info size 2^40", clattn_context_get_info(g_ctx, &n.di), CLATTN_ERROR_INVALID_ARGUMENT,
                   msg = clattn_last_error(g_ctx), "clattn_device_info", "struct_size is 1099511627776,", NULL);
    const size_t big = sizeof(clattn_device_info) + SLACK;
    memset(&n, BYTE_GARBAGE, sizeof n);
    memcpy(&n, &big, sizeof big);
    bad += !expect("device_info newer", clattn_context_get_info(g_ctx, &n.di), CLATTN_SUCCESS, clattn_last_error(g_ctx),
                   NULL);
    bad += n.di.struct_size != big;
    for (size_t b = sizeof(clattn_device_info); b < big; b++) bad += n.bytes[b] != 0;
    assert_int_equal(bad, 0);
}

/* ---- versions ------------------------------------------------------------------------------------ */

static void test_version(void **state)
{
    (void)state;
    assert_int_equal(clattn_version_number(), CLATTN_VERSION_NUMBER);
    assert_int_equal(CLATTN_VERSION_NUMBER,
                     CLATTN_VERSION_MAJOR * 10000 + CLATTN_VERSION_MINOR * 100 + CLATTN_VERSION_PATCH);
    char want[32];
    int n = clattn_version_number();
    snprintf(want, sizeof want, "%d.%d.%d", n / 10000, n / 100 % 100, n % 100);
    assert_string_equal(clattn_version_string(), want);
}

/* ---- N-D tensor views ------------------------------------------------------------------------------ */

static void test_tensor_constructors(void **state)
{
    (void)state;
    const int64_t dims5[5] = {2, 3, 4, 5, 6};
    clattn_tensor t = clattn_tensor_contiguous_nd(5, dims5);
    const int64_t want5[CLATTN_MAX_DIMS] = {360, 120, 30, 6, 1, 0, 0, 0};
    assert_int_equal(t.ndim, 5);
    assert_memory_equal(t.strides, want5, sizeof want5);
    assert_int_equal(t.dims[5], 0);
    assert_int_equal(t.offset, 0);
    clattn_tensor c4 = clattn_tensor_contiguous(2, 3, 4, 5), n4 = clattn_tensor_contiguous_nd(4, dims5);
    assert_memory_equal(&c4, &n4, sizeof c4);
    const int64_t s3[3] = {7, 0, 2};
    clattn_tensor v = clattn_tensor_view(3, dims5, s3, 11);
    assert_int_equal(v.ndim, 3);
    assert_memory_equal(v.strides, s3, sizeof s3);
    assert_int_equal(v.dims[3], 0);
    assert_int_equal(v.offset, 11);
    assert_int_equal(clattn_tensor_contiguous_nd(9, dims5).ndim, 9);
    assert_int_equal(clattn_tensor_contiguous_nd(9, dims5).dims[0], 0);
    assert_int_equal(clattn_tensor_contiguous_nd(0, dims5).ndim, 0);
    assert_int_equal(clattn_tensor_contiguous_nd(2, NULL).ndim, 0);
    assert_int_equal(clattn_tensor_view(2, dims5, NULL, 0).ndim, 0);
    const int64_t huge[3] = {2, INT64_MAX, 2};
    assert_int_equal(clattn_tensor_contiguous_nd(3, huge).strides[0], INT64_MAX); /* saturates */
}

static void test_tensor_ndim_checked(void **state)
{
    (void)state;
    int bad = 0;
    clattn_sdpa_desc d;
    clattn_sdpa_plan *p = NULL;
    const int64_t dims5[5] = {B_, H_, L_, D_, 1};
    live_desc(&d, CLATTN_CAUSAL_NONE, CLATTN_WINDOW_UNBOUNDED);
    d.q = clattn_tensor_contiguous_nd(5, dims5);
    bad += !expect("q ndim 5", clattn_sdpa_plan_create(&p, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
                   clattn_last_error(g_ctx), "q: ndim is 5, expected 4", NULL);
    live_desc(&d, CLATTN_CAUSAL_NONE, CLATTN_WINDOW_UNBOUNDED);
    d.out.ndim = 9;
    bad += !expect("out ndim 9", clattn_sdpa_plan_create(&p, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
                   clattn_last_error(g_ctx), "out: ndim is 9, expected 4", NULL);
    live_desc(&d, CLATTN_CAUSAL_NONE, CLATTN_WINDOW_UNBOUNDED);
    d.want_probs = 1;
    d.probs.ndim = 0;
    bad += !expect("probs ndim 0", clattn_sdpa_plan_create(&p, g_ctx, &d), CLATTN_ERROR_INVALID_ARGUMENT,
                   clattn_last_error(g_ctx), "probs: ndim is 0, expected 4", NULL);

    /* MHA: the mask is checked like SDPA's. */
    clattn_mha_weights w;
    live_weights(&w);
    clattn_mha *m = NULL;
    assert_int_equal(clattn_mha_create(&m, g_ctx, &w), CLATTN_SUCCESS);
    clattn_mha_options o;
    clattn_mha_options_init(&o);
    o.mask_kind = CLATTN_MASK_BOOL;
    const int64_t mdims[3] = {1, L_, L_};
    o.mask = clattn_tensor_contiguous_nd(3, mdims);
    uint8_t mask[L_ * L_];
    memset(mask, 1, sizeof mask);
    float out[B_ * L_ * E_];
    bad += !expect("mha mask ndim 3", clattn_mha_forward(m, B_, L_, L_, g_x, NULL, NULL, mask, NULL, &o, out, NULL),
                   CLATTN_ERROR_INVALID_ARGUMENT, clattn_last_error(g_ctx), "mask: ndim is 3, expected 4", NULL);
    clattn_mha_destroy(m);

    /* dims and strides beyond ndim are ignored. */
    clattn_sdpa_desc ref;
    live_desc(&ref, CLATTN_CAUSAL_TOP_LEFT, CLATTN_WINDOW_UNBOUNDED);
    d = ref;
    clattn_tensor *views[] = {&d.q, &d.k, &d.v, &d.out, &d.mask, &d.probs};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        for (int j = 4; j < CLATTN_MAX_DIMS; j++) {
            views[i]->dims[j] = -7;
            views[i]->strides[j] = -9;
        }
    bad += !sdpa_matches("dims beyond ndim", &d, &ref);
    assert_int_equal(bad, 0);
}

int main(void)
{
    g_ctx = tu_open_context_or_skip();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_old_program),
        cmocka_unit_test(test_truncated_inputs),
        cmocka_unit_test(test_truncated_output),
        cmocka_unit_test(test_bad_and_newer_sizes),
        cmocka_unit_test(test_tensor_constructors),
        cmocka_unit_test(test_tensor_ndim_checked),
    };
    int rc = cmocka_run_group_tests_name("abi", tests, setup, NULL);
    clattn_context_destroy(g_ctx);
    return rc;
}
