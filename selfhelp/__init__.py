"""Self-help: modules, exercises kept on the visitor's device, the self-check, and the right-now page."""
