"""Framework patterns (appendix): the PyTorch idioms every interview expects, and a NumPy / PyTorch /
TensorFlow / JAX translation table whose cells are code that runs.

Two halves, each read beside the Framework patterns appendix:

- **The translation table.** :data:`TRANSLATIONS` is a list of :class:`Translation` rows, one tensor
  operation each (creation, reshape, gather, reductions, einsum, broadcasting, casts, seeded random
  numbers, in-place and functional updates, autodiff, device placement), spelled in the four
  frameworks. A spelling is not a comment: it is a Python expression (or a few statements) that
  :func:`evaluate` runs on random inputs drawn from the row's :attr:`Translation.inputs` spec, and
  :func:`compare` checks that a framework's answer agrees with NumPy's (same values, same shape, same
  kind of dtype). The NumPy and PyTorch columns always run; the TensorFlow and JAX columns run only
  where those libraries are installed (:func:`is_available`), and are static listings otherwise.
  :func:`translation_markdown` renders the table for the book from the same rows, so the page shows
  exactly the code the tests execute.
- **PyTorch patterns**: :func:`default_device`, :class:`PatternNet` (parameters, a buffer, and the two
  layers whose behaviour depends on ``train()``/``eval()``), :func:`train_step` (the canonical step with
  optional gradient clipping), :class:`ArrayDataset` (a map-style ``Dataset``), :class:`LogSumExp` (a
  custom ``torch.autograd.Function``) and :func:`record_activations` (forward hooks that clean up).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.utils.data import Dataset

__all__ = [
    "FRAMEWORKS", "FRAMEWORK_TITLES", "Translation", "TRANSLATIONS", "Agreement", "Sizes",
    "is_available", "available_frameworks", "evaluate", "compare", "check_translations",
    "translation_frame", "translation_markdown",
    "default_device", "PatternNet", "StepResult", "train_step", "ArrayDataset", "LogSumExp", "logsumexp",
    "record_activations",
]

FRAMEWORKS = ("numpy", "torch", "tensorflow", "jax")
FRAMEWORK_TITLES = {"numpy": "NumPy", "torch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX"}
Sizes = tuple[int, int, int]
"""The three free sizes ``(m, n, k)`` that a row's input spec refers to, each at least 1."""

_CHECKS = ("values", "repeat")
_SIZE_NAMES = ("m", "n", "k")


# --------------------------------------------------------------------------------------- the rows


@dataclass(frozen=True)
class Translation:
    """One tensor operation in four frameworks.

    ``inputs`` is a spec of the random inputs, names separated by spaces: ``name:axes`` with ``axes``
    a string of size letters ``m``, ``n``, ``k`` (the free sizes) or digits (a fixed size), e.g.
    ``"a:mn b:nk"`` for ``a`` of shape (m, n) and ``b`` of shape (n, k). A suffix picks the values:
    ``:int<m`` integers in ``[0, m)`` (indices), ``:wide`` normal values times 5, ``:host`` normal
    values that stay NumPy arrays in every framework (for the "from existing data" row). Otherwise
    the values are standard normal float64. ``m``, ``n``, ``k`` and ``seed`` are also in scope as ints.

    ``numpy``, ``torch``, ``tensorflow``, ``jax``: the spellings, each a Python expression, or
    statements separated by ``;`` or newlines whose result is the last expression or the last name
    assigned (as in a notebook cell). In scope: ``np``; ``torch``, ``F`` and ``device`` for PyTorch;
    ``tf`` for TensorFlow; ``jax`` and ``jnp`` for JAX. NumPy has no autodiff: its column there is the
    derivative worked out by hand.

    ``check``: ``"values"`` (the default) compares values with NumPy's; ``"repeat"`` is for random
    numbers, where each framework has its own generator: it checks that the same seed gives the same
    numbers twice, with the reference's shape and kind of dtype.
    """

    category: str
    operation: str
    inputs: str
    numpy: str
    torch: str
    tensorflow: str
    jax: str
    note: str = ""
    check: str = "values"

    def __post_init__(self) -> None:
        if self.check not in _CHECKS:
            raise ValueError(f"Translation {self.operation!r}: check must be one of {_CHECKS}, got {self.check!r}")
        _parse_inputs(self.inputs)  # a malformed spec fails when the row is written, not when it runs
        for framework in FRAMEWORKS:
            code = self.code(framework)
            if not code.strip():
                raise ValueError(f"Translation {self.operation!r}: the {framework} spelling is empty")
            if "|" in code or "`" in code:
                raise ValueError(f"Translation {self.operation!r}: the {framework} spelling contains '|' or a "
                                 "backtick, which would break the rendered markdown table")

    def code(self, framework: str) -> str:
        """The spelling of this operation in ``framework`` (one of :data:`FRAMEWORKS`)."""
        return getattr(self, _check_framework(framework))

    def input_description(self) -> str:
        """The inputs in words, e.g. ``"a: (m, n), b: (n, k)"``."""
        parts = []
        for name, axes, kind in _parse_inputs(self.inputs):
            shape = "(" + ", ".join(axes) + ("," if len(axes) == 1 else "") + ")"
            if kind.startswith("int<"):
                parts.append(f"{name}: {shape} ints in [0, {kind[4:]})")
            elif kind == "host":
                parts.append(f"{name}: {shape} NumPy array")
            else:
                parts.append(f"{name}: {shape}")
        return ", ".join(parts)

    def make_inputs(self, seed: int, sizes: Sizes) -> dict[str, Any]:
        """The row's inputs as NumPy arrays (and the ints ``m, n, k, seed``), drawn from ``seed``."""
        m, n, k = _check_sizes(sizes)
        size_of = {"m": m, "n": n, "k": k}
        rng = np.random.default_rng(seed)
        values: dict[str, Any] = {"m": m, "n": n, "k": k, "seed": int(seed)}
        for name, axes, kind in _parse_inputs(self.inputs):
            shape = tuple(size_of[a] if a in size_of else int(a) for a in axes)
            if kind.startswith("int<"):
                values[name] = rng.integers(0, size_of[kind[4:]], size=shape)
            else:
                values[name] = rng.standard_normal(shape) * (5.0 if kind == "wide" else 1.0)
        return values


