"""mlbook.autograd: every operation and random expression graphs against torch.autograd (float64), the
iterative topological sort on a 100,000-node chain, gradient accumulation, the Value MLP against
torch.nn, and the graph drawing in mlbook.viz.graph."""

import math
import random
import sys

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from mlbook.autograd import MLP, Layer, Neuron, Value, topological_order
from mlbook.viz.graph import graph_layout, plot_graph


def leaf_tensor(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


# ------------------------------------------------------------------------------ single operations

UNARY = {
    "neg": (lambda v: -v, lambda t: -t),
    "exp": (lambda v: v.exp(), torch.exp),
    "tanh": (lambda v: v.tanh(), torch.tanh),
    "sigmoid": (lambda v: v.sigmoid(), torch.sigmoid),
    "relu": (lambda v: v.relu(), torch.relu),
}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}

finite = st.floats(-5, 5, allow_nan=False).filter(lambda x: abs(x) > 1e-3)


@settings(max_examples=60, deadline=None)
@given(x=finite, op=st.sampled_from(sorted(UNARY)))
def test_unary_ops_match_torch(x, op):
    value_fn, torch_fn = UNARY[op]
    v, t = Value(x), leaf_tensor(x)
    out, tout = value_fn(v), torch_fn(t)
    out.backward()
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-300)
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-12, abs=1e-300)


