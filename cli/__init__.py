"""The `gridhub` command line."""

from core.arrow_pool import choose_arrow_pool

choose_arrow_pool()  # before any command module imports pandas or pyarrow
