"""DNA kernels in Numba: k-mer encoding and counting, Smith-Waterman local alignment, GC content.

Sequences go into the compiled kernels as ``uint8`` arrays of ASCII codes (``A``=65, ``C``=67,
``G``=71, ``T``=84, ``N``=78): Numba compiles loops over NumPy arrays, not over Python ``str``
objects. :func:`as_ascii` converts a ``str``, ``bytes`` or array once, at the boundary. Lower-case
bases count as their upper-case letters; anything else (``N``, ``-``) is *not a base*.

Every kernel has a plain-Python ``*_reference`` twin, written for clarity rather than speed, which the
tests compare against on random sequences and the chapter times against.

Smith-Waterman here uses a **linear** gap penalty (every gap position costs ``gap``), scores
``match`` / ``mismatch`` per aligned pair, and breaks ties the same way in the kernel and the
reference: the best cell is the first maximum in row-major order, and the traceback prefers the
diagonal, then the step up (a gap in ``b``), then the step left (a gap in ``a``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

__all__ = [
    "as_ascii",
    "base_code",
    "kmer_codes",
    "kmer_counts",
    "kmer_counts_sparse",
    "decode_kmer",
    "kmer_codes_reference",
    "kmer_counts_reference",
    "gc_content",
    "gc_sliding",
    "gc_content_reference",
    "gc_sliding_reference",
    "Alignment",
    "smith_waterman",
    "smith_waterman_matrix",
    "smith_waterman_reference",
    "smith_waterman_scores",
    "alignment_score",
]

_BASES = "ACGT"
_CODE = {"A": 0, "C": 1, "G": 2, "T": 3, "a": 0, "c": 1, "g": 2, "t": 3}
MAX_DENSE_K = 12  # 4**12 = 16.8 M counters (134 MB of int64): beyond that, count sparsely


def as_ascii(seq: str | bytes | np.ndarray) -> np.ndarray:
    """A sequence as a 1-D ``uint8`` array of ASCII codes, shape ``(len(seq),)``."""
    if isinstance(seq, str):
        try:
            return np.frombuffer(seq.encode("ascii"), dtype=np.uint8).copy()
        except UnicodeEncodeError as err:
            raise ValueError(f"sequence must be ASCII, found {seq[err.start]!r} at position {err.start}") from None
    if isinstance(seq, (bytes, bytearray)):
        return np.frombuffer(bytes(seq), dtype=np.uint8).copy()
    if isinstance(seq, np.ndarray):
        if seq.dtype != np.uint8 or seq.ndim != 1:
            raise TypeError(f"sequence array must be 1-D uint8 ASCII codes, got dtype {seq.dtype} shape {seq.shape}")
        return seq
    raise TypeError(f"sequence must be str, bytes or a uint8 array, got {type(seq).__name__}")


def _check_k(k: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= 31:  # 2 bits per base in an int64 (the sign bit stays free for -1)
        raise ValueError(f"k must be between 1 and 31, got {k}")


# ---------------------------------------------------------------------------------------------
# k-mers: two bits per base, A=00 C=01 G=10 T=11, first base in the highest bits.
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def base_code(byte: int) -> int:
    """Two-bit code of one ASCII base: A/a 0, C/c 1, G/g 2, T/t 3; -1 for anything else (N, gaps)."""
    if byte == 65 or byte == 97:
        return 0
    if byte == 67 or byte == 99:
        return 1
    if byte == 71 or byte == 103:
        return 2
    if byte == 84 or byte == 116:
        return 3
    return -1


@njit(cache=True)
def _kmer_codes(seq: np.ndarray, k: int) -> np.ndarray:
    n_kmers = max(seq.shape[0] - k + 1, 0)
    out = np.empty(n_kmers, dtype=np.int64)
    mask = (np.int64(1) << (2 * k)) - 1
    code = np.int64(0)
    valid = 0  # how many valid bases end at the current position
    for i in range(seq.shape[0]):
        b = base_code(seq[i])
        if b < 0:
            valid = 0
            code = 0
        else:
            code = ((code << 2) | b) & mask  # rolling: shift the window one base, drop the oldest
            valid += 1
        if i >= k - 1:
            out[i - k + 1] = code if valid >= k else -1
    return out


def kmer_codes(seq: str | bytes | np.ndarray, k: int) -> np.ndarray:
    """Integer code of every k-mer, shape ``(len(seq) - k + 1,)`` int64 (empty if the sequence is shorter).

    Code of ``x_1 ... x_k`` is ``sum_i code(x_i) * 4**(k - i)``; a window with a non-base is ``-1``.
    O(n) for any ``k``: the window rolls, two bits in and two bits out per base.
    """
    _check_k(k)
    return _kmer_codes(as_ascii(seq), k)


@njit(cache=True)
def _kmer_counts(seq: np.ndarray, k: int) -> np.ndarray:
    counts = np.zeros(1 << (2 * k), dtype=np.int64)
    for code in _kmer_codes(seq, k):
        if code >= 0:
            counts[code] += 1
    return counts


def kmer_counts(seq: str | bytes | np.ndarray, k: int) -> np.ndarray:
    """Occurrences of every k-mer, shape ``(4**k,)`` int64, indexed by k-mer code (``k <= 12``)."""
    _check_k(k)
    if k > MAX_DENSE_K:
        raise ValueError(f"k={k} needs 4**{k} dense counters; use kmer_counts_sparse for k > {MAX_DENSE_K}")
    return _kmer_counts(as_ascii(seq), k)


@njit(cache=True)
def _kmer_counts_sparse(seq: np.ndarray, k: int):
    counts = numba.typed.Dict.empty(key_type=numba.types.int64, value_type=numba.types.int64)
    for code in _kmer_codes(seq, k):
        if code >= 0:
            counts[code] = counts.get(code, 0) + 1
    return counts


def kmer_counts_sparse(seq: str | bytes | np.ndarray, k: int) -> numba.typed.Dict:
    """Occurrences of the k-mers that occur, as a ``numba.typed.Dict`` ``{code: count}`` (any ``k <= 31``)."""
    _check_k(k)
    return _kmer_counts_sparse(as_ascii(seq), k)


def decode_kmer(code: int, k: int) -> str:
    """The k-mer string of an integer code: ``decode_kmer(kmer_codes("GAT", 3)[0], 3) == "GAT"``."""
    _check_k(k)
    if not 0 <= code < 4**k:
        raise ValueError(f"code must be in [0, 4**{k}) = [0, {4**k}), got {code}")
    return "".join(_BASES[(code >> (2 * (k - 1 - i))) & 3] for i in range(k))


def kmer_codes_reference(seq: str, k: int) -> list[int]:
    """Plain Python: recompute each window from scratch with a dictionary lookup per base."""
    out = []
    for start in range(len(seq) - k + 1):
        window = seq[start:start + k]
        if all(base in _CODE for base in window):
            code = 0
            for base in window:
                code = code * 4 + _CODE[base]
            out.append(code)
        else:
            out.append(-1)
    return out


def kmer_counts_reference(seq: str, k: int) -> dict[str, int]:
    """Plain Python: a dictionary ``{k-mer string (upper case): count}`` of the valid k-mers."""
    counts: dict[str, int] = {}
    for start in range(len(seq) - k + 1):
        window = seq[start:start + k].upper()
        if all(base in "ACGT" for base in window):
            counts[window] = counts.get(window, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------------
# GC content: the fraction of G and C among the bases (N and other non-bases are left out).
# ---------------------------------------------------------------------------------------------


@njit(cache=True)
def _gc_content(seq: np.ndarray) -> float:
    gc = 0
    total = 0
    for byte in seq:
        b = base_code(byte)
        if b == 1 or b == 2:
            gc += 1
        if b >= 0:
            total += 1
    return gc / total if total > 0 else np.nan


def gc_content(seq: str | bytes | np.ndarray) -> float:
    """Fraction of G/C among the A/C/G/T bases of ``seq``; ``nan`` when it has no base at all."""
    return float(_gc_content(as_ascii(seq)))


@njit(cache=True)
def _gc_sliding(seq: np.ndarray, window: int) -> np.ndarray:
    n_out = max(seq.shape[0] - window + 1, 0)
    out = np.empty(n_out, dtype=np.float64)
    gc = 0
    total = 0
    for i in range(seq.shape[0]):
        b = base_code(seq[i])  # the base entering the window
        if b == 1 or b == 2:
            gc += 1
        if b >= 0:
            total += 1
        if i >= window:
            old = base_code(seq[i - window])  # the base leaving it
            if old == 1 or old == 2:
                gc -= 1
            if old >= 0:
                total -= 1
        if i >= window - 1:
            out[i - window + 1] = gc / total if total > 0 else np.nan
    return out


def gc_sliding(seq: str | bytes | np.ndarray, window: int) -> np.ndarray:
    """GC content of every window of ``window`` positions, shape ``(len(seq) - window + 1,)`` float64.

    Entry ``i`` covers positions ``i .. i + window - 1``; O(n) whatever the window (a running count).
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive int, got {window!r}")
    return _gc_sliding(as_ascii(seq), int(window))