@settings(max_examples=80, deadline=None)
@given(x=finite, y=finite, op=st.sampled_from(sorted(BINARY)), number_side=st.sampled_from(["none", "left", "right"]))
def test_binary_ops_match_torch_with_numbers_on_either_side(x, y, op, number_side):
    fn = BINARY[op]
    vx, vy, tx, ty = Value(x), Value(y), leaf_tensor(x), leaf_tensor(y)
    if number_side == "left":  # e.g. 2.5 - x: the number becomes a constant leaf
        out, tout = fn(y, vx), fn(y, tx)
    elif number_side == "right":
        out, tout = fn(vx, y), fn(tx, y)
    else:
        out, tout = fn(vx, vy), fn(tx, ty)
    out.backward()
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    assert vx.grad == pytest.approx(tx.grad.item(), rel=1e-12)
    if number_side == "none":
        assert vy.grad == pytest.approx(ty.grad.item(), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(base=st.floats(0.1, 4), exponent=st.floats(-3, 3), form=st.sampled_from(["value**number", "number**value", "value**value"]))
def test_pow_matches_torch(base, exponent, form):
    vb, ve, tb, te = Value(base), Value(exponent), leaf_tensor(base), leaf_tensor(exponent)
    if form == "value**number":
        out, tout = vb ** exponent, tb ** exponent
    elif form == "number**value":
        out, tout = base ** ve, base ** te
    else:
        out, tout = vb ** ve, tb ** te
    out.backward()
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    if form != "number**value":
        assert vb.grad == pytest.approx(tb.grad.item(), rel=1e-10)
    if form != "value**number":
        assert ve.grad == pytest.approx(te.grad.item(), rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(x=st.floats(0.01, 50))
def test_log_matches_torch(x):
    v, t = Value(x), leaf_tensor(x)
    out, tout = v.log(), torch.log(t)
    out.backward()
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-15)
    assert v.grad == pytest.approx(t.grad.item(), rel=1e-12)


def test_integer_power_of_a_negative_base_and_special_points():
    x = Value(-2.0)
    y = x ** 3
    y.backward()
    assert (y.data, x.grad) == (-8.0, 12.0)
    z = Value(0.0)
    (z ** 0.5).backward()
    assert z.grad == math.inf  # the slope of the square root at 0, as in torch
    r = Value(0.0)
    r.relu().backward()
    assert r.grad == 0.0  # torch's convention for relu'(0)


def test_sigmoid_and_exp_do_not_overflow():
    for x in (-800.0, 800.0):
        v, t = Value(x), leaf_tensor(x)
        s, ts = v.sigmoid(), torch.sigmoid(t)
        s.backward()
        ts.backward()
        assert s.data == ts.item() and v.grad == t.grad.item()
    assert Value(1000.0).exp().data == math.inf == torch.exp(torch.tensor(1000.0, dtype=torch.float64)).item()


# --------------------------------------------------------------------------- random expression graphs

# Each op works on Values and on torch tensors alike; the guards keep logs, divisions and powers in
# their domains whatever the operands are.
GRAPH_OPS = [
    lambda a, b: a + b,
    lambda a, b: a - b,
    lambda a, b: a * b,
    lambda a, b: a / (b * b + 1.0),
    lambda a, b: 2.0 * a - b / 3.0,
    lambda a, b: 1.0 - a,
    lambda a, b: 2.0 / (a * a + 0.5),
    lambda a, b: -a,
    lambda a, b: a.tanh(),
    lambda a, b: a.sigmoid(),
    lambda a, b: a.relu() + b,
    lambda a, b: a.tanh().exp(),
    lambda a, b: (a * a + 1.0).log(),
    lambda a, b: a ** 2,
    lambda a, b: (a * a + 0.25) ** -1.5,
    lambda a, b: (b * b + 1.0) ** a.tanh(),
    lambda a, b: 1.5 ** a.tanh(),
    lambda a, b: a * a,  # a node used twice in one operation
]


@st.composite
def expression_graphs(draw):
    n_leaves = draw(st.integers(1, 4))
    leaves = draw(st.lists(st.floats(-2, 2, allow_nan=False), min_size=n_leaves, max_size=n_leaves))
    steps = draw(st.lists(st.tuples(st.integers(0, len(GRAPH_OPS) - 1), st.integers(0, 10**6), st.integers(0, 10**6)),
                          min_size=1, max_size=25))
    n_outputs = draw(st.integers(1, 3))
    return leaves, steps, n_outputs


def build(leaves, steps, n_outputs, make_leaf):
    nodes = [make_leaf(x) for x in leaves]
    inputs = list(nodes)
    for op, i, j in steps:  # operands are earlier nodes, chosen with reuse: the graph is a DAG, not a tree
        nodes.append(GRAPH_OPS[op](nodes[i % len(nodes)], nodes[j % len(nodes)]))
    out = nodes[-1]
    for extra in nodes[-n_outputs:-1]:
        out = out + extra
    return inputs, out


@settings(max_examples=100, deadline=None)
@given(expression_graphs())
def test_random_expression_graphs_match_torch_autograd(graph):
    leaves, steps, n_outputs = graph
    v_inputs, v_out = build(leaves, steps, n_outputs, Value)
    t_inputs, t_out = build(leaves, steps, n_outputs, leaf_tensor)
    assume(math.isfinite(v_out.data) and abs(v_out.data) < 1e8)
    v_out.backward()
    t_out.backward()
    assert v_out.data == pytest.approx(t_out.item(), rel=1e-9, abs=1e-12)
    for v, t in zip(v_inputs, t_inputs):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert v.grad == pytest.approx(expected, rel=1e-7, abs=1e-9)


# ------------------------------------------------------------------------ graph structure and backward


def test_a_node_used_twice_accumulates_both_contributions():
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0
    a = Value(2.0)
    b = a + a  # two edges from a to b
    c = b * a  # and a third path
    c.backward()
    assert a.grad == 4 * 2.0  # d(2a^2)/da = 4a


def test_diamond_graph_matches_torch():
    def f(x):
        u = x * 2.0
        v = u.tanh()
        w = u.sigmoid()
        return v * w + u

    x, t = Value(0.3), leaf_tensor(0.3)
    f(x).backward()
    f(t).backward()
    assert x.grad == pytest.approx(t.grad.item(), rel=1e-13)


def test_backward_on_a_100000_node_chain_does_not_recurse():
    assert sys.getrecursionlimit() < 100_000
    x = Value(1.5)
    y = x
    for _ in range(100_000):
        y = -y  # a chain 100,000 operations deep, 100,001 nodes
    y.backward()
    assert (y.data, x.grad) == (1.5, 1.0)  # an even number of negations


def test_topological_order_puts_parents_first_and_each_node_once():
    rng = random.Random(0)
    nodes = [Value(rng.uniform(-1, 1)) for _ in range(3)]
    for _ in range(40):
        a, b = rng.choice(nodes), rng.choice(nodes)
        nodes.append(a * b if rng.random() < 0.5 else a + b.tanh())
    order = topological_order(nodes[-1])
    position = {node: i for i, node in enumerate(order)}
    assert len(position) == len(order)
    for node in order:
        for parent in node.parents:
            assert position[parent] < position[node]
    assert order[-1] is nodes[-1]


def test_second_backward_adds_the_same_gradient_again_like_torch_leaves():
    x, t = Value(0.7), leaf_tensor(0.7)
    y = (x * x).tanh() * x
    ty = (t * t).tanh() * t
    y.backward()
    first = x.grad
    y.backward()
    ty.backward(retain_graph=True)
    ty.backward()
    assert x.grad == pytest.approx(2 * first, rel=1e-15)
    assert x.grad == pytest.approx(t.grad.item(), rel=1e-13)
    assert y.grad == 2.0


def test_backward_with_an_upstream_gradient():
    x = Value(2.0)
    (x * x).backward(gradient=0.5)
    assert x.grad == 2.0


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("bad", ["1.0", None, [1.0], True, 1 + 2j])
def test_value_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="real number"):
        Value(bad)


