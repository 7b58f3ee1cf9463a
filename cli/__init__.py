"""The `gridhub` command line."""

