"""``python -m layershare``."""

from layershare.cli import main

main()
