"""Who answers for each group of assets: shown on every asset's page, so whoever finds a failed check knows
whom to ask. Code versions sit beside each asset: bump one when its logic changes, and the UI marks what was
made by the old code (and everything downstream of it) as stale."""

DATA_PLATFORM = ["team:data-platform"]  # the lake and the features
ML = ["team:ml"]  # the model and its bundle
ML_PLATFORM = ["team:ml-platform"]  # the release chain and the live scores
