"""Whoever runs the control plane: health, metrics, the event stream."""
