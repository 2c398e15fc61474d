"""Tests for mlbook.bio: each Numba kernel against its plain-Python reference on random DNA."""

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from mlbook.bio import (alignment_score, as_ascii, decode_kmer, gc_content, gc_content_reference, gc_sliding,
                        gc_sliding_reference, kmer_codes, kmer_codes_reference, kmer_counts, kmer_counts_reference,
                        kmer_counts_sparse, smith_waterman, smith_waterman_matrix, smith_waterman_reference,
                        smith_waterman_scores)
from mlbook.viz.bio import plot_alignment_matrix, plot_gc_profile

dna = st.text(alphabet="ACGT", max_size=60)
dna_with_n = st.text(alphabet="ACGTNacgt", max_size=60)
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(dna_with_n, st.integers(1, 8))
def test_kmer_codes_match_reference(seq, k):
    assert kmer_codes(seq, k).tolist() == kmer_codes_reference(seq, k)


@FAST
@given(dna_with_n, st.integers(1, 5))
def test_kmer_counts_match_reference(seq, k):
    dense = kmer_counts(seq, k)
    assert dense.shape == (4**k,)
    expected = kmer_counts_reference(seq, k)
    assert {decode_kmer(c, k): int(n) for c, n in enumerate(dense) if n} == expected
    assert {decode_kmer(c, k): n for c, n in kmer_counts_sparse(seq, k).items()} == expected


def test_kmer_against_counter_and_large_k():
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 500))
    k = 20  # beyond the dense limit: only the sparse counter can do it
    expected = Counter(seq[i:i + k] for i in range(len(seq) - k + 1))
    assert {decode_kmer(c, k): n for c, n in kmer_counts_sparse(seq, k).items()} == dict(expected)
    assert kmer_codes("GAT", 3)[0] == 2 * 16 + 0 * 4 + 3
    assert kmer_codes("AC", 3).shape == (0,)


@FAST
@given(dna_with_n)
def test_gc_content_matches_reference(seq):
    got, want = gc_content(seq), gc_content_reference(seq)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)


@FAST
@given(dna_with_n, st.integers(1, 12))
def test_gc_sliding_matches_reference(seq, window):
    np.testing.assert_allclose(gc_sliding(seq, window), np.array(gc_sliding_reference(seq, window), dtype=float),
                               equal_nan=True)


def test_gc_known_values():
    assert gc_content("GGCC") == 1.0 and gc_content("ATAT") == 0.0 and gc_content("ACGTNN") == 0.5
    assert math.isnan(gc_content("NNN"))
    np.testing.assert_allclose(gc_sliding("GGAA", 2), [1.0, 0.5, 0.0])


@FAST
@given(dna, dna, st.integers(1, 3), st.integers(-3, 0), st.integers(-4, -1))
def test_smith_waterman_matches_reference_and_rescores(a, b, match, mismatch, gap):
    got = smith_waterman(a, b, match, mismatch, gap)
    want = smith_waterman_reference(a, b, match, mismatch, gap)
    assert got == want
    # the traceback is consistent on its own: it rescored to the score, and it lies inside both inputs
    assert alignment_score(got.aligned_a, got.aligned_b, match, mismatch, gap) == got.score
    assert got.aligned_a.replace("-", "") == a[got.start_a:got.end_a]
    assert got.aligned_b.replace("-", "") == b[got.start_b:got.end_b]
    H = smith_waterman_matrix(a, b, match, mismatch, gap)
    assert H.shape == (len(a) + 1, len(b) + 1) and H.max() == got.score >= 0
    assert smith_waterman_scores(a, [b, b[::-1] or "A"], match, mismatch, gap)[0] == got.score


def test_smith_waterman_textbook_example():
    # Wikipedia's example with match 3, mismatch -3 and linear gap 2
    al = smith_waterman("TGTTACGG", "GGTTGACTA", match=3, mismatch=-3, gap=-2)
    assert al.score == 13
    assert (al.aligned_a, al.aligned_b) == ("GTT-AC", "GTTGAC")
    assert smith_waterman("AAAA", "CCCC").score == 0 and smith_waterman("AAAA", "CCCC").aligned_a == ""


def test_parallel_scores_equal_serial():
    rng = np.random.default_rng(1)
    query = "".join(rng.choice(list("ACGT"), 30))
    targets = ["".join(rng.choice(list("ACGT"), n)) for n in rng.integers(1, 80, 40)]
    par = smith_waterman_scores(query, targets)
    ser = smith_waterman_scores(query, targets, parallel=False)
    assert par.tolist() == ser.tolist() == [smith_waterman_reference(query, t).score for t in targets]


@pytest.mark.parametrize("call, error, match", [
    (lambda: kmer_codes("ACGT", 0), ValueError, "k must be between 1 and 31"),
    (lambda: kmer_codes("ACGT", 2.0), TypeError, "k must be an int"),
    (lambda: kmer_counts("ACGT", 13), ValueError, "use kmer_counts_sparse"),
    (lambda: decode_kmer(64, 3), ValueError, r"code must be in \[0, 4\*\*3\)"),
    (lambda: gc_sliding("ACGT", 0), ValueError, "window must be a positive int"),
    (lambda: as_ascii("ACGTé"), ValueError, "must be ASCII"),
    (lambda: as_ascii(np.zeros(3, dtype=np.int64)), TypeError, "1-D uint8"),
    (lambda: as_ascii(3), TypeError, "must be str, bytes"),
    (lambda: smith_waterman("A", "A", gap=1), ValueError, "gap < 0"),
    (lambda: smith_waterman("A", "A", match=0), ValueError, "match must be positive"),
    (lambda: alignment_score("AC", "A"), ValueError, "differ in length"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_figures():
    al = smith_waterman("TGTTACGG", "GGTTGACTA", match=3, mismatch=-3, gap=-2)
    fig = plot_alignment_matrix(smith_waterman_matrix("TGTTACGG", "GGTTGACTA", 3, -3, -2), al, "TGTTACGG",
                                "GGTTGACTA")
    assert isinstance(fig, Figure) and len(fig.axes) >= 1
    fig = plot_gc_profile("ACGT" * 50 + "GGCC" * 50, window=20)
    assert isinstance(fig, Figure)
    with pytest.raises(ValueError, match="shape"):
        plot_alignment_matrix(np.zeros((3, 3)), al, "TGTTACGG", "GGTTGACTA")
