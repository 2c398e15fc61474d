"""Neural networks from first principles, in batch-first NumPy: ``X`` has shape ``(batch, features)``.

Every layer is a :class:`~mlbook.nn.module.Module`: ``forward`` caches what ``backward`` needs, and
``backward`` fills ``grads`` and returns the gradient with respect to its input. One module per idea,
each read beside its chapter:

- :mod:`mlbook.nn.activations`: elementwise functions (stable sigmoid, ReLU, GELU, log-sum-exp, ...). Neurons.
- :mod:`mlbook.nn.neuron`: one neuron, logistic regression, an exact linear-separability test. Neurons.
- :mod:`mlbook.nn.module`, :mod:`mlbook.nn.gradcheck`: the layer contract; central-difference checks.
- :mod:`mlbook.nn.layers`: ``Linear``, ``Dropout``, ``Sequential``, ``mlp``. Layers.
- :mod:`mlbook.nn.forward`: the course notes' L-layer forward/backward with caches, both layouts. Forward propagation.
- :mod:`mlbook.nn.serialize`: checked ``.npz`` save/load. Forward propagation.
- :mod:`mlbook.nn.train_loop`: minibatch SGD ``fit``, accuracy, confusion matrix. From scratch; Images.
- :mod:`mlbook.nn.layers_activation`, :mod:`mlbook.nn.losses`: activation layers; losses from logits. Activations and losses.
- :mod:`mlbook.nn.normalization`, :mod:`mlbook.nn.attention`: BatchNorm1d, LayerNorm; attention layers. Normalisation and attention.
- :mod:`mlbook.nn.conv`: Conv2d, Conv1d, pooling, Flatten, built on :mod:`mlbook.kernels.conv`. Convolution.
"""

from mlbook.nn.activations import (
    ACTIVATIONS,
    gelu,
    get_activation,
    identity,
    leaky_relu,
    log_softmax,
    logsumexp,
    relu,
    sigmoid,
    sigmoid_derivative,
    softmax,
    step,
    tanh,
)
from mlbook.nn.attention import MultiHeadAttention, ScaledDotProductAttention
from mlbook.nn.conv import AvgPool2d, Conv1d, Conv2d, Flatten, GlobalAvgPool1d, GlobalMaxPool1d, MaxPool2d
from mlbook.nn.gradcheck import check_module_gradients, numerical_gradient, relative_error
from mlbook.nn.layers import Dropout, Linear, Sequential, count_parameters, mlp
from mlbook.nn.layers_activation import GELU, Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh, make_activation
from mlbook.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, bce_with_logits, cross_entropy, mse_loss
from mlbook.nn.module import Module
from mlbook.nn.neuron import (
    Neuron,
    SeparabilityCertificate,
    fit_logistic_neuron,
    is_linearly_separable,
    logistic_loss_and_gradient,
    separability_certificate,
)
from mlbook.nn.normalization import BatchNorm1d, LayerNorm
from mlbook.nn.serialize import ParameterMismatchError, load_module, load_parameters, save_module, save_parameters

__all__ = [
    "AvgPool2d", "Conv1d", "Conv2d", "Flatten", "GlobalAvgPool1d", "GlobalMaxPool1d", "MaxPool2d",
    "ACTIVATIONS", "BCEWithLogitsLoss", "BatchNorm1d", "CrossEntropyLoss", "Dropout", "GELU", "Identity",
    "LayerNorm", "LeakyReLU", "Linear", "MSELoss", "Module", "MultiHeadAttention", "Neuron",
    "ParameterMismatchError", "ReLU", "ScaledDotProductAttention", "SeparabilityCertificate", "Sequential",
    "Sigmoid", "Softmax", "Tanh", "bce_with_logits", "check_module_gradients", "count_parameters",
    "cross_entropy", "fit_logistic_neuron", "gelu", "get_activation", "identity", "is_linearly_separable",
    "leaky_relu", "load_module", "load_parameters", "log_softmax", "logistic_loss_and_gradient", "logsumexp",
    "make_activation", "mlp", "mse_loss", "numerical_gradient", "relative_error", "relu", "save_module",
    "save_parameters", "separability_certificate", "sigmoid", "sigmoid_derivative", "softmax", "step", "tanh",
]
