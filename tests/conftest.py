"""Shared pytest setup for the whole test tree."""
import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