def _parse_inputs(spec: str) -> list[tuple[str, tuple[str, ...], str]]:
    """``"a:mn idx:k:int<m"`` -> ``[("a", ("m", "n"), "normal"), ("idx", ("k",), "int<m")]``."""
    parsed = []
    for item in spec.split():
        fields = item.split(":")
        if len(fields) not in (2, 3) or not fields[0].isidentifier():
            raise ValueError(f"input spec {item!r} (in {spec!r}) must be name:axes or name:axes:kind")
        name, axes = fields[0], tuple(fields[1])
        kind = fields[2] if len(fields) == 3 else "normal"
        if name in _SIZE_NAMES or name == "seed":
            raise ValueError(f"input spec {item!r}: {name!r} is reserved for a size or the seed")
        for axis in axes:
            if axis not in _SIZE_NAMES and not axis.isdigit():
                raise ValueError(f"input spec {item!r}: axis {axis!r} must be one of m, n, k or a digit")
        if kind not in ("normal", "wide", "host") and not (kind.startswith("int<") and kind[4:] in _SIZE_NAMES):
            raise ValueError(f"input spec {item!r}: kind {kind!r} must be normal, wide, host or int<m/n/k")
        parsed.append((name, axes, kind))
    return parsed


def _check_sizes(sizes: Sequence[int]) -> Sizes:
    if len(sizes) != 3 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be three positive integers (m, n, k), got {tuple(sizes)!r}")
    return int(sizes[0]), int(sizes[1]), int(sizes[2])


def _check_framework(framework: str) -> str:
    if framework not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {FRAMEWORKS}, got {framework!r}")
    return framework


def _row(category: str, operation: str, inputs: str, numpy: str, torch: str, tensorflow: str, jax: str,
         note: str = "", check: str = "values") -> Translation:
    return Translation(category, operation, inputs, numpy, torch, tensorflow, jax, note, check)


