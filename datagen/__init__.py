"""Synthetic data for the app's stores: `datagen` (see command.py)."""
