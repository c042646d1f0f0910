"""Views: the tabs of the main window. A view composes panels and controls around one training controller."""
