"""The torchrun-core command line: one module per subcommand."""
