"""Sub-commands of ``mimecast-ttp``; one module each, see :mod:`mimecast_ttp.cli`."""
