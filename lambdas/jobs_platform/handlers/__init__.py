"""Lambda entry points: one module per function (api, authorizer, worker, bookkeeper)."""