TRANSLATIONS: list[Translation] = [
    # ----------------------------------------------------------------------------------- creation
    _row("creation", "zeros of a given shape", "",
         "np.zeros((m, n))", "torch.zeros(m, n)", "tf.zeros((m, n))", "jnp.zeros((m, n))",
         "NumPy's default float is float64; PyTorch, TensorFlow and JAX default to float32."),
    _row("creation", "ones shaped like another tensor", "x:mn",
         "np.ones_like(x)", "torch.ones_like(x)", "tf.ones_like(x)", "jnp.ones_like(x)"),
    _row("creation", "a range of integers", "",
         "np.arange(n)", "torch.arange(n)", "tf.range(n)", "jnp.arange(n)"),
    _row("creation", "evenly spaced points, both ends included", "",
         "np.linspace(0, 1, n)", "torch.linspace(0, 1, n)", "tf.linspace(0.0, 1.0, n)", "jnp.linspace(0, 1, n)"),
    _row("creation", "a tensor from a NumPy array", "a:mn:host",
         "np.asarray(a)", "torch.from_numpy(a)", "tf.convert_to_tensor(a)", "jnp.asarray(a)",
         "`torch.from_numpy` shares memory with the array (`torch.tensor(a)` copies); TensorFlow and JAX copy."),
    _row("creation", "a float tensor from Python numbers", "",
         "np.array([0.5, 1.5])", "torch.tensor([0.5, 1.5])", "tf.constant([0.5, 1.5])", "jnp.array([0.5, 1.5])",
         "Same values, different dtypes: float64 in NumPy, float32 in the other three."),
    # ------------------------------------------------------------------------------------ reshape
    _row("reshape", "reshape, inferring one size", "x:mnk",
         "x.reshape(m, -1)", "x.reshape(m, -1)", "tf.reshape(x, (m, -1))", "x.reshape(m, -1)",
         "torch's `x.view(m, -1)` is the same when the strides allow it, and raises instead of copying."),
    _row("reshape", "flatten all but the batch axis", "x:mnk",
         "x.reshape(len(x), -1)", "x.flatten(1)", "tf.reshape(x, (tf.shape(x)[0], -1))",
         "x.reshape(x.shape[0], -1)"),
    _row("reshape", "insert an axis of size 1", "x:mn",
         "x[:, None]", "x.unsqueeze(1)", "tf.expand_dims(x, 1)", "jnp.expand_dims(x, 1)",
         "`x[:, None]` works in all four."),
    _row("reshape", "remove an axis of size 1", "x:m1n",
         "x.squeeze(1)", "x.squeeze(1)", "tf.squeeze(x, 1)", "x.squeeze(1)",
         "Name the axis: a bare `squeeze()` also removes a batch axis that happens to have size 1."),
    # ---------------------------------------------------------------------------------- transpose
    _row("transpose", "swap the last two axes", "x:mnk",
         "np.swapaxes(x, -1, -2)", "x.transpose(-1, -2)", "tf.linalg.matrix_transpose(x)", "jnp.swapaxes(x, -1, -2)",
         "torch's `transpose` swaps two axes; NumPy's and JAX's `transpose` take a whole permutation."),
    _row("transpose", "permute all axes", "x:mnk",
         "x.transpose(2, 0, 1)", "x.permute(2, 0, 1)", "tf.transpose(x, perm=[2, 0, 1])", "jnp.transpose(x, (2, 0, 1))",
         "In NumPy and PyTorch the result is a non-contiguous view: no data moves."),
    # ------------------------------------------------------------------------------ concat, stack
    _row("concat and stack", "join along an existing axis", "a:mn b:mk",
         "np.concatenate([a, b], axis=1)", "torch.cat([a, b], dim=1)", "tf.concat([a, b], axis=1)",
         "jnp.concatenate([a, b], axis=1)"),
    _row("concat and stack", "join along a new axis", "a:mn b:mn",
         "np.stack([a, b], axis=1)", "torch.stack([a, b], dim=1)", "tf.stack([a, b], axis=1)",
         "jnp.stack([a, b], axis=1)"),
    _row("concat and stack", "split into parts of 2 and 3 columns", "x:m5",
         "np.split(x, [2], axis=1)", "torch.split(x, [2, 3], dim=1)", "tf.split(x, [2, 3], axis=1)",
         "jnp.split(x, [2], axis=1)",
         "NumPy and JAX take split positions, PyTorch and TensorFlow take sizes. With an int, NumPy makes that "
         "many equal parts, `torch.split` parts of that size."),
    # ---------------------------------------------------------------------------------- indexing
    _row("indexing and gather", "pick rows by index, repeats allowed", "x:mn idx:k:int<m",
         "x[idx]", "x[idx]", "tf.gather(x, idx)", "x[idx]"),
    _row("indexing and gather", "one entry per row, x[i, idx[i]]", "x:mn idx:m:int<n",
         "x[np.arange(len(x)), idx]", "x.gather(1, idx[:, None]).squeeze(1)", "tf.gather(x, idx, batch_dims=1)",
         "jnp.take_along_axis(x, idx[:, None], axis=1)[:, 0]",
         "The cross-entropy gather: the log-probability of each example's true class."),
    _row("indexing and gather", "keep the entries where a mask is true", "x:mn",
         "x[x > 0]", "x[x > 0]", "tf.boolean_mask(x, x > 0)", "x[x > 0]",
         "The result's length depends on the data, which `jax.jit` cannot compile: use `jnp.where` there."),
    _row("indexing and gather", "choose elementwise by a condition", "x:mn",
         "np.where(x > 0, x, 0.1 * x)", "torch.where(x > 0, x, 0.1 * x)", "tf.where(x > 0, x, 0.1 * x)",
         "jnp.where(x > 0, x, 0.1 * x)"),
    # -------------------------------------------------------------------------------- reductions
    _row("reductions", "sum over an axis, keeping it", "x:mn",
         "x.sum(axis=1, keepdims=True)", "x.sum(dim=1, keepdim=True)", "tf.reduce_sum(x, axis=1, keepdims=True)",
         "x.sum(axis=1, keepdims=True)",
         "torch says `dim` and `keepdim` (it also accepts `axis` and `keepdims`)."),
    _row("reductions", "maximum and where it is", "x:mn",
         "(x.max(axis=1), x.argmax(axis=1))", "tuple(x.max(dim=1))",
         "(tf.reduce_max(x, axis=1), tf.argmax(x, axis=1))", "(x.max(axis=1), x.argmax(axis=1))",
         "torch's `max` with a `dim` returns the pair `(values, indices)`."),
    _row("reductions", "variance over the batch", "x:mn",
         "x.var(axis=0)", "x.var(dim=0, correction=0)", "tf.math.reduce_variance(x, axis=0)", "x.var(axis=0)",
         "torch divides by N - 1 unless told otherwise (`correction=1`); NumPy, TensorFlow and JAX divide by N."),
    _row("reductions", "cumulative sum", "x:mn",
         "np.cumsum(x, axis=1)", "torch.cumsum(x, dim=1)", "tf.math.cumsum(x, axis=1)", "jnp.cumsum(x, axis=1)"),
    _row("reductions", "log-sum-exp, stably", "x:mn",
         "np.logaddexp.reduce(x, axis=1)", "torch.logsumexp(x, dim=1)", "tf.reduce_logsumexp(x, axis=1)",
         "jax.nn.logsumexp(x, axis=1)"),
    # ------------------------------------------------------------------------------ matmul, einsum
    _row("matmul and einsum", "matrix product", "a:mn b:nk",
         "a @ b", "a @ b", "tf.matmul(a, b)", "a @ b"),
    _row("matmul and einsum", "batched matrix product", "a:mnk b:mkn",
         "a @ b", "torch.bmm(a, b)", "tf.matmul(a, b)", "a @ b",
         "`@` batches over the leading axes everywhere; `torch.bmm` insists on exactly three."),
    _row("matmul and einsum", "attention scores with einsum", "q:mnk r:m3k",
         "np.einsum('bqd,bkd->bqk', q, r)", "torch.einsum('bqd,bkd->bqk', q, r)", "tf.einsum('bqd,bkd->bqk', q, r)",
         "jnp.einsum('bqd,bkd->bqk', q, r)"),
    _row("matmul and einsum", "outer product", "u:m v:n",
         "np.outer(u, v)", "torch.outer(u, v)", "tf.tensordot(u, v, axes=0)", "jnp.outer(u, v)"),
    # ------------------------------------------------------------------------------- broadcasting
    _row("broadcasting", "all pairwise differences", "a:mk b:nk",
         "a[:, None, :] - b[None, :, :]", "a[:, None, :] - b[None, :, :]", "a[:, None, :] - b[None, :, :]",
         "a[:, None, :] - b[None, :, :]",
         "The same rule everywhere: align shapes on the right; a size 1 stretches."),
    _row("broadcasting", "broadcast to a shape without copying", "x:m1",
         "np.broadcast_to(x, (m, n))", "x.expand(m, n)", "tf.broadcast_to(x, (m, n))", "jnp.broadcast_to(x, (m, n))",
         "NumPy and PyTorch return a stride-0 view: NumPy's is read-only, and writing into torch's hits every copy."),
    # ------------------------------------------------------------------------------------ dtypes
    _row("dtype casts", "float to integer, truncating toward zero", "x:mn:wide",
         "x.astype(np.int64)", "x.to(torch.int64)", "tf.cast(x, tf.int64)", "x.astype(jnp.int32)",
         "JAX is 32-bit unless `jax_enable_x64` is set: int64 and float64 silently become int32 and float32."),
    _row("dtype casts", "to float32", "x:mn",
         "x.astype(np.float32)", "x.float()", "tf.cast(x, tf.float32)", "x.astype(jnp.float32)"),
    # ------------------------------------------------------------------------------------ random
    _row("random numbers", "normal samples from a seed", "",
         "np.random.default_rng(seed).standard_normal((m, n))",
         "torch.randn(m, n, generator=torch.Generator().manual_seed(seed))",
         "tf.random.stateless_normal((m, n), seed=(seed, 0))",
         "jax.random.normal(jax.random.key(seed), (m, n))",
         "Each framework has its own generator: one seed gives different numbers in each, and the same numbers "
         "every time within one. JAX and TensorFlow's stateless functions take the seed (key) explicitly.",
         check="repeat"),
    _row("random numbers", "a random permutation from a seed", "",
         "np.random.default_rng(seed).permutation(n)",
         "torch.randperm(n, generator=torch.Generator().manual_seed(seed))",
         "tf.random.experimental.stateless_shuffle(tf.range(n), seed=(seed, 0))",
         "jax.random.permutation(jax.random.key(seed), n)",
         check="repeat"),
    # ----------------------------------------------------------------------- in place, functional
    _row("in-place and functional updates", "add one in place", "x:mn",
         "x += 1", "x.add_(1)", "v = tf.Variable(x); v.assign_add(tf.ones_like(x))", "x = x + 1",
         "TensorFlow tensors and JAX arrays are immutable: TensorFlow mutates only `tf.Variable`, JAX returns "
         "a new array (which `jax.jit` may write in place)."),
    _row("in-place and functional updates", "a copy with row 0 set to zero", "x:mn",
         "y = x.copy(); y[0] = 0", "y = x.clone(); y[0] = 0",
         "tf.tensor_scatter_nd_update(x, [[0]], tf.zeros_like(x[:1]))", "x.at[0].set(0)"),
    _row("in-place and functional updates", "scatter-add, indices may repeat", "idx:k:int<m v:k",
         "np.bincount(idx, weights=v, minlength=m)", "torch.zeros(m, dtype=v.dtype).index_add_(0, idx, v)",
         "tf.tensor_scatter_nd_add(tf.zeros(m, v.dtype), idx[:, None], v)", "jnp.zeros(m).at[idx].add(v)",
         "`y[idx] += v` is not this: NumPy and PyTorch add once per distinct index and drop the repeats."),
    # ---------------------------------------------------------------------------------- autodiff
    _row("autodiff", "gradient of sum(sin(x) * x)", "x:mn",
         "np.cos(x) * x + np.sin(x)",
         "x.requires_grad_(); (torch.sin(x) * x).sum().backward(); x.grad",
         "with tf.GradientTape() as tape: tape.watch(x); f = tf.reduce_sum(tf.sin(x) * x)\ntape.gradient(f, x)",
         "jax.grad(lambda x: (jnp.sin(x) * x).sum())(x)",
         "NumPy has no autodiff: its column is the derivative by hand. torch records on tensors, TensorFlow "
         "on a tape, JAX transforms the function."),
    _row("autodiff", "stop the gradient through one factor", "x:mn",
         "x",
         "x.requires_grad_(); (x.detach() * x).sum().backward(); x.grad",
         "with tf.GradientTape() as tape: tape.watch(x); f = tf.reduce_sum(tf.stop_gradient(x) * x)\n"
         "tape.gradient(f, x)",
         "jax.grad(lambda x: (jax.lax.stop_gradient(x) * x).sum())(x)",
         "The detached factor is a constant `c`, so the gradient of `c * x` is `c`, which equals `x`."),
    _row("autodiff", "vectorise a per-example function", "x:mn",
         "(x ** 2).sum(axis=1)", "torch.vmap(lambda r: (r ** 2).sum())(x)",
         "tf.vectorized_map(lambda r: tf.reduce_sum(r ** 2), x)", "jax.vmap(lambda r: (r ** 2).sum())(x)",
         "`vmap` takes the function for one example and maps it over the batch axis."),
    # ---------------------------------------------------------------------------------- devices
    _row("device placement", "to the accelerator, if there is one", "x:mn",
         "np.asarray(x)", "x.to(device)", "tf.identity(x)", "jax.device_put(x, jax.devices()[0])",
         "NumPy lives in host memory. `device` is `cuda` when torch sees a GPU; TensorFlow places tensors on a "
         "GPU by itself (`with tf.device('/GPU:0'):` forces it); JAX uses its first device by default."),
    _row("device placement", "back to a NumPy array", "x:mn",
         "x", "x.detach().cpu().numpy()", "x.numpy()", "np.asarray(x)",
         "torch needs `detach()` when `x` requires grad and `cpu()` when it lives on a GPU; the copy to the host "
         "waits for the device to finish."),
]
"""The translation table, in the order the book shows it."""


