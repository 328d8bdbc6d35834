"""Pixel-by-pixel MNIST: a many-to-one recurrent classifier over 784 (or 28) steps."""

NAME = "mnist"
