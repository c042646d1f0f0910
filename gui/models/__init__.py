"""The tabs' models: what each training tab shows, without widgets (no Qt here; tests drive them headless).

- :mod:`.surface`: the loss-surface tab, a one-feature linear :class:`~fitscope.engine.run.FitRun`;
- :mod:`.multi`: the multi-feature tab (Boston Housing, or the user's CSV), linear or MLP;
- :mod:`.race`: the optimizer race, several trainers from one start.
"""