# -------------------------------------------------------------------------------- running a row


def is_available(framework: str) -> bool:
    """Whether ``framework`` can be imported here (TensorFlow and JAX are optional)."""
    module = "numpy" if framework == "numpy" else _check_framework(framework)
    return importlib.util.find_spec(module) is not None


def available_frameworks() -> tuple[str, ...]:
    """The frameworks of :data:`FRAMEWORKS` installed here, in order."""
    return tuple(f for f in FRAMEWORKS if is_available(f))


def _namespace(framework: str) -> dict[str, Any]:
    if framework == "numpy":
        return {"np": np}
    if framework == "torch":
        return {"np": np, "torch": torch, "F": torch.nn.functional, "device": default_device()}
    if not is_available(framework):
        raise ModuleNotFoundError(f"{FRAMEWORK_TITLES[framework]} is not installed: its column is a static listing here")
    if framework == "tensorflow":
        return {"np": np, "tf": importlib.import_module("tensorflow")}
    return {"np": np, "jax": importlib.import_module("jax"), "jnp": importlib.import_module("jax.numpy")}


def _convert(value: np.ndarray, framework: str, namespace: Mapping[str, Any]) -> Any:
    if framework == "numpy":
        return value.copy()  # in-place spellings must not change the caller's arrays
    if framework == "torch":
        return torch.from_numpy(value.copy())
    if framework == "tensorflow":
        return namespace["tf"].convert_to_tensor(value)
    return namespace["jnp"].asarray(value)


