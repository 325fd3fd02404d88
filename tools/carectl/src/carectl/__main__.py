"""`python -m carectl`."""

from carectl.app import main

main()
