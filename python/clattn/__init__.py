"""clattn: scaled dot-product and multi-head attention on any OpenCL device or the host, from Python.

Pure Python over ctypes: the package loads libclattn (see :func:`library_path`) and passes NumPy arrays
to it as strided views, without copies where the strides allow.

Shapes (as in torch.nn.functional.scaled_dot_product_attention):
    q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv] -> out [B, Hq, Lq, Dv], probs [B, Hq, Lq, Lk]
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["Error", "sdpa", "merge_states", "kv_append", "version", "devices", "device_info", "library_path", "MultiheadAttention"]

# --------------------------------------------------------------------------------------------------
# Loading the library


def _load() -> Tuple[ctypes.CDLL, str]:
    """Tries CLATTN_LIBRARY alone when set; else the build tree next to this source tree
    (../build/src/libclattn.so relative to python/), then ctypes.util.find_library, then the soname."""
    tried: List[str] = []
    env = os.environ.get("CLATTN_LIBRARY")
    if env:
        candidates = [("CLATTN_LIBRARY", env)]
    else:
        build = Path(__file__).resolve().parent.parent.parent / "build" / "src" / "libclattn.so"
        candidates = []
        if build.exists():
            candidates.append(("build tree", str(build)))
        else:
            tried.append(f"build tree: {build} (absent)")
        found = ctypes.util.find_library("clattn")
        if found:
            candidates.append(("ctypes.util.find_library('clattn')", found))
        else:
            tried.append("ctypes.util.find_library('clattn'): not found")
        candidates.append(("soname", "libclattn.so.1"))
    for how, path in candidates:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append(f"{how}: {path} ({e})")
    raise ImportError(
        "clattn: cannot load libclattn; tried:\n  " + "\n  ".join(tried)
        + "\nSet CLATTN_LIBRARY to the path of libclattn.so, or build it (cmake --preset release && "
        "cmake --build --preset release) in the source tree next to this package."
    )


_lib, _lib_path = _load()


def library_path() -> str:
    """The path (or name) libclattn was loaded from."""
    return _lib_path


# --------------------------------------------------------------------------------------------------
# ABI structs (include/clattn.h; every caller-allocated struct starts with size_t struct_size)

MAX_DIMS = 8
_i64 = ctypes.c_int64
_int = ctypes.c_int
_float = ctypes.c_float
_size = ctypes.c_size_t


class _Tensor(ctypes.Structure):
    _fields_ = [("ndim", _int), ("dims", _i64 * MAX_DIMS), ("strides", _i64 * MAX_DIMS), ("offset", _i64)]


class _ContextOptions(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("device", ctypes.c_char_p), ("num_threads", _int),
                ("reserved_0", _int), ("cache_dir", ctypes.c_char_p), ("kernel_path", _int),
                ("host_isa", _int), ("log_level", _int), ("log_fn", ctypes.c_void_p),
                ("log_user", ctypes.c_void_p)]


class _DeviceInfo(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("backend", _int), ("platform_name", ctypes.c_char * 128),
                ("device_name", ctypes.c_char * 128), ("vendor", ctypes.c_char * 128),
                ("driver_version", ctypes.c_char * 64), ("opencl_c_version", ctypes.c_char * 64),
                ("num_threads", _int), ("global_mem_bytes", ctypes.c_uint64),
                ("local_mem_bytes", ctypes.c_uint64), ("max_work_group_size", ctypes.c_uint64),
                # appended after 0.2.0's first layout (device enumeration); a library without them leaves
                # them zero (clattn.h "## ABI")
                ("index", ctypes.c_uint32), ("type", _int), ("compute_units", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("max_alloc_bytes", ctypes.c_uint64), ("selector", ctypes.c_char * 64),
                ("platform_version", ctypes.c_char * 128), ("extensions", ctypes.c_char * 2048)]


_DEVICE_TYPES = {0: "other", 1: "cpu", 2: "gpu", 3: "accelerator"}
# CLATTN_DEVICE_FLAG_* bits (clattn.h)
_DEVICE_FLAGS = {"available": 1 << 0, "default": 1 << 1, "fma": 1 << 2, "fp16": 1 << 3, "fp64": 1 << 4,
                 "subgroups": 1 << 5, "intel_subgroups": 1 << 6, "extensions_truncated": 1 << 7}


class _SdpaDesc(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("q", _Tensor), ("k", _Tensor), ("v", _Tensor), ("out", _Tensor),
                ("scale", _float), ("softcap", _float), ("causal", _int), ("window_left", _i64),
                ("window_right", _i64), ("mask_kind", _int), ("mask", _Tensor), ("use_kv_lengths", _int),
                ("want_probs", _int), ("probs", _Tensor), ("data_type", _int), ("reserved_0", _int),
                ("kernel_path", _int), ("reserved_1", _int), ("want_lse", _int), ("lse", _Tensor),
                ("precision", _int), ("reserved_2", _int),
                ("kv_layout", _int), ("reserved_3", _int), ("kv_block_size", _i64), ("max_blocks_per_seq", _i64),
                ("mask_data_type", _int), ("reserved_4", _int)]


_fp = ctypes.POINTER(ctypes.c_float)


class _MhaWeights(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("embed_dim", _i64), ("num_heads", _i64), ("kdim", _i64),
                ("vdim", _i64), ("w_q", _fp), ("w_k", _fp), ("w_v", _fp), ("w_o", _fp),
                ("b_q", _fp), ("b_k", _fp), ("b_v", _fp), ("b_o", _fp)]


class _MhaOptions(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("scale", _float), ("softcap", _float), ("causal", _int),
                ("window_left", _i64), ("window_right", _i64), ("mask_kind", _int), ("mask", _Tensor),
                ("probs_mode", _int)]


_vp = ctypes.c_void_p
_P = ctypes.POINTER


class _SdpaBuffers(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("q", _vp), ("k", _vp), ("v", _vp), ("mask", _vp), ("kv_lengths", _vp),
                ("out", _vp), ("probs", _vp), ("lse", _vp), ("block_table", _vp)]


class _KvAppendDesc(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("k_new", _Tensor), ("v_new", _Tensor), ("k_cache", _Tensor),
                ("v_cache", _Tensor), ("kv_block_size", _i64), ("max_blocks_per_seq", _i64), ("data_type", _int)]


class _KvAppendBuffers(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("k_new", _vp), ("v_new", _vp), ("block_table", _vp), ("positions", _vp),
                ("k_cache", _vp), ("v_cache", _vp)]


class _MergeDesc(ctypes.Structure):
    _fields_ = [("struct_size", _size), ("parts_out", _Tensor), ("parts_lse", _Tensor), ("out", _Tensor),
                ("want_lse", _int), ("data_type", _int), ("lse", _Tensor)]


# clattn_precision values (clattn.h)
_PRECISION = {"fp32": 0, "reduced": 1}


def _sig(name: str, res: Any, *args: Any) -> None:
    f = getattr(_lib, name)
    f.restype = res
    f.argtypes = list(args)


_sig("clattn_version_string", ctypes.c_char_p)
_sig("clattn_status_string", ctypes.c_char_p, _int)
_sig("clattn_last_error", ctypes.c_char_p, _vp)
_sig("clattn_context_options_init_sized", None, _P(_ContextOptions), _size)
_sig("clattn_context_create", _int, _P(_vp), _P(_ContextOptions))
_sig("clattn_context_destroy", None, _vp)
_sig("clattn_device_info_init_sized", None, _P(_DeviceInfo), _size)
_sig("clattn_context_get_info", _int, _vp, _P(_DeviceInfo))
_sig("clattn_device_list_count", _int, _P(_size))
_sig("clattn_device_list_get", _int, _size, _P(_DeviceInfo))
_sig("clattn_sdpa_desc_init_sized", None, _P(_SdpaDesc), _size, _i64, _i64, _i64, _i64, _i64, _i64, _i64)
_sig("clattn_sdpa", _int, _vp, _P(_SdpaDesc), _vp, _vp, _vp, _vp, _vp, _vp, _vp)
_sig("clattn_sdpa_plan_create", _int, _P(_vp), _vp, _P(_SdpaDesc))
_sig("clattn_sdpa_plan_destroy", None, _vp)
_sig("clattn_sdpa_buffers_init_sized", None, _P(_SdpaBuffers), _size)
_sig("clattn_sdpa_execute_buffers", _int, _vp, _P(_SdpaBuffers))
_sig("clattn_kv_append_desc_init_sized", None, _P(_KvAppendDesc), _size, _i64, _i64, _i64, _i64, _i64, _i64, _i64,
     _i64)
_sig("clattn_kv_append_plan_create", _int, _P(_vp), _vp, _P(_KvAppendDesc))
_sig("clattn_kv_append_plan_destroy", None, _vp)
_sig("clattn_kv_append_buffers_init_sized", None, _P(_KvAppendBuffers), _size)
_sig("clattn_kv_append_execute", _int, _vp, _P(_KvAppendBuffers))
_sig("clattn_merge_desc_init_sized", None, _P(_MergeDesc), _size, _i64, _i64, _i64, _i64, _i64)
_sig("clattn_merge_states", _int, _vp, _P(_MergeDesc), _vp, _vp, _vp, _vp)
_sig("clattn_mha_weights_init_sized", None, _P(_MhaWeights), _size)
_sig("clattn_mha_create", _int, _P(_vp), _vp, _P(_MhaWeights))
_sig("clattn_mha_destroy", None, _vp)
_sig("clattn_mha_options_init_sized", None, _P(_MhaOptions), _size)
_sig("clattn_mha_forward", _int, _vp, _i64, _i64, _i64, _vp, _vp, _vp, _vp, _vp, _P(_MhaOptions), _vp, _vp)

_STATUS_NAMES = {
    0: "CLATTN_SUCCESS", 1: "CLATTN_ERROR_INVALID_ARGUMENT", 2: "CLATTN_ERROR_UNSUPPORTED",
    3: "CLATTN_ERROR_OUT_OF_MEMORY", 4: "CLATTN_ERROR_DEVICE_NOT_FOUND", 5: "CLATTN_ERROR_OPENCL",
    6: "CLATTN_ERROR_KERNEL_BUILD", 7: "CLATTN_ERROR_IO", 8: "CLATTN_ERROR_INTERNAL",
    9: "CLATTN_ERROR_COMMUNICATION",
}


def _init(struct_type: type, init_name: str, *args: Any) -> Any:
    s = struct_type()
    getattr(_lib, init_name)(ctypes.byref(s), ctypes.sizeof(s), *args)
    return s


# --------------------------------------------------------------------------------------------------
# Errors


class Error(RuntimeError):
    """A clattn call failed.

    Attributes:
        status: the clattn_status value (int).
        status_name: its name, e.g. "CLATTN_ERROR_INVALID_ARGUMENT".
        message: the library's message (clattn_last_error), e.g. "k: dim 3 is 5, expected 4 (head_dim)".
    """

    def __init__(self, status: int, message: str):
        self.status = status
        self.status_name = _STATUS_NAMES.get(status, f"CLATTN_STATUS_{status}")
        self.message = message
        super().__init__(f"{self.status_name}: {message}")


def _check(status: int, ctx: Optional[int]) -> None:
    if status != 0:
        msg = _lib.clattn_last_error(ctx)
        text = msg.decode("utf-8", "replace") if msg else ""
        if not text:
            text = (_lib.clattn_status_string(status) or b"").decode()
        raise Error(status, text)


# --------------------------------------------------------------------------------------------------
# Contexts: one per device selector, created on first use, destroyed at exit


class _Context:
    def __init__(self, device: Optional[str]):
        opts = _init(_ContextOptions, "clattn_context_options_init_sized")
        self._device_bytes = None if device is None else device.encode()
        opts.device = self._device_bytes
        h = _vp()
        _check(_lib.clattn_context_create(ctypes.byref(h), ctypes.byref(opts)), None)
        self.handle = h.value
        self.lock = threading.Lock()  # a context is used by one thread at a time

    def close(self) -> None:
        if self.handle:
            _lib.clattn_context_destroy(self.handle)
            self.handle = None


_contexts: Dict[Optional[str], _Context] = {}
_contexts_lock = threading.Lock()


def _context(device: Optional[str]) -> _Context:
    with _contexts_lock:
        ctx = _contexts.get(device)
        if ctx is None:
            ctx = _contexts[device] = _Context(device)
        return ctx


@atexit.register
def _close_all() -> None:
    with _contexts_lock:
        for ctx in _contexts.values():
            ctx.close()
        _contexts.clear()


def version() -> str:
    """The version of the loaded libclattn ("MAJOR.MINOR.PATCH")."""
    return _lib.clattn_version_string().decode()


def _info_dict(info: _DeviceInfo) -> Dict[str, Any]:
    d: Dict[str, Any] = {"backend": "opencl" if info.backend == 1 else "host"}
    for name, _ in _DeviceInfo._fields_[2:]:
        val = getattr(info, name)
        d[name] = val.decode("utf-8", "replace") if isinstance(val, bytes) else val
    d["type"] = _DEVICE_TYPES.get(info.type, "other")
    d["flags"] = {k: bool(info.flags & bit) for k, bit in _DEVICE_FLAGS.items()}
    d["extensions"] = d["extensions"].split()
    return d


def device_info(device: Optional[str] = None) -> Dict[str, Any]:
    """What the context for selector ``device`` runs on (clattn_context_get_info).

    ``device``: a CLATTN_DEVICE selector ("host", "pocl", ":gpu:0", ...); None means the CLATTN_DEVICE
    environment variable, else the default rule (first GPU, else first OpenCL CPU device, else host).
    The dict has the keys of :func:`devices` entries; "selector" is ``device`` as given and "index" is
    meaningless here (a context does not know its place in the enumeration).
    Raises :class:`Error` (CLATTN_ERROR_DEVICE_NOT_FOUND) when the selector matches no device.
    """
    ctx = _context(device)
    info = _init(_DeviceInfo, "clattn_device_info_init_sized")
    with ctx.lock:
        _check(_lib.clattn_context_get_info(ctx.handle, ctypes.byref(info)), ctx.handle)
    d = _info_dict(info)
    d["selector"] = device
    return d


def devices(*selectors: Optional[str]) -> List[Dict[str, Any]]:
    """Every device clattn can run on (clattn_device_list_count / clattn_device_list_get), or, given selectors,
    :func:`device_info` of each selector that matches a device.

    With no arguments: every OpenCL device of every platform, in platform then device order, then the host
    path (always last); nothing is compiled and no context is created. Each dict: "index", "selector" (the
    CLATTN_DEVICE value that picks exactly that device, for ``device=`` arguments: "0::1", "host"),
    "backend" ("opencl" or "host"), "type" ("cpu", "gpu", "accelerator", "other"), "platform_name",
    "platform_version", "device_name", "vendor", "driver_version", "opencl_c_version", "compute_units",
    "num_threads", "max_work_group_size", "local_mem_bytes", "global_mem_bytes", "max_alloc_bytes",
    "extensions" (a list), "flags" (a dict of bools: available, default, fma, fp16, fp64, subgroups,
    intel_subgroups, extensions_truncated). ``flags["default"]`` marks the device selector None picks
    when CLATTN_DEVICE is unset.
    With selectors: selectors that match nothing are left out.
    """
    if selectors:
        out = []
        for sel in selectors:
            try:
                out.append(device_info(sel))
            except Error as e:
                if e.status != 4:
                    raise
        return out
    n = _size()
    _check(_lib.clattn_device_list_count(ctypes.byref(n)), None)
    result = []
    for i in range(n.value):
        info = _init(_DeviceInfo, "clattn_device_info_init_sized")
        _check(_lib.clattn_device_list_get(i, ctypes.byref(info)), None)
        result.append(_info_dict(info))
    return result


# --------------------------------------------------------------------------------------------------
# Arrays -> tensor views


def _as_array(x: Any, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray) and hasattr(x, "__dlpack__") and not hasattr(x, "__array_interface__"):
        # DLPack producers (PyTorch CPU tensors, JAX/CuPy host arrays, ...): a zero-copy NumPy view of
        # their memory; a producer on another device raises its own error here.
        a = np.from_dlpack(x)
    else:
        a = np.asarray(x)  # no copy for ndarrays and __array_interface__ objects
    if a.ndim < 1 or a.ndim > MAX_DIMS:
        raise ValueError(f"{name}: ndim is {a.ndim}, expected 1..{MAX_DIMS}")
    return a


# bfloat16 (clattn_dtype 2). NumPy has no bfloat16, so a bf16 input arrives as one of: a PyTorch tensor of
# torch.bfloat16 (viewed as int16 bits through DLPack, no copy), a NumPy array of ml_dtypes.bfloat16 (the extension
# type JAX and ONNX use; viewed as uint16 bits), or uint16 bits with dtype="bfloat16" passed explicitly.
_DTYPE_CODE = {"float32": 0, "float16": 1, "bfloat16": 2}


def _bf16_source(x: Any) -> Optional[str]:
    """"torch" / "ml_dtypes" when x is a bfloat16 tensor / array of those libraries, else None."""
    if type(x).__module__.split(".")[0] == "torch" and str(getattr(x, "dtype", "")) == "torch.bfloat16":
        return "torch"
    if isinstance(x, np.ndarray) and x.dtype.name == "bfloat16":
        return "ml_dtypes"
    return None


def _as_elems(x: Any, name: str, dtype: Optional[str]) -> Tuple[np.ndarray, str, Optional[str]]:
    """(array, element type name, bf16 source) for a q/k/v-like argument: float32 / float16 arrays as they are;
    bfloat16 ones as their uint16 bits (see _DTYPE_CODE's comment); dtype "bfloat16" takes uint16 bits as bf16."""
    src = _bf16_source(x)
    if src == "torch":
        import torch  # x is a torch tensor, so torch is importable

        a = np.from_dlpack(x.detach().view(torch.int16)).view(np.uint16)
    elif src == "ml_dtypes":
        a = x.view(np.uint16)
    else:
        a = _as_array(x, name)
    if a.ndim < 1 or a.ndim > MAX_DIMS:
        raise ValueError(f"{name}: ndim is {a.ndim}, expected 1..{MAX_DIMS}")
    if src is not None or dtype == "bfloat16":
        if a.dtype != np.uint16:
            raise TypeError(f"{name}: dtype='bfloat16' takes uint16 arrays of bfloat16 bits; got {a.dtype}")
        return a, "bfloat16", src
    if dtype is not None and dtype != a.dtype.name:
        raise TypeError(f"{name}: dtype {a.dtype} does not match dtype={dtype!r}")
    if a.dtype not in (np.float32, np.float16):
        raise TypeError(f"{name}: dtype {a.dtype} is not float32, float16 or bfloat16 (a torch.bfloat16 tensor, an "
                        "ml_dtypes.bfloat16 array, or uint16 bits with dtype='bfloat16')")
    return a, a.dtype.name, None


def _bf16_result(bits: np.ndarray, src: Optional[str]) -> Any:
    """A bfloat16 result as the caller's library holds it: a torch.bfloat16 tensor (zero-copy), an
    ml_dtypes.bfloat16 array, or the uint16 bits themselves (dtype='bfloat16' given explicitly)."""
    if src == "torch":
        import torch

        return torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)
    if src == "ml_dtypes":
        import ml_dtypes

        return bits.view(ml_dtypes.bfloat16)
    return bits


