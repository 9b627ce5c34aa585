"""Training: settings, the model-agnostic trainer, and run-folder I/O."""
