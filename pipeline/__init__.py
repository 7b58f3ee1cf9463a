"""The one implementation of each pipeline run, called by the CLI, the DAGs and the tests."""
