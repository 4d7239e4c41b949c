"""Ground truth: geometry, scenes, generation, visibility and the published file format."""
