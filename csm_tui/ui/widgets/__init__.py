"""Widgets of the app, each owning its rendering."""
