"""veinline: vein-to-vein orchestration of cell therapies."""