def _to_numpy(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_to_numpy(v) for v in value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # a TensorFlow tensor or variable
        return np.asarray(value.numpy())
    return np.asarray(value)


def _run(code: str, namespace: dict[str, Any]) -> Any:
    """Run ``code`` like a notebook cell: the value of the last expression, or of the last name assigned."""
    tree = ast.parse(code, mode="exec")
    if not tree.body:
        raise ValueError("empty spelling")
    *body, last = tree.body
    exec(compile(ast.Module(body=body, type_ignores=[]), "<spelling>", "exec"), namespace)
    if isinstance(last, ast.Expr):
        return eval(compile(ast.Expression(last.value), "<spelling>", "eval"), namespace)
    exec(compile(ast.Module(body=[last], type_ignores=[]), "<spelling>", "exec"), namespace)
    if isinstance(last, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        target = last.targets[-1] if isinstance(last, ast.Assign) else last.target
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value  # y[0] = 0 returns y
        if isinstance(target, ast.Name):
            return namespace[target.id]
    raise ValueError(f"cannot tell the result of {code!r}: end it with an expression or an assignment")


def evaluate(row: Translation, framework: str, *, seed: int = 0, sizes: Sizes = (3, 4, 2)) -> Any:
    """Run ``row``'s spelling in ``framework`` on the inputs drawn from ``seed`` and ``sizes``.

    Returns the result as a NumPy array (a tuple of arrays for a spelling that returns several).
    Raises ``ModuleNotFoundError`` for TensorFlow or JAX when they are not installed.
    """
    namespace = _namespace(_check_framework(framework))
    kinds = {name: kind for name, _, kind in _parse_inputs(row.inputs)}
    for name, value in row.make_inputs(seed, sizes).items():
        if isinstance(value, np.ndarray) and kinds.get(name) != "host":
            value = _convert(value, framework, namespace)
        namespace[name] = value
    return _to_numpy(_run(row.code(framework), namespace))


@dataclass(frozen=True)
class Agreement:
    """The outcome of running one row in ``framework`` and comparing it with ``reference``."""

    operation: str
    framework: str
    reference: str
    agree: bool
    detail: str
    shapes: tuple[Any, Any]
    dtypes: tuple[Any, Any]

    def __bool__(self) -> bool:
        return self.agree


def _leaves(value: Any) -> list[np.ndarray]:
    return [leaf for v in value for leaf in _leaves(v)] if isinstance(value, tuple) else [np.asarray(value)]


def _tolerance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    precisions = [np.finfo(x.dtype).eps for x in (a, b) if x.dtype.kind == "f"]
    if not precisions or max(precisions) <= np.finfo(np.float64).eps:
        return 1e-10, 1e-12
    return 1e-5, 1e-6  # float32 on at least one side (torch's defaults, JAX without x64)


def _same(a: np.ndarray, b: np.ndarray) -> Optional[str]:
    """None when ``a`` and ``b`` agree (shape, kind of dtype, values); otherwise what differs."""
    if a.shape != b.shape:
        return f"shapes differ: {a.shape} vs {b.shape}"
    kind = lambda x: "f" if x.dtype.kind in "fc" else ("i" if x.dtype.kind in "iu" else x.dtype.kind)  # noqa: E731
    if kind(a) != kind(b):
        return f"kinds of dtype differ: {a.dtype} vs {b.dtype}"
    rtol, atol = _tolerance(a, b)
    if not np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol, equal_nan=True):
        worst = np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))) if a.size else 0.0
        return f"values differ by up to {worst:.3g} (rtol {rtol:g}, atol {atol:g})"
    return None


