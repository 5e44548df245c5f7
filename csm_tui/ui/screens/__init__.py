"""Screens of the app: main, account, and the modals."""
