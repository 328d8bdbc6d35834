"""Hand-written recurrent layers for Keras 3."""
