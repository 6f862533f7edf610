# Generated from src/duomcp/_async/__init__.py by codegen/unasync.py -- do not edit.
# Change the async original and run: python codegen/unasync.py
"""The hand-written client API layer; ``duomcp._sync`` is generated from it."""