def compare(row: Translation, framework: str, *, seed: int = 0, sizes: Sizes = (3, 4, 2),
            reference: str = "numpy") -> Agreement:
    """Run ``row`` in ``framework`` and in ``reference`` on the same inputs and compare the answers.

    With ``row.check == "values"`` the answers must have the same shapes, the same kind of dtype
    (integer, float or bool: widths may differ, e.g. float32 against NumPy's float64) and equal values
    within a tolerance set by the less precise of the two dtypes. With ``"repeat"`` (random numbers)
    the framework must return identical numbers when run twice from the same seed, with the
    reference's shape and kind of dtype.
    """
    ours = evaluate(row, framework, seed=seed, sizes=sizes)
    theirs = evaluate(row, reference, seed=seed, sizes=sizes)
    ours_leaves, theirs_leaves = _leaves(ours), _leaves(theirs)
    shapes = (tuple(x.shape for x in theirs_leaves), tuple(x.shape for x in ours_leaves))
    dtypes = (tuple(str(x.dtype) for x in theirs_leaves), tuple(str(x.dtype) for x in ours_leaves))
    problems = []
    if len(ours_leaves) != len(theirs_leaves):
        problems.append(f"{len(ours_leaves)} results vs {len(theirs_leaves)}")
    elif row.check == "values":
        problems += [p for a, b in zip(theirs_leaves, ours_leaves) if (p := _same(a, b))]
    else:
        again = _leaves(evaluate(row, framework, seed=seed, sizes=sizes))
        for first, second, ref in zip(ours_leaves, again, theirs_leaves):
            if not np.array_equal(first, second):
                problems.append("the same seed gave different numbers")
            if first.shape != ref.shape:
                problems.append(f"shapes differ: {ref.shape} vs {first.shape}")
            if (first.dtype.kind == "f") != (ref.dtype.kind == "f"):
                problems.append(f"kinds of dtype differ: {ref.dtype} vs {first.dtype}")
    detail = "; ".join(problems) if problems else "agrees"
    return Agreement(row.operation, framework, reference, not problems, detail, shapes, dtypes)


