"""`vptadvisor analyze` (placeholder until the analyze pipeline lands)."""
