"""The Spark ML side of the model: feature stages and the training pipeline."""
