"""Writers that render the demo truth into each agency's own format, with injected faults."""
