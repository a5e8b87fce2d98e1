"""Synthetic data for the app's stores: `loaders generate` (see command.py)."""
