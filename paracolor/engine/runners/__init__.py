"""Backends behind one runner interface (see :mod:`paracolor.engine.runners.base`)."""
