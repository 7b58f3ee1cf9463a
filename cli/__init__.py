"""The `gridhub` command line."""
