"""MLeap bundles from Spark: the writer (Spark PipelineModel -> bundle) and MLeap's own JVM runtime as
the reference that checks every written bundle."""