def check_translations(rows: Sequence[Translation] = TRANSLATIONS, frameworks: Optional[Sequence[str]] = None, *,
                       seed: int = 0, sizes: Sizes = (3, 5, 2)) -> dict[tuple[str, str], Agreement]:
    """:func:`compare` every row in every framework (default: every installed one but NumPy).

    Returns ``{(operation, framework): Agreement}``. A spelling that raises is reported as a
    disagreement whose detail is the exception, so one broken row cannot hide the others.
    """
    frameworks = [f for f in available_frameworks() if f != "numpy"] if frameworks is None else list(frameworks)
    results = {}
    for row in rows:
        for framework in frameworks:
            try:
                results[row.operation, framework] = compare(row, framework, seed=seed, sizes=sizes)
            except Exception as err:  # noqa: BLE001 - reported, not swallowed
                results[row.operation, framework] = Agreement(row.operation, framework, "numpy", False,
                                                              f"{type(err).__name__}: {err}", ((), ()), ((), ()))
    return results


# -------------------------------------------------------------------------------------- rendering


def translation_frame(rows: Sequence[Translation] = TRANSLATIONS):
    """The table as a ``pandas.DataFrame``: category, operation, inputs, the four spellings and the note."""
    import pandas as pd

    return pd.DataFrame([{"category": r.category, "operation": r.operation, "inputs": r.input_description(),
                          **{FRAMEWORK_TITLES[f]: r.code(f) for f in FRAMEWORKS}, "note": r.note} for r in rows])


def _cell(code: str, checked: Optional[bool]) -> str:
    lines = "<br>".join(f"`{line.strip()}`" for line in code.splitlines() if line.strip())
    return lines + (" ✓" if checked else "")


def translation_markdown(rows: Sequence[Translation] = TRANSLATIONS,
                         agreements: Optional[Mapping[tuple[str, str], Agreement]] = None) -> str:
    """The table as Markdown: one table per category, its notes as a list below it. The first column
    is the operation with its inputs in italics below.

    A spelling that ``agreements`` shows agreeing with NumPy gets a ✓; the NumPy column is the
    reference. Spellings of several lines are joined with ``<br>``.
    """
    agreements = agreements or {}
    out: list[str] = []
    categories = list(dict.fromkeys(r.category for r in rows))
    header = "| operation *(inputs)* | " + " | ".join(FRAMEWORK_TITLES[f] for f in FRAMEWORKS) + " |"
    for category in categories:
        group = [r for r in rows if r.category == category]
        out += [f"**{category[0].upper() + category[1:]}**", "", header, "|" + " --- |" * (1 + len(FRAMEWORKS))]
        for r in group:
            cells = [_cell(r.code(f), bool(agreements.get((r.operation, f))) if f != "numpy" else None)
                     for f in FRAMEWORKS]
            out.append(f"| {r.operation}<br>*({r.input_description() or 'no arrays'})* | " + " | ".join(cells) + " |")
        notes = [f"- *{r.operation}*: {r.note}" for r in group if r.note]
        out += [""] + notes + ([""] if notes else [])
    return "\n".join(out).rstrip() + "\n"


# -------------------------------------------------------------------------------- PyTorch patterns