def test_mixing_with_unsupported_types_is_a_type_error():
    with pytest.raises(TypeError, match="real number"):
        Value(1.0) + "a"
    with pytest.raises(TypeError):
        "a" * Value(1.0) + 1  # str * Value is refused by both sides


def test_domain_errors_are_clear():
    with pytest.raises(ValueError, match="positive input, got -1.0"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="positive input, got 0.0"):
        Value(0.0).log()
    with pytest.raises(ZeroDivisionError, match="equal to 0.0"):
        Value(1.0) / 0
    with pytest.raises(ValueError, match="not a real number"):
        Value(-8.0) ** (1 / 3)
    with pytest.raises(ZeroDivisionError, match="negative power"):
        Value(0.0) ** -1
    with pytest.raises(TypeError, match="needs a Value"):
        topological_order(3.0)
    with pytest.raises(TypeError, match="gradient must be a real number"):
        Value(1.0).backward("1")


# ------------------------------------------------------------------------------------------ the MLP


def torch_copy(mlp: MLP, activation=torch.nn.Tanh) -> torch.nn.Sequential:
    layers = []
    for i, (W, b) in enumerate(mlp.weights()):
        linear = torch.nn.Linear(len(W[0]), len(W), dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(W, dtype=torch.float64))
            linear.bias.copy_(torch.tensor(b, dtype=torch.float64))
        layers.append(linear)
        if i < len(mlp.layers) - 1:
            layers.append(activation())
    return torch.nn.Sequential(*layers)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n_inputs=st.integers(1, 4), hidden=st.lists(st.integers(1, 5), min_size=0, max_size=2),
       n_outputs=st.integers(1, 3), batch=st.integers(1, 4))