def _strided(a: np.ndarray) -> np.ndarray:
    """``a`` itself when its strides are non-negative multiples of the item size and its data aligned;
    else a C-contiguous copy."""
    item = a.itemsize
    ok = a.ctypes.data % item == 0 and all(s >= 0 and s % item == 0 for s in a.strides)
    return a if ok else np.ascontiguousarray(a)


def _tensor(a: np.ndarray) -> _Tensor:
    t = _Tensor()
    t.ndim = a.ndim
    for i, (d, s) in enumerate(zip(a.shape, a.strides)):
        t.dims[i] = d
        t.strides[i] = s // a.itemsize
    t.offset = 0
    return t


_CAUSAL = {"top-left": 1, "bottom-right": 2}


def sdpa(
    q: Any,
    k: Any,
    v: Any,
    *,
    attn_mask: Any = None,
    is_causal: bool = False,
    causal_alignment: str = "top-left",
    scale: Optional[float] = None,
    window: Optional[Tuple[Optional[int], Optional[int]]] = None,
    kv_lengths: Any = None,
    softcap: Optional[float] = None,
    enable_gqa: bool = False,
    return_probs: bool = False,
    return_lse: bool = False,
    precision: str = "fp32",
    block_table: Any = None,
    dtype: Optional[str] = None,
    device: Optional[str] = None,
) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
    """Scaled dot-product attention: softmax(q·kᵀ·scale + mask)·v over the allowed keys.

    Args:
        q: [B, Hq, Lq, D] float32, float16 or bfloat16 (NumPy array, anything with ``__array_interface__``, or a
            CPU ``__dlpack__`` producer such as a PyTorch tensor — viewed without a copy; any
            non-negative element-aligned strides are passed as a view, without a copy). bfloat16 (read in
            place, clattn_dtype BF16; compute float32): a ``torch.bfloat16`` tensor, an ``ml_dtypes.bfloat16``
            array, or a uint16 array of bfloat16 bits with ``dtype="bfloat16"``.
        k: [B, Hkv, Lk, D], same dtype as q.
        v: [B, Hkv, Lk, Dv], same dtype as q.
        attn_mask: bool (True = may attend) or float (added to the scores; only -inf blocks a key), of shape
            [Bm, Hm, Lqm, Lk] or fewer leading dims, each of Bm/Hm/Lqm 1 or full; a last dim of 1 is
            broadcast over the keys. float16 and bfloat16 (torch.bfloat16, ml_dtypes.bfloat16) masks are read as
            they are (widened exactly: the same result as the mask cast to float32); other float masks are used
            as float32.
        is_causal: apply a causal mask (may be combined with attn_mask, unlike torch).
        causal_alignment: "top-left" (key j allowed iff j <= i, torch) or "bottom-right"
            (j <= i + Lk' - Lq, FlashAttention / KV-cache decode).
        scale: score scale; None means 1/sqrt(D). Must be finite and nonzero.
        window: (left, right) sliding window, bottom-right aligned; None for an unbounded side.
        kv_lengths: int32 [B]: keys j >= kv_lengths[b] are masked for batch item b.
        softcap: c > 0 gives scores c·tanh(s/c) (before the mask); None = off.
        enable_gqa: must be True when Hq != Hkv (grouped-query attention; Hq a multiple of Hkv).
        return_probs: also return the attention probabilities [B, Hq, Lq, Lk] (float32).
        return_lse: also return each row's log-sum-exp [B, Hq, Lq] (float32): the natural log of the softmax
            denominator over the allowed keys (FlashAttention's softmax_lse); -inf for a row with no allowed
            key. Results over disjoint key sets combine with ``merge_states``.
        precision: "fp32" (default) or "reduced" (clattn_sdpa_desc.precision = CLATTN_PRECISION_REDUCED: on a
            CPU with AVX512_BF16 the host path forms Q·Kᵀ and P·V from bfloat16-rounded operands with float32
            accumulation, errors of about 1e-3 of max|v|, bound in clattn.h; every other path runs float32).
        block_table: int32 [B, max_blocks_per_seq] for a paged KV cache (the vLLM / FlashAttention
            ``block_table`` convention, clattn_sdpa_desc.kv_layout = CLATTN_KV_PAGED): k and v are then the
            pools [num_blocks, block_size, Hkv, D] / [.., Dv] (block_size a power of two >= 16; any strides,
            e.g. FlashInfer's head-major pools as a transposed view), key j of sequence b is row
            j % block_size of block block_table[b, j // block_size], and kv_lengths (required) gives each
            sequence's length. The logical kv_len is max_blocks_per_seq * block_size (the last dim of masks
            and probabilities). Fill the pools with ``kv_append``. None (default): k and v are contiguous.
        dtype: None (default: q's own) or "float32" / "float16" / "bfloat16"; "bfloat16" is needed only for
            uint16 arrays of bfloat16 bits (torch.bfloat16 tensors and ml_dtypes.bfloat16 arrays say so themselves).
        device: a device selector ("host", "pocl", ...); None means CLATTN_DEVICE / the default rule.
            One context per selector is created on first use and kept.

    Returns:
        out [B, Hq, Lq, Dv] (new C-contiguous array of q's dtype; bfloat16: a torch.bfloat16 tensor for torch
        inputs, an ml_dtypes.bfloat16 array for those, else uint16 bits), or a tuple (out, probs), (out, lse) or
        (out, probs, lse) with return_probs / return_lse.
        Rows with no allowed key are zeros (and zero probabilities).

    Raises:
        clattn.Error: the library rejected the call (``.status_name``, ``.message``: e.g. mismatched
            shapes, "k: dim 3 is 5, expected 4").
        ValueError / TypeError: arguments this wrapper checks itself (dtype, enable_gqa, alignment).
    """
    if dtype is not None and dtype not in _DTYPE_CODE:
        raise ValueError(f"dtype: {dtype!r} is not 'float32', 'float16' or 'bfloat16'")
    (qa, qt, qsrc), (ka, kt, _), (va, vt, _) = (_as_elems(x, n, dtype) for x, n in ((q, "q"), (k, "k"), (v, "v")))
    if len({qt, kt, vt}) != 1:
        raise TypeError(f"q, k, v must all have one element type; got {qt}, {kt}, {vt}")
    hk = ka.shape[2 if block_table is not None else 1] if ka.ndim == 4 else None
    if qa.ndim == 4 and hk is not None and qa.shape[1] != hk and not enable_gqa:
        raise ValueError(f"q has {qa.shape[1]} heads and k {hk}: pass enable_gqa=True for "
                         "grouped-query attention")
    if causal_alignment not in _CAUSAL:
        raise ValueError(f"causal_alignment: {causal_alignment!r} is not 'top-left' or 'bottom-right'")
    if scale is not None and scale == 0:
        raise ValueError("scale: 0 is not supported (the library reads 0 as 1/sqrt(D))")
    if precision not in _PRECISION:
        raise ValueError(f"precision: {precision!r} is not 'fp32' or 'reduced'")
    qa, ka, va = _strided(qa), _strided(ka), _strided(va)
    four = qa.ndim == 4 and ka.ndim == 4 and va.ndim == 4

    bt = None
    if block_table is not None:
        bt = np.ascontiguousarray(block_table, dtype=np.int32)
        if bt.ndim != 2:
            raise ValueError(f"block_table: ndim is {bt.ndim}, expected 2 ([B, max_blocks_per_seq])")
        if kv_lengths is None:
            raise ValueError("kv_lengths: required with block_table (each sequence's length in the paged cache)")
    # Keys per sequence as the masks and probabilities see them (paged: max_blocks_per_seq * block_size).
    lk = (bt.shape[1] * ka.shape[1] if bt is not None else ka.shape[2]) if ka.ndim == 4 else 1
    hkv = (ka.shape[2] if bt is not None else ka.shape[1]) if ka.ndim == 4 else 1

    out = np.empty(qa.shape[:-1] + va.shape[-1:], dtype=qa.dtype)
    # desc_init needs sizes; the views below replace its tensors (the library validates them).
    s4 = [qa.shape[0], qa.shape[1], hkv, qa.shape[2], lk, qa.shape[3], va.shape[3]] if four else [1] * 7
    desc = _init(_SdpaDesc, "clattn_sdpa_desc_init_sized", *s4)
    desc.q, desc.k, desc.v, desc.out = _tensor(qa), _tensor(ka), _tensor(va), _tensor(out)
    desc.data_type = _DTYPE_CODE[qt]
    if bt is not None:
        desc.kv_layout = 1
        desc.kv_block_size = ka.shape[1] if ka.ndim == 4 else 0
        desc.max_blocks_per_seq = bt.shape[1]
    if scale is not None:
        desc.scale = float(scale)
    if softcap is not None:
        desc.softcap = float(softcap)
    desc.precision = _PRECISION[precision]
    if is_causal:
        desc.causal = _CAUSAL[causal_alignment]
    if window is not None:
        left, right = window
        desc.window_left = -1 if left is None else int(left)
        desc.window_right = -1 if right is None else int(right)

    mask_ptr = None
    ma = None
    if attn_mask is not None:
        msrc = _bf16_source(attn_mask)
        ma = _as_elems(attn_mask, "attn_mask", "bfloat16")[0] if msrc else np.asarray(attn_mask)
        if msrc:  # bfloat16 bits, read in place (mask_data_type = CLATTN_DTYPE_BF16)
            desc.mask_kind = 2
            desc.mask_data_type = 2
        elif ma.dtype == np.bool_:
            desc.mask_kind = 1
            ma = ma.view(np.uint8)
        elif ma.dtype == np.float16:  # read in place as binary16 (mask_data_type = CLATTN_DTYPE_F16)
            desc.mask_kind = 2
            desc.mask_data_type = 1
        elif ma.dtype.kind == "f":
            desc.mask_kind = 2
            ma = ma.astype(np.float32, copy=False)
        else:
            raise TypeError(f"attn_mask: dtype {ma.dtype} is not bool or floating point")
        if 1 <= ma.ndim <= 4:
            ma = ma.reshape((1,) * (4 - ma.ndim) + ma.shape)
            if ma.shape[-1] == 1 and ka.ndim == 4:
                ma = np.broadcast_to(ma, ma.shape[:-1] + (lk,))
        ma = _strided(ma)
        desc.mask = _tensor(ma)
        mask_ptr = ma.ctypes.data

    kl_ptr = None
    kl = None
    if kv_lengths is not None:
        kl = np.ascontiguousarray(kv_lengths, dtype=np.int32)
        desc.use_kv_lengths = 1
        kl_ptr = kl.ctypes.data

    probs = None
    if return_probs:
        probs = np.empty(qa.shape[:-1] + (lk,), dtype=np.float32)
        desc.want_probs = 1
        desc.probs = _tensor(probs)

    lse = None
    if return_lse:
        lse = np.empty(qa.shape[:-1], dtype=np.float32)
        desc.want_lse = 1
        desc.lse = _tensor(lse)

    ctx = _context(device)
    with ctx.lock:
        if lse is None and bt is None:
            st = _lib.clattn_sdpa(ctx.handle, ctypes.byref(desc), qa.ctypes.data, ka.ctypes.data, va.ctypes.data,
                                  mask_ptr, kl_ptr, out.ctypes.data, None if probs is None else probs.ctypes.data)
        else:  # lse and block_table are bound by name (clattn_sdpa_execute_buffers)
            plan = _vp()
            st = _lib.clattn_sdpa_plan_create(ctypes.byref(plan), ctx.handle, ctypes.byref(desc))
            if st == 0:
                bufs = _init(_SdpaBuffers, "clattn_sdpa_buffers_init_sized")
                bufs.q, bufs.k, bufs.v = qa.ctypes.data, ka.ctypes.data, va.ctypes.data
                bufs.mask, bufs.kv_lengths, bufs.out = mask_ptr, kl_ptr, out.ctypes.data
                bufs.probs = None if probs is None else probs.ctypes.data
                bufs.lse = None if lse is None else lse.ctypes.data
                bufs.block_table = None if bt is None else bt.ctypes.data
                st = _lib.clattn_sdpa_execute_buffers(plan, ctypes.byref(bufs))
                _lib.clattn_sdpa_plan_destroy(plan)
        _check(st, ctx.handle)
    if qt == "bfloat16":
        out = _bf16_result(out, qsrc)
    extra = tuple(x for x in (probs, lse) if x is not None)
    return (out,) + extra if extra else out


