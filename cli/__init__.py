"""The `duban` command line: a thin door onto `services`, one module per subject.

`starter.py` builds the app from these modules; `cli.common` holds what they share (consoles,
the exit-code policy, argument parsing, the progress bar, running a service).
"""
