"""`python -m veinline.entrypoints.cli`."""

from veinline.entrypoints.cli.main import main

main()