def default_device() -> torch.device:
    """``cuda`` when PyTorch sees a GPU, else ``cpu``: the one line that makes code device-agnostic."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class PatternNet(nn.Module):
    """Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear: an MLP holding the two layers whose
    behaviour depends on the mode (``train()`` / ``eval()``), and a buffer.

    x: (batch, in_features) -> logits (batch, out_features).

    Parameters (trained, in ``parameters()`` and ``state_dict()``): the two Linear layers' weights and
    biases, BatchNorm's weight and bias. Buffers (not trained, but in ``state_dict()`` and moved by
    ``.to()``): BatchNorm's running statistics, and ``examples_seen``, the number of training
    examples this network has been run on.
    """

    def __init__(self, in_features: int, hidden: int, out_features: int, p: float = 0.5) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_features, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.drop = nn.Dropout(p)
        self.out = nn.Linear(hidden, out_features)
        self.register_buffer("examples_seen", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.hidden.in_features:
            raise ValueError(f"PatternNet expects input of shape (batch, {self.hidden.in_features}), got {tuple(x.shape)}")
        if self.training:
            self.examples_seen += x.shape[0]
        return self.out(self.drop(torch.relu(self.norm(self.hidden(x)))))


@dataclass(frozen=True)
class StepResult:
    """What one :func:`train_step` reports: the loss (a detached 0-d tensor: reading it with
    ``.item()`` is the caller's choice, and a device synchronisation) and the gradients' global L2 norm
    *before* clipping."""

    loss: torch.Tensor
    grad_norm: torch.Tensor


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
               x: torch.Tensor, y: torch.Tensor, *, max_grad_norm: Optional[float] = None) -> StepResult:
    """One optimisation step: clear the gradients, forward, loss, backward, (clip), update.

    The model's mode is the caller's business (``model.train()`` once per epoch). ``max_grad_norm``
    rescales all gradients together so that their global L2 norm is at most that value, which keeps
    their direction.
    """
    optimizer.zero_grad(set_to_none=True)  # otherwise backward() adds to the last step's gradients
    loss = loss_fn(model(x), y)
    loss.backward()
    params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    limit = math.inf if max_grad_norm is None else max_grad_norm
    grad_norm = torch.nn.utils.clip_grad_norm_(params, limit)  # with inf it only measures
    optimizer.step()
    return StepResult(loss.detach(), grad_norm.detach())


class ArrayDataset(Dataset):
    """A map-style ``Dataset`` over NumPy arrays: item ``i`` is ``(features[i], labels[i])`` as tensors.

    features: (N, ...) floats, returned as float32; labels: (N,) integers, returned as int64 (what
    ``cross_entropy`` wants). ``transform``, if given, is applied to each example's features as they
    are read, as an augmentation would be.
    """

    def __init__(self, features: np.ndarray, labels: np.ndarray,
                 transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> None:
        features, labels = np.asarray(features), np.asarray(labels)
        if features.ndim < 1 or labels.ndim != 1 or len(features) != len(labels):
            raise ValueError(f"features (N, ...) and labels (N,) must have the same length N, got shapes "
                             f"{features.shape} and {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}")
        self.features, self.labels, self.transform = features, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(self.features[i], dtype=torch.float32)
        if self.transform is not None:
            x = self.transform(x)
        return x, torch.as_tensor(self.labels[i], dtype=torch.int64)


class LogSumExp(torch.autograd.Function):
    """``log(sum(exp(x)))`` along ``dim`` with a hand-written backward: a custom autograd function.

    Forward subtracts the maximum before exponentiating (so +-1e4 is fine) and saves what backward
    needs. Backward uses d lse / dx = exp(x - lse) = softmax(x). ``@once_differentiable`` declares
    that this backward cannot itself be differentiated (it treats the saved output as a constant), so
    asking for a second derivative raises instead of returning a wrong one.

    x: (..., n, ...) -> the same shape without ``dim``.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, dim: int) -> torch.Tensor:
        m = x.amax(dim=dim, keepdim=True)
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # a row of -inf: avoid (-inf) - (-inf)
        out = m + (x - m).exp().sum(dim=dim, keepdim=True).log()
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out.squeeze(dim)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, out = ctx.saved_tensors
        return grad_output.unsqueeze(ctx.dim) * (x - out).exp(), None  # no gradient for ``dim``


def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """:class:`LogSumExp` as a function (``Function.apply`` takes positional arguments only)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"logsumexp expects a floating-point tensor, got {type(x).__name__} "
                        f"{getattr(x, 'dtype', '')}".rstrip())
    if x.ndim == 0:
        raise ValueError("logsumexp needs at least one dimension, got a 0-d tensor")
    return LogSumExp.apply(x, dim)


@contextlib.contextmanager
def record_activations(model: nn.Module, names: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of the submodules called ``names`` (as in ``model.named_modules()``).

    Yields a dict that forward hooks fill, ``{name: output.detach()}``, on every forward pass inside
    the ``with`` block; the hooks are removed when the block ends, even on an exception, so the model
    is left exactly as it was.
    """
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise ValueError(f"no submodules named {unknown}; the model has {[n for n in modules if n]}")
    store: dict[str, torch.Tensor] = {}

    def hook_for(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
            store[name] = output.detach()
        return hook

    handles = [modules[name].register_forward_hook(hook_for(name)) for name in names]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()
