"""The Textual user interface (imported only when the app opens)."""