def gc_content_reference(seq: str) -> float:
    """Plain Python GC content."""
    bases = [b for b in seq.upper() if b in "ACGT"]
    return sum(b in "GC" for b in bases) / len(bases) if bases else float("nan")


def gc_sliding_reference(seq: str, window: int) -> list[float]:
    """Plain Python: the GC content of every window, each recomputed from scratch."""
    return [gc_content_reference(seq[i:i + window]) for i in range(len(seq) - window + 1)]


# ---------------------------------------------------------------------------------------------
# Smith-Waterman local alignment, linear gap penalty.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alignment:
    """A local alignment: its score, the two aligned strings (``-`` for a gap), where it lies in each
    sequence (half-open ``[start, end)``), and the DP cells of the traceback path (first to last)."""

    score: int
    aligned_a: str
    aligned_b: str
    start_a: int
    end_a: int
    start_b: int
    end_b: int
    path: tuple[tuple[int, int], ...]

    def __str__(self) -> str:
        bars = "".join("|" if x == y and x != "-" else " " for x, y in zip(self.aligned_a, self.aligned_b))
        return f"{self.aligned_a}\n{bars}\n{self.aligned_b}\nscore {self.score}"


@njit(cache=True)
def _sw_fill(a: np.ndarray, b: np.ndarray, match: int, mismatch: int, gap: int):
    m, n = a.shape[0], b.shape[0]
    H = np.zeros((m + 1, n + 1), dtype=np.int32)
    best, best_i, best_j = 0, 0, 0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            s = match if a[i - 1] == b[j - 1] else mismatch
            h = max(0, H[i - 1, j - 1] + s, H[i - 1, j] + gap, H[i, j - 1] + gap)
            H[i, j] = h
            if h > best:  # strict: the first maximum in row-major order wins
                best, best_i, best_j = h, i, j
    return H, best, best_i, best_j


