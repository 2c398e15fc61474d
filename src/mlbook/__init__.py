"""mlbook: the library behind the executable textbook of machine-learning engineering.

One module per idea, each read beside the chapter that teaches it (see ARCHITECTURE.md):

- :mod:`mlbook.tensors`: shapes, strides, broadcasting, pairwise cosine similarity.
- :mod:`mlbook.einsum`: tensor contractions and attention written with ``einsum`` only.
- :mod:`mlbook.nn`: neurons, layers, forward/backward passes, losses, normalisation, attention, conv.
- :mod:`mlbook.datasets`: small data sets made in code (logic gates, moons, digits).
- :mod:`mlbook.autograd`: a scalar reverse-mode autograd engine.
- :mod:`mlbook.optim`: optimizers matching ``torch.optim`` (NumPy, fused Numba, Numba CUDA), schedules.
- :mod:`mlbook.train`: the Trainer, callbacks, checkpoints, metrics, distributed training.
- :mod:`mlbook.kernels`: matmul and convolution kernels (NumPy, Numba, Numba CUDA), efficiency tricks.
- :mod:`mlbook.data`: tf.data-style input pipelines, parallel map, record files.
- :mod:`mlbook.forecast`: demand-forecasting features, models and backtests.
- :mod:`mlbook.serve`: an HTTP inference service.
- :mod:`mlbook.profiling`, :mod:`mlbook.bio`, :mod:`mlbook.frameworks`: the profiling hunt, Numba
  sequence kernels, and the framework translation table.
- :mod:`mlbook.viz`: the book's figures; functions that return Matplotlib figures.
- :mod:`mlbook.bench`: side-by-side timing, peak memory, roofline and parallel-capacity probes.
"""

__version__ = "0.1.0"
