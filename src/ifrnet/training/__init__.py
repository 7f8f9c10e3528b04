"""Training: losses, trainer, distributed helpers, pseudo-label flow."""
