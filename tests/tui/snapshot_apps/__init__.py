"""Small apps and data for the patient screen's tests and snapshots."""
