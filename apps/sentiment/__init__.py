"""IMDB sentiment: a many-to-one recurrent classifier over words, raw text in, P(positive) out."""

NAME = "sentiment"