def test_mlp_forward_and_gradients_match_torch(seed, n_inputs, hidden, n_outputs, batch):
    mlp = MLP(n_inputs, [*hidden, n_outputs], seed=seed)
    net = torch_copy(mlp)
    rng = random.Random(seed)
    X = [[rng.uniform(-2, 2) for _ in range(n_inputs)] for _ in range(batch)]
    outputs = [mlp(x) for x in X]
    outputs = [[o] if isinstance(o, Value) else o for o in outputs]
    loss = sum((o * o for row in outputs for o in row), Value(0.0))
    loss.backward()
    t_out = net(torch.tensor(X, dtype=torch.float64))
    (t_out ** 2).sum().backward()
    assert [o.data for row in outputs for o in row] == pytest.approx(t_out.flatten().tolist(), rel=1e-12, abs=1e-14)
    ours = [p.grad for p in mlp.parameters()]
    theirs = []
    for linear in (m for m in net if isinstance(m, torch.nn.Linear)):
        for j in range(linear.out_features):  # per neuron: its weights, then its bias
            theirs += linear.weight.grad[j].tolist() + [linear.bias.grad[j].item()]
    assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-12)


def test_mlp_learns_xor_and_zero_grad_resets():
    mlp = MLP(2, [4, 1], seed=1)
    data = [([0.0, 0.0], -1.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], -1.0)]

    def loss_fn():
        return sum(((mlp(x).tanh() - y) ** 2 for x, y in data), Value(0.0))

    first = loss_fn().data
    for _ in range(300):
        mlp.zero_grad()
        assert all(p.grad == 0.0 for p in mlp.parameters())
        loss = loss_fn()
        loss.backward()
        for p in mlp.parameters():
            p.data -= 0.1 * p.grad
    assert loss_fn().data < 0.05 < first
    assert all((mlp(x).data > 0) == (y > 0) for x, y in data)


def test_module_shapes_and_errors():
    mlp = MLP(3, [4, 2], seed=0)
    assert len(mlp.parameters()) == (3 * 4 + 4) + (4 * 2 + 2)
    assert len(mlp([1.0, 2.0, 3.0])) == 2
    assert isinstance(Layer(2, 3)([1.0, 2.0]), list)
    assert MLP(3, [4, 2], seed=0).weights() == mlp.weights()  # the seed fixes the initial weights
    with pytest.raises(ValueError, match="takes 3 inputs per example, got 2"):
        mlp([1.0, 2.0])
    with pytest.raises(ValueError, match="activation must be one of"):
        Neuron(2, activation="gelu")
    with pytest.raises(ValueError, match="n_inputs must be a positive integer"):
        Neuron(0)
    with pytest.raises(ValueError, match="at least one layer"):
        MLP(2, [])


# ------------------------------------------------------------------------------------- graph drawing


def small_graph():
    x, w, b = Value(2.0, "x"), Value(-3.0, "w"), Value(1.0, "b")
    a = (x * w + b).tanh()
    out = a * a + x  # a used twice, x used at both ends
    out.backward()
    return out


def test_layout_puts_every_edge_left_to_right_and_leaves_next_to_their_first_use():
    out = small_graph()
    positions = graph_layout(out)
    assert set(positions) == set(topological_order(out))
    for node, (x, _) in positions.items():
        for parent in node.parents:
            assert positions[parent][0] < x
    b = next(n for n in positions if n.label == "b")
    plus = next(n for n in positions if b in n.parents)
    assert positions[plus][0] - positions[b][0] == pytest.approx(positions[plus][0] - max(positions[p][0] for p in plus.parents))
    assert positions[out][0] == max(x for x, _ in positions.values())


def test_plot_graph_draws_one_box_per_node():
    out = small_graph()
    fig = plot_graph(out, title="t")
    assert isinstance(fig, Figure)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert len(boxes) == len(topological_order(out))
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "grad" in texts and "tanh" in texts
    assert "grad" not in " ".join(t.get_text() for t in plot_graph(out, show_grad=False).axes[0].texts)


def test_plot_graph_refuses_huge_graphs_and_non_values():
    y = Value(1.0)
    for _ in range(50):
        y = y + 1.0
    with pytest.raises(ValueError, match="101 nodes, more than max_nodes=80"):
        plot_graph(y)
    with pytest.raises(TypeError, match="Value"):
        plot_graph(torch.tensor(1.0))
