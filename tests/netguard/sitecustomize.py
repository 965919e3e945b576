"""Loaded automatically by Python in test subprocesses (this folder is on PYTHONPATH): block non-loopback network."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import guard  # noqa: E402

guard.install()
