/*
 * paged.cl — the paged KV cache's append (clattn_kv_append_*, issue #13 item 3): new K/V rows of each
 * sequence copied into their blocks of the pools, on the device (no host round trip).
 *
 *   k_new: [B, Hkv, Lnew, D]   v_new: [B, Hkv, Lnew, Dv]            (SDPA's k/v layout, any strides)
 *   k_cache: [num_blocks, block_size, Hkv, D]   v_cache: [num_blocks, block_size, Hkv, Dv]   (pools)
 *   block_table: int32 [B, max_blocks] (row-major, contiguous)   positions: int32 [B]
 *
 * Row t of sequence b goes to logical position pos = positions[b] + t: block
 * e = block_table[b * max_blocks + (pos >> PAGE_SHIFT)], slot pos & (block_size - 1). A row whose position
 * is negative or at least max_blocks * block_size, or whose entry e is outside [0, num_blocks), is not
 * written (the host path refuses such a call; a cl_mem table is not read back, so the kernel skips it):
 * no access outside the pools or the table, whatever the table and positions hold.
 * The copy is bit-exact: elements are moved as ELEM (uint for 4-byte types, ushort for 2-byte types), never
 * converted.
 *
 * Launch (clattn_kv_append): local (WG, 1, 1); global (ceil(max(D, Dv) / WG) * WG, nrows, 1): work-item
 * (c, r) copies column c of K (c < D) and of V (c < Dv) of row row0 + r, rows ordered (b, hk, t).
 * All strides and offsets in ELEMENTS; index products in long.
 * Build options: -D ELEM (uint or ushort), -D PAGE_SHIFT (log2 of the block size, >= 4).
 */
#define CLATTN_APPEND_VIEW(p) __global ELEM *p, long p##_off, long p##_s0, long p##_s1, long p##_s2, long p##_s3

__kernel void clattn_kv_append(__global const ELEM *kn, long kn_off, long kn_s0, long kn_s1, long kn_s2, long kn_s3,
                               __global const ELEM *vn, long vn_off, long vn_s0, long vn_s1, long vn_s2, long vn_s3,
                               CLATTN_APPEND_VIEW(kc), CLATTN_APPEND_VIEW(vc),
                               __global const int *block_table, __global const int *positions, long Hkv, long Lnew,
                               long D, long Dv, long max_blocks, long num_blocks, long row0, long nrows)
{
    const long c = (long)get_global_id(0);
    const long r = (long)get_global_id(1);
    if (r >= nrows || (c >= D && c >= Dv)) return;
    const long row = row0 + r;
    const long bh = row / Lnew;
    const long t = row - bh * Lnew; /* not %: see scores.cl */
    const long b = bh / Hkv;
    const long hk = bh - b * Hkv;
    const long pos = (long)positions[b] + t;
    if (pos < 0 || (pos >> PAGE_SHIFT) >= max_blocks) return;
    const int e = block_table[b * max_blocks + (pos >> PAGE_SHIFT)];
    if (e < 0 || (long)e >= num_blocks) return;
    const long slot = pos & ((1L << PAGE_SHIFT) - 1);
    if (c < D)
        kc[kc_off + (long)e * kc_s0 + slot * kc_s1 + hk * kc_s2 + c * kc_s3] =
            kn[kn_off + b * kn_s0 + hk * kn_s1 + t * kn_s2 + c * kn_s3];
    if (c < Dv)
        vc[vc_off + (long)e * vc_s0 + slot * vc_s1 + hk * vc_s2 + c * vc_s3] =
            vn[vn_off + b * vn_s0 + hk * vn_s1 + t * vn_s2 + c * vn_s3];
}
