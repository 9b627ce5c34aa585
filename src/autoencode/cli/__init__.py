"""The command-line interface: one thin module per command; all logic lives in the library."""
