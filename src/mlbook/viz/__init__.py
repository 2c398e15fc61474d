"""The book's figures. Every function returns a :class:`matplotlib.figure.Figure` built without pyplot:
no global state, nothing shown as a side effect. In a notebook, the returned figure displays itself.

One module per kind of figure, next to the chapter that uses it:

- :mod:`mlbook.viz.layout`: an array's memory layout and strides (Arrays chapter).
- :mod:`mlbook.viz.broadcasting`: how two small shapes broadcast (Broadcasting chapter).
- :mod:`mlbook.viz.attention`: attention-weight heatmaps (Einsum chapter).
- :mod:`mlbook.viz.decision`: decision boundaries of a classifier in the plane (Neurons chapter).
"""

from matplotlib.figure import Figure

from mlbook.viz.attention import plot_attention
from mlbook.viz.broadcasting import plot_broadcast
from mlbook.viz.decision import plot_decision_boundary
from mlbook.viz.layout import plot_memory_layout

__all__ = ["plot_attention", "plot_broadcast", "plot_decision_boundary", "plot_memory_layout"]


def _display_figures_in_notebooks() -> None:
    """Let IPython render a pyplot-free Figure as a PNG when it is a cell's value.

    IPython shows figures as images only once ``%matplotlib inline`` (or a pyplot import) has
    registered a PNG formatter for :class:`~matplotlib.figure.Figure`. Figures built without pyplot
    would otherwise display as ``<Figure size ...>``. Registering the formatter is idempotent and
    changes no backend; outside IPython nothing happens.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


_display_figures_in_notebooks()
