"""Paper trading of signals: pure polars (`paper`), wired by `edge_assets.assets.trading`."""
