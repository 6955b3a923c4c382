/*
 * FROZEN: the caller-allocated struct layouts of clattn 0.2.0 (SONAME 1), the first release with
 * struct_size, copied under _abi1 names. Never edit this file when clattn.h gains fields: it stands for a
 * program compiled against the 0.2.0 header, and the abi test checks that such a program keeps working
 * with the library as it is now (tests/abi/abi1_caller.c), and that the live header still starts every
 * struct with exactly these fields at these offsets (tests/abi/test_abi.c).
 *
 * Types only: the prototypes an old program would call are in abi1_caller.c, the one file that uses them.
 * clattn's enums are int-sized (test_abi.c checks it), so enum fields are frozen as int.
 */
#ifndef CLATTN_ABI1_H
#define CLATTN_ABI1_H

#include <stddef.h>
#include <stdint.h>

#define CLATTN_ABI1_MAX_DIMS 8

typedef struct clattn_tensor_abi1 {
    int ndim;
    int64_t dims[CLATTN_ABI1_MAX_DIMS];
    int64_t strides[CLATTN_ABI1_MAX_DIMS];
    int64_t offset;
} clattn_tensor_abi1;

typedef struct clattn_context_options_abi1 {
    size_t struct_size;
    const char *device;
    int num_threads;
} clattn_context_options_abi1;

typedef struct clattn_device_info_abi1 {
    size_t struct_size;
    int backend;
    char platform_name[128];
    char device_name[128];
    char vendor[128];
    char driver_version[64];
    char opencl_c_version[64];
    int num_threads;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_work_group_size;
} clattn_device_info_abi1;

typedef struct clattn_sdpa_desc_abi1 {
    size_t struct_size;
    clattn_tensor_abi1 q, k, v, out;
    float scale;
    float softcap;
    int causal;
    int64_t window_left;
    int64_t window_right;
    int mask_kind;
    clattn_tensor_abi1 mask;
    int use_kv_lengths;
    int want_probs;
    clattn_tensor_abi1 probs;
    int data_type;
} clattn_sdpa_desc_abi1;

typedef struct clattn_mha_weights_abi1 {
    size_t struct_size;
    int64_t embed_dim, num_heads, kdim, vdim;
    const float *w_q, *w_k, *w_v, *w_o;
    const float *b_q, *b_k, *b_v, *b_o;
} clattn_mha_weights_abi1;

typedef struct clattn_mha_options_abi1 {
    size_t struct_size;
    float scale;
    float softcap;
    int causal;
    int64_t window_left, window_right;
    int mask_kind;
    clattn_tensor_abi1 mask;
    int probs_mode;
} clattn_mha_options_abi1;

/* The 0.2.0 size of each struct: the end of its last field. The library's minimum struct_size. */
#define CLATTN_ABI1_END(T, f) (offsetof(T, f) + sizeof(((T *)0)->f))
#define CLATTN_ABI1_CONTEXT_OPTIONS_SIZE CLATTN_ABI1_END(clattn_context_options_abi1, num_threads)
#define CLATTN_ABI1_DEVICE_INFO_SIZE CLATTN_ABI1_END(clattn_device_info_abi1, max_work_group_size)
#define CLATTN_ABI1_SDPA_DESC_SIZE CLATTN_ABI1_END(clattn_sdpa_desc_abi1, data_type)
#define CLATTN_ABI1_MHA_WEIGHTS_SIZE CLATTN_ABI1_END(clattn_mha_weights_abi1, b_o)
#define CLATTN_ABI1_MHA_OPTIONS_SIZE CLATTN_ABI1_END(clattn_mha_options_abi1, probs_mode)

#endif /* CLATTN_ABI1_H */
