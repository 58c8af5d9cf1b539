"""The lake's raw zone: the market simulator, the folder layout and the geography reference."""
