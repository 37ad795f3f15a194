"""Pure CostPolicy evaluation (no I/O)."""
