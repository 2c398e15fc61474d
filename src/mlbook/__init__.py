"""mlbook: the library behind the executable textbook of machine-learning engineering.

One module per idea, each read beside the chapter that teaches it (see ARCHITECTURE.md):

- :mod:`mlbook.tensors`: shapes, strides, broadcasting, pairwise cosine similarity.
- :mod:`mlbook.einsum`: tensor contractions and attention written with ``einsum`` only.
- :mod:`mlbook.nn`: neurons and layers, batch-first NumPy.
- :mod:`mlbook.datasets`: small data sets made in code (logic gates, ...).
- :mod:`mlbook.viz`: the book's figures; functions that return Matplotlib figures.
- :mod:`mlbook.bench`: side-by-side timing and peak-memory measurement.
"""

__version__ = "0.1.0"
