"""Neural networks from first principles, in batch-first NumPy: ``X`` has shape ``(batch, features)``.

- :mod:`mlbook.nn.activations`: sigmoid (overflow-free), its derivative, step, ReLU, tanh.
- :mod:`mlbook.nn.neuron`: one neuron (:class:`Neuron`), logistic regression
  (:func:`fit_logistic_neuron`), and an exact linear-separability test with its proof
  (:func:`separability_certificate`).

Later chapters add layers, networks and losses here.
"""

from mlbook.nn.activations import (
    ACTIVATIONS,
    get_activation,
    identity,
    relu,
    sigmoid,
    sigmoid_derivative,
    step,
    tanh,
)
from mlbook.nn.neuron import (
    Neuron,
    SeparabilityCertificate,
    fit_logistic_neuron,
    is_linearly_separable,
    logistic_loss_and_gradient,
    separability_certificate,
)

__all__ = [
    "ACTIVATIONS",
    "Neuron",
    "SeparabilityCertificate",
    "fit_logistic_neuron",
    "get_activation",
    "identity",
    "is_linearly_separable",
    "logistic_loss_and_gradient",
    "relu",
    "separability_certificate",
    "sigmoid",
    "sigmoid_derivative",
    "step",
    "tanh",
]
