"""``python -m skgd``: the command line (``skgd compare``); see :func:`main`."""

from skgd._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
