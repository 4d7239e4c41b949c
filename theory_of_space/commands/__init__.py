"""Subcommands of the ``tos`` command line, one module each."""
