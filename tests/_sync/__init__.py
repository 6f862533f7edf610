# Generated from tests/_async/__init__.py by codegen/unasync.py -- do not edit.
# Change the async original and run: python codegen/unasync.py
