"""Training recipes of Veritas: data builders, trainers and exports for the project's models."""
