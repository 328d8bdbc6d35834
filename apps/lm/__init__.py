"""The language-model app: a recurrent LM that reads a corpus one token ahead and generates text."""

NAME = "lm"
