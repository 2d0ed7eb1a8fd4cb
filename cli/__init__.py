"""Command-line entry points: `cxc` (cli.main) and `python -m cli.serve`."""

import warnings

# eventlet prints a multi-line deprecation banner on import, once per process: five times
# in `make run`'s output. The migration away from eventlet is tracked in the docs.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
