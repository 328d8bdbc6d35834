"""Hand-written recurrent layers for Keras 3, drop-in for the Keras built-ins.

>>> from layers import LSTM, GRU, SimpleRNN, Bidirectional, BahdanauAttention
"""

from layers.attention import AttentiveCell, AttentiveRecurrent, BahdanauAttention
from layers.bidirectional import Bidirectional
from layers.cells import GRUCell, LSTMCell, SimpleRNNCell
from layers.initializers import ChronoBias
from layers.recurrent import GRU, LSTM, Recurrent, SimpleRNN

__all__ = [
    "AttentiveCell",
    "AttentiveRecurrent",
    "BahdanauAttention",
    "Bidirectional",
    "ChronoBias",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "Recurrent",
    "SimpleRNN",
    "SimpleRNNCell",
]
