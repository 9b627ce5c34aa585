"""The library call behind each command: ``autoencode.commands.<name>`` for ``autoencode <name>``
(the CLI's ``autoencode.cli.<name>`` parses, calls it and prints). ``prepare`` and ``datasets`` are
the data layer's own (``data.preparing``, ``data.sources``); ``demo`` is a list of commands."""