def kv_append(k_new: Any, v_new: Any, k_cache: np.ndarray, v_cache: np.ndarray, block_table: Any, positions: Any,
              *, dtype: Optional[str] = None, device: Optional[str] = None) -> None:
    """Writes new key/value rows into a paged KV cache in place (clattn_kv_append_execute).

    Args:
        k_new: [B, Hkv, Lnew, D] float32, float16 or bfloat16 (sdpa's k layout; any strides; bfloat16 as for
            ``sdpa``: a torch.bfloat16 tensor, an ml_dtypes.bfloat16 array, or uint16 bits with dtype="bfloat16").
        v_new: [B, Hkv, Lnew, Dv], same dtype.
        k_cache: the key pool [num_blocks, block_size, Hkv, D], same dtype, a writable NumPy array (or view);
            updated in place. block_size: a power of two >= 16.
        v_cache: the value pool [num_blocks, block_size, Hkv, Dv], likewise (may share memory with k_cache
            when both are views of one interleaved allocation).
        block_table: int32 [B, max_blocks_per_seq] (as for ``sdpa(block_table=...)``).
        positions: int32 [B]: row t of sequence b goes to logical position positions[b] + t (pass the
            lengths before the append; afterwards the lengths are positions + Lnew).
        dtype: as for ``sdpa`` ("bfloat16" for uint16 arrays of bfloat16 bits, caches included).
        device: a device selector, as for ``sdpa`` (on an OpenCL device the pools are copied in and out).

    Raises:
        clattn.Error: e.g. a position whose block lies past max_blocks_per_seq or a table entry outside
            [0, num_blocks) (CLATTN_ERROR_INVALID_ARGUMENT, naming the sequence and the value).
        ValueError / TypeError: a cache that is not a writable NumPy array, mismatched dtypes.
    """
    if dtype is not None and dtype not in _DTYPE_CODE:
        raise ValueError(f"dtype: {dtype!r} is not 'float32', 'float16' or 'bfloat16'")
    (kn, kt, _), (vn, vt, _) = (_as_elems(x, n, dtype) for x, n in ((k_new, "k_new"), (v_new, "v_new")))
    kn, vn = _strided(kn), _strided(vn)
    caches = []
    for name, c in (("k_cache", k_cache), ("v_cache", v_cache)):
        if not isinstance(c, np.ndarray) or not c.flags.writeable:
            raise TypeError(f"{name}: must be a writable NumPy array (it is updated in place)")
        if _strided(c) is not c:
            raise ValueError(f"{name}: strides {c.strides} are not non-negative multiples of the item size")
        caches.append(_as_elems(c, name, dtype))
    (k_cache, kct, _), (v_cache, vct, _) = caches  # bfloat16 caches as uint16 views of the same memory
    if len({kt, vt, kct, vct}) != 1:
        raise TypeError(f"k_new, v_new, k_cache, v_cache must all have one element type; got "
                        f"{kt}, {vt}, {kct}, {vct}")
    bt = np.ascontiguousarray(block_table, dtype=np.int32)
    pos = np.ascontiguousarray(positions, dtype=np.int32)
    if bt.ndim != 2:
        raise ValueError(f"block_table: ndim is {bt.ndim}, expected 2 ([B, max_blocks_per_seq])")
    if kn.ndim != 4 or vn.ndim != 4 or k_cache.ndim != 4 or v_cache.ndim != 4:
        raise ValueError("k_new, v_new, k_cache, v_cache: expected 4-D arrays")
    desc = _init(_KvAppendDesc, "clattn_kv_append_desc_init_sized", kn.shape[0], kn.shape[1], kn.shape[2],
                 kn.shape[3], vn.shape[3], k_cache.shape[0], k_cache.shape[1], bt.shape[1])
    desc.k_new, desc.v_new = _tensor(kn), _tensor(vn)
    desc.k_cache, desc.v_cache = _tensor(k_cache), _tensor(v_cache)
    desc.data_type = _DTYPE_CODE[kt]
    ctx = _context(device)
    with ctx.lock:
        plan = _vp()
        st = _lib.clattn_kv_append_plan_create(ctypes.byref(plan), ctx.handle, ctypes.byref(desc))
        if st == 0:
            bufs = _init(_KvAppendBuffers, "clattn_kv_append_buffers_init_sized")
            bufs.k_new, bufs.v_new = kn.ctypes.data, vn.ctypes.data
            bufs.block_table, bufs.positions = bt.ctypes.data, pos.ctypes.data
            bufs.k_cache, bufs.v_cache = k_cache.ctypes.data, v_cache.ctypes.data
            st = _lib.clattn_kv_append_execute(plan, ctypes.byref(bufs))
            _lib.clattn_kv_append_plan_destroy(plan)
        _check(st, ctx.handle)


