"""Translation: a bidirectional recurrent encoder and a Bahdanau-attention decoder."""

NAME = "translation"
