"""What every optimizer shares: parameter groups, checking the gradients, state, backends.

An optimizer here owns references to the parameters (NumPy arrays, or device arrays for ``"cuda"``) and
updates them **in place** when :meth:`Optimizer.step` is given the gradients, in the same order as the
parameters. The subclasses (:class:`~mlbook.optim.SGD`, :class:`~mlbook.optim.Adam`, ...) only say
which state buffers they keep, how one element is updated and which scalars the update needs; this
class runs that update on the chosen backend:

``"numpy"``
    the readable reference: whole-array in-place NumPy operations, one parameter at a time. A large
    contiguous parameter is swept in blocks of :data:`NUMPY_BLOCK` elements, so that the dozen passes of
    a NumPy update run over data in the cache instead of over main memory (see :meth:`Optimizer._numpy_step`);
``"numba"``
    one fused, parallel Numba kernel per step. When the parameters (and the gradients) are views into
    one contiguous buffer (see :class:`~mlbook.optim.FlatParameters`), the whole model is updated in a
    single pass over memory; otherwise one fused call per parameter;
``"cuda"``
    the same fused kernel compiled by Numba for an NVIDIA GPU, on device arrays (Numba device arrays,
    or anything with ``__cuda_array_interface__``, such as a CUDA ``torch.Tensor``, used without a copy).
"""

from __future__ import annotations

import copy
import math
from typing import Any, Iterable, Sequence

import numpy as np

from mlbook.optim.flat import contiguous_span

__all__ = ["Optimizer", "BACKENDS", "NUMPY_BLOCK"]

BACKENDS = ("numpy", "numba", "cuda")
NUMPY_BLOCK = 1 << 18
"""Elements per block of the NumPy backend's step. Adam's ~6 arrays of a block (1 MiB each in float32)
stay in the last-level cache between its dozen NumPy passes; measured on the book's 2-core machine, blocks
of 2**16 to 2**18 run a 10M-parameter Adam step about 1.7x faster than whole arrays, while blocks of 2**14
lose the gain to the per-call overhead of NumPy."""
FIRST_STEP = "_first_step"  # set on a parameter's state until its first update is done; never saved


def _is_device_array(x: Any) -> bool:
    return hasattr(x, "copy_to_host") or hasattr(x, "__cuda_array_interface__")


def _to_device_array(x: Any, what: str) -> Any:
    """A Numba device array for ``x`` (no copy), or ``TypeError`` if ``x`` does not live on the GPU."""
    from numba import cuda  # imported here: the other backends must not need a CUDA toolkit

    if hasattr(x, "copy_to_host"):
        return x
    if hasattr(x, "__cuda_array_interface__"):
        return cuda.as_cuda_array(x)
    raise TypeError(f"the 'cuda' backend needs device arrays; {what} is a {type(x).__name__}. "
                    "Use numba.cuda.to_device(array) or a CUDA torch.Tensor")


