"""depeche flows: orchestration and the command line."""
