"""mlbook.datasets: logic-gate truth tables, checked against Python's own Boolean operators."""

import functools
import itertools
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlbook.datasets import LOGIC_GATES, logic_gate

TWO_INPUT_TABLES = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "nand": [1, 1, 1, 0],
    "nor": [1, 0, 0, 0],
    "xor": [0, 1, 1, 0],
    "xnor": [1, 0, 0, 1],
}


@pytest.mark.parametrize("name, expected", TWO_INPUT_TABLES.items())
def test_two_input_truth_tables(name, expected):
    X, y = logic_gate(name)
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, expected)
    assert X.dtype == np.float64 and X.shape == (4, 2)
    assert y.dtype == np.int64 and y.shape == (4,)


def test_every_gate_is_listed_and_names_are_case_insensitive():
    assert set(LOGIC_GATES) == set(TWO_INPUT_TABLES)
    np.testing.assert_array_equal(logic_gate(" XOR ")[1], TWO_INPUT_TABLES["xor"])


REFERENCE = {
    "and": lambda bits: all(bits),
    "or": lambda bits: any(bits),
    "nand": lambda bits: not all(bits),
    "nor": lambda bits: not any(bits),
    "xor": lambda bits: functools.reduce(operator.xor, bits),
    "xnor": lambda bits: not functools.reduce(operator.xor, bits),
}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(LOGIC_GATES), st.integers(1, 7))
def test_n_input_gates_match_python(name, n_inputs):
    X, y = logic_gate(name, n_inputs)
    rows = list(itertools.product((0, 1), repeat=n_inputs))
    assert X.shape == (2**n_inputs, n_inputs) and y.shape == (2**n_inputs,)
    np.testing.assert_array_equal(X, rows)  # binary counting order
    np.testing.assert_array_equal(y, [int(bool(REFERENCE[name](bits))) for bits in rows])


def test_each_call_returns_fresh_arrays():
    X, y = logic_gate("and")
    X[:] = 7
    y[:] = 7
    X2, y2 = logic_gate("and")
    assert X2.max() == 1 and y2.max() == 1


def test_unknown_gate_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown logic gate 'xand'; valid names are \['and', 'or', 'nand'"):
        logic_gate("xand")
    with pytest.raises(TypeError, match="must be a string.*got int"):
        logic_gate(3)


@pytest.mark.parametrize("n_inputs", [0, 17, 2.0, True, "2"])
def test_bad_number_of_inputs(n_inputs):
    with pytest.raises(ValueError, match="n_inputs must be an integer from 1 to 16"):
        logic_gate("and", n_inputs)
