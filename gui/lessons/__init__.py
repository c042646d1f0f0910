"""Guided lessons in the app: the player that sets the tabs up and checks them, and the dock that shows a step."""
