"""Compiled loops (C, loaded with ctypes) that both the torch modules and the torch-free numpy
runtime call; nothing here imports torch."""