@njit(cache=True)
def _sw_traceback(H: np.ndarray, a: np.ndarray, b: np.ndarray, i: int, j: int, match: int, mismatch: int,
                  gap: int) -> np.ndarray:
    """Cells (i, j) of the path from the best cell back to the first cell after a zero, last first."""
    path = np.empty((i + j + 1, 2), dtype=np.int64)
    steps = 0
    while H[i, j] > 0:
        path[steps, 0], path[steps, 1] = i, j
        steps += 1
        s = match if a[i - 1] == b[j - 1] else mismatch
        if H[i, j] == H[i - 1, j - 1] + s:
            i, j = i - 1, j - 1
        elif H[i, j] == H[i - 1, j] + gap:
            i -= 1
        else:
            j -= 1
    return path[:steps]


def _check_scores(match: int, mismatch: int, gap: int) -> None:
    if match <= 0:
        raise ValueError(f"match must be positive, got {match}")
    if mismatch > 0 or gap >= 0:
        raise ValueError(f"mismatch must be <= 0 and gap < 0 for a local alignment, got mismatch={mismatch}, gap={gap}")


def smith_waterman_matrix(a: str | bytes | np.ndarray, b: str | bytes | np.ndarray, match: int = 2,
                          mismatch: int = -1, gap: int = -2) -> np.ndarray:
    """The filled DP matrix ``H``, shape ``(len(a) + 1, len(b) + 1)`` int32 (row and column 0 are zero).

    ``H[i, j]`` is the best score of a local alignment ending at ``a[i-1]`` and ``b[j-1]``.
    """
    _check_scores(match, mismatch, gap)
    return _sw_fill(as_ascii(a), as_ascii(b), match, mismatch, gap)[0]


def smith_waterman(a: str | bytes | np.ndarray, b: str | bytes | np.ndarray, match: int = 2,
                   mismatch: int = -1, gap: int = -2) -> Alignment:
    """Best local alignment of ``a`` and ``b`` (score and traceback) with a linear gap penalty.

    O(len(a) * len(b)) time and memory (the whole matrix is kept for the traceback). An empty
    alignment (score 0, empty strings) is returned when no pair of bases scores above zero.
    """
    _check_scores(match, mismatch, gap)
    a_codes, b_codes = as_ascii(a), as_ascii(b)
    H, best, i, j = _sw_fill(a_codes, b_codes, match, mismatch, gap)
    path = _sw_traceback(H, a_codes, b_codes, i, j, match, mismatch, gap)[::-1]
    return _alignment_from_path(int(best), path, a_codes, b_codes)


def _alignment_from_path(score: int, path, a_codes: np.ndarray, b_codes: np.ndarray) -> Alignment:
    a_text, b_text = a_codes.tobytes().decode("ascii"), b_codes.tobytes().decode("ascii")
    cells = tuple((int(i), int(j)) for i, j in path)
    if not cells:
        return Alignment(score, "", "", 0, 0, 0, 0, ())
    out_a, out_b = [], []
    previous = (cells[0][0] - 1, cells[0][1] - 1)  # the path starts with a diagonal step onto a pair
    for i, j in cells:
        out_a.append(a_text[i - 1] if i != previous[0] else "-")
        out_b.append(b_text[j - 1] if j != previous[1] else "-")
        previous = (i, j)
    return Alignment(score, "".join(out_a), "".join(out_b), cells[0][0] - 1, cells[-1][0], cells[0][1] - 1,
                     cells[-1][1], cells)


