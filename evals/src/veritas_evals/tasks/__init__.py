"""The evaluation tasks, one module each; `base` holds the interface and context they share."""
