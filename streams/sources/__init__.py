"""Offline inputs: file readers that turn recorded or raw venue data into core types."""
