"""Developer tools: a local MLflow + S3 stack for tests, the demo and the benchmark.

Not part of the shipped `generator` package.
"""