def merge_states(parts_out: Any, parts_lse: Any, *, device: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Merges P attention results over disjoint key subsets (FlashInfer merge_states, clattn_merge_states).

    Args:
        parts_out: [P, B, H, L, Dv] float32 or float16: each part's output (``sdpa`` over its keys).
        parts_lse: [P, B, H, L] float32: each part's log-sum-exp (``sdpa(..., return_lse=True)``).
        device: a device selector, as for ``sdpa``.

    Returns:
        (out [B, H, L, Dv] of parts_out's dtype, lse [B, H, L] float32): the result over the union of the keys;
        rows with no allowed key in any part (lse -inf everywhere) give zeros and -inf.
    """
    po, pl = _as_array(parts_out, "parts_out"), _as_array(parts_lse, "parts_lse")
    if po.dtype not in (np.float32, np.float16):
        raise TypeError(f"parts_out: dtype {po.dtype} is not float32 or float16")
    pl = np.asarray(pl, dtype=np.float32)
    po, pl = _strided(po), _strided(pl)
    if po.ndim != 5:
        raise ValueError(f"parts_out: ndim is {po.ndim}, expected 5 ([P, B, H, L, Dv])")
    out = np.empty(po.shape[1:], dtype=po.dtype)
    lse = np.empty(po.shape[1:4], dtype=np.float32)
    desc = _init(_MergeDesc, "clattn_merge_desc_init_sized", *po.shape)
    desc.parts_out, desc.parts_lse, desc.out, desc.lse = _tensor(po), _tensor(pl), _tensor(out), _tensor(lse)
    desc.want_lse = 1
    desc.data_type = 1 if po.dtype == np.float16 else 0
    ctx = _context(device)
    with ctx.lock:
        st = _lib.clattn_merge_states(ctx.handle, ctypes.byref(desc), po.ctypes.data, pl.ctypes.data,
                                      out.ctypes.data, lse.ctypes.data)
        _check(st, ctx.handle)
    return out, lse


# --------------------------------------------------------------------------------------------------
# Multi-head attention (torch.nn.MultiheadAttention, batch_first=True)


def _f32(a: Any) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _fptr(a: Optional[np.ndarray]) -> Any:
    return None if a is None else a.ctypes.data_as(_fp)


def _mha_mask(attn_mask: Any, key_padding_mask: Any, batch: int, num_heads: int) -> Optional[np.ndarray]:
    """torch's attn_mask ([L, S] or [B*H, L, S]) and key_padding_mask ([B, S]), True = NOT allowed for bool
    masks, as one 4-D mask in clattn's convention: bool (True = may attend) or float32 additive."""
    parts = []
    if attn_mask is not None:
        m = np.asarray(attn_mask)
        m = m.reshape((1, 1) + m.shape) if m.ndim == 2 else m.reshape((batch, num_heads) + m.shape[1:])
        parts.append(m)
    if key_padding_mask is not None:
        m = np.asarray(key_padding_mask)
        parts.append(m.reshape(m.shape[0], 1, 1, m.shape[1]))
    if not parts:
        return None
    if all(p.dtype == np.bool_ for p in parts):
        allowed = ~parts[0]
        for p in parts[1:]:
            allowed = allowed & ~p
        return allowed
    add = np.zeros((), dtype=np.float32)
    for p in parts:
        add = add + (np.where(p, -np.inf, 0).astype(np.float32) if p.dtype == np.bool_ else p.astype(np.float32))
    return add


class MultiheadAttention:
    """torch.nn.MultiheadAttention (batch_first=True) from its state dict, run by clattn_mha_*.

    ``state_dict``: NumPy arrays (or anything np.asarray takes) under torch's key names: ``in_proj_weight``
    [3E, E] (or ``q_proj_weight`` [E, E], ``k_proj_weight`` [E, kdim], ``v_proj_weight`` [E, vdim]),
    optional ``in_proj_bias`` [3E], ``out_proj.weight`` [E, E], optional ``out_proj.bias`` [E]. ``bias_k`` /
    ``bias_v`` (add_bias_kv) are not supported. The weights are copied into the module (to the device on
    OpenCL). float32 only.
    """

    def __init__(self, state_dict: Dict[str, Any], num_heads: int, *, device: Optional[str] = None):
        sd = {k: _f32(v) for k, v in state_dict.items()}
        if "bias_k" in sd or "bias_v" in sd:
            raise ValueError("bias_k / bias_v (add_bias_kv=True) are not supported")
        w_o = sd["out_proj.weight"]
        E = w_o.shape[0]
        if "in_proj_weight" in sd:
            w_q, w_k, w_v = (_f32(x) for x in np.split(sd["in_proj_weight"], 3))
        else:
            w_q, w_k, w_v = sd["q_proj_weight"], sd["k_proj_weight"], sd["v_proj_weight"]
        b = sd.get("in_proj_bias")
        b_q, b_k, b_v = (None, None, None) if b is None else (_f32(x) for x in np.split(b, 3))
        w = _init(_MhaWeights, "clattn_mha_weights_init_sized")
        w.embed_dim, w.num_heads, w.kdim, w.vdim = E, num_heads, w_k.shape[1], w_v.shape[1]
        w.w_q, w.w_k, w.w_v, w.w_o = _fptr(w_q), _fptr(w_k), _fptr(w_v), _fptr(w_o)
        w.b_q, w.b_k, w.b_v, w.b_o = _fptr(b_q), _fptr(b_k), _fptr(b_v), _fptr(sd.get("out_proj.bias"))
        self.embed_dim, self.num_heads = E, num_heads
        self._ctx = _context(device)
        h = _vp()
        with self._ctx.lock:
            _check(_lib.clattn_mha_create(ctypes.byref(h), self._ctx.handle, ctypes.byref(w)), self._ctx.handle)
        self._handle = h.value

    @classmethod
    def from_bert(cls, state_dict: Dict[str, Any], num_heads: int, *, prefix: str = "",
                  device: Optional[str] = None) -> "MultiheadAttention":
        """A module from Hugging Face BERT attention weights (``BertAttention``'s names, each under
        ``prefix``, e.g. ``"encoder.layer.0.attention."``): ``self.query.weight`` [E, E], ``self.key.weight``
        [E, kdim], ``self.value.weight`` [E, vdim], ``output.dense.weight`` [E, E], and their ``.bias`` [E]
        (each optional). BERT's residual connection and LayerNorm (``output.LayerNorm``) are not part of
        attention and are not applied; dropout is inference's identity."""
        g = lambda name: state_dict.get(prefix + name)  # noqa: E731
        missing = [n for n in ("self.query.weight", "self.key.weight", "self.value.weight", "output.dense.weight")
                   if g(n) is None]
        if missing:
            raise KeyError(f"BERT attention weights: missing {', '.join(prefix + n for n in missing)}")
        sd = {"q_proj_weight": g("self.query.weight"), "k_proj_weight": g("self.key.weight"),
              "v_proj_weight": g("self.value.weight"), "out_proj.weight": g("output.dense.weight")}
        biases = [g("self.query.bias"), g("self.key.bias"), g("self.value.bias")]
        if any(b is not None for b in biases):
            E = _f32(sd["out_proj.weight"]).shape[0]
            sd["in_proj_bias"] = np.concatenate([np.zeros(E, np.float32) if b is None else _f32(b) for b in biases])
        if g("output.dense.bias") is not None:
            sd["out_proj.bias"] = g("output.dense.bias")
        return cls(sd, num_heads, device=device)

    def close(self) -> None:
        """Releases the module (also done when it is garbage-collected)."""
        if getattr(self, "_handle", None) and self._ctx.handle:
            with self._ctx.lock:
                _lib.clattn_mha_destroy(self._handle)
        self._handle = None

    __del__ = close

    def __call__(self, query: Any, key: Any = None, value: Any = None, *, key_padding_mask: Any = None,
                 need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                 is_causal: bool = False, kv_lengths: Any = None
                 ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Forward pass, torch's names and mask conventions (bool masks: True = NOT allowed).

        Args:
            query: [B, Lq, E]; key: [B, Lk, kdim]; value: [B, Lk, vdim]; key/value None = self-attention.
            key_padding_mask: [B, Lk] bool (True = padding) or float (added).
            attn_mask: [Lq, Lk] or [B*H, Lq, Lk], bool (True = masked) or float (added).
            is_causal: top-left causal mask (torch's), combined with the masks above.
            kv_lengths: int32 [B] key lengths (clattn's cheaper alternative to key_padding_mask).
        Returns:
            (out [B, Lq, E] float32, weights [B, Lq, Lk] averaged over heads, or [B, H, Lq, Lk] when
            average_attn_weights is False; None unless need_weights).
        """
        q = _f32(query)
        B, Lq = q.shape[0], q.shape[1]
        k = None if key is None else _f32(key)
        v = None if value is None else _f32(value)
        Lk = Lq if k is None else k.shape[1]
        opts = _init(_MhaOptions, "clattn_mha_options_init_sized")
        opts.causal = 1 if is_causal else 0
        mask = _mha_mask(attn_mask, key_padding_mask, B, self.num_heads)
        if mask is not None:
            opts.mask_kind = 1 if mask.dtype == np.bool_ else 2
            mask = _strided(np.broadcast_to(mask.view(np.uint8) if mask.dtype == np.bool_ else mask,
                                            mask.shape[:-1] + (Lk,)))
            opts.mask = _tensor(mask)
        kl = None if kv_lengths is None else np.ascontiguousarray(kv_lengths, dtype=np.int32)
        out = np.empty((B, Lq, self.embed_dim), dtype=np.float32)
        probs = None
        if need_weights:
            opts.probs_mode = 2 if average_attn_weights else 1
            probs = np.empty((B, Lq, Lk) if average_attn_weights else (B, self.num_heads, Lq, Lk), np.float32)
        with self._ctx.lock:
            st = _lib.clattn_mha_forward(self._handle, B, Lq, Lk, q.ctypes.data,
                                         None if k is None else k.ctypes.data, None if v is None else v.ctypes.data,
                                         None if mask is None else mask.ctypes.data,
                                         None if kl is None else kl.ctypes.data, ctypes.byref(opts),
                                         out.ctypes.data, None if probs is None else probs.ctypes.data)
            _check(st, self._ctx.handle)
        return out, probs
