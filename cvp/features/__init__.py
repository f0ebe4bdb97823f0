"""Point-in-time features and labels, computed inside the warehouse."""
