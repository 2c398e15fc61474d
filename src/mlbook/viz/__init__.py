"""The book's figures. Every function returns a :class:`matplotlib.figure.Figure` built without pyplot:
no global state, nothing shown as a side effect. In a notebook, the returned figure displays itself.

One module per kind of figure, next to the chapter that uses it:

- :mod:`mlbook.viz.layout`: an array's memory layout and strides (Arrays chapter).
- :mod:`mlbook.viz.broadcasting`: how two small shapes broadcast (Broadcasting chapter).
- :mod:`mlbook.viz.attention`: attention-weight heatmaps (Einsum chapter).
- :mod:`mlbook.viz.decision`: decision boundaries of a classifier in the plane (Neurons chapter).
"""

from mlbook.viz.attention import plot_attention
from mlbook.viz.broadcasting import plot_broadcast
from mlbook.viz.decision import plot_decision_boundary
from mlbook.viz.layout import plot_memory_layout

__all__ = ["plot_attention", "plot_broadcast", "plot_decision_boundary", "plot_memory_layout"]
