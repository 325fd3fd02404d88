"""carectl: one command line for Connected Care operators and power users, over the services' HTTP APIs only."""