class Optimizer:
    """Base class: holds ``param_groups`` (a list of dicts, each with ``"params"`` and hyperparameters)
    and ``state`` (a dict from the parameter's index to its buffers), like ``torch.optim.Optimizer``.

    Subclasses set ``defaults`` and implement ``_check_hyperparameters``, ``_state_spec``,
    ``_advance``, ``_numpy_update``, ``_kernel_arrays`` and ``_kernel_scalars``, and name their fused
    kernel in ``_kernel_name``.
    """

    _kernel_name: str  # the kernel's name in kernels_numba and in kernels_cuda

    def __init__(self, params: Iterable[Any] | Iterable[dict[str, Any]], defaults: dict[str, Any],
                 *, backend: str = "numpy") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.defaults = dict(defaults)
        if isinstance(params, np.ndarray) or _is_device_array(params):
            raise TypeError("params must be an iterable of arrays (or of dicts), not a single array; "
                            "wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups: list[dict[str, Any]] = []
        seen: set[int] = set()
        for group in groups:
            if not isinstance(group, dict) or "params" not in group:
                raise TypeError("parameter groups must be dicts with a 'params' entry")
            unknown = set(group) - set(defaults) - {"params"}
            if unknown:
                raise ValueError(f"unknown hyperparameters {sorted(unknown)} in a parameter group; "
                                 f"expected some of {sorted(defaults)}")
            group = {**self.defaults, **group}
            group["params"] = [self._adopt(p, len(seen) + k) for k, p in enumerate(group["params"])]
            if not group["params"]:
                raise ValueError("a parameter group has no parameters")
            for p in group["params"]:
                if id(p) in seen:
                    raise ValueError("a parameter appears more than once")
                seen.add(id(p))
            self._check_hyperparameters(group)
            self.param_groups.append(group)
        self.state: dict[int, dict[str, Any]] = {}
        self._scratch: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        self._flat_state: dict[tuple[int, str], np.ndarray] = {}
        self._spans: dict[tuple[int, ...], tuple[Any, list[Any]]] = {}

    # ----------------------------------------------------------------- parameters and their checks
    def _adopt(self, p: Any, index: int) -> Any:
        if self.backend == "cuda":
            p = _to_device_array(p, f"parameter {index}")
        elif not isinstance(p, np.ndarray):
            raise TypeError(f"parameter {index} must be a numpy.ndarray, got {type(p).__name__}")
        elif self.backend == "numba" and not p.flags.c_contiguous:
            raise ValueError(f"parameter {index} (shape {p.shape}) is not C-contiguous; the 'numba' backend "
                             "updates parameters through flat views. Use np.ascontiguousarray or FlatParameters")
        if np.dtype(p.dtype).kind != "f":
            raise TypeError(f"parameter {index} must be floating point, got dtype {p.dtype}")
        if self.backend == "numpy" and not p.flags.writeable:
            raise ValueError(f"parameter {index} is read-only")
        return p

    @property
    def params(self) -> list[Any]:
        """All parameters, in order: the order :meth:`step` expects the gradients in."""
        return [p for group in self.param_groups for p in group["params"]]

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def _check_range(name: str, value: Any, low: float = 0.0, high: float = math.inf,
                     high_inclusive: bool = True) -> None:
        """``ValueError`` unless ``low <= value <= high`` (``< high`` if not ``high_inclusive``)."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a real number, got {value!r}") from None
        upper_ok = number <= high if high_inclusive else number < high
        if not (low <= number and upper_ok):  # also rejects NaN
            bracket = "]" if high_inclusive else ")"
            raise ValueError(f"invalid {name}: {value!r} (must lie in [{low}, {high}{bracket})")

    def _check_grads(self, grads: Sequence[Any]) -> list[Any]:
        params = self.params
        if isinstance(grads, np.ndarray) or _is_device_array(grads):
            raise TypeError("step() takes a sequence of gradients, one per parameter; wrap a single array in a list")
        grads = list(grads)
        if len(grads) != len(params):
            raise ValueError(f"step() got {len(grads)} gradients for {len(params)} parameters")
        checked = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if g is None:  # like torch: a parameter without a gradient is left alone
                checked.append(None)
                continue
            if self.backend == "cuda":
                g = _to_device_array(g, f"gradient {i}")
            elif not isinstance(g, np.ndarray):
                raise TypeError(f"gradient {i} must be a numpy.ndarray, got {type(g).__name__}")
            if tuple(g.shape) != tuple(p.shape):
                raise ValueError(f"gradient {i} has shape {tuple(g.shape)} but parameter {i} has shape {tuple(p.shape)}")
            if np.dtype(g.dtype) != np.dtype(p.dtype):
                raise ValueError(f"gradient {i} has dtype {g.dtype} but parameter {i} has dtype {p.dtype}")
            checked.append(g)
        return checked

    # ----------------------------------------------------------------- the step
    def step(self, grads: Sequence[Any]) -> None:
        """Update every parameter in place from ``grads`` (one per parameter, same shapes and dtypes;
        ``None`` skips a parameter). Everything is checked before anything is changed: a bad gradient or
        hyperparameter raises ``ValueError``/``TypeError`` and leaves parameters and state untouched.
        """
        grads = self._check_grads(grads)
        for group in self.param_groups:  # a scheduler or the user may have changed lr since __init__
            self._check_hyperparameters(group)
        params = self.params
        index = 0
        for group in self.param_groups:
            n = len(group["params"])
            indices = [index + k for k in range(n) if grads[index + k] is not None]
            index += n
            for i in indices:
                if i not in self.state:
                    self._init_state(group, i)
            for i in indices:
                self._advance(self.state[i], group)
            if self.backend == "numpy":
                for i in indices:
                    self._numpy_step(i, params[i], grads[i], group)
            else:
                self._fused_update(group, indices, grads)
            for i in indices:
                self.state[i].pop(FIRST_STEP, None)

    def _group_indices(self, group: dict[str, Any]) -> list[int]:
        start = 0
        for g in self.param_groups:
            if g is group:
                return list(range(start, start + len(g["params"])))
            start += len(g["params"])
        raise ValueError("group not found")

    def _numpy_step(self, i: int, param: np.ndarray, grad: np.ndarray, group: dict[str, Any]) -> None:
        """Run the NumPy update of parameter ``i``, block by block when that is possible.

        Every update rule here is elementwise, so the update of a slice is the slice of the update: a
        C-contiguous parameter, gradient and state can be cut into matching flat blocks of
        :data:`NUMPY_BLOCK` elements and updated one block at a time. Each NumPy operation of the rule is
        then a pass over a cache-sized block, not over main memory, and the two scratch arrays shrink to
        one block. Anything not C-contiguous is updated whole.
        """
        state = self.state[i]
        buffers = [name for name, value in state.items()
                   if isinstance(value, np.ndarray) and value.shape == param.shape]
        arrays = [param, grad] + [state[name] for name in buffers]
        if param.size <= NUMPY_BLOCK or not all(a.flags.c_contiguous for a in arrays):
            self._numpy_update(param, grad, state, group, self._scratch_for(param, i))
            return
        flat = [a.reshape(-1) for a in arrays]  # views: every array is C-contiguous
        scratch = self._block_scratch(param.dtype)
        for start in range(0, param.size, NUMPY_BLOCK):
            block = slice(start, start + NUMPY_BLOCK)
            p, g, *state_blocks = (a[block] for a in flat)
            n = p.size
            block_state = {**state, **dict(zip(buffers, state_blocks))}
            self._numpy_update(p, g, block_state, group, (scratch[0][:n], scratch[1][:n]))

    def _block_scratch(self, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """Two work arrays of one block, allocated once per dtype and shared by every parameter."""
        key = ("block", np.dtype(dtype).str)
        if key not in self._scratch:
            self._scratch[key] = (np.empty(NUMPY_BLOCK, dtype), np.empty(NUMPY_BLOCK, dtype))
        return self._scratch[key]

    def _scratch_for(self, p: np.ndarray, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Two work arrays shaped like parameter ``i``, allocated once (the reference step allocates nothing)."""
        if i not in self._scratch:
            self._scratch[i] = (np.empty_like(p), np.empty_like(p))
        return self._scratch[i]

    def _fused_update(self, group: dict[str, Any], indices: list[int], grads: list[Any]) -> None:
        params = self.params
        scalars = [self._kernel_scalars(self.state[i], group, params[i].dtype) for i in indices]
        if self.backend == "numba":
            from mlbook.optim import kernels_numba

            kernel = getattr(kernels_numba, self._kernel_name)

            # One pass over the whole group when parameters, gradients and every state buffer are
            # back-to-back views of single buffers and all parameters are at the same step.
            if indices and all(s == scalars[0] for s in scalars):
                # The parameters and the state never move, so their spans are found once per set of
                # indices (finding one costs a few tens of microseconds); the gradients may, so theirs is not.
                key = tuple(indices)
                if key not in self._spans:
                    self._spans[key] = (contiguous_span([params[i] for i in indices]),
                                        [contiguous_span(list(arrays)) for arrays in
                                         zip(*(self._kernel_arrays(self.state[i], group, params[i]) for i in indices))])
                p_span, state_spans = self._spans[key]
                g_span = contiguous_span([grads[i] for i in indices])
                if p_span is not None and g_span is not None and all(s is not None for s in state_spans):
                    kernel(p_span, g_span, *state_spans, *scalars[0])
                    return
            for i, s in zip(indices, scalars):
                flat = [a.reshape(-1) for a in self._kernel_arrays(self.state[i], group, params[i])]
                kernel(params[i].reshape(-1), np.ascontiguousarray(grads[i]).reshape(-1), *flat, *s)
        else:
            from mlbook.optim import kernels_cuda

            kernel = getattr(kernels_cuda, self._kernel_name)
            for i, s in zip(indices, scalars):
                flat = [kernels_cuda.flat_view(a) for a in self._kernel_arrays(self.state[i], group, params[i])]
                kernels_cuda.launch(kernel, kernels_cuda.flat_view(params[i]), kernels_cuda.flat_view(grads[i]), *flat, *s)

    # ----------------------------------------------------------------- state
    def _state_spec(self, group: dict[str, Any]) -> dict[str, float]:
        """The state buffers a parameter needs, each with its initial fill value."""
        raise NotImplementedError

    def _has_step(self) -> bool:
        return True

    def _init_state(self, group: dict[str, Any], i: int) -> None:
        """Create the state of parameter ``i``. On the CPU, the buffers of a whole group are allocated
        as one flat array each (views per parameter), so the fused kernel can sweep them in one pass."""
        spec = self._state_spec(group)
        indices = self._group_indices(group)
        params = group["params"]
        for name, fill in spec.items():
            if self.backend == "cuda":
                from mlbook.optim import kernels_cuda

                buffer = kernels_cuda.full_like(params[indices.index(i)], fill)
            else:
                key = (indices[0], name)
                if key not in self._flat_state:
                    sizes = [p.size for p in params]
                    flat = np.full(sum(sizes), fill, dtype=params[0].dtype) if len({p.dtype for p in params}) == 1 else None
                    self._flat_state[key] = flat
                flat = self._flat_state[key]
                k = indices.index(i)
                p = params[k]
                if flat is None:
                    buffer = np.full(p.shape, fill, dtype=p.dtype)
                else:
                    start = sum(q.size for q in params[:k])
                    buffer = flat[start:start + p.size].reshape(p.shape)
                    buffer[...] = fill
            self.state.setdefault(i, {})[name] = buffer
        if self._has_step():
            self.state.setdefault(i, {})["step"] = 0
        self.state.setdefault(i, {})[FIRST_STEP] = True

    def state_dict(self) -> dict[str, Any]:
        """A deep copy of the optimizer's state, in ``torch.optim``'s layout: ``{"state": {index:
        {name: value}}, "param_groups": [{hyperparameters..., "params": [indices]}]}``. Arrays are NumPy
        copies (device buffers are copied to the host)."""
        def host(value: Any) -> Any:
            if hasattr(value, "copy_to_host"):
                return value.copy_to_host()
            return value.copy() if isinstance(value, np.ndarray) else value

        groups = []
        for group, indices in zip(self.param_groups, map(self._group_indices, self.param_groups)):
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = indices
            groups.append(saved)
        state = {i: {name: host(v) for name, v in s.items() if name != FIRST_STEP} for i, s in self.state.items()}
        state = {i: entry for i, entry in state.items() if entry}  # like torch: no entry for stateless SGD
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`. The saved groups must have the same sizes as this optimizer's and
        the saved buffers the parameters' shapes; values are copied into this optimizer's own buffers."""
        groups = state_dict.get("param_groups")
        state = state_dict.get("state")
        if not isinstance(groups, list) or not isinstance(state, dict):
            raise ValueError("state_dict must have 'state' (a dict) and 'param_groups' (a list)")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"state_dict has {len(groups)} parameter groups, this optimizer has {len(self.param_groups)}")
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"a saved parameter group has {len(saved['params'])} parameters, "
                                 f"this optimizer's has {len(group['params'])}")
        trials = [{**group, **{k: copy.deepcopy(v) for k, v in saved.items() if k in self.defaults}}
                  for saved, group in zip(groups, self.param_groups)]
        for trial in trials:
            self._check_hyperparameters(trial)
        params = self.params
        index_to_trial = {i: trial for trial, group in zip(trials, self.param_groups)
                          for i in self._group_indices(group)}
        for i, entry in state.items():
            i = int(i)
            if not 0 <= i < len(params):
                raise ValueError(f"state_dict has state for parameter {i}; there are {len(params)}")
            allowed = set(self._state_spec(index_to_trial[i])) | {"step"}
            for name, value in entry.items():
                if name not in allowed and value is not None:
                    raise ValueError(f"unexpected state {name!r} for parameter {i}; expected {sorted(allowed)}")
                if name == "step" or value is None:
                    continue
                value = np.asarray(value)  # also accepts torch tensors: a torch state_dict loads as is
                if value.shape != tuple(params[i].shape):
                    raise ValueError(f"state {name!r} of parameter {i} has shape {value.shape}, "
                                     f"the parameter has shape {tuple(params[i].shape)}")
        for trial, group in zip(trials, self.param_groups):  # all checked: now change things
            group.update({k: v for k, v in trial.items() if k != "params"})
        index_to_group = {i: g for g in self.param_groups for i in self._group_indices(g)}
        for i, entry in state.items():
            i = int(i)
            if i not in self.state or any(name not in self.state[i] for name, value in entry.items()
                                          if value is not None):
                self._init_state(index_to_group[i], i)
            for name, value in entry.items():
                if value is None:
                    continue
                if name == "step":
                    self.state[i]["step"] = int(value)
                elif hasattr(self.state[i][name], "copy_to_device"):
                    self.state[i][name].copy_to_device(np.ascontiguousarray(value, dtype=params[i].dtype))
                else:
                    np.copyto(self.state[i][name], np.asarray(value))
            self.state[i].pop(FIRST_STEP, None)

    # ----------------------------------------------------------------- per-optimizer hooks
    def _advance(self, state: dict[str, Any], group: dict[str, Any]) -> None:
        if "step" in state:
            state["step"] += 1

    def _numpy_update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                      group: dict[str, Any], scratch: tuple[np.ndarray, np.ndarray]) -> None:
        raise NotImplementedError

    def _kernel_arrays(self, state: dict[str, Any], group: dict[str, Any], param: Any) -> tuple[Any, ...]:
        """The state buffers the kernel takes, in its order; an unused one is replaced by ``param`` (never
        written), so that every kernel has one fixed signature."""
        raise NotImplementedError

    def _kernel_scalars(self, state: dict[str, Any], group: dict[str, Any], dtype: Any) -> tuple[Any, ...]:
        raise NotImplementedError

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}(backend={self.backend!r},"]
        for k, group in enumerate(self.param_groups):
            hyper = ", ".join(f"{name}={group[name]!r}" for name in sorted(self.defaults))
            lines.append(f"  group {k}: {len(group['params'])} params, {hyper}")
        return "\n".join(lines) + ")"


def effective_gradient(param: np.ndarray, grad: np.ndarray, scratch: tuple[np.ndarray, np.ndarray], *,
                       l2_penalty: float, maximize: bool, will_modify: bool = False) -> np.ndarray:
    """The gradient an update rule works with: ``-grad`` when maximizing, plus ``l2_penalty * param``.

    The result lands in ``scratch[0]`` when it differs from ``grad`` or the caller will modify it in place
    (``will_modify``), so that the caller's gradient is never changed; otherwise ``grad`` itself is returned
    and nothing is copied. ``scratch[1]`` is work space. Every NumPy-backend optimizer starts with this.
    """
    g, work = scratch
    if maximize:
        np.negative(grad, out=g)
    elif l2_penalty != 0 or will_modify:
        np.copyto(g, grad)
    else:
        g = grad
    if l2_penalty != 0:
        np.multiply(param, l2_penalty, out=work)
        g += work
    return g


def cast_scalars(values: Sequence[Any], dtype: Any) -> tuple[Any, ...]:
    """Floats become scalars of the parameters' dtype (so a float32 kernel does float32 arithmetic, as
    torch does); booleans and integers pass through."""
    kind = np.dtype(dtype).type
    return tuple(kind(v) if isinstance(v, float) else v for v in values)