def smith_waterman_reference(a: str, b: str, match: int = 2, mismatch: int = -1, gap: int = -2) -> Alignment:
    """Plain Python Smith-Waterman with lists of lists, the same tie-breaking as :func:`smith_waterman`."""
    _check_scores(match, mismatch, gap)
    m, n = len(a), len(b)
    H = [[0] * (n + 1) for _ in range(m + 1)]
    best, bi, bj = 0, 0, 0
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            s = match if a[i - 1] == b[j - 1] else mismatch
            H[i][j] = max(0, H[i - 1][j - 1] + s, H[i - 1][j] + gap, H[i][j - 1] + gap)
            if H[i][j] > best:
                best, bi, bj = H[i][j], i, j
    path = []
    i, j = bi, bj
    while H[i][j] > 0:
        path.append((i, j))
        s = match if a[i - 1] == b[j - 1] else mismatch
        if H[i][j] == H[i - 1][j - 1] + s:
            i, j = i - 1, j - 1
        elif H[i][j] == H[i - 1][j] + gap:
            i -= 1
        else:
            j -= 1
    return _alignment_from_path(best, path[::-1], as_ascii(a), as_ascii(b))


def alignment_score(aligned_a: str, aligned_b: str, match: int = 2, mismatch: int = -1, gap: int = -2) -> int:
    """Score of two aligned strings column by column: an independent check of a traceback."""
    if len(aligned_a) != len(aligned_b):
        raise ValueError(f"aligned strings differ in length: {len(aligned_a)} and {len(aligned_b)}")
    score = 0
    for x, y in zip(aligned_a, aligned_b):
        if x == "-" or y == "-":
            score += gap
        else:
            score += match if x == y else mismatch
    return score


@njit(cache=True)
def _sw_score(a: np.ndarray, b: np.ndarray, match: int, mismatch: int, gap: int) -> int:
    """Score only, in O(len(b)) memory: one row of H is enough when no traceback is wanted."""
    n = b.shape[0]
    row = np.zeros(n + 1, dtype=np.int32)
    best = 0
    for i in range(1, a.shape[0] + 1):
        diag = 0  # H[i-1, j-1]
        for j in range(1, n + 1):
            up = row[j]  # H[i-1, j]
            s = match if a[i - 1] == b[j - 1] else mismatch
            h = max(0, diag + s, up + gap, row[j - 1] + gap)
            diag = up
            row[j] = h
            best = max(best, h)
    return best


@njit(cache=True, parallel=True)
def _sw_scores_parallel(query: np.ndarray, targets: np.ndarray, lengths: np.ndarray, match: int, mismatch: int,
                        gap: int) -> np.ndarray:
    out = np.empty(targets.shape[0], dtype=np.int64)
    for t in prange(targets.shape[0]):  # targets are independent: one per thread at a time
        out[t] = _sw_score(query, targets[t, :lengths[t]], match, mismatch, gap)
    return out


@njit(cache=True)
def _sw_scores_serial(query: np.ndarray, targets: np.ndarray, lengths: np.ndarray, match: int, mismatch: int,
                      gap: int) -> np.ndarray:
    out = np.empty(targets.shape[0], dtype=np.int64)
    for t in range(targets.shape[0]):
        out[t] = _sw_score(query, targets[t, :lengths[t]], match, mismatch, gap)
    return out


def smith_waterman_scores(query: str | bytes | np.ndarray, targets: list[str], match: int = 2, mismatch: int = -1,
                          gap: int = -2, parallel: bool = True) -> np.ndarray:
    """Best local-alignment score of ``query`` against each target, shape ``(len(targets),)`` int64.

    A database search: targets are packed into one padded ``uint8`` matrix and scored by a
    ``prange`` loop (``parallel=True``) or a plain loop (``parallel=False``), in O(len(target)) memory each.
    """
    _check_scores(match, mismatch, gap)
    encoded = [as_ascii(t) for t in targets]
    lengths = np.array([len(t) for t in encoded], dtype=np.int64)
    packed = np.zeros((len(encoded), int(lengths.max()) if len(encoded) else 0), dtype=np.uint8)
    for row, codes in zip(packed, encoded):
        row[:codes.shape[0]] = codes
    kernel = _sw_scores_parallel if parallel else _sw_scores_serial
    return kernel(as_ascii(query), packed, lengths, match, mismatch, gap)
