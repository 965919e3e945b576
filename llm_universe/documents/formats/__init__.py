"""One loader module per file format; `loaders.py` maps extensions to them."""
